//! Inputs the fuzzers (fuzz/, scripts/fuzz.sh) found, kept as regression tests: each must give
//! a typed error, without panicking or allocating what the input merely announces. The inputs
//! are the fuzzers' own files, committed under fuzz/regressions/<target>/.
#![allow(clippy::unwrap_used)]

use mpc_net::frame::read_frame;
use mpc_net::tcp::DEFAULT_MAX_FRAME_BYTES;
use mpc_net::{Link, NetError};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

thread_local! {
    /// The largest single allocation of this thread since the last reset.
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, recording each thread's largest single allocation.
struct PeakAlloc;

// SAFETY: forwards every call to the system allocator unchanged; it only records sizes in a
// const-initialised thread-local without a destructor (which never allocates).
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = PEAK.try_with(|p| p.set(p.get().max(layout.size())));
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = PEAK.try_with(|p| p.set(p.get().max(new_size)));
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

fn regression(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads one frame from `bytes` (a slice never has to wait); returns the result and the
/// largest single allocation made meanwhile.
fn read_one(bytes: &[u8], max: u64) -> (Result<Option<mpc_net::frame::Frame>, NetError>, usize) {
    let mut r = bytes;
    let mut scratch = Vec::new();
    let link = Link::Party(1);
    PEAK.with(|p| p.set(0));
    let mut fut = pin!(read_frame(&mut r, max, &link, &mut scratch));
    let out = match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("reading from a slice is never pending"),
    };
    (out, PEAK.with(Cell::get))
}

/// A 13-byte data-frame header announcing 151 MB (under the default 256 MiB limit) followed by
/// 16 bytes: the reader used to reserve the announced 151 MB before any payload arrived, so
/// one short header per link could make a party reserve the frame limit (found by the `frame`
/// target). Now it is a truncated frame, and memory grows only with the bytes received.
#[test]
fn announced_data_frame_length_is_not_reserved_up_front() {
    let input = regression("frame", "data-header-announces-151mb");
    assert_eq!(&input[9..13], &0x0900_0010u32.to_le_bytes());
    let (out, peak) = read_one(&input, DEFAULT_MAX_FRAME_BYTES);
    assert!(
        matches!(out, Err(NetError::TruncatedFrame { .. })),
        "{out:?}"
    );
    assert!(peak <= 1 << 20, "reserved {peak} bytes for a 29-byte input");
}
