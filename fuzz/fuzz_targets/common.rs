//! Shared by the targets: the instrument the decoders are built for, and a
//! byte-driven choice.

use gapmm::codec::rest::InstrumentSpec;
use gapmm::ids::{Category, Symbol};
use gapmm::units::Step;

/// BTCUSDT with Bybit's steps; `linear` picks the category from the input.
pub fn instrument(linear: bool) -> InstrumentSpec {
    let cat = if linear {
        Category::Linear
    } else {
        Category::Spot
    };
    InstrumentSpec::new(
        Symbol::from_str("BTCUSDT").expect("symbol"),
        cat,
        Step::parse("0.1").expect("step"),
        Step::parse("0.001").expect("step"),
    )
}

/// Splits the first byte off as a selector.
pub fn select(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    }
}
