//! Reconnect backoff: exponential with multiplicative jitter, reset after a
//! connection stayed up long enough.
//!
//! Contract: no allocation, no syscalls, no clock reads of its own (the
//! caller passes `Instant`s). The jitter comes from a splitmix64 stream
//! seeded by the caller, so a given seed yields a reproducible sequence.

use std::time::{Duration, Instant};

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// First delay.
    pub base: Duration,
    /// Upper bound on the un-jittered delay.
    pub max: Duration,
    /// Growth factor per failed attempt.
    pub factor: u32,
    /// Jitter, in per mille of the delay (200 = ±20 %).
    pub jitter_permille: u32,
    /// A connection that stayed up at least this long resets the sequence.
    pub stable_after: Duration,
}

impl Default for BackoffConfig {
    /// 100 ms → 30 s, ×2, ±20 %, reset after 60 s up.
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_millis(100),
            max: Duration::from_secs(30),
            factor: 2,
            jitter_permille: 200,
            stable_after: Duration::from_secs(60),
        }
    }
}

/// Backoff state for one connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    cfg: BackoffConfig,
    attempt: u32,
    rng: u64,
    up_since: Option<Instant>,
}

impl Backoff {
    /// A fresh sequence; `seed` fixes the jitter.
    pub fn new(cfg: BackoffConfig, seed: u64) -> Backoff {
        Backoff {
            cfg,
            attempt: 0,
            rng: seed,
            up_since: None,
        }
    }

    /// Failed attempts (or disconnects) since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The un-jittered delay for the current attempt count.
    pub fn nominal(&self) -> Duration {
        let mut d = self.cfg.base;
        for _ in 0..self.attempt {
            d = d.saturating_mul(self.cfg.factor.max(1));
            if d >= self.cfg.max {
                return self.cfg.max;
            }
        }
        d.min(self.cfg.max)
    }

    /// The delay to wait before the next connect attempt; advances the sequence.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.nominal();
        self.attempt = self.attempt.saturating_add(1);
        let j = u64::from(self.cfg.jitter_permille.min(1000));
        if j == 0 {
            return nominal;
        }
        // Uniform in [1000 - j, 1000 + j] per mille.
        let r = self.next_u64() % (2 * j + 1);
        let permille = 1000 - j + r;
        let ns = nominal.as_nanos().saturating_mul(u128::from(permille)) / 1000;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// Records that a connection came up at `now`.
    pub fn on_connected(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// Records a disconnect at `now` and returns the delay before
    /// reconnecting. A connection that was up for at least `stable_after`
    /// resets the sequence first.
    pub fn on_disconnected(&mut self, now: Instant) -> Duration {
        if let Some(up) = self.up_since.take() {
            if now.saturating_duration_since(up) >= self.cfg.stable_after {
                self.reset();
            }
        }
        self.next_delay()
    }

    /// Back to the first delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn grows_doubles_caps_and_stays_within_jitter() {
        let mut b = Backoff::new(BackoffConfig::default(), 7);
        let mut nominal = 100u128;
        for _ in 0..20 {
            let d = ms(b.next_delay());
            assert!(
                d * 1000 >= nominal * 800 - 1000 && d * 1000 <= nominal * 1200,
                "{d} vs {nominal}"
            );
            nominal = (nominal * 2).min(30_000);
        }
        assert_eq!(b.nominal(), Duration::from_secs(30));
    }

    #[test]
    fn same_seed_same_sequence_other_seed_differs() {
        let seq = |seed| {
            let mut b = Backoff::new(BackoffConfig::default(), seed);
            (0..10).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(seq(1), seq(1));
        assert_ne!(seq(1), seq(2));
    }

    #[test]
    fn no_jitter_is_exact() {
        let cfg = BackoffConfig {
            jitter_permille: 0,
            ..BackoffConfig::default()
        };
        let mut b = Backoff::new(cfg, 0);
        let got: Vec<u128> = (0..4).map(|_| ms(b.next_delay())).collect();
        assert_eq!(got, vec![100, 200, 400, 800]);
    }

    #[test]
    fn stable_connection_resets_short_one_does_not() {
        let cfg = BackoffConfig {
            jitter_permille: 0,
            ..BackoffConfig::default()
        };
        let mut b = Backoff::new(cfg, 0);
        let t0 = Instant::now();
        b.next_delay();
        b.next_delay();
        b.on_connected(t0);
        // Up for 1 s: not stable, keeps growing.
        assert_eq!(ms(b.on_disconnected(t0 + Duration::from_secs(1))), 400);
        b.on_connected(t0);
        // Up for 60 s: stable, back to the base.
        assert_eq!(ms(b.on_disconnected(t0 + Duration::from_secs(60))), 100);
        assert_eq!(b.attempts(), 1);
    }
}
