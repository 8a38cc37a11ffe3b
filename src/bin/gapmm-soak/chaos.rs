//! The fault schedule: which fault comes next, how long it lasts, and what the
//! engine must show before it counts as survived.
//!
//! Plain data and a seeded generator; the soak's main loop applies the faults
//! to the simulator and watches the engine's metrics for the evidence.

use gapmm::sim::{ConnKind, Fault};
use std::fmt;
use std::time::Duration;

/// The simulator's seeded generator: the same seed gives the same run of
/// faults and taker orders.
pub use gapmm::sim::market::Prng as Rng;

/// A number in `lo..=hi`.
pub fn between(rng: &mut Rng, lo: u64, hi: u64) -> u64 {
    lo + rng.below(hi - lo + 1)
}

/// What the engine's metrics must show after a fault before it counts as
/// survived (besides quoting again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Nothing beyond quoting again.
    None,
    /// The public link reconnected.
    PublicReconnect,
    /// An order-stage link (trade, private) reconnected.
    OrdersReconnect,
    /// The book was resynchronised.
    Resync,
}

/// One fault as scheduled: the switch to throw, how long to leave it (then
/// the switch that ends it, if any), and the evidence of recovery.
#[derive(Debug, Clone, Copy)]
pub struct Planned {
    /// The kind, for the report.
    pub kind: Kind,
    /// Thrown at the start.
    pub fault: Fault,
    /// Thrown when `hold` has passed (e.g. `Delay(0)`), if the fault does not end by itself.
    pub end: Option<Fault>,
    /// How long the fault lasts.
    pub hold: Duration,
    /// What recovery must show.
    pub evidence: Evidence,
}

/// The fault kinds the soak draws from, as named in its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The public WebSockets are closed.
    DropPublic,
    /// The private WebSockets are closed.
    DropPrivate,
    /// The trade WebSockets are closed.
    DropTrade,
    /// The REST keep-alive connections are closed.
    DropRest,
    /// The public WebSockets go silent without closing.
    MutePublic,
    /// The private WebSockets go silent without closing.
    MutePrivate,
    /// The trade WebSockets go silent without closing.
    MuteTrade,
    /// One book update id is skipped.
    UGap,
    /// No market data for a while.
    Stall,
    /// The next order requests are answered 10006.
    Reject10006,
    /// The next REST requests are answered HTTP 503.
    Http5xx,
    /// Every REST and trade answer is delayed.
    SlowAnswers,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 12] = [
        Kind::DropPublic,
        Kind::DropPrivate,
        Kind::DropTrade,
        Kind::DropRest,
        Kind::MutePublic,
        Kind::MutePrivate,
        Kind::MuteTrade,
        Kind::UGap,
        Kind::Stall,
        Kind::Reject10006,
        Kind::Http5xx,
        Kind::SlowAnswers,
    ];
}

impl Kind {
    /// The kind's name on the command line (`drop-public`, `u-gap`, …).
    pub fn flag(self) -> &'static str {
        match self {
            Kind::DropPublic => "drop-public",
            Kind::DropPrivate => "drop-private",
            Kind::DropTrade => "drop-trade",
            Kind::DropRest => "drop-rest",
            Kind::MutePublic => "mute-public",
            Kind::MutePrivate => "mute-private",
            Kind::MuteTrade => "mute-trade",
            Kind::UGap => "u-gap",
            Kind::Stall => "stall",
            Kind::Reject10006 => "10006",
            Kind::Http5xx => "5xx",
            Kind::SlowAnswers => "slow",
        }
    }

    /// Parses a comma list of [`Kind::flag`] names; empty = every kind.
    pub fn parse_list(s: &str) -> Result<Vec<Kind>, String> {
        if s.trim().is_empty() {
            return Ok(Kind::ALL.to_vec());
        }
        s.split(',')
            .map(|name| {
                let name = name.trim();
                Kind::ALL
                    .into_iter()
                    .find(|k| k.flag() == name)
                    .ok_or_else(|| {
                        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.flag()).collect();
                        format!("unknown fault kind {name:?}; one of {}", all.join(", "))
                    })
            })
            .collect()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Kind::DropPublic => "drop public",
            Kind::DropPrivate => "drop private",
            Kind::DropTrade => "drop trade",
            Kind::DropRest => "drop rest",
            Kind::MutePublic => "mute public",
            Kind::MutePrivate => "mute private",
            Kind::MuteTrade => "mute trade",
            Kind::UGap => "u gap",
            Kind::Stall => "feed stall",
            Kind::Reject10006 => "10006 answers",
            Kind::Http5xx => "HTTP 503 answers",
            Kind::SlowAnswers => "slow answers",
        })
    }
}

/// Draws the next fault from `kinds` (not empty).
pub fn draw(rng: &mut Rng, kinds: &[Kind]) -> Planned {
    let kind = kinds
        .get(rng.below(kinds.len() as u64) as usize)
        .copied()
        .unwrap_or(Kind::DropPublic);
    let ms = |rng: &mut Rng, lo, hi| Duration::from_millis(between(rng, lo, hi));
    let plain = |fault, evidence| Planned {
        kind,
        fault,
        end: None,
        hold: Duration::ZERO,
        evidence,
    };
    match kind {
        Kind::DropPublic => plain(Fault::Drop(ConnKind::Public), Evidence::PublicReconnect),
        Kind::DropPrivate => plain(Fault::Drop(ConnKind::Private), Evidence::OrdersReconnect),
        Kind::DropTrade => plain(Fault::Drop(ConnKind::Trade), Evidence::OrdersReconnect),
        Kind::DropRest => plain(Fault::Drop(ConnKind::Rest), Evidence::None),
        Kind::MutePublic => plain(Fault::Mute(ConnKind::Public), Evidence::PublicReconnect),
        Kind::MutePrivate => plain(Fault::Mute(ConnKind::Private), Evidence::OrdersReconnect),
        Kind::MuteTrade => plain(Fault::Mute(ConnKind::Trade), Evidence::OrdersReconnect),
        Kind::UGap => plain(Fault::SkipU, Evidence::Resync),
        Kind::Stall => {
            let hold = ms(rng, 300, 5_000);
            Planned {
                hold,
                ..plain(Fault::Stall(hold), Evidence::None)
            }
        }
        Kind::Reject10006 => plain(
            Fault::Reject10006(between(rng, 1, 8) as u32),
            Evidence::None,
        ),
        Kind::Http5xx => plain(Fault::Http5xx(between(rng, 1, 8) as u32), Evidence::None),
        Kind::SlowAnswers => Planned {
            end: Some(Fault::Delay(Duration::ZERO)),
            hold: ms(rng, 500, 4_000),
            ..plain(Fault::Delay(ms(rng, 20, 400)), Evidence::None)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_faults_and_every_kind_comes_up() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let (x, y) = (draw(&mut a, &Kind::ALL), draw(&mut b, &Kind::ALL));
            assert_eq!((x.kind, x.fault, x.hold), (y.kind, y.fault, y.hold));
            // A fault that does not end by itself is switched off.
            if let Fault::Delay(d) = x.fault {
                assert!(!d.is_zero());
                assert_eq!(x.end, Some(Fault::Delay(Duration::ZERO)));
            }
            seen.insert(x.kind);
        }
        assert_eq!(seen.len(), Kind::ALL.len());
        assert_eq!(draw(&mut a, &[Kind::UGap]).kind, Kind::UGap);
    }

    #[test]
    fn kind_lists_parse_by_flag_name() {
        assert_eq!(Kind::parse_list("").unwrap().len(), Kind::ALL.len());
        assert_eq!(
            Kind::parse_list("mute-private, 5xx").unwrap(),
            vec![Kind::MutePrivate, Kind::Http5xx]
        );
        let e = Kind::parse_list("mute-privat").unwrap_err();
        assert!(
            e.contains("mute-privat") && e.contains("drop-public"),
            "{e}"
        );
        for k in Kind::ALL {
            assert_eq!(Kind::parse_list(k.flag()).unwrap(), vec![k]);
        }
    }
}
