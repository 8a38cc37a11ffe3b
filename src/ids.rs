//! Identifiers as fixed-capacity inline strings and integer newtypes.
//!
//! Contract: no allocation, no panic. An identifier longer than its capacity
//! is a [`IdError::TooLong`], never a truncation: Bybit's `orderLinkId` is at
//! most 36 characters, order ids are UUIDs (36) or long decimal strings.

use std::fmt;

/// What was wrong with an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Longer than the type's capacity.
    TooLong,
    /// A character outside the allowed set.
    InvalidChar,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdError::TooLong => "identifier is longer than its capacity",
            IdError::InvalidChar => "identifier has a character outside [A-Za-z0-9_.:-]",
        })
    }
}

impl std::error::Error for IdError {}

/// An inline ASCII string of at most `N` bytes. `Copy`, comparable, hashable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FixedStr<const N: usize> {
    len: u8,
    buf: [u8; N],
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        FixedStr {
            len: 0,
            buf: [0; N],
        }
    }
}

impl<const N: usize> FixedStr<N> {
    /// Maximum length in bytes.
    pub const CAPACITY: usize = N;

    /// Copies `s` if it fits and is printable ASCII without quotes or
    /// backslashes (so it can be written into JSON unescaped).
    pub fn new(s: &[u8]) -> Result<Self, IdError> {
        if s.len() > N || s.len() > u8::MAX as usize {
            return Err(IdError::TooLong);
        }
        if s.iter()
            .any(|&b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\')
        {
            return Err(IdError::InvalidChar);
        }
        let mut buf = [0u8; N];
        buf[..s.len()].copy_from_slice(s);
        Ok(FixedStr {
            len: s.len() as u8,
            buf,
        })
    }

    /// Parses from `&str` (an inherent method so callers need no trait import).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(s: &str) -> Result<Self, IdError> {
        Self::new(s.as_bytes())
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// The text (always valid: only printable ASCII is admitted).
    #[inline]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Whether empty (Bybit's `""`, e.g. a maker fill's `orderLinkId` on `execution.fast`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Appends bytes if they fit.
    pub fn push(&mut self, s: &[u8]) -> Result<(), IdError> {
        let l = self.len as usize;
        if l + s.len() > N {
            return Err(IdError::TooLong);
        }
        if s.iter()
            .any(|&b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\')
        {
            return Err(IdError::InvalidChar);
        }
        self.buf[l..l + s.len()].copy_from_slice(s);
        self.len = (l + s.len()) as u8;
        Ok(())
    }

    /// Appends a decimal number.
    pub fn push_u64(&mut self, v: u64) -> Result<(), IdError> {
        let mut b = itoa::Buffer::new();
        self.push(b.format(v).as_bytes())
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Trading pair (`BTCUSDT`).
pub type Symbol = FixedStr<24>;
/// Exchange order id: a UUID for derivatives, a long decimal string for spot.
pub type OrderId = FixedStr<40>;
/// Client order id (`orderLinkId`), at most 36 characters of `[A-Za-z0-9_-]`.
pub type OrderLinkId = FixedStr<36>;
/// Execution (fill) id.
pub type ExecId = FixedStr<40>;
/// WS trade request id (`reqId`), at most 36 characters.
pub type ReqId = FixedStr<36>;
/// Coin name (`BTC`, `USDT`).
pub type Coin = FixedStr<16>;

/// Validates Bybit's `orderLinkId` alphabet (`[0-9A-Za-z_-]`, ≤ 36).
pub fn order_link_id(s: &[u8]) -> Result<OrderLinkId, IdError> {
    if s.iter()
        .any(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        return Err(IdError::InvalidChar);
    }
    OrderLinkId::new(s)
}

/// Order-book update id `u` (consecutive per topic; `1` means a restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UpdateId(pub u64);

/// Cross sequence `seq` (monotonic, not contiguous; never used for gap detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seq(pub u64);

/// Market category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Spot.
    Spot,
    /// USDT/USDC perpetuals and futures.
    Linear,
}

impl Category {
    /// Bybit's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Spot => "spot",
            Category::Linear => "linear",
        }
    }
    /// Parses Bybit's spelling (`spot` / `linear`).
    pub fn parse(s: &[u8]) -> Option<Category> {
        match s {
            b"spot" => Some(Category::Spot),
            b"linear" => Some(Category::Linear),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_strings_reject_rather_than_truncate() {
        let id = OrderLinkId::from_str("gm-abc-1").unwrap();
        assert_eq!(id.as_str(), "gm-abc-1");
        assert_eq!(OrderLinkId::new(&[b'a'; 37]), Err(IdError::TooLong));
        assert_eq!(OrderId::new(b"a\"b"), Err(IdError::InvalidChar));
        assert_eq!(order_link_id(b"bad id"), Err(IdError::InvalidChar));
        let mut s = OrderLinkId::from_str("p-").unwrap();
        s.push_u64(42).unwrap();
        assert_eq!(s.as_str(), "p-42");
    }
}
