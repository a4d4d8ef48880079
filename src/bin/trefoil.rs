//! The `trefoil` command line (see `trefoil --help` and `trefoil <command> --help`).

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use mpc_core::Party;
use mpc_net::config::PartyConfig;
use mpc_net::tls::TlsIdentity;
use ndarray::{ArrayD, IxDyn};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use trefoil::hospitals::{DemoConfig, Split};
use trefoil::job::{Job, Partition};

/// Trefoil: privacy-preserving machine learning by three-party secure computation.
///
/// Three servers hold replicated secret shares of the data and train or predict on them;
/// no single server sees a record. Without a command, runs the in-process hospitals demo.
#[derive(Parser)]
#[command(name = "trefoil", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// The hospitals demo: three hospitals' private records, models trained on the shared pool.
    ///
    /// By default the three parties run as threads of this process. With --processes, the
    /// real deployment path: certificates in a temporary folder, three party configs on free
    /// loopback ports, and three `trefoil party` processes over mutual TLS.
    Demo(DemoArgs),
    /// Creates a consortium CA and one certificate per party.
    ///
    /// Writes ca.pem, ca.key, party<i>.pem and party<i>.key into --out. Give party i only
    /// ca.pem, party<i>.pem and party<i>.key; keep ca.key offline.
    Keygen {
        /// Number of party certificates.
        #[arg(long, default_value_t = 3, value_name = "N")]
        parties: usize,
        /// Number of external data-owner certificates (owner<k>.pem / .key, for `share`).
        #[arg(long, default_value_t = 0, value_name = "N")]
        owners: usize,
        /// Output directory (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Joins a session as one of the three servers and runs a job.
    ///
    /// Reads the party config (role, addresses, session id, TLS files), connects to the two
    /// other parties over mutual TLS, checks that all three run the same job file, runs it
    /// (a `train` or `infer` job: see the README's "Three machines" section), prints progress
    /// lines and a final `RESULT {json}` line. Without --job, runs a built-in check computation
    /// (a secret 8x8 matmul and truncation) instead.
    Party {
        /// The party's config file (TOML).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The job file (TOML), the same on the three servers.
        #[arg(long, value_name = "FILE")]
        job: Option<PathBuf>,
        /// Wait this long after connecting (for testing a killed peer).
        #[arg(long, value_name = "MS", default_value_t = 0)]
        stall_ms: u64,
    },
    /// Secret-shares a data owner's CSV to the three servers of a train job.
    ///
    /// For a hospital that is not one of the three servers: reads the CSV with the job's
    /// columns and classes, splits it like the parties do, and sends each server only its two
    /// components of the replicated sharing (fresh CSPRNG randomness) plus the public shapes,
    /// over mutual TLS with the owner certificate from `keygen --owners`. The job must list the
    /// owner in `data.owners`; the servers must be running the job (`trefoil party`).
    Share {
        /// The job file (the servers' job; its [intake] addresses are dialled).
        #[arg(long, value_name = "FILE")]
        job: PathBuf,
        /// This owner's index (its certificate names trefoil-owner-K).
        #[arg(long, value_name = "K")]
        owner: usize,
        /// The CSV file to share.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// The consortium CA certificate.
        #[arg(long, value_name = "FILE")]
        ca: PathBuf,
        /// This owner's certificate.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// This owner's private key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Writes the walkthrough's sample data: hospital<i>.csv per hospital and queries.csv.
    ///
    /// The Wisconsin breast-cancer records (569 rows, 30 features, label column `diagnosis`
    /// with `malignant` / `benign`), split into disjoint hospital files and held-out queries.
    SampleData {
        /// Output directory (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Number of hospital files.
        #[arg(long, default_value_t = 3, value_name = "N")]
        hospitals: usize,
        /// Seed of the held-out split.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Split by columns: three hospital files with different feature columns of the same
        /// records, the labels in hospital2.csv only (for `split = "vertical"` jobs).
        #[arg(long, conflicts_with = "hospitals")]
        vertical: bool,
    },
    /// Checks a party's audit log of reveals.
    ///
    /// Each party appends every reveal (what, to whom, shape, step, job hash) to its own
    /// hash-chained log, each line signed with the party's key.
    Audit {
        #[command(subcommand)]
        command: AuditCmd,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Verifies a log's hash chain and signatures; says where and how a chain breaks.
    ///
    /// Recomputes every line's hash from the previous one and checks its signature with the
    /// party's certificate. Prints `OK: N entries, chain intact, last hash H` and exits 0, or
    /// `error: ... line L (seq S): <reason>` and exits 1. A log cut short at its end stays
    /// intact: compare N and H with a copy kept elsewhere.
    Verify {
        /// The audit log (one JSON line per reveal).
        #[arg(long, value_name = "FILE")]
        log: PathBuf,
        /// The certificate of the party that wrote the log (party<i>.pem).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// Also check that the certificate is signed by this CA (ca.pem).
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
    },
}

fn audit(cmd: AuditCmd) -> Result<()> {
    match cmd {
        AuditCmd::Verify { log, cert, ca } => {
            let r = trefoil::audit::verify(&log, &cert, ca.as_deref())?;
            println!(
                "OK: {} entries, chain intact, last hash {} (party {}, jobs {:?})",
                r.entries, r.last_hash, r.party, r.job_ids
            );
            Ok(())
        }
    }
}

/// Parses a count that must be at least 1 (`--epochs`).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(clap::Args, Default)]
struct DemoArgs {
    /// Split the records by features (columns) instead of patients (rows).
    #[arg(long)]
    vertical: bool,
    /// Training epochs (at least 1).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = at_least_one)]
    epochs: usize,
    /// The hospital (0, 1 or 2) that receives the trained models.
    #[arg(long, value_name = "K", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..3))]
    owner: u8,
    /// Run the three parties as three OS processes over mutual TLS on loopback.
    #[arg(long)]
    processes: bool,
    /// Folder for the plots (training.svg/.png, costs.svg/.png) and the owner's models.
    #[arg(long, value_name = "DIR", default_value = "trefoil-out")]
    out: PathBuf,
    /// Do not write plots or model files.
    #[arg(long, conflicts_with = "out")]
    no_files: bool,
}

/// The built-in check computation's inputs (fixed so results can be checked).
fn check_inputs() -> (ArrayD<f64>, ArrayD<f64>) {
    let x = ArrayD::from_shape_fn(IxDyn(&[8, 8]), |i| {
        ((i[0] * 8 + i[1]) % 7) as f64 / 4.0 - 0.75
    });
    let y = ArrayD::from_shape_fn(IxDyn(&[8, 8]), |i| {
        ((i[0] * 3 + i[1] * 5) % 11) as f64 / 8.0 - 0.5
    });
    (x, y)
}

fn check_computation(p: &mut Party) -> Result<()> {
    let (x, y) = check_inputs();
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

fn party(config: PathBuf, job: Option<PathBuf>, stall_ms: u64) -> Result<()> {
    let cfg =
        PartyConfig::load(&config).with_context(|| format!("party config {}", config.display()))?;
    let job = match &job {
        Some(path) => Some(Job::load(path)?),
        None => None,
    };
    // this party's audit log, opened (and its chain checked) before connecting
    let log = match job
        .as_ref()
        .and_then(|j| j.reveal.as_ref()?.log.as_ref().map(|l| (j, l)))
    {
        None => None,
        Some((j, l)) => {
            let Some(t) = &cfg.tls else {
                bail!("reveal.log needs the party's [tls] key in the party config to sign with");
            };
            let path = j.path_for(l, cfg.role);
            Some(trefoil::audit::AuditLog::open(&path, cfg.role, &t.key)?)
        }
    };
    let mut p = trefoil::run::connect(&cfg, job.as_ref())?;
    println!("CONNECTED party {}", p.role());
    if stall_ms > 0 {
        std::thread::sleep(Duration::from_millis(stall_ms));
    }
    match job {
        None => check_computation(&mut p),
        Some(job) => {
            let identity = match (&cfg.tls, job.data.owners.is_empty()) {
                (Some(t), false) => Some(TlsIdentity::load(&t.ca, &t.cert, &t.key)?),
                (None, false) => bail!("data.owners needs a [tls] identity in the party config"),
                (_, true) => None,
            };
            let report =
                trefoil::run::run_job_audited(&mut p, &job, identity.as_ref(), log, &mut |line| {
                    println!("{line}")
                })?;
            println!("RESULT {}", report.to_json());
            Ok(())
        }
    }
}

fn keygen(parties: usize, owners: usize, out: PathBuf) -> Result<()> {
    let material = mpc_net::keygen::generate_with_owners(parties, owners, "Trefoil consortium CA")?;
    for f in material.write_to(&out)? {
        println!("wrote {}", f.display());
    }
    println!("give party i: ca.pem, party<i>.pem, party<i>.key; keep ca.key offline");
    Ok(())
}

fn share(
    job: &std::path::Path,
    owner: usize,
    csv: &std::path::Path,
    tls: [&PathBuf; 3],
) -> Result<()> {
    let job = Job::load(job)?;
    let identity = TlsIdentity::load(tls[0], tls[1], tls[2])?;
    let timeout = Duration::from_millis(job.intake.as_ref().map_or(60_000, |i| i.timeout_ms));
    let r = trefoil::intake::share_csv(&job, owner, &identity, csv, timeout)?;
    println!(
        "RESULT {}",
        serde_json::to_string(&r).context("cannot print the result")?
    );
    Ok(())
}

fn model_title(m: trefoil::deploy::DemoModel) -> &'static str {
    match m {
        trefoil::deploy::DemoModel::LogisticRegression => "logistic regression",
        trefoil::deploy::DemoModel::Mlp => "MLP 30-16-1",
    }
}

fn demo(a: DemoArgs) -> Result<()> {
    println!(
        "Trefoil: three hospitals train on their pooled records; three servers compute on secret shares."
    );
    let t0 = std::time::Instant::now();
    let split = if a.vertical {
        Partition::Vertical
    } else {
        Partition::Horizontal
    };
    if a.processes {
        if a.vertical {
            println!(
                "(vertical split: each hospital holds some measurements (columns) of the same \
                 patients; hospital 2 also holds the diagnoses)"
            );
        }
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        let limit = Duration::from_secs(300);
        let keep = (!a.no_files).then_some(a.out.as_path());
        let jobs =
            trefoil::deploy::demo_processes(&exe, a.epochs, a.owner.into(), split, limit, keep)?;
        let mut failed = Vec::new();
        for (model, runs) in &jobs {
            println!(
                "== {} (job hospitals-demo-{})",
                model_title(*model),
                model.slug()
            );
            for r in runs {
                match (r.success, r.result()) {
                    (true, Some(json)) => println!("party {}: {json}", r.role),
                    _ => {
                        println!("party {} FAILED: {}", r.role, r.stderr.trim());
                        failed.push(r.role);
                    }
                }
            }
            if let Some(dir) = keep {
                let file = dir.join(trefoil::deploy::kept_model_name(a.owner.into(), *model));
                if file.exists() {
                    println!("hospital {}'s model: {}", a.owner, file.display());
                }
            }
        }
        if !failed.is_empty() {
            bail!("parties {failed:?} failed");
        }
        println!(
            "(three processes over mutual TLS on loopback; {:.1} s in all)",
            t0.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let cfg = DemoConfig {
        split: if a.vertical {
            Split::Vertical
        } else {
            Split::Horizontal
        },
        epochs: a.epochs,
        model_owner: a.owner.into(),
        out_dir: (!a.no_files).then_some(a.out),
        progress: true,
        seed: DemoConfig::default().seed,
    };
    let report = trefoil::hospitals::run(&cfg)?;
    println!("{report}");
    println!(
        "(three parties in one process; {:.1} s in all)",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => demo(DemoArgs {
            epochs: 10,
            out: PathBuf::from("trefoil-out"),
            ..DemoArgs::default()
        }),
        Some(Cmd::Demo(a)) => demo(a),
        Some(Cmd::Audit { command }) => audit(command),
        Some(Cmd::Keygen {
            parties,
            owners,
            out,
        }) => keygen(parties, owners, out),
        Some(Cmd::Share {
            job,
            owner,
            csv,
            ca,
            cert,
            key,
        }) => share(&job, owner, &csv, [&ca, &cert, &key]),
        Some(Cmd::Party {
            config,
            job,
            stall_ms,
        }) => party(config, job, stall_ms),
        Some(Cmd::SampleData {
            out,
            hospitals,
            seed,
            vertical,
        }) => if vertical {
            trefoil::deploy::write_vertical_sample_data(&out, seed)
        } else {
            trefoil::deploy::write_sample_data(&out, hospitals, seed)
        }
        .map(|files| {
            for f in files {
                println!("wrote {}", f.display());
            }
        })
        .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // the message and each cause it does not already spell out
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg = format!("{msg}: {c}");
                }
            }
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
