//! The gapmm-hot engine: pinned busy-poll threads from the Bybit feed to the
//! order wire.
//!
//! - [`config`]: flags, environment and `.env`, validated with errors naming the variable.
//! - [`topology`]: stage-to-core layouts, pinning and idle policies.
//! - [`metrics`]: per-hop HdrHistograms recorded on hot threads, collected off them.
//! - [`msg`]: the fixed-size records passed between stages over SPSC rings.
//! - [`conn`]: self-reconnecting WebSocket with backoff and heartbeat.
//! - [`feed`]: public WS → decoder → book → analytics → ring.
//! - [`latest`]: ring producers that hold the newest value back when the ring is full.
//! - [`strat`]: market updates → signal, reservation price, quotes → ring (conflated).
//! - [`status`]: relaxed-atomic status board read by the monitor thread.

pub mod account;
pub mod config;
pub mod conn;
pub mod feed;
pub mod latest;
pub mod metrics;
pub mod msg;
pub mod orders;
pub mod prom;
pub mod runtime;
pub mod status;
pub mod strat;
pub mod topology;
