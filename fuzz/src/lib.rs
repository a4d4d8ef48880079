//! Helpers shared by the fuzz targets.
//!
//! Every target feeds arbitrary bytes to one of Trefoil's input parsers and asserts the
//! project's rule for bad input: the parser returns `Ok` or a typed error, and never panics,
//! hangs or allocates without bound. Hangs are libFuzzer's `-timeout`; memory is bounded twice:
//! `-rss_limit_mb` for what the process touches, and this crate's global allocator for what it
//! merely reserves (libFuzzer's own `-malloc_limit_mb` needs a sanitizer runtime, which stable
//! Rust does not link, and an untouched `Vec::with_capacity` never shows in the RSS): any single
//! allocation above `FUZZ_MAX_ALLOC_MB` (default 64 MiB; inputs are at most 64 KiB) aborts the
//! process, which libFuzzer reports as a crash with the input that caused it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// Polls `fut` once and returns its output. The targets only poll futures that read from an
/// in-memory byte slice, which never has to wait: a future that is still pending after one
/// poll would wait forever on a real stream too, so it is reported as a hang (a panic).
pub fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("reading from a byte slice did not complete: it would hang"),
    }
}

/// A scratch file of this process for parsers that read a path (`name` tells the targets'
/// files apart). It lives in `/dev/shm` when there is one (RAM, no disk traffic), else in the
/// system's temporary directory.
pub fn scratch_path(name: &str) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("trefoil-fuzz-{}-{name}", std::process::id()))
}

/// Writes `bytes` to the scratch file `name` and returns its path.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_path(name);
    if let Err(e) = std::fs::write(&path, bytes) {
        panic!("cannot write the scratch file {}: {e}", path.display());
    }
    path
}

/// The largest single allocation allowed, in bytes (see the crate docs).
static MAX_ALLOC: AtomicUsize = AtomicUsize::new(64 << 20);

/// The system allocator, refusing (by aborting) any single allocation above the limit.
pub struct LimitedAlloc;

/// Writes `n` in decimal without allocating.
fn write_decimal(out: &mut impl Write, mut n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let _ = out.write_all(&buf[i..]);
}

#[cold]
fn too_large(size: usize) -> ! {
    let mut err = std::io::stderr();
    let _ = err.write_all(b"==fuzz== allocation of ");
    write_decimal(&mut err, size);
    let _ = err.write_all(b" bytes exceeds FUZZ_MAX_ALLOC_MB (");
    write_decimal(&mut err, MAX_ALLOC.load(Ordering::Relaxed) >> 20);
    let _ = err.write_all(b" MiB): an input-driven huge allocation\n");
    std::process::abort()
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// the only addition is the size check, which never returns a pointer.
unsafe impl GlobalAlloc for LimitedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOC.load(Ordering::Relaxed) {
            too_large(layout.size());
        }
        // SAFETY: forwarded as is (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOC.load(Ordering::Relaxed) {
            too_large(layout.size());
        }
        // SAFETY: forwarded as is (see above).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is (see above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOC.load(Ordering::Relaxed) {
            too_large(new_size);
        }
        // SAFETY: forwarded as is (see above).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: LimitedAlloc = LimitedAlloc;

/// Reads `FUZZ_MAX_ALLOC_MB` into the allocation limit; every target calls it in its `init`.
pub fn init() {
    if let Some(mb) = std::env::var("FUZZ_MAX_ALLOC_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        MAX_ALLOC.store(mb.saturating_mul(1 << 20), Ordering::Relaxed);
    }
}
