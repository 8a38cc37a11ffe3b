//! gapmm-sim: a local Bybit v5 exchange for loopback tests and latency measurements.
//!
//! - [`exchange`], [`market`], [`wire`]: the deterministic exchange core (no I/O).
//! - [`server`]: one thread, one port on 127.0.0.1 — REST (HTTP/1.1 keep-alive) and WebSockets
//!   (public, private, trade) routed by Bybit's URL paths, optional TLS; [`Sim::start`] returns a
//!   [`SimHandle`].
//! - [`http`], [`ws`], [`auth`], [`ratelimit`]: sans-I/O protocol pieces the server is built from.
//! - [`measure`]: the wire-to-wire measuring point, the echo client and a TCP ping-pong baseline.
//! - [`faults`]: fault injection switches. [`tls`]: self-signed certificates and the stream type.
//!
//! Contract: the simulator is test infrastructure, not the engine's hot path: it allocates and uses
//! serde_json freely, but its server thread sleeps in epoll when idle.

pub mod account;
pub mod auth;
pub mod exchange;
pub mod faults;
pub mod http;
pub mod market;
pub mod measure;
pub mod ratelimit;
pub mod server;
pub mod tls;
pub mod wire;
pub mod ws;

pub use faults::{ConnKind, Fault};
pub use measure::{EchoClient, EchoConfig};
pub use server::{
    Levels, Pace, ReactionReport, Sim, SimConfig, SimError, SimHandle, SimStats, StatsSnapshot,
};
