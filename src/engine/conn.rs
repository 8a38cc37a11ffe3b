//! A WebSocket connection that reconnects by itself: exponential backoff with
//! jitter, an application ping every 20 s, dead-link detection, and a report
//! of each transition so the owning stage can resubscribe, re-authenticate or
//! pull its quotes.
//!
//! Dead link: a peer that vanished without a FIN or RST (cable, NAT or
//! middlebox state lost) leaves a half-open TCP connection that the kernel
//! would only give up on after its retransmission timeout (~15 min), and not
//! at all while we only read. Bybit answers every ping, so an open connection
//! from which nothing at all arrived (no data, pong, ping or close frame) for
//! `dead_after` ([`DEFAULT_DEAD_AFTER`] = 2.5 ping intervals, i.e. two
//! missed answers) is declared lost by [`ManagedWs::drive`]: it is closed, a
//! reconnect is scheduled, and `drive` returns
//! [`ConnEvent::Failed`]`(`[`NetError::Silent`]`)` — the same event a failed
//! ping send gives, which the owner must treat like a read error on that link.
//! The open itself counts as a receipt.
//!
//! Contract: [`ManagedWs::drive`] never blocks and, while the connection is
//! open, allocates nothing of its own (the ping goes through
//! [`WsConn::send_text`]) and costs a few branches and clock comparisons
//! against the caller's `now` — it reads no clock itself. The read path gets
//! no extra syscall or clock read: [`WsConn::read_frames`] bumps a plain
//! counter ([`WsConn::frames_received`]) and `drive` notes the time when it
//! sees the counter move, so a receipt is dated to the first `drive` after
//! it (one loop iteration late at most). Connecting (TCP, TLS, WebSocket
//! handshake) advances only as far as the socket allows per call.
//! Clock: `std::time::Instant` for timers (millisecond-scale deadlines),
//! taken from the caller (only the constructors read `Instant::now()`).

use std::time::{Duration, Instant};

use crate::net::backoff::{Backoff, BackoffConfig};
use crate::net::ws::{PingTimer, WsConn, BYBIT_PING, BYBIT_PING_INTERVAL};
use crate::net::{ConnState, NetError};

/// What changed during a [`ManagedWs::drive`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnEvent {
    /// Nothing changed.
    Idle,
    /// The connection just opened (first time or after a reconnect).
    Opened,
    /// The connection attempt failed; a retry is scheduled.
    Failed(NetError),
}

/// Default dead-link timeout: 2.5 × [`BYBIT_PING_INTERVAL`] (50 s), so two
/// unanswered pings in a row, not one late answer, drop the connection.
pub const DEFAULT_DEAD_AFTER: Duration =
    Duration::from_millis(BYBIT_PING_INTERVAL.as_millis() as u64 * 5 / 2);

/// A self-reconnecting WebSocket.
pub struct ManagedWs {
    ws: WsConn,
    backoff: Backoff,
    retry_at: Option<Instant>,
    ping: PingTimer,
    ping_msg: &'static [u8],
    dead_after: Duration,
    /// When `drive` last saw `ws.frames_received()` change (or the open).
    last_rx: Instant,
    /// `ws.frames_received()` as `drive` last saw it.
    rx_seen: u64,
    /// Successful opens after the first.
    pub reconnects: u64,
    opened_once: bool,
    enabled: bool,
}

impl ManagedWs {
    /// Wraps `ws`; the first connect starts on the first `drive`. Pings
    /// every [`BYBIT_PING_INTERVAL`], dead after [`DEFAULT_DEAD_AFTER`].
    pub fn new(ws: WsConn, seed: u64) -> ManagedWs {
        let now = Instant::now();
        ManagedWs {
            ws,
            backoff: Backoff::new(BackoffConfig::default(), seed),
            retry_at: Some(now),
            ping: PingTimer::new(BYBIT_PING_INTERVAL, now),
            ping_msg: BYBIT_PING,
            dead_after: DEFAULT_DEAD_AFTER,
            last_rx: now,
            rx_seen: 0,
            reconnects: 0,
            opened_once: false,
            enabled: true,
        }
    }

    /// Sets the dead-link timeout: an open connection that receives no frame
    /// of any kind for `d` is dropped and reconnected. Keep it above the ping
    /// interval plus the peer's answer time (the default is 2.5 intervals).
    pub fn with_dead_after(mut self, d: Duration) -> ManagedWs {
        self.dead_after = d;
        self
    }

    /// Sets the heartbeat interval (default [`BYBIT_PING_INTERVAL`]); it
    /// applies from the next open. Does not change the dead-link timeout.
    pub fn with_ping_interval(mut self, interval: Duration) -> ManagedWs {
        self.ping = PingTimer::new(interval, Instant::now());
        self
    }

    /// Pings every `ping` and takes the link for dead after 2.5 of them in
    /// silence (two unanswered pings, not one late answer).
    pub fn with_heartbeat(self, ping: Duration) -> ManagedWs {
        self.with_ping_interval(ping).with_dead_after(ping * 5 / 2)
    }

    /// The dead-link timeout.
    pub fn dead_after(&self) -> Duration {
        self.dead_after
    }

    /// The connection.
    #[inline]
    pub fn ws(&mut self) -> &mut WsConn {
        &mut self.ws
    }

    /// Whether frames can flow.
    #[inline]
    pub fn is_open(&self) -> bool {
        self.ws.is_open()
    }

    /// Stops reconnecting and closes (shutdown).
    pub fn disable(&mut self) {
        self.enabled = false;
        self.ws.close();
    }

    /// Advances connecting / reconnecting, sends the heartbeat when due, and
    /// declares the open connection lost ([`NetError::Silent`]) when it has
    /// received nothing for the dead-link timeout. A `Failed` returned while
    /// the connection was open means it is now closed: the owner handles it
    /// like a read error on that link.
    pub fn drive(&mut self, now: Instant) -> ConnEvent {
        if self.ws.is_open() {
            let rx = self.ws.frames_received();
            if rx != self.rx_seen {
                self.rx_seen = rx;
                self.last_rx = now;
            } else if now.saturating_duration_since(self.last_rx) >= self.dead_after {
                return self.lost(NetError::Silent, now);
            }
            if self.ping.due(now) {
                if let Err(e) = self.ws.send_text(self.ping_msg) {
                    return self.lost(e, now);
                }
            }
            if self.ws.has_pending() {
                if let Err(e) = self.ws.flush_pending() {
                    return self.lost(e, now);
                }
            }
            return ConnEvent::Idle;
        }
        if !self.enabled {
            return ConnEvent::Idle;
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return ConnEvent::Idle;
            }
            self.retry_at = None;
            if let Err(e) = self.ws.start_connect() {
                return self.failed(e, now);
            }
        }
        match self.ws.poll_connect() {
            Ok(ConnState::Open) => {
                self.backoff.on_connected(now);
                self.ping.reset(now);
                self.rx_seen = self.ws.frames_received();
                self.last_rx = now;
                if self.opened_once {
                    self.reconnects += 1;
                }
                self.opened_once = true;
                ConnEvent::Opened
            }
            Ok(ConnState::Closed) => {
                // Not connecting (e.g. closed by a read error): schedule a retry.
                if self.retry_at.is_none() {
                    self.retry_at = Some(now + self.backoff.on_disconnected(now));
                }
                ConnEvent::Idle
            }
            Ok(_) => ConnEvent::Idle,
            Err(e) => self.failed(e, now),
        }
    }

    /// Reports that the open connection failed (read/write error): it is
    /// dropped and a reconnect is scheduled.
    pub fn lost(&mut self, e: NetError, now: Instant) -> ConnEvent {
        self.ws.close();
        self.retry_at = Some(now + self.backoff.on_disconnected(now));
        ConnEvent::Failed(e)
    }

    fn failed(&mut self, e: NetError, now: Instant) -> ConnEvent {
        self.retry_at = Some(now + self.backoff.on_disconnected(now));
        ConnEvent::Failed(e)
    }

    /// The open connection did its job (authenticated and subscribed, or
    /// delivered a book snapshot): the next drop starts the backoff from
    /// its first delay. Without this only a connection up for the
    /// backoff's `stable_after` resets it, so a link cut every few seconds
    /// would wait up to the backoff's maximum (30 s) to come back, blind
    /// all that time. A server that accepts a connection and then refuses
    /// it never gets here, so its backoff keeps growing.
    pub fn proven(&mut self) {
        self.backoff.reset();
    }

    /// Time until the next reconnect attempt, if one is scheduled.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        self.retry_at.map(|t| t.saturating_duration_since(now))
    }
}
