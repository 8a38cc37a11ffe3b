//! Timestamps as newtypes, so an exchange millisecond can never be mixed with
//! a local TSC reading.
//!
//! Contract: reading the clock costs one `rdtsc` (~10 ns, no syscall). For
//! stamps compared across threads, [`Clock::stamp_fenced`] issues an `lfence`
//! first, because `rdtsc` is not serialising and may otherwise execute before
//! the atomic load that made the data visible.

use std::time::{SystemTime, UNIX_EPOCH};

/// Exchange time in milliseconds since the Unix epoch (`ts`, `cts`, `T`, `execTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ExchMs(pub u64);

/// A raw local TSC reading from [`Clock`]; convert differences with [`Clock::delta_ns`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tsc(pub u64);

/// The process's one monotonic clock (quanta over the TSC where available).
#[derive(Clone, Debug)]
pub struct Clock {
    inner: quanta::Clock,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// Calibrates (once per process, ~1 ms) and returns a handle.
    pub fn new() -> Clock {
        Clock {
            inner: quanta::Clock::new(),
        }
    }

    /// A raw stamp (not serialising).
    #[inline]
    pub fn stamp(&self) -> Tsc {
        Tsc(self.inner.raw())
    }

    /// A raw stamp preceded by `lfence`, for hops that cross threads.
    #[inline]
    pub fn stamp_fenced(&self) -> Tsc {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `_mm_lfence` has no preconditions; SSE2 is baseline on x86_64.
        unsafe {
            std::arch::x86_64::_mm_lfence();
        }
        Tsc(self.inner.raw())
    }

    /// Nanoseconds from `start` to `end` (0 if `end` precedes `start`).
    #[inline]
    pub fn delta_ns(&self, start: Tsc, end: Tsc) -> u64 {
        if end.0 <= start.0 {
            return 0;
        }
        self.inner.delta_as_nanos(start.0, end.0)
    }
}

/// Wall-clock milliseconds (for request timestamps and staleness checks; a
/// `clock_gettime` vDSO call, not a syscall on Linux).
pub fn wall_ms() -> ExchMs {
    ExchMs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    )
}
