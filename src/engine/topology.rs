//! Thread layout: which pipeline stages run on which pinned core, and what a
//! thread does when none of its stages has work.
//!
//! Every stage implements [`Stage`]; a [`Runner`] owns one or more stages and
//! calls their `poll` round-robin on one pinned thread. Stages talk only
//! through SPSC rings, so putting two stages on one thread changes no stage's
//! code — only which thread polls it. Layouts ([`Layout::plan`]):
//!
//! | cores given | threads                                              |
//! |-------------|------------------------------------------------------|
//! | 1           | one thread: feed → strategy → orders                 |
//! | 2           | feed + strategy on the first, orders on the second   |
//! | 3           | one stage per core                                   |
//!
//! `auto` uses the last core of the machine for a single engine thread when
//! the embedded simulator shares the machine (so the simulator keeps core 0),
//! and otherwise one stage per core where there are at least four cores.
//!
//! Contract: `poll` never blocks under [`IdlePolicy::Spin`] or
//! [`IdlePolicy::Yield`]; core enumeration happens once, before any pinning
//! (`core_affinity::get_core_ids` reports the *calling thread's* mask).

use crate::engine::config::IdlePolicy;

/// A pipeline stage driven by a runner thread.
pub trait Stage: Send {
    /// Short name for reports.
    fn name(&self) -> &'static str;
    /// Does whatever work is ready; returns whether any was done. Must not block.
    fn poll(&mut self) -> bool;
}

/// Which stages share which core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// All stages on one thread.
    Single {
        /// Core to pin to (`None`: leave unpinned).
        core: Option<usize>,
    },
    /// Feed and strategy on one core, orders on another.
    Pair {
        /// Feed + strategy core.
        market: usize,
        /// Order core.
        orders: usize,
    },
    /// One stage per core.
    Triple {
        /// Feed core.
        feed: usize,
        /// Strategy core.
        strategy: usize,
        /// Order core.
        orders: usize,
    },
}

impl Layout {
    /// Chooses a layout from the configured cores and the machine's cores
    /// (as enumerated once at start-up).
    pub fn plan(
        configured: Option<&[usize]>,
        available: &[usize],
        shares_with_sim: bool,
    ) -> Layout {
        match configured {
            Some([c]) => Layout::Single { core: Some(*c) },
            Some([a, b]) => Layout::Pair {
                market: *a,
                orders: *b,
            },
            Some([a, b, c, ..]) => Layout::Triple {
                feed: *a,
                strategy: *b,
                orders: *c,
            },
            Some([]) | None => {
                if shares_with_sim || available.len() < 4 {
                    Layout::Single {
                        core: available.last().copied(),
                    }
                } else {
                    let n = available.len();
                    Layout::Triple {
                        feed: available[n - 3],
                        strategy: available[n - 2],
                        orders: available[n - 1],
                    }
                }
            }
        }
    }

    /// The cores this layout pins to.
    pub fn cores(&self) -> Vec<usize> {
        match *self {
            Layout::Single { core } => core.into_iter().collect(),
            Layout::Pair { market, orders } => vec![market, orders],
            Layout::Triple {
                feed,
                strategy,
                orders,
            } => vec![feed, strategy, orders],
        }
    }

    /// Checks every core exists on this machine.
    pub fn validate(&self, available: &[usize]) -> Result<(), String> {
        for c in self.cores() {
            if !available.contains(&c) {
                return Err(format!(
                    "GAPMM_CORES: core {c} is not available (this process may use {available:?})"
                ));
            }
        }
        Ok(())
    }
}

/// The cores this process may run on, enumerated before any thread is pinned.
pub fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

/// Pins the calling thread; returns whether the OS accepted it.
pub fn pin_current(core: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

/// Drives stages round-robin until `stop` is set.
pub struct Runner {
    stages: Vec<Box<dyn Stage>>,
    idle: IdlePolicy,
}

impl Runner {
    /// A runner over `stages` with the given idle policy.
    pub fn new(stages: Vec<Box<dyn Stage>>, idle: IdlePolicy) -> Runner {
        Runner { stages, idle }
    }

    /// One round over every stage; returns whether any did work.
    #[inline]
    pub fn round(&mut self) -> bool {
        let mut worked = false;
        for s in &mut self.stages {
            worked |= s.poll();
        }
        worked
    }

    /// Loops until `stop` becomes true, idling per policy between empty rounds.
    pub fn run(&mut self, stop: &std::sync::atomic::AtomicBool) {
        use std::sync::atomic::Ordering;
        let mut empty_rounds = 0u32;
        while !stop.load(Ordering::Relaxed) {
            if self.round() {
                empty_rounds = 0;
                continue;
            }
            empty_rounds = empty_rounds.saturating_add(1);
            match self.idle {
                IdlePolicy::Spin => std::hint::spin_loop(),
                IdlePolicy::Yield => std::thread::yield_now(),
                IdlePolicy::Park => {
                    // Back off gradually so a burst right after idling is still caught fast.
                    if empty_rounds > 64 {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// Gives the stages back (for final reports after the thread stops).
    pub fn into_stages(self) -> Vec<Box<dyn Stage>> {
        self.stages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_follow_the_configured_core_count() {
        let avail = [0, 1];
        assert_eq!(
            Layout::plan(Some(&[1]), &avail, false),
            Layout::Single { core: Some(1) }
        );
        assert_eq!(
            Layout::plan(Some(&[0, 1]), &avail, false),
            Layout::Pair {
                market: 0,
                orders: 1
            }
        );
        assert_eq!(
            Layout::plan(None, &avail, true),
            Layout::Single { core: Some(1) }
        );
        let many = [0, 1, 2, 3, 4, 5];
        assert_eq!(
            Layout::plan(None, &many, false),
            Layout::Triple {
                feed: 3,
                strategy: 4,
                orders: 5
            }
        );
        assert!(Layout::Pair {
            market: 0,
            orders: 7
        }
        .validate(&avail)
        .is_err());
    }

    struct Counter {
        left: u32,
        polled: std::sync::Arc<std::sync::atomic::AtomicU32>,
    }
    impl Stage for Counter {
        fn name(&self) -> &'static str {
            "counter"
        }
        fn poll(&mut self) -> bool {
            self.polled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if self.left == 0 {
                return false;
            }
            self.left -= 1;
            true
        }
    }

    #[test]
    fn a_runner_polls_every_stage_each_round() {
        let a = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let b = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut r = Runner::new(
            vec![
                Box::new(Counter {
                    left: 2,
                    polled: a.clone(),
                }),
                Box::new(Counter {
                    left: 0,
                    polled: b.clone(),
                }),
            ],
            IdlePolicy::Spin,
        );
        assert!(r.round());
        assert!(r.round());
        assert!(!r.round());
        assert_eq!(a.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(b.load(std::sync::atomic::Ordering::Relaxed), 3);
    }
}
