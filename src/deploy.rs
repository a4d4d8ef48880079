//! The real deployment path on one machine: certificates, three party configs on loopback, a
//! job file, and three `trefoil party` processes talking mutual TLS (`trefoil demo
//! --processes`). Also the sample data of the README's walkthrough (`trefoil sample-data`).

use crate::error::{Error, Result};
use crate::job::Partition;
use mpc_nn::data::{breast_cancer, column_blocks, write_csv};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The label column of the sample data.
pub const SAMPLE_LABEL: &str = "diagnosis";

/// Creates `dir` and splits the breast-cancer records into the hospitals' pool and the
/// held-out queries (10%, stratified, seeded).
fn sample_pool(dir: &Path, seed: u64) -> Result<(mpc_nn::data::Dataset, mpc_nn::data::Dataset)> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(breast_cancer()?.train_test_split(0.1, seed, true)?)
}

/// Writes the breast-cancer records as the hospitals' CSV files: `hospital0.csv` ...
/// `hospital<parties-1>.csv` (disjoint rows) and `queries.csv` (about 10% of the records, held
/// out, for inference). Labels are in the column `diagnosis` (`malignant` or `benign`).
pub fn write_sample_data(dir: &Path, parties: usize, seed: u64) -> Result<Vec<PathBuf>> {
    if parties == 0 || parties > 16 {
        return Err(Error::Data(format!("{parties} hospitals: choose 1 to 16")));
    }
    let (pool, queries) = sample_pool(dir, seed)?;
    let mut files = Vec::new();
    for (i, part) in pool.split_rows(parties)?.iter().enumerate() {
        let p = dir.join(format!("hospital{i}.csv"));
        write_csv(&p, part, SAMPLE_LABEL)?;
        files.push(p);
    }
    let q = dir.join("queries.csv");
    write_csv(&q, &queries, SAMPLE_LABEL)?;
    files.push(q);
    Ok(files)
}

/// Writes the breast-cancer records split by columns, as three hospitals that hold different
/// measurements of the same patients would: `hospital<i>.csv` holds the `i`-th block of the
/// 30 feature columns ([`column_blocks`]) of the same records in the same order, and only
/// `hospital2.csv` also has the label column `diagnosis`; `queries.csv` as in
/// [`write_sample_data`] (all columns).
pub fn write_vertical_sample_data(dir: &Path, seed: u64) -> Result<Vec<PathBuf>> {
    let (pool, queries) = sample_pool(dir, seed)?;
    let mut files = Vec::new();
    for (i, cols) in column_blocks(pool.n_features(), 3).into_iter().enumerate() {
        let p = dir.join(format!("hospital{i}.csv"));
        let part = pool.select_columns(&cols.collect::<Vec<_>>())?;
        if i == 2 {
            write_csv(&p, &part, SAMPLE_LABEL)?;
        } else {
            let mut text = part.feature_names.join(",");
            text.push('\n');
            for row in part.features.rows() {
                let cells: Vec<String> = row.iter().map(f64::to_string).collect();
                text.push_str(&cells.join(","));
                text.push('\n');
            }
            write(&p, &text)?;
        }
        files.push(p);
    }
    let q = dir.join("queries.csv");
    write_csv(&q, &queries, SAMPLE_LABEL)?;
    files.push(q);
    Ok(files)
}

/// A party's configuration file text for loopback or LAN addresses; certificates under `certs/`.
pub fn party_config_text(role: usize, addresses: &[String; 3], session_id: &str) -> String {
    format!(
        "role = {role}\n\
         addresses = [\"{}\", \"{}\", \"{}\"]\n\
         session_id = \"{session_id}\"\n\
         frac_bits = 16\n\
         connect_timeout_ms = 30000\n\
         recv_timeout_ms = 60000\n\
         \n\
         [tls]\n\
         ca = \"certs/ca.pem\"\n\
         cert = \"certs/party{role}.pem\"\n\
         key = \"certs/party{role}.key\"\n",
        addresses[0], addresses[1], addresses[2]
    )
}

/// The demo's job file: logistic regression on the hospitals' pooled rows, the model to `owner`.
pub fn demo_job_text(epochs: usize, owner: usize) -> String {
    demo_model_job_text(
        DemoModel::LogisticRegression,
        epochs,
        owner,
        Partition::Horizontal,
    )
}

/// The models of the three-process demo: the in-process demo's two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoModel {
    /// Logistic regression, SGD with lr 0.5.
    LogisticRegression,
    /// MLP 30-16-1 with ReLU, SGD with lr 0.1 and momentum 0.9.
    Mlp,
}

impl DemoModel {
    /// The slug used in job ids and file names.
    pub fn slug(self) -> &'static str {
        match self {
            DemoModel::LogisticRegression => "logreg",
            DemoModel::Mlp => "mlp",
        }
    }
}

/// The demo's job file for one model; with [`Partition::Vertical`] the hospitals' files are
/// those of [`write_vertical_sample_data`].
pub fn demo_model_job_text(
    model: DemoModel,
    epochs: usize,
    owner: usize,
    split: Partition,
) -> String {
    let split_line = match split {
        Partition::Horizontal => "",
        Partition::Vertical => "split = \"vertical\"\n",
    };
    let (model_lines, lr) = match model {
        DemoModel::LogisticRegression => ("name = \"logistic_regression\"\n", "lr = 0.5\n"),
        DemoModel::Mlp => (
            "name = \"mlp\"\nhidden = [16]\nactivation = \"relu\"\n",
            "lr = 0.1\nmomentum = 0.9\n",
        ),
    };
    let slug = model.slug();
    format!(
        "id = \"hospitals-demo-{slug}\"\n\
         kind = \"train\"\n\
         \n\
         [model]\n\
         {model_lines}\
         \n\
         [data]\n\
         label = \"{SAMPLE_LABEL}\"\n\
         classes = [\"malignant\", \"benign\"]\n\
         {split_line}\
         \n\
         [[data.sources]]\n\
         party = 0\n\
         csv = \"hospital0.csv\"\n\
         \n\
         [[data.sources]]\n\
         party = 1\n\
         csv = \"hospital1.csv\"\n\
         \n\
         [[data.sources]]\n\
         party = 2\n\
         csv = \"hospital2.csv\"\n\
         \n\
         [train]\n\
         epochs = {epochs}\n\
         batch_size = 32\n\
         {lr}\
         seed = 42\n\
         test_fraction = 0.2\n\
         \n\
         [output]\n\
         model_to = {owner}\n\
         model_path = \"model-{slug}.safetensors\"\n"
    )
}

/// A free TCP port on 127.0.0.1 for a party that will bind it later.
///
/// The port is bound and released, so another process could still take it meanwhile. To make
/// that unlikely it is drawn at random from below the kernel's ephemeral range (read from
/// `/proc/sys/net/ipv4/ip_local_port_range`, 32768 by default): a port the kernel hands out
/// for `bind(:0)` or as the local end of an outgoing connection can then never collide with
/// it, and no port is handed out twice by one process.
pub fn free_port() -> Result<u16> {
    use std::sync::Mutex;
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let mut handed = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    if low > 12_000 {
        for _ in 0..256 {
            // a random draw (not secret): std's per-process random hasher keys
            let draw = {
                use std::hash::{BuildHasher, Hasher};
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_usize(handed.len());
                h.finish()
            };
            let port = 10_000 + (draw % u64::from(low - 10_000)) as u16;
            if handed.contains(&port) {
                continue;
            }
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                handed.push(port);
                return Ok(port);
            }
        }
    }
    // an unusual port range: fall back to one the kernel picks
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::Process(format!("cannot bind a loopback port: {e}")))?;
    let port = l
        .local_addr()
        .map_err(|e| Error::Process(e.to_string()))?
        .port();
    handed.push(port);
    Ok(port)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One finished party process.
#[derive(Debug, Clone)]
pub struct PartyRun {
    /// Its role.
    pub role: usize,
    /// Whether it exited successfully.
    pub success: bool,
    /// Its standard output, line by line.
    pub stdout: Vec<String>,
    /// Its standard error.
    pub stderr: String,
}

impl PartyRun {
    /// The JSON after `RESULT ` on its standard output, if any.
    pub fn result(&self) -> Option<&str> {
        self.stdout.iter().find_map(|l| l.strip_prefix("RESULT "))
    }
}

/// Kills a child on drop (so nothing is left running after an error).
struct Guard(Option<Child>);
impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `exe party --config <dir>/party<i>.toml --job <job>` three times and waits for all
/// (at most `limit`; the processes still running then are killed and reported as failed).
pub fn run_parties(exe: &Path, dir: &Path, job: &Path, limit: Duration) -> Result<Vec<PartyRun>> {
    let set = [0, 1, 2].map(|i| (dir.join(format!("party{i}.toml")), job.to_path_buf()));
    run_party_set(exe, &set, limit)
}

/// Runs `exe party --config <config> --job <job>` for each (config, job) pair, in role order,
/// and waits for all (at most `limit`; the processes still running then are killed and
/// reported as failed).
pub fn run_party_set(
    exe: &Path,
    set: &[(PathBuf, PathBuf)],
    limit: Duration,
) -> Result<Vec<PartyRun>> {
    let mut children = Vec::new();
    for (config, job) in set {
        let child = Command::new(exe)
            .arg("party")
            .arg("--config")
            .arg(config)
            .arg("--job")
            .arg(job)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Process(format!("cannot start {}: {e}", exe.display())))?;
        children.push(Guard(Some(child)));
    }
    let mut readers = Vec::new();
    for g in &mut children {
        let Some(c) = g.0.as_mut() else { continue };
        let out = c.stdout.take();
        let err = c.stderr.take();
        readers.push(std::thread::spawn(move || {
            let lines: Vec<String> = out
                .map(|o| BufReader::new(o).lines().map_while(|l| l.ok()).collect())
                .unwrap_or_default();
            let mut e = String::new();
            if let Some(mut s) = err {
                let _ = s.read_to_string(&mut e);
            }
            (lines, e)
        }));
    }
    let start = Instant::now();
    let mut status = vec![None; children.len()];
    while status.iter().any(Option::is_none) && start.elapsed() < limit {
        for (i, g) in children.iter_mut().enumerate() {
            if status[i].is_none()
                && let Some(c) = g.0.as_mut()
                && let Ok(Some(s)) = c.try_wait()
            {
                status[i] = Some(s.success());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(children); // kills whatever is still running, so the readers finish
    let mut runs = Vec::new();
    for (role, r) in readers.into_iter().enumerate() {
        let (stdout, mut stderr) = r.join().unwrap_or_default();
        if status[role].is_none() {
            stderr.push_str(&format!(
                "\n(killed: not finished within {} s)",
                limit.as_secs()
            ));
        }
        runs.push(PartyRun {
            role,
            success: status[role] == Some(true),
            stdout,
            stderr,
        });
    }
    Ok(runs)
}

/// `trefoil demo --processes`: certificates, sample data, three configs on free loopback
/// ports and the demo job in a temporary folder, then three party processes of `exe`; with
/// [`Partition::Vertical`] the hospitals hold columns ([`write_vertical_sample_data`]).
/// Runs the in-process demo's two models as two jobs (logistic regression, then the MLP),
/// stopping after a job that fails. With `keep_model_in`, the owner's model files are copied
/// there ([`kept_model_name`]) before the folder is deleted.
pub fn demo_processes(
    exe: &Path,
    epochs: usize,
    owner: usize,
    split: Partition,
    limit: Duration,
    keep_model_in: Option<&Path>,
) -> Result<Vec<(DemoModel, Vec<PartyRun>)>> {
    if owner >= 3 {
        return Err(Error::Data(format!(
            "model owner {owner} is not a party (0, 1 or 2)"
        )));
    }
    let tmp = tempfile::tempdir().map_err(|source| Error::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let dir = tmp.path();
    mpc_net::keygen::generate(3, "Trefoil demo CA")?.write_to(&dir.join("certs"))?;
    match split {
        Partition::Horizontal => write_sample_data(dir, 3, 7)?,
        Partition::Vertical => write_vertical_sample_data(dir, 7)?,
    };
    let mut all = Vec::new();
    for model in [DemoModel::LogisticRegression, DemoModel::Mlp] {
        // fresh ports (and session) per job: the previous job's sockets may linger in TIME_WAIT
        let ports = [free_port()?, free_port()?, free_port()?];
        let addrs = ports.map(|p| format!("127.0.0.1:{p}"));
        let session = format!("hospitals-demo-{}", model.slug());
        for role in 0..3 {
            write(
                &dir.join(format!("party{role}.toml")),
                &party_config_text(role, &addrs, &session),
            )?;
        }
        let job = dir.join(format!("job-{}.toml", model.slug()));
        write(&job, &demo_model_job_text(model, epochs, owner, split))?;
        let runs = run_parties(exe, dir, &job, limit)?;
        let failed = runs.iter().any(|r| !r.success);
        // the owner's model file is the one thing worth keeping from the temporary folder
        if let Some(out) = keep_model_in {
            keep_model(&runs, out, owner, model)?;
        }
        all.push((model, runs));
        if failed {
            break;
        }
    }
    Ok(all)
}

/// Copies the model file a run reports to `out/hospital<owner>-processes-<model>.safetensors`.
fn keep_model(runs: &[PartyRun], out: &Path, owner: usize, model: DemoModel) -> Result<()> {
    let from = runs
        .iter()
        .filter_map(|r| r.result())
        .filter_map(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .find_map(|v| v["model_written"].as_str().map(PathBuf::from));
    if let Some(from) = from {
        std::fs::create_dir_all(out).map_err(|source| Error::Io {
            path: out.to_path_buf(),
            source,
        })?;
        let to = out.join(kept_model_name(owner, model));
        std::fs::copy(&from, &to).map_err(|source| Error::Io { path: to, source })?;
    }
    Ok(())
}

/// The file name [`demo_processes`] keeps the owner's model under.
pub fn kept_model_name(owner: usize, model: DemoModel) -> String {
    format!("hospital{owner}-processes-{}.safetensors", model.slug())
}
