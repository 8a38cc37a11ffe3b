//! The WebSocket trade-API reply decoder (`order.create` … batch replies,
//! auth, pong) on arbitrary frames: a reply or a typed error, never a panic;
//! the decoder then still reads a real `order.create` acknowledgement.
#![no_main]

use gapmm::codec::trade::TradeDecoder;
use libfuzzer_sys::fuzz_target;

const ACK: &[u8] = br#"{"op":"order.create","retCode":0,"retMsg":"OK","connId":"c","reqId":"r1","data":{"orderId":"1726025498520715008","orderLinkId":"client-order-1"}}"#;

fuzz_target!(|data: &[u8]| {
    let mut d = TradeDecoder::new();
    let _ = d.decode(&mut data.to_vec());
    let r = d.decode(&mut ACK.to_vec());
    assert!(r.is_ok(), "decoder broken: {r:?}");
});
