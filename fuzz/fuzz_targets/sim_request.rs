//! What the simulator reads from clients: HTTP/1.1 requests (head, headers,
//! Content-Length body, limits) and WebSocket client messages (subscribe,
//! auth, ping, trade requests). Never a panic; a parsed request lies inside
//! the buffer, and a request within the limits parses the same when more
//! bytes follow it (pipelining).
#![no_main]

use gapmm::sim::http::{parse_request, Limits};
use gapmm::sim::ws::parse_client;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_client(data);
    let limits = Limits::default();
    let Ok(Some((req, n))) = parse_request(data, &limits) else {
        return;
    };
    assert!(n <= data.len(), "a request longer than its bytes");
    let mut more = data.to_vec();
    more.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    match parse_request(&more, &limits) {
        Ok(Some((again, m))) => {
            assert_eq!(m, n, "the next request changed this one's length");
            assert_eq!(again.method_raw, req.method_raw);
            assert_eq!(again.path, req.path);
            assert_eq!(again.body, req.body);
        }
        other => panic!("the same request with more bytes after it: {other:?}"),
    }
});
