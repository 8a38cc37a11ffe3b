//! A WebSocket connection that reconnects by itself: exponential backoff with
//! jitter, an application ping every 20 s, and a report of each transition so
//! the owning stage can resubscribe, re-authenticate or pull its quotes.
//!
//! Contract: [`ManagedWs::drive`] never blocks; while the connection is open
//! it costs one branch and one clock comparison. Connecting (TCP, TLS,
//! WebSocket handshake) advances only as far as the socket allows per call.
//! Clock: `std::time::Instant` for timers (millisecond-scale deadlines).

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

/// A self-reconnecting WebSocket.
pub struct ManagedWs {
    ws: WsConn,
    backoff: Backoff,
    retry_at: Option<Instant>,
    ping: PingTimer,
    ping_msg: &'static [u8],
    /// Successful opens after the first.
    pub reconnects: u64,
    opened_once: bool,
    enabled: bool,
}

impl ManagedWs {
    /// Wraps `ws`; the first connect starts on the first `drive`.
    pub fn new(ws: WsConn, seed: u64) -> ManagedWs {
        let now = Instant::now();
        ManagedWs {
            ws,
            backoff: Backoff::new(BackoffConfig::default(), seed),
            retry_at: Some(now),
            ping: PingTimer::new(BYBIT_PING_INTERVAL, now),
            ping_msg: BYBIT_PING,
            reconnects: 0,
            opened_once: false,
            enabled: true,
        }
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

    /// Advances connecting / reconnecting and sends the heartbeat when due.
    pub fn drive(&mut self, now: Instant) -> ConnEvent {
        if self.ws.is_open() {
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

    /// Time until the next reconnect attempt, if one is scheduled.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        self.retry_at.map(|t| t.saturating_duration_since(now))
    }
}
