//! Shared helpers for integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Locates the shared Bybit reference directory: `$GAPMM_SHARED`, then
/// `CARGO_MANIFEST_DIR/../shared`, then `/work/shared`.
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("GAPMM_SHARED") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return p;
        }
    }
    let sibling = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if sibling.is_dir() {
        return sibling;
    }
    PathBuf::from("/work/shared")
}
