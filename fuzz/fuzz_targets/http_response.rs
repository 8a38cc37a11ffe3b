//! The HTTP/1.1 response parser the REST link reads with (status line,
//! headers, Content-Length and chunked bodies) on arbitrary bytes. Never a
//! panic; a complete response lies inside the buffer; and the answer does not
//! depend on how the bytes arrived: any prefix is either "need more" or the
//! same response.
#![no_main]

use gapmm::codec::rest::parse_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cut, bytes) = match data.split_first() {
        Some((c, rest)) => (usize::from(*c), rest),
        None => return,
    };
    let mut whole = bytes.to_vec();
    let full = parse_response(&mut whole);
    if let Ok(Some(r)) = &full {
        assert!(r.consumed <= bytes.len(), "consumed past the end");
        assert!(r.body.end <= r.consumed, "body past the response");
    }
    // The same bytes, first only a prefix of them.
    let cut = cut.min(bytes.len());
    let mut part = bytes[..cut].to_vec();
    match parse_response(&mut part) {
        Ok(None) => {}
        Ok(Some(p)) => {
            let f = full.as_ref().ok().and_then(|f| f.as_ref());
            let f = f.expect("a prefix parsed to a response the whole did not");
            assert_eq!(
                p.consumed, f.consumed,
                "a prefix parsed to another response"
            );
            assert_eq!(p.body, f.body);
        }
        Err(_) => assert!(full.is_err(), "a prefix failed where the whole did not"),
    }
});
