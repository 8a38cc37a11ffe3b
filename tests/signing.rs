//! HMAC signing against every vector in `bybit/signing-vectors.json`.

mod common;

use gapmm::codec::private::write_auth_request;
use gapmm::codec::sign::{rest_prehash, ws_auth_prehash, Credentials};
use gapmm::time::ExchMs;

#[test]
fn all_signing_vectors_match() {
    let path = common::shared_dir().join("bybit/signing-vectors.json");
    let text = std::fs::read_to_string(&path).expect("signing vectors");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 6, "expected the full vector set");
    let mut ws_seen = false;
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let key = v["api_key"].as_str().unwrap();
        let secret = v["api_secret"].as_str().unwrap();
        let want = v["hmac_sha256_hex"].as_str().unwrap();
        let want_prehash = v["string_to_sign"].as_str().unwrap();
        let signer = Credentials::new(key, secret).unwrap().signer();
        let mut out = [0u8; 64];
        if let Some(exp) = v.get("expires").and_then(|e| e.as_u64()) {
            ws_seen = true;
            let e = exp.to_string();
            assert_eq!(
                ws_auth_prehash(e.as_bytes()).concat(),
                want_prehash.as_bytes(),
                "{name}"
            );
            signer.sign_ws_auth(exp, &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), want, "{name}");
            // The auth message carries key, expires and the same signature.
            let mut msg = Vec::new();
            write_auth_request(&mut msg, &signer, ExchMs(exp), None);
            let got: serde_json::Value = serde_json::from_slice(&msg).unwrap();
            assert_eq!(got, v["auth_message"], "{name}");
        } else {
            let ts = v["timestamp"].as_str().unwrap();
            let rw = v["recv_window"].as_str().unwrap();
            let payload = v["payload"].as_str().unwrap();
            let parts = rest_prehash(
                ts.as_bytes(),
                key.as_bytes(),
                rw.as_bytes(),
                payload.as_bytes(),
            );
            assert_eq!(parts.concat(), want_prehash.as_bytes(), "{name}");
            signer.sign_rest(ts.as_bytes(), rw.as_bytes(), payload.as_bytes(), &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), want, "{name}");
            // The docs' signatures were made with an unpublished secret: ours must differ.
            if let Some(d) = v.get("docs_signature_for_unknown_secret") {
                assert_ne!(std::str::from_utf8(&out).unwrap(), d.as_str().unwrap());
            }
        }
    }
    assert!(ws_seen);
}

#[test]
fn whitespace_in_the_body_changes_the_signature() {
    let s = Credentials::new("XXXXXXXXXX", "T3stSecretNotReal0123456789abcdefABCD")
        .unwrap()
        .signer();
    let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
    s.sign_rest(
        b"1658385579423",
        b"5000",
        br#"{"category": "option"}"#,
        &mut a,
    );
    s.sign_rest(
        b"1658385579423",
        b"5000",
        br#"{"category":"option"}"#,
        &mut b,
    );
    assert_ne!(a, b);
    assert!(a
        .iter()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)));
}
