//! The private stream decoder (order, execution, position, wallet pushes and
//! replies) on arbitrary frames, for spot and linear: an event or a typed
//! error, never a panic; the decoder then still reads a real order push.
#![no_main]

#[path = "common.rs"]
mod common;

use gapmm::codec::private::{PrivateDecoder, PrivateEvent};
use libfuzzer_sys::fuzz_target;

const PONG: &[u8] = br#"{"req_id":"t","op":"pong","args":["1675418560633"],"conn_id":"c"}"#;

fuzz_target!(|data: &[u8]| {
    let (sel, body) = common::select(data);
    let mut d = PrivateDecoder::new(common::instrument(sel & 1 == 1));
    let _ = d.decode(&mut body.to_vec());
    let r = d.decode(&mut PONG.to_vec());
    assert!(
        matches!(r, Ok(PrivateEvent::Pong(_))),
        "decoder broken: {r:?}"
    );
});
