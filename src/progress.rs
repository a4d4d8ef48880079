//! Progress reporting for training and long benchmarks.
//!
//! On a terminal a [`Progress`] is an indicatif bar with the rate and ETA. When stderr is not a
//! terminal (CI, a log file, a notebook) it prints one line at most every few seconds instead,
//! with the same count, percentage and ETA, and a last line when it finishes.
//!
//! ```
//! let mut p = trefoil::progress::Progress::new("training", 10);
//! for _ in 0..10 {
//!     p.inc(1, "loss 0.3");
//! }
//! p.finish("done");
//! ```

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A progress bar or, off a terminal, a periodic log line.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Option<Instant>,
    every: Duration,
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    /// `total` units of work; a bar on a terminal, log lines every 5 s otherwise.
    pub fn new(label: &str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix:>14} [{bar:32}] {pos}/{len} {per_sec} ETA {eta} {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_prefix(label.to_string());
            b
        });
        Progress {
            label: label.to_string(),
            total,
            done: 0,
            started: Instant::now(),
            last_line: None,
            every: Duration::from_secs(5),
            bar,
            quiet: false,
        }
    }

    /// A progress that shows nothing (for library callers that want silence).
    pub fn hidden(label: &str, total: u64) -> Progress {
        let mut p = Progress::new(label, total);
        p.bar = None;
        p.quiet = true;
        p
    }

    /// Sets the interval of log lines (off a terminal).
    pub fn log_every(mut self, every: Duration) -> Progress {
        self.every = every;
        self
    }

    /// Units done so far.
    pub fn position(&self) -> u64 {
        self.done
    }

    /// The estimated time left, from the mean rate so far.
    pub fn eta(&self) -> Option<Duration> {
        if self.done == 0 || self.done >= self.total {
            return None;
        }
        let per = self.started.elapsed().as_secs_f64() / self.done as f64;
        Some(Duration::from_secs_f64(
            per * (self.total - self.done) as f64,
        ))
    }

    /// The line printed off a terminal.
    pub fn line(&self, msg: &str) -> String {
        let pct = if self.total == 0 {
            100.0
        } else {
            100.0 * self.done as f64 / self.total as f64
        };
        let eta = self
            .eta()
            .map(|d| format!(", ETA {:.0} s", d.as_secs_f64()))
            .unwrap_or_default();
        format!(
            "[{}] {}/{} ({pct:.0}%), {:.1} s{eta} {msg}",
            self.label,
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64()
        )
    }

    /// Advances by `n` units; `msg` is shown next to the bar (e.g. the current loss).
    pub fn inc(&mut self, n: u64, msg: impl std::fmt::Display) {
        self.done = (self.done + n).min(self.total);
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
            b.set_position(self.done);
        } else if !self.quiet {
            let due = self.last_line.is_none_or(|t| t.elapsed() >= self.every);
            if due && self.done < self.total {
                eprintln!("{}", self.line(&msg.to_string()));
                self.last_line = Some(Instant::now());
            }
        }
    }

    /// Marks the work done.
    pub fn finish(&mut self, msg: impl std::fmt::Display) {
        self.done = self.total;
        if let Some(b) = self.bar.take() {
            b.finish_with_message(msg.to_string());
        } else if !self.quiet {
            eprintln!("{}", self.line(&msg.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_eta() {
        let mut p = Progress::hidden("t", 4);
        assert_eq!(p.eta(), None);
        p.inc(1, "");
        std::thread::sleep(Duration::from_millis(5));
        p.inc(1, "");
        assert_eq!(p.position(), 2);
        assert!(p.eta().is_some());
        let line = p.line("loss 1");
        assert!(
            line.starts_with("[t] 2/4 (50%)") && line.contains("ETA") && line.ends_with("loss 1"),
            "{line}"
        );
        p.inc(10, "");
        assert_eq!(p.position(), 4, "never past the total");
        p.finish("ok");
        assert_eq!(p.eta(), None);
    }
}
