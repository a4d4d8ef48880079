//! The `trefoil` command line.
//!
//! - `trefoil` (no arguments) or `trefoil demo [--vertical] [--epochs N] [--owner K]`: the
//!   hospitals demo: three hospitals' private breast-cancer records, logistic regression and an
//!   MLP trained on the secret-shared pool, test accuracy next to the plaintext twin, the trained
//!   models revealed to hospital K only.
//! - `trefoil keygen --parties 3 --out certs/`: a consortium CA and one certificate per party.
//! - `trefoil party --config party0.toml [--stall-ms N]`: joins a session as one party and runs
//!   the demo computation (party 0 shares X, party 1 shares Y, secret matmul with fused
//!   truncation, a stand-alone truncation, reveal), printing the result as one `RESULT` line of
//!   JSON. `--stall-ms` makes the party wait after connecting (used to test a killed peer).

use mpc_core::{FixedPoint, Party};
use mpc_net::TcpTransport;
use mpc_net::config::PartyConfig;
use ndarray::{ArrayD, IxDyn};
use std::path::PathBuf;
use std::process::ExitCode;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage:
  trefoil                      (the hospitals demo)
  trefoil demo [--vertical] [--epochs N] [--owner K] [--out DIR]
  trefoil keygen --parties 3 --out DIR
  trefoil party --config FILE [--stall-ms N]";

/// The demo's public shapes and the owners' private inputs (fixed so results can be checked).
pub fn demo_inputs() -> (ArrayD<f64>, ArrayD<f64>) {
    let x = ArrayD::from_shape_fn(IxDyn(&[8, 8]), |i| {
        ((i[0] * 8 + i[1]) % 7) as f64 / 4.0 - 0.75
    });
    let y = ArrayD::from_shape_fn(IxDyn(&[8, 8]), |i| {
        ((i[0] * 3 + i[1] * 5) % 11) as f64 / 8.0 - 0.5
    });
    (x, y)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn keygen(args: &[String]) -> Res<()> {
    let parties: usize = flag(args, "--parties")
        .unwrap_or_else(|| "3".into())
        .parse()?;
    let out = PathBuf::from(flag(args, "--out").ok_or("keygen needs --out DIR")?);
    let material = mpc_net::keygen::generate(parties, "Trefoil consortium CA")?;
    for f in material.write_to(&out)? {
        println!("wrote {}", f.display());
    }
    println!("give party i: ca.pem, party<i>.pem, party<i>.key; keep ca.key offline");
    Ok(())
}

fn party(args: &[String]) -> Res<()> {
    let path = PathBuf::from(flag(args, "--config").ok_or("party needs --config FILE")?);
    let stall_ms: u64 = flag(args, "--stall-ms")
        .unwrap_or_else(|| "0".into())
        .parse()?;
    let cfg = PartyConfig::load(&path)?;
    let fixed = FixedPoint::new(cfg.frac_bits)?;
    let transport = TcpTransport::connect(&cfg.to_tcp_config()?)?;
    let mut p = Party::new(Box::new(transport), fixed)?;
    println!("CONNECTED party {}", p.role());
    if stall_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(stall_ms));
    }
    let (x, y) = demo_inputs();
    let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
    let sy = p.input_f64(1, (p.role() == 1).then_some(&y), y.shape())?;
    let sz = p.matmul(&sx, &sy)?; // truncation fused
    let st = p.trunc(&sz, 2)?; // same value with 2 fewer fractional bits
    let z = p.reveal_f64(&st)?;
    let s = p.stats();
    let values: Vec<String> = z.iter().map(|v| format!("{v:.6}")).collect();
    println!(
        "RESULT {{\"party\":{},\"shape\":{:?},\"values\":[{}],\"bytes_sent\":{},\"rounds\":{}}}",
        p.role(),
        z.shape(),
        values.join(","),
        s.bytes_sent,
        s.rounds
    );
    Ok(())
}

fn demo(args: &[String]) -> Res<()> {
    let mut cfg = trefoil::hospitals::DemoConfig {
        out_dir: Some(PathBuf::from("trefoil-out")),
        progress: true,
        ..Default::default()
    };
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .cloned()
        };
        match a.as_str() {
            "--vertical" => cfg.split = trefoil::hospitals::Split::Vertical,
            "--epochs" => {
                let v = value("--epochs")?;
                cfg.epochs = v
                    .parse()
                    .map_err(|_| format!("--epochs: {v:?} is not a whole number"))?;
            }
            "--owner" => {
                let v = value("--owner")?;
                cfg.model_owner = v
                    .parse()
                    .map_err(|_| format!("--owner: {v:?} is not 0, 1 or 2"))?;
            }
            "--out" => cfg.out_dir = Some(PathBuf::from(value("--out")?)),
            other => return Err(format!("demo: unknown flag {other:?}\n{USAGE}").into()),
        }
    }
    println!(
        "Trefoil: three hospitals train on their pooled records; three servers compute on secret shares."
    );
    let t0 = std::time::Instant::now();
    let report = trefoil::hospitals::run(&cfg)?;
    println!("{report}");
    println!(
        "(three parties in one process; {:.1} s in all)",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("demo") => demo(&args),
        Some("keygen") => keygen(&args),
        Some("party") => party(&args),
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
