//! Plots in pure Rust with an embedded font (DejaVu Sans): no system fonts, no Python.
//!
//! A [`Figure`] is a grid of panels, each a line chart ([`Panel::Lines`], e.g. a training curve
//! of the secure model next to its plaintext twin) or a bar chart ([`Panel::Bars`], e.g. bytes
//! per layer). It renders to SVG ([`Figure::to_svg`], [`Figure::save_svg`]) and PNG
//! ([`Figure::save_png`]); in an evcxr notebook a figure shows inline through its
//! `evcxr_display` method (no evcxr dependency: the kernel looks for the method by name).
//!
//! ```
//! use trefoil::plot::{Figure, Panel, Series};
//!
//! let fig = Figure::new("training").panel(Panel::lines(
//!     "test accuracy",
//!     "epoch",
//!     "accuracy",
//!     vec![
//!         Series::new("secure", vec![(1.0, 0.90), (2.0, 0.95)]),
//!         Series::new("plaintext twin", vec![(1.0, 0.91), (2.0, 0.95)]).dashed(),
//!     ],
//! ));
//! let svg = fig.to_svg().unwrap();
//! assert!(svg.contains("<svg") && svg.contains("plaintext twin"));
//! ```

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::path::Path;

/// The family name the embedded font is registered under.
const FONT: &str = "sans-serif";

/// Line colours, in series order.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(x, y)` points in x order.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (e.g. the plaintext twin).
    pub dashed: bool,
    /// Colour index; series with the same index share a colour.
    pub colour: Option<usize>,
}

impl Series {
    /// A solid line.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            dashed: false,
            colour: None,
        }
    }

    /// The same line, dashed.
    pub fn dashed(mut self) -> Series {
        self.dashed = true;
        self
    }

    /// The same line in colour `k` of the palette.
    pub fn colour(mut self, k: usize) -> Series {
        self.colour = Some(k);
        self
    }
}

/// One panel of a [`Figure`].
#[derive(Debug, Clone, PartialEq)]
pub enum Panel {
    /// A line chart.
    Lines {
        /// Caption.
        title: String,
        /// X axis description.
        x_label: String,
        /// Y axis description.
        y_label: String,
        /// The lines.
        series: Vec<Series>,
    },
    /// A bar chart.
    Bars {
        /// Caption.
        title: String,
        /// Y axis description.
        y_label: String,
        /// `(name, value)` bars, drawn in order.
        bars: Vec<(String, f64)>,
    },
}

impl Panel {
    /// A line chart.
    pub fn lines(title: &str, x_label: &str, y_label: &str, series: Vec<Series>) -> Panel {
        Panel::Lines {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series,
        }
    }

    /// A bar chart.
    pub fn bars(title: &str, y_label: &str, bars: Vec<(String, f64)>) -> Panel {
        Panel::Bars {
            title: title.into(),
            y_label: y_label.into(),
            bars,
        }
    }
}

/// A grid of panels with a title.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The figure's caption.
    pub title: String,
    /// Panels, filled row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// Pixels of one panel.
    pub panel_size: (u32, u32),
}

impl Figure {
    /// An empty figure with two panels per row.
    pub fn new(title: impl Into<String>) -> Figure {
        Figure {
            title: title.into(),
            panels: Vec::new(),
            columns: 2,
            panel_size: (480, 320),
        }
    }

    /// Adds a panel.
    pub fn panel(mut self, p: Panel) -> Figure {
        self.panels.push(p);
        self
    }

    /// Sets the panels per row.
    pub fn columns(mut self, columns: usize) -> Figure {
        self.columns = columns.max(1);
        self
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        let cols = self.columns.min(self.panels.len()).max(1);
        let rows = self.panels.len().div_ceil(cols).max(1);
        (
            self.panel_size.0 * cols as u32,
            self.panel_size.1 * rows as u32 + 40,
        )
    }

    /// The figure as an SVG document.
    pub fn to_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            self.draw(&root).map_err(|e| self.err(e))?;
            root.present().map_err(|e| self.err(e))?;
        }
        Ok(svg)
    }

    /// Writes the figure as SVG.
    pub fn save_svg(&self, path: &Path) -> Result<()> {
        let svg = self.to_svg()?;
        std::fs::write(path, svg).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the figure as PNG.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let root = BitMapBackend::new(path, self.size()).into_drawing_area();
        self.draw(&root).map_err(|e| self.err(e))?;
        root.present().map_err(|e| self.err(e))
    }

    /// Shows the figure inline in an evcxr (Rust Jupyter) notebook as SVG.
    pub fn evcxr_display(&self) {
        match self.to_svg() {
            Ok(svg) => println!("EVCXR_BEGIN_CONTENT image/svg+xml\n{svg}\nEVCXR_END_CONTENT"),
            Err(e) => println!("{e}"),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Plot {
            what: format!("{:?}", self.title),
            message: e.to_string(),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        // Registered on every draw: each evcxr cell links its own copy of this crate.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        root.fill(&WHITE)?;
        let body = root.titled(&self.title, (FONT, 22))?;
        if self.panels.is_empty() {
            return Ok(());
        }
        let cols = self.columns.min(self.panels.len()).max(1);
        let rows = self.panels.len().div_ceil(cols);
        for (panel, area) in self.panels.iter().zip(body.split_evenly((rows, cols))) {
            match panel {
                Panel::Lines {
                    title,
                    x_label,
                    y_label,
                    series,
                } => draw_lines(&area, title, x_label, y_label, series)?,
                Panel::Bars {
                    title,
                    y_label,
                    bars,
                } => draw_bars(&area, title, y_label, bars)?,
            }
        }
        Ok(())
    }
}

/// `lo..hi` around the values with a margin; a degenerate range is widened.
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.06 } else { 0.5 };
    (lo - pad, hi + pad)
}

/// Pixels the legend needs below the lowest line: one row per series and its frame.
fn legend_px(series: usize) -> f64 {
    16.0 * series as f64 + 14.0
}

/// Whether every x value is a whole number (epochs, steps): ticks are then labelled without
/// decimals.
fn whole_numbers(xs: impl Iterator<Item = f64>) -> bool {
    xs.filter(|x| x.is_finite()).all(|x| x.fract() == 0.0)
}

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let (x0, x1) = padded(all().map(|p| p.0));
    let (mut y0, y1) = padded(all().map(|p| p.1));
    // Room for the legend in the lower right, below every line, so that it never hides one:
    // the y range grows downwards by the legend's share of the plot's height.
    let plot_px = f64::from(area.dim_in_pixel().1) - 24.0 - 34.0 - 16.0;
    let share = (legend_px(series.len()) / plot_px.max(1.0)).clamp(0.0, 0.5);
    y0 -= (y1 - y0) * share / (1.0 - share);
    let whole = whole_numbers(all().map(|p| p.0));
    let x_fmt = move |v: &f64| {
        if whole && v.fract() == 0.0 {
            format!("{v:.0}")
        } else if whole {
            String::new()
        } else {
            format!("{v}")
        }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 16))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(52)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&x_fmt)
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .draw()?;
    // Where dashed lines (e.g. plaintext twins) lie on solid ones, the solid line is drawn
    // wider and lighter and the dashed one dark on top, so that both stay visible.
    let any_dashed = series.iter().any(|s| s.dashed);
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[s.colour.unwrap_or(i) % COLOURS.len()];
        let style = match (s.dashed, any_dashed) {
            (true, _) => colour.stroke_width(2),
            (false, true) => colour.mix(0.45).stroke_width(5),
            (false, false) => colour.stroke_width(2),
        };
        let pts = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        let drawn = if s.dashed {
            chart.draw_series(DashedLineSeries::new(pts, 6, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(pts, style))?
        };
        let dashed = s.dashed;
        drawn.label(s.label.as_str()).legend(move |(x, y)| {
            let end = if dashed { x + 9 } else { x + 18 };
            PathElement::new(vec![(x, y), (end, y)], style)
        });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 11))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    bars: &[(String, f64)],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let n = bars.len().max(1);
    // `0..last` makes the segments 0..=last, one per bar (one bar gets a spare segment)
    let last = (n - 1).max(1);
    let top = bars
        .iter()
        .map(|b| b.1)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 16))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(52)
        .build_cartesian_2d((0..last).into_segmented(), 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_labels(n)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc(y_label)
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
        let mut r = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), *v),
            ],
            COLOURS[0].filled(),
        );
        r.set_margin(0, 0, 8, 8);
        r
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure() -> Figure {
        Figure::new("t")
            .panel(Panel::lines(
                "loss",
                "epoch",
                "loss",
                vec![
                    Series::new("secure", vec![(1.0, 0.5), (2.0, 0.3)]),
                    Series::new("twin", vec![(1.0, 0.52), (2.0, 0.31)]).dashed(),
                ],
            ))
            .panel(Panel::bars(
                "bytes",
                "MB",
                vec![("fc1".into(), 2.0), ("relu".into(), 5.0)],
            ))
    }

    #[test]
    fn svg_and_png_are_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fig = figure();
        fig.save_svg(&dir.path().join("a.svg")).expect("svg");
        fig.save_png(&dir.path().join("a.png")).expect("png");
        let svg = std::fs::read_to_string(dir.path().join("a.svg")).expect("read");
        assert!(svg.contains("secure") && svg.contains("relu"));
        let png = std::fs::read(dir.path().join("a.png")).expect("read");
        assert_eq!(&png[1..4], b"PNG");
        assert!(png.len() > 5_000, "a drawn PNG, not an empty one");
    }

    /// Whole-number x values (epochs) get whole tick labels, and the y axis reaches below the
    /// lowest point to leave the legend its own strip (the lowest y tick is under every line).
    #[test]
    fn epochs_are_whole_ticks_and_the_legend_has_room() {
        let points = |lo: f64| {
            (1..=10)
                .map(|e| (f64::from(e), lo + 0.01 * f64::from(e)))
                .collect()
        };
        let fig = Figure::new("t").panel(Panel::lines(
            "accuracy",
            "epoch",
            "accuracy",
            vec![
                Series::new("secure", points(0.9)),
                Series::new("twin", points(0.9)).dashed(),
            ],
        ));
        let svg = fig.to_svg().expect("svg");
        let labels: Vec<&str> = svg
            .split("</text>")
            .filter_map(|t| t.rsplit('>').next().map(str::trim))
            .collect();
        assert!(
            labels.contains(&"10") && labels.contains(&"1"),
            "{labels:?}"
        );
        assert!(
            !labels.contains(&"10.0") && !labels.contains(&"1.5"),
            "{labels:?}"
        );
        let lowest = labels
            .iter()
            .filter_map(|l| l.parse::<f64>().ok())
            .filter(|&v| v < 0.91)
            .count();
        // without the legend's strip the axis would start at 0.905 with its first tick at 0.92
        assert!(
            lowest >= 1,
            "no y tick below the lowest point 0.91: {labels:?}"
        );
        assert!(whole_numbers([1.0, 2.0].into_iter()) && !whole_numbers([0.5].into_iter()));
    }

    #[test]
    fn empty_and_degenerate_inputs_draw() {
        assert!(Figure::new("empty").to_svg().is_ok());
        let flat = Figure::new("flat").panel(Panel::lines(
            "one point",
            "x",
            "y",
            vec![Series::new("s", vec![(1.0, f64::NAN), (1.0, 1.0)])],
        ));
        assert!(flat.to_svg().is_ok());
        let one = Figure::new("one bar").panel(Panel::bars("b", "y", vec![("a".into(), 1.0)]));
        assert!(one.to_svg().is_ok());
        assert!(
            Figure::new("no bars")
                .panel(Panel::bars("b", "y", vec![]))
                .to_svg()
                .is_ok()
        );
    }

    #[test]
    fn unwritable_path_is_a_named_error() {
        let e = figure()
            .save_svg(Path::new("/nonexistent-dir/x.svg"))
            .expect_err("cannot write");
        assert!(e.to_string().contains("/nonexistent-dir/x.svg"), "{e}");
    }
}
