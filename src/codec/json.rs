//! Shared JSON plumbing for the private, trade and REST codecs: a reusable
//! simd-json tape, field accessors and small writers.
//!
//! Contract: after the first few messages have grown the scratch buffers to
//! the largest message size seen, parsing allocates nothing. The caller's
//! input buffer is modified in place (simd-json unescapes strings there).

use simd_json::prelude::*;
use simd_json::tape::{Object, Value};
use simd_json::{Buffers, Tape};

use crate::ids::FixedStr;
use crate::time::ExchMs;
use crate::units::{Decimal, Step, UnitError};

/// Reusable simd-json buffers and tape.
pub(crate) struct JsonScratch {
    buffers: Buffers,
    tape: Tape<'static>,
}

impl Default for JsonScratch {
    fn default() -> Self {
        JsonScratch {
            buffers: Buffers::new(4096),
            tape: Tape(Vec::with_capacity(1024)),
        }
    }
}

impl std::fmt::Debug for JsonScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsonScratch")
    }
}

impl JsonScratch {
    /// Parses `buf` and hands the root value to `f`. Returns `None` if `buf`
    /// is not valid JSON. `f`'s result cannot borrow the tape.
    pub(crate) fn with<'a, R>(
        &mut self,
        buf: &'a mut [u8],
        f: impl FnOnce(Value<'_, 'a>) -> R,
    ) -> Option<R> {
        if buf.is_empty() {
            return None;
        }
        let t = std::mem::replace(&mut self.tape, Tape(Vec::new()));
        let mut t: Tape<'a> = t.reset();
        let out = match simd_json::fill_tape(buf, &mut self.buffers, &mut t) {
            Ok(()) => Some(f(t.as_value())),
            Err(_) => None,
        };
        self.tape = t.reset();
        out
    }
}

/// A string field; JSON `null` and absent both give `None`.
#[inline]
pub(crate) fn get_str<'a>(o: &Object<'_, 'a>, key: &str) -> Option<&'a str> {
    o.get(key).and_then(|v| v.into_string())
}

/// An integer field given either as a JSON number or a decimal string.
#[inline]
pub(crate) fn get_i64(o: &Object<'_, '_>, key: &str) -> Option<i64> {
    o.get(key).and_then(|v| value_i64(&v))
}

/// An integer given either as a JSON number or a decimal string.
#[inline]
pub(crate) fn value_i64(v: &Value<'_, '_>) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    if let Some(u) = v.as_u64() {
        return i64::try_from(u).ok();
    }
    v.as_str().and_then(|s| parse_i64(s.as_bytes()))
}

/// A millisecond timestamp given as a number or a string.
#[inline]
pub(crate) fn value_ms(v: &Value<'_, '_>) -> Option<ExchMs> {
    value_i64(v).and_then(|i| u64::try_from(i).ok()).map(ExchMs)
}

/// Parses an optionally negative decimal integer.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, d) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        _ => (false, s),
    };
    if d.is_empty() || d.len() > 19 {
        return None;
    }
    // Accumulated towards the sign, so that i64::MIN (whose magnitude is
    // one more than i64::MAX) is read too.
    let mut v: i64 = 0;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(b - b'0');
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(digit)?
        } else {
            v.checked_add(digit)?
        };
    }
    Some(v)
}

/// Parses an unsigned decimal integer.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// A decimal string where `""` means "absent".
#[inline]
pub(crate) fn opt_decimal(s: Option<&str>) -> Result<Option<Decimal>, UnitError> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => Decimal::parse(s.as_bytes()).map(Some),
    }
}

/// A grid count where `""` or absent means zero.
#[inline]
pub(crate) fn count_or_zero(step: Step, s: Option<&str>) -> Result<i64, UnitError> {
    match s {
        None | Some("") => Ok(0),
        Some(s) => step.count(s.as_bytes()),
    }
}

/// Copies a message into a fixed string, replacing bytes JSON would need to
/// escape (and non-ASCII) with `?` and truncating to capacity.
pub(crate) fn lossy_fixed<const N: usize>(s: &str) -> FixedStr<N> {
    let mut out = FixedStr::<N>::default();
    for &b in s.as_bytes().iter().take(N) {
        let c = if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            b
        } else {
            b'?'
        };
        if out.push(&[c]).is_err() {
            break;
        }
    }
    out
}

/// Writes a JSON string literal; the content must need no escaping (ids,
/// symbols and decimals produced by this crate never do).
#[inline]
pub(crate) fn push_str_lit(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(s);
    out.push(b'"');
}

/// Writes `"key":"value"` preceded by a comma unless `first`.
#[inline]
pub(crate) fn push_kv(out: &mut Vec<u8>, first: bool, key: &str, value: &[u8]) {
    if !first {
        out.push(b',');
    }
    push_str_lit(out, key.as_bytes());
    out.push(b':');
    push_str_lit(out, value);
}

/// Writes `"key":"count×step"`.
#[inline]
pub(crate) fn push_kv_step(out: &mut Vec<u8>, first: bool, key: &str, step: Step, count: i64) {
    let mut buf = [0u8; 48];
    let n = step.write(count, &mut buf);
    push_kv(out, first, key, buf.get(..n).unwrap_or(&[]));
}

/// Writes a decimal integer.
#[inline]
pub(crate) fn push_u64(out: &mut Vec<u8>, v: u64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}
