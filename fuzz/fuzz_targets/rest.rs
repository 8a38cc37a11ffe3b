//! Every REST body decoder (empty, ack, batch, cancel-all, orders,
//! executions, positions, wallet, instruments, server time, query-api) on
//! arbitrary bodies: the first byte picks the decoder and the category, the
//! rest is the body. A value or a typed error, never a panic.
#![no_main]

#[path = "common.rs"]
mod common;

use gapmm::codec::rest::RestDecoder;
use gapmm::engine::account::parse_query_api;
use gapmm::ids::Category;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (sel, body) = common::select(data);
    let linear = sel & 0x80 != 0;
    let inst = common::instrument(linear);
    let mut d = RestDecoder::new();
    let mut b = body.to_vec();
    match sel % 11 {
        0 => drop(d.decode_empty(&mut b)),
        1 => drop(d.decode_ack(&mut b)),
        2 => drop(d.decode_batch(&mut b).map(|items| items.len())),
        3 => drop(d.decode_cancel_all(&mut b)),
        4 => drop(d.decode_orders(&mut b, &inst)),
        5 => drop(d.decode_executions(&mut b, &inst)),
        6 => drop(d.decode_positions(&mut b, &inst)),
        7 => drop(d.decode_wallet(&mut b)),
        8 => {
            let cat = if linear {
                Category::Linear
            } else {
                Category::Spot
            };
            drop(d.decode_instruments(&mut b, cat))
        }
        9 => drop(d.decode_server_time(&mut b)),
        _ => drop(parse_query_api(body)),
    }
});
