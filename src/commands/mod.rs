//! The research commands of `gapmm-hot`: their flags and what they run.
//! The binary only dispatches; each module here turns flags into calls of
//! the library's stages and prints or writes the results.
//!
//! - [`backtest`]: `gapmm-hot backtest`.
//! - [`record`]: `gapmm-hot record`.
//! - [`fidelity`]: `gapmm-hot fidelity` (live vs backtest on the simulator).
//! - [`eval`]: `gapmm-hot eval`.
//!
//! Contract: command-line code, off the hot path: allocates, blocks on
//! files and prints.

pub mod backtest;
pub mod eval;
pub mod fidelity;
pub mod record;
