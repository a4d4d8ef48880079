//! The in-process three-party harness: every test, benchmark and example runs through it.
//!
//! [`run_3pc`] starts three threads linked by in-memory channels, sets up a [`Party`] in each
//! (pairwise keys from the OS CSPRNG), runs the same closure in all three, and returns the three
//! results in role order. If any party fails, its channels close, the others fail promptly with
//! [`mpc_net::NetError::Disconnected`], and the first *root* error is returned.

use crate::error::{CoreError, Result};
use crate::fixed::FixedPoint;
use crate::party::Party;
use mpc_net::NetError;
use mpc_net::memory::{DEFAULT_TIMEOUT, memory_network_with_timeout};
use std::time::Duration;

/// Settings of an in-process run.
#[derive(Debug, Clone, Copy)]
pub struct HarnessConfig {
    /// Fixed-point settings of the session.
    pub fixed: FixedPoint,
    /// How long a party waits for a message before failing.
    pub timeout: Duration,
}

impl Default for HarnessConfig {
    fn default() -> Self {
        HarnessConfig {
            fixed: FixedPoint::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Runs `f` as each of the three parties, in three threads, with default settings.
///
/// ```
/// use mpc_core::run_3pc;
/// let roles = run_3pc(|p| Ok(p.role())).unwrap();
/// assert_eq!(roles, [0, 1, 2]);
/// ```
pub fn run_3pc<T, F>(f: F) -> Result<[T; 3]>
where
    T: Send,
    F: Fn(&mut Party) -> Result<T> + Sync,
{
    run_3pc_with(&HarnessConfig::default(), f)
}

/// Runs `f` as each of the three parties with the given settings.
pub fn run_3pc_with<T, F>(cfg: &HarnessConfig, f: F) -> Result<[T; 3]>
where
    T: Send,
    F: Fn(&mut Party) -> Result<T> + Sync,
{
    run_parties(cfg, f)
}

/// An error type a party closure of [`run_parties`] may return: anything a [`CoreError`]
/// converts into, which can tell a *secondary* failure (a peer went away because another party
/// failed first) from a root cause.
pub trait PartyError: From<CoreError> + Send {
    /// True if this error only says that a peer disconnected.
    fn is_disconnect(&self) -> bool;
}

impl PartyError for CoreError {
    fn is_disconnect(&self) -> bool {
        matches!(self, CoreError::Net(NetError::Disconnected { .. }))
    }
}

/// [`run_3pc_with`] for closures with their own error type (e.g. a layer crate's), returning
/// the first root error (not a secondary disconnect) if any party fails.
pub fn run_parties<T, E, F>(cfg: &HarnessConfig, f: F) -> std::result::Result<[T; 3], E>
where
    T: Send,
    E: PartyError,
    F: Fn(&mut Party) -> std::result::Result<T, E> + Sync,
{
    let ends = memory_network_with_timeout(cfg.timeout);
    let f = &f;
    let results: Vec<std::result::Result<T, E>> = std::thread::scope(|s| {
        let handles: Vec<_> = ends
            .into_iter()
            .map(|t| {
                let fixed = cfg.fixed;
                std::thread::Builder::new()
                    .name(format!("party-{}", mpc_net::Transport::role(&t)))
                    .spawn_scoped(s, move || {
                        let mut p = Party::new(Box::new(t), fixed)?;
                        f(&mut p)
                    })
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or(Err(E::from(CoreError::PartyPanicked(i)))),
                Err(e) => Err(E::from(CoreError::Rng(format!(
                    "cannot start party thread: {e}"
                )))),
            })
            .collect()
    });
    let mut oks = Vec::with_capacity(3);
    let mut root: Option<E> = None;
    let mut secondary: Option<E> = None;
    for r in results {
        match r {
            Ok(v) => oks.push(v),
            Err(e) if e.is_disconnect() => {
                secondary.get_or_insert(e);
            }
            Err(e) => {
                if root.is_none() {
                    root = Some(e);
                }
            }
        }
    }
    if let Some(e) = root.or(secondary) {
        return Err(e);
    }
    oks.try_into()
        .map_err(|_| E::from(CoreError::Rng("harness lost a party result".into())))
}

/// What [`time_3pc`] measured.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Wall time of each timed iteration: from the release of the start barrier (the last
    /// party's arrival) until the slowest party finished.
    pub samples: Vec<Duration>,
    /// Each party's counters for one iteration (the first timed one).
    pub per_op: [mpc_net::CommStats; 3],
    /// Rounds of one iteration: the growth of the maximum depth over the parties.
    pub rounds: u64,
}

impl Timing {
    /// Median of the samples.
    pub fn median(&self) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        s.get(s.len() / 2).copied().unwrap_or_default()
    }
}

/// Times `op` in one in-process session: `setup` runs once per party (untimed), then `op` runs
/// `warmup` times untimed and `iters` times timed. Every iteration starts at a barrier of the
/// three threads; a sample runs from the moment the last party reached it (which releases the
/// others) to the moment the slowest party is done, both read from one clock shared by the
/// three threads. (A clock read by one party after the barrier would start late whenever that
/// party's thread waits for a core while the other two compute: with three parties on two
/// cores that made some samples of a 256 matmul half as long as the work they covered.) The
/// closure's last output (party 0's) is returned with the timing.
pub fn time_3pc<S, T, FS, FO>(warmup: usize, iters: usize, setup: FS, op: FO) -> Result<(Timing, T)>
where
    T: Send,
    FS: Fn(&mut Party) -> Result<S> + Sync,
    FO: Fn(&mut Party, &S) -> Result<T> + Sync,
{
    use std::sync::atomic::{AtomicU64, Ordering};
    let barrier = std::sync::Barrier::new(3);
    let depth = AtomicU64::new(0);
    // per iteration: the last arrival at the start barrier and the last finish, in ns since
    // `epoch`
    let epoch = std::time::Instant::now();
    let since_epoch = || u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let starts: Vec<AtomicU64> = (0..iters).map(|_| AtomicU64::new(0)).collect();
    let ends: Vec<AtomicU64> = (0..iters).map(|_| AtomicU64::new(0)).collect();
    let outs = run_3pc(|p| {
        let state = setup(p)?;
        for _ in 0..warmup {
            op(p, &state)?;
        }
        let mut per_op = None;
        let mut last = None;
        for (start, end) in starts.iter().zip(&ends) {
            // line the parties up at a common depth so one iteration's rounds can be read off
            depth.fetch_max(p.stats().rounds, Ordering::SeqCst);
            barrier.wait();
            p.comm().raise_depth(depth.load(Ordering::SeqCst));
            let before = p.stats();
            start.fetch_max(since_epoch(), Ordering::SeqCst);
            barrier.wait();
            let out = op(p, &state)?;
            end.fetch_max(since_epoch(), Ordering::SeqCst);
            barrier.wait();
            per_op.get_or_insert((before, p.stats()));
            last = Some(out);
        }
        Ok((per_op, last))
    })?;
    let samples = starts
        .iter()
        .zip(&ends)
        .map(|(s, e)| {
            let ns = e
                .load(Ordering::SeqCst)
                .saturating_sub(s.load(Ordering::SeqCst));
            Duration::from_nanos(ns)
        })
        .collect();
    let [(s0, last), (s1, _), (s2, _)] = outs;
    let snaps = [s0, s1, s2];
    let per_op = std::array::from_fn(|i| snaps[i].map(|(b, a)| a.since(&b)).unwrap_or_default());
    let max_before = snaps
        .iter()
        .flatten()
        .map(|s| s.0.rounds)
        .max()
        .unwrap_or(0);
    let max_after = snaps
        .iter()
        .flatten()
        .map(|s| s.1.rounds)
        .max()
        .unwrap_or(0);
    let last = last.ok_or_else(|| CoreError::InvalidShape {
        op: "time_3pc",
        detail: "iters must be at least 1".into(),
    })?;
    Ok((
        Timing {
            samples,
            per_op,
            rounds: max_after - max_before,
        },
        last,
    ))
}

/// Tells the C allocator to keep large freed buffers inside the process (glibc on Linux; a no-op
/// elsewhere). By default glibc returns each freed buffer above its mmap threshold to the OS, so
/// the next one of the same size page-faults again (about 2.4 GB/s here). The protocols' own
/// large buffers go through [`mpc_net::pool`] and are reused without it; what this still helps
/// with is the buffers that leave the protocols (results, and arrays the caller builds), a few
/// percent on relu1e6 (`bench_suite -- --keep-freed-memory`). Optional; it changes only allocator
/// tuning, never results.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; it is called with valid option
    // constants and values, and glibc serialises it against concurrent allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 25); // glibc caps it at 32 MiB
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
