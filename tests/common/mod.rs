//! Helpers shared by integration tests (`mod common;` in each test file).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared reference directory (`bybit/`, `notes/`, …). Looked up, in
/// order: `$GAPMM_SHARED`, `CARGO_MANIFEST_DIR/../shared` (CI clones the repo
/// with `shared/` beside it), `/work/shared`. Panics with the places tried if
/// none exists, because a conformance test that silently skips proves nothing.
pub fn shared_dir() -> PathBuf {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("GAPMM_SHARED") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return p;
        }
        tried.push(p);
    }
    for p in [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from("/work/shared"),
    ] {
        if p.is_dir() {
            return p;
        }
        tried.push(p);
    }
    panic!("shared fixture directory not found; tried {tried:?} (set GAPMM_SHARED)");
}

/// `shared/bybit/<rel>`.
pub fn bybit(rel: &str) -> PathBuf {
    shared_dir().join("bybit").join(rel)
}

/// Reads `shared/bybit/<rel>`, panicking with the path on failure.
pub fn read_bybit(rel: &str) -> Vec<u8> {
    let p = bybit(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}
