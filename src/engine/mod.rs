//! The gapmm-hot engine: pinned busy-poll threads from the Bybit feed to the
//! order wire.
//!
//! - [`config`]: flags, environment and `.env`, validated with errors naming the variable.
//! - [`topology`]: stage-to-core layouts, pinning and idle policies.
//! - [`metrics`]: per-hop HdrHistograms recorded on hot threads, collected off them.
//! - [`msg`]: the fixed-size records passed between stages over SPSC rings.

pub mod config;
pub mod metrics;
pub mod msg;
pub mod topology;
