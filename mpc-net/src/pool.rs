//! A process-wide pool of large word buffers, so that protocols do not map fresh memory for
//! every multi-megabyte message and bit plane.
//!
//! A ReLU on 10^6 elements moves about 40 MB per party through buffers of 1-16 MB: the bit
//! planes of its adder, the PRG masks, the carry tree's levels and the messages. Allocated
//! fresh each time, every such buffer is mapped by the allocator (glibc maps blocks above its
//! mmap threshold), faulted in page by page and unmapped again when freed: on a 2-core machine
//! that was a fifth of the ReLU's time. Protocols instead [`take`] their large buffers here and
//! [`give`] them back when they are done with them (received messages included: with the
//! in-process transport a message's buffer moves from the sender to the receiver, and the pool
//! is shared by all threads of the process, so the sender's next [`take`] gets it back). The
//! results of protocols come back too: `mpc_core::AShare` gives its large components here when
//! it is dropped.
//!
//! Buffers below [`MIN_WORDS`] are left to the allocator (its free lists serve them well). The
//! pool keeps at most [`limit`] bytes (256 MiB unless [`set_limit`] says otherwise); a buffer
//! given beyond that frees the buffers given longest ago (the shapes a program uses now are the
//! ones it gave back last). A taken buffer is empty (length 0, its old contents gone from
//! view), so nothing computed with one buffer can be read through another. The three parties of
//! the in-process harness share one pool, as they share one address space; in a deployment each
//! server is its own process with its own pool.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Buffers of fewer words than this (256 KiB) are not pooled.
pub const MIN_WORDS: usize = 1 << 15;

static LIMIT: AtomicUsize = AtomicUsize::new(256 << 20);
static FREE: Mutex<Vec<Vec<u64>>> = Mutex::new(Vec::new());
static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);

/// What the pool has done so far in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Takes of at least [`MIN_WORDS`] words served by a pooled buffer.
    pub hits: u64,
    /// Takes of at least [`MIN_WORDS`] words that had to allocate.
    pub misses: u64,
    /// Bytes held by the pool now.
    pub held_bytes: usize,
}

fn held(free: &[Vec<u64>]) -> usize {
    free.iter().map(|v| 8 * v.capacity()).sum()
}

/// An empty vector with room for at least `n` words: a pooled buffer if one fits (the smallest
/// that does, and at most 4 times `n`), else a new allocation.
pub fn take(n: usize) -> Vec<u64> {
    if n < MIN_WORDS {
        return Vec::with_capacity(n);
    }
    let found = {
        let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= n && v.capacity() / 4 <= n)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| free.remove(i))
    };
    match found {
        Some(mut v) => {
            HITS.fetch_add(1, Ordering::Relaxed);
            v.clear();
            v
        }
        None => {
            MISSES.fetch_add(1, Ordering::Relaxed);
            Vec::with_capacity(n)
        }
    }
}

/// A copy of `words` in a buffer from the pool.
pub fn copy(words: &[u64]) -> Vec<u64> {
    let mut v = take(words.len());
    v.extend_from_slice(words);
    v
}

/// [`take`] filled with `n` zeros.
pub fn take_zeroed(n: usize) -> Vec<u64> {
    let mut v = take(n);
    v.resize(n, 0);
    v
}

/// Gives a buffer back for a later [`take`]. Small ones are freed; when the pool would hold more
/// than its limit, the buffers given longest ago are freed to make room.
pub fn give(v: Vec<u64>) {
    let bytes = 8 * v.capacity();
    if v.capacity() < MIN_WORDS {
        return;
    }
    let limit = LIMIT.load(Ordering::Relaxed);
    if bytes > limit {
        return;
    }
    let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
    // the oldest buffers make room: the shapes a program uses now are those it gave back last
    let mut total = held(&free) + bytes;
    let mut evict = 0;
    while total > limit {
        total -= 8 * free[evict].capacity();
        evict += 1;
    }
    free.drain(..evict);
    free.push(v);
}

/// The most bytes the pool keeps.
pub fn limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Sets the most bytes the pool keeps (0 turns pooling off) and frees what is held beyond it.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
    free.sort_by_key(|v| v.capacity());
    while held(&free) > bytes {
        free.pop();
    }
}

/// The counters and the bytes held now.
pub fn stats() -> PoolStats {
    let free = FREE.lock().unwrap_or_else(|e| e.into_inner());
    PoolStats {
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
        held_bytes: held(&free),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test touches the process-wide pool (tests run in parallel threads).
    #[test]
    fn buffers_are_reused_bounded_and_handed_out_empty() {
        let n = MIN_WORDS * 5;
        let mut a = take(n);
        a.extend(std::iter::repeat_n(7u64, n));
        let ptr = a.as_ptr();
        give(a);
        // the same buffer comes back, empty, for a smaller request that it fits
        let before = stats();
        let b = take(n - 5);
        assert_eq!(b.as_ptr(), ptr);
        assert!(b.is_empty() && b.capacity() >= n);
        assert_eq!(stats().hits, before.hits + 1);
        // a request over 4x smaller than the held buffer allocates instead
        give(b);
        let d = take(MIN_WORDS);
        assert_ne!(d.as_ptr(), ptr);
        let e = take(n);
        assert_eq!(e.as_ptr(), ptr);
        // small buffers are never pooled; the limit bounds what is held
        give(vec![1; 10]);
        let old = limit();
        set_limit(8 * n);
        let three = [
            take(MIN_WORDS * 2),
            take(MIN_WORDS * 2),
            take_zeroed(MIN_WORDS * 2),
        ];
        let ptrs: Vec<*const u64> = three.iter().map(|v| v.as_ptr()).collect();
        three.into_iter().for_each(give);
        let held = stats().held_bytes;
        assert!(held <= 8 * n && held >= 8 * MIN_WORDS * 2, "{held}");
        // the first one given made room for the third: the last two are the ones kept
        let (x, y) = (take(MIN_WORDS * 2), take(MIN_WORDS * 2));
        let mut kept = [x.as_ptr(), y.as_ptr()];
        kept.sort();
        let mut last_two = [ptrs[1], ptrs[2]];
        last_two.sort();
        assert_eq!(kept, last_two);
        give(x);
        give(y);
        set_limit(0);
        assert_eq!(stats().held_bytes, 0);
        set_limit(old);
        let z = take_zeroed(MIN_WORDS);
        assert!(z.len() == MIN_WORDS && z.iter().all(|&w| w == 0));
    }
}
