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

use std::path::PathBuf;

use crate::engine::config::Config;
use crate::replay::{Tape, TapeSpec};
use crate::units::Step;

/// Loads recordings with the configured tick size and the `--qty-step`
/// given; an error says which steps were used, since a wrong one is the
/// usual cause of a price or size "off the grid".
pub fn load_tape(cfg: &Config, qty_step: &str, paths: &[PathBuf]) -> Result<Tape, String> {
    let qty = Step::parse(qty_step.trim()).map_err(|e| format!("--qty-step {qty_step:?}: {e}"))?;
    let spec = TapeSpec {
        price_step: cfg.tick_size,
        qty_step: qty,
        symbol: None,
    };
    Tape::load(paths, &spec).map_err(|e| {
        format!(
            "{e} (tick size {}, qty step {qty}: set --tick-size / --qty-step to the instrument's)",
            cfg.tick_size
        )
    })
}
