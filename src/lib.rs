//! gap-mm: a thread-per-core, busy-poll market maker for Bybit v5.
//!
//! The library is laid out by pipeline stage; each module's doc states its
//! hot-path contract (what it allocates, whether it blocks, which clock it
//! reads).
//!
//! - [`units`], [`ids`], [`time`]: integer ticks and lots, inline identifiers, timestamps.
//! - [`limits`]: Bybit's default per-UID request limits.
//! - [`codec`]: sans-I/O Bybit v5 codecs (public WS, private WS, WS trade, REST, signing).
//! - [`oms`]: the order manager (per-side order state machine, rate budget, journal).
//! - [`book`]: tick-indexed L2 book with occupancy bitsets.
//! - [`analytics`]: gap analytics and market metrics from the book.
//! - [`strategy`]: signal, quotes, inventory-aware reservation price.
//! - [`replay`], [`stream`]: recordings (the recorder's layout and Bybit's archive) and the stream mode.
//! - [`commands`]: the research commands' flags and runs (backtest, eval, record).
//! - [`backtest`]: the live strategy and order manager replayed against a recording.
//! - [`eval`]: signal evaluation: hit rates, bootstrap intervals and rank IC per horizon.
//! - [`net`]: non-blocking WebSocket and HTTP/1.1 clients.
//! - [`engine`]: gapmm-hot threads, stages, configuration and metrics.
//! - [`record`]: recording the public stream to disk (the recorder's layout), off the hot thread.
//! - [`redirty`]: keeping the pages a reaction writes recently written (host write-fault stalls).
//! - [`sim`]: gapmm-sim, the loopback Bybit v5 exchange.
#![warn(missing_docs)]

pub mod analytics;
pub mod backtest;
pub mod book;
pub mod codec;
pub mod commands;
pub mod engine;
pub mod eval;
pub mod ids;
pub mod limits;
pub mod net;
pub mod oms;
pub mod record;
pub mod redirty;
pub mod replay;
pub mod sim;
pub mod strategy;
pub mod stream;
pub mod time;
pub mod units;
