//! Fault injection: switches the server consults on its own thread.
//!
//! Contract: plain data, no I/O, no locks. One-shot faults (drop, skip `u`, malformed frame, restart)
//! are applied by the server when the command arrives; counted faults (answer 10006 / HTTP 5xx for
//! the next N requests) and timed faults (stall the feed, delay responses) live in [`FaultState`].

use std::time::{Duration, Instant};

/// Which connections a fault targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnKind {
    /// Public market-data WebSockets.
    Public,
    /// Private WebSockets.
    Private,
    /// WS-trade WebSockets.
    Trade,
    /// REST (HTTP keep-alive) connections.
    Rest,
}

impl ConnKind {
    /// Parses `public`, `private`, `trade`, `rest`.
    pub fn parse(s: &str) -> Option<ConnKind> {
        match s {
            "public" => Some(ConnKind::Public),
            "private" => Some(ConnKind::Private),
            "trade" => Some(ConnKind::Trade),
            "rest" => Some(ConnKind::Rest),
            _ => None,
        }
    }
}

/// A fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close every connection of this kind (the client sees EOF).
    Drop(ConnKind),
    /// The next delta of every open orderbook topic skips one `u` (u jumps by 2).
    SkipU,
    /// Send one malformed text frame to every connection of this kind.
    Malformed(ConnKind),
    /// Send no market data for this long (the market catches up afterwards).
    Stall(Duration),
    /// Answer the next N order requests (REST or WS trade) with 10006 "Too many visits!".
    Reject10006(u32),
    /// Answer the next N REST requests with HTTP 503.
    Http5xx(u32),
    /// Delay every REST and WS-trade response by this long (zero switches it off).
    Delay(Duration),
    /// Restart every book: the next message of each orderbook topic is a `u = 1` snapshot.
    Restart,
    /// From now on refuse every WebSocket auth on connections of this kind
    /// with 10003 "API key is invalid." (a key revoked while in use; REST
    /// keeps working). Drop the connections to make a client re-authenticate.
    RefuseAuth(ConnKind),
    /// Close every WebSocket of this kind and refuse new ones (HTTP 503 to
    /// the upgrade) for this long: an outage of that stream, during which
    /// the exchange goes on trading and its pushes reach no one.
    Outage(ConnKind, Duration),
    /// Every open WebSocket of this kind goes silent without closing: the
    /// server sends it nothing more (no pushes, replies or pongs) and reads
    /// what it sends — a half-open link. New connections are not affected.
    Mute(ConnKind),
    /// From now on answer every private-stream subscription with
    /// `success: false` (a topic the account may not use).
    RefusePrivateSubscribe,
}

/// Counted and timed faults in force.
#[derive(Debug, Clone, Default)]
pub struct FaultState {
    /// Remaining forced 10006 answers.
    pub reject_10006: u32,
    /// Remaining forced HTTP 5xx answers.
    pub http_5xx: u32,
    /// Response delay (zero = none).
    pub delay: Duration,
    /// Feed stalled until this instant.
    pub stall_until: Option<Instant>,
    /// WebSocket kinds whose auth is refused ([`Fault::RefuseAuth`]).
    pub refuse_auth: Vec<ConnKind>,
    /// WebSocket kinds refused until the instant ([`Fault::Outage`]).
    pub outage: Vec<(ConnKind, Instant)>,
    /// Private subscriptions are refused ([`Fault::RefusePrivateSubscribe`]).
    pub refuse_private_subscribe: bool,
}

impl FaultState {
    /// Consumes one forced 10006 if any is pending.
    pub fn take_10006(&mut self) -> bool {
        if self.reject_10006 > 0 {
            self.reject_10006 -= 1;
            true
        } else {
            false
        }
    }

    /// Consumes one forced 5xx if any is pending.
    pub fn take_5xx(&mut self) -> bool {
        if self.http_5xx > 0 {
            self.http_5xx -= 1;
            true
        } else {
            false
        }
    }

    /// Whether a WebSocket of `kind` is refused at `now` (clears expired
    /// outages).
    pub fn in_outage(&mut self, kind: ConnKind, now: Instant) -> bool {
        self.outage.retain(|&(_, until)| now < until);
        self.outage.iter().any(|&(k, _)| k == kind)
    }

    /// Whether the feed is stalled at `now` (clears an expired stall).
    pub fn stalled(&mut self, now: Instant) -> bool {
        match self.stall_until {
            Some(t) if now < t => true,
            Some(_) => {
                self.stall_until = None;
                false
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out() {
        let mut f = FaultState {
            reject_10006: 2,
            ..Default::default()
        };
        assert!(f.take_10006());
        assert!(f.take_10006());
        assert!(!f.take_10006());
        assert!(!f.take_5xx());
        let now = Instant::now();
        f.stall_until = Some(now + Duration::from_millis(5));
        assert!(f.stalled(now));
        assert!(!f.stalled(now + Duration::from_millis(5)));
        assert_eq!(f.stall_until, None);
        f.outage
            .push((ConnKind::Private, now + Duration::from_millis(5)));
        assert!(f.in_outage(ConnKind::Private, now));
        assert!(!f.in_outage(ConnKind::Trade, now));
        assert!(!f.in_outage(ConnKind::Private, now + Duration::from_millis(5)));
        assert!(f.outage.is_empty());
    }
}
