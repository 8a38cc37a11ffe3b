//! Sans-I/O Bybit v5 codecs: bytes in, typed values out (and back).
//!
//! No codec touches a socket. Decoders take a caller-owned byte buffer and
//! reuse their own scratch space, so steady-state decoding allocates nothing;
//! encoders write into caller-owned buffers.
//!
//! - [`public`]: public WebSocket (`orderbook.*`, `publicTrade.*`, acks, pongs, errors).
//! - [`sign`]: HMAC-SHA256 request signing, one pre-keyed signer per API key.
//! - [`rest`]: REST v5 request bytes and response parsing.
//! - [`private`]: private WebSocket (auth, `order`, `execution`, `execution.fast`, `position`, `wallet`).
//! - [`trade`]: WebSocket trade API (`order.create` / `order.amend` / `order.cancel` and batches).

mod book_scan;
mod json;
pub mod private;
pub mod public;
pub mod rest;
pub mod sign;
pub mod trade;
