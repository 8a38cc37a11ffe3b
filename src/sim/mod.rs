//! gapmm-sim: a deterministic Bybit v5 exchange on loopback.
//!
//! simx owns the exchange core ([`exchange`], [`market`], [`wire`], [`account`]);
//! the servers around it live next to it (simnet's modules).

pub mod account;
pub mod exchange;
pub mod market;
pub mod wire;
