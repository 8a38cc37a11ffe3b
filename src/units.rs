//! Prices as integer ticks, quantities as integer lots, and the exact decimal
//! conversions between them and Bybit's decimal strings.
//!
//! Contract: every function here is pure, allocation-free, never blocks and
//! never panics (arithmetic is checked). No `f64` is involved in any price or
//! quantity conversion: a decimal string is read digit by digit into a scaled
//! integer and divided exactly by the instrument's step.
//!
//! A [`Step`] is an instrument's increment (`priceFilter.tickSize`,
//! `lotSizeFilter.qtyStep` / `basePrecision`) held as `units × 10^-scale`, so
//! `0.5` is `5 × 10^-1` and `0.0001` is `1 × 10^-4`. A price string converts to
//! [`Ticks`] only when it lies exactly on the grid; anything else is a
//! [`UnitError`] that says what was wrong.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

/// Largest number of decimal places a [`Step`] may carry. Bybit's finest
/// increments are 10^-8; 12 leaves headroom while keeping every scaled value
/// well inside `i64` for realistic prices.
pub const MAX_SCALE: u8 = 12;

/// Longest decimal string accepted (digits, sign and point). Longer inputs are
/// rejected before any arithmetic.
pub const MAX_DECIMAL_LEN: usize = 40;

/// A price as a whole number of the instrument's ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ticks(pub i64);

/// A quantity (or a signed position) as a whole number of the instrument's lots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lots(pub i64);

macro_rules! int_newtype_ops {
    ($t:ident) => {
        impl Add for $t {
            type Output = $t;
            #[inline]
            fn add(self, o: $t) -> $t {
                $t(self.0.saturating_add(o.0))
            }
        }
        impl Sub for $t {
            type Output = $t;
            #[inline]
            fn sub(self, o: $t) -> $t {
                $t(self.0.saturating_sub(o.0))
            }
        }
        impl AddAssign for $t {
            #[inline]
            fn add_assign(&mut self, o: $t) {
                self.0 = self.0.saturating_add(o.0);
            }
        }
        impl SubAssign for $t {
            #[inline]
            fn sub_assign(&mut self, o: $t) {
                self.0 = self.0.saturating_sub(o.0);
            }
        }
        impl Neg for $t {
            type Output = $t;
            #[inline]
            fn neg(self) -> $t {
                $t(self.0.saturating_neg())
            }
        }
        impl $t {
            /// The zero value.
            pub const ZERO: $t = $t(0);
            /// The raw count.
            #[inline]
            pub const fn get(self) -> i64 {
                self.0
            }
            /// Whether the count is zero.
            #[inline]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }
            /// Absolute value.
            #[inline]
            pub const fn abs(self) -> $t {
                $t(self.0.saturating_abs())
            }
        }
    };
}
/// A price in half ticks: exactly represents a mid price `(bid + ask) / 2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HalfTicks(pub i64);

int_newtype_ops!(Ticks);
int_newtype_ops!(Lots);
int_newtype_ops!(HalfTicks);

impl HalfTicks {
    /// The exact mid of two prices.
    #[inline]
    pub const fn mid(bid: Ticks, ask: Ticks) -> HalfTicks {
        HalfTicks(bid.0.saturating_add(ask.0))
    }
    /// The mid as a number of ticks (may end in .5); for reporting only.
    pub fn as_ticks_f64(self) -> f64 {
        self.0 as f64 / 2.0
    }
}

/// Order side, spelled as Bybit spells it (`Buy` / `Sell`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Bid side.
    Buy,
    /// Ask side.
    Sell,
}

impl Side {
    /// Bybit's wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "Buy",
            Side::Sell => "Sell",
        }
    }
    /// Parses Bybit's case-sensitive spelling.
    pub fn parse(s: &[u8]) -> Result<Side, UnitError> {
        match s {
            b"Buy" => Ok(Side::Buy),
            b"Sell" => Ok(Side::Sell),
            _ => Err(UnitError::BadSide),
        }
    }
    /// The other side.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// +1 for Buy, -1 for Sell: the sign a fill of this side gives a position.
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

/// What was wrong with a decimal string or a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitError {
    /// The string was empty.
    Empty,
    /// A byte that is not a digit, or a misplaced sign or point.
    InvalidChar,
    /// More than [`MAX_DECIMAL_LEN`] bytes.
    TooLong,
    /// A negative number where only non-negative ones are allowed.
    Negative,
    /// The value does not fit in 64 bits at this precision.
    Overflow,
    /// The value has digits finer than the step, or is not a whole number of steps.
    NotOnGrid,
    /// A step of zero, or finer than 10^-[`MAX_SCALE`].
    BadStep,
    /// A side other than `Buy` / `Sell`.
    BadSide,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            UnitError::Empty => "empty decimal string",
            UnitError::InvalidChar => "decimal string has an invalid character",
            UnitError::TooLong => "decimal string is too long",
            UnitError::Negative => "negative value where a non-negative one is required",
            UnitError::Overflow => "decimal value overflows 64 bits",
            UnitError::NotOnGrid => "value is not a whole number of the instrument's steps",
            UnitError::BadStep => "step must be positive with at most 12 decimal places",
            UnitError::BadSide => "side must be Buy or Sell",
        };
        f.write_str(s)
    }
}

impl std::error::Error for UnitError {}

/// A decimal read exactly: `mantissa × 10^-scale`. Used for values that are
/// not on an instrument grid (fees, PnL, balances, rates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decimal {
    /// Signed digits.
    pub mantissa: i64,
    /// Number of digits after the point.
    pub scale: u8,
}

impl Decimal {
    /// Parses an optionally signed decimal string (`"-0.00255"`). `""` is an error;
    /// callers that allow Bybit's empty fields check for it first.
    pub fn parse(s: &[u8]) -> Result<Decimal, UnitError> {
        let (neg, digits) = split_sign(s)?;
        let (m, scale) = parse_unsigned(digits)?;
        // A negative magnitude may be one more than i64::MAX (i64::MIN).
        let mantissa = if neg {
            0i64.checked_sub_unsigned(m)
        } else {
            i64::try_from(m).ok()
        }
        .ok_or(UnitError::Overflow)?;
        Ok(Decimal { mantissa, scale })
    }

    /// Lossy conversion for reporting only (PnL in a status line); never used
    /// for prices or quantities on the wire.
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(i32::from(self.scale))
    }

    /// Re-expresses the value at `scale` decimals if that is exact.
    pub fn rescale(self, scale: u8) -> Result<i64, UnitError> {
        if scale >= self.scale {
            let mul = pow10(scale - self.scale).ok_or(UnitError::Overflow)?;
            self.mantissa.checked_mul(mul).ok_or(UnitError::Overflow)
        } else {
            let div = pow10(self.scale - scale).ok_or(UnitError::Overflow)?;
            if self.mantissa % div != 0 {
                return Err(UnitError::NotOnGrid);
            }
            Ok(self.mantissa / div)
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 48];
        let n = write_scaled(self.mantissa, self.scale, &mut buf);
        // write_scaled only emits ASCII digits, sign and point.
        f.write_str(std::str::from_utf8(&buf[..n]).unwrap_or("?"))
    }
}

/// An instrument increment: `units × 10^-scale`, normalised so that `units`
/// has no trailing decimal zeros that `scale` could absorb (`"0.10"` → 1×10^-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step {
    units: u64,
    scale: u8,
}

impl Step {
    /// Parses Bybit's step string (`"0.10"`, `"0.5"`, `"1"`, `"0.000001"`).
    pub fn parse(s: &str) -> Result<Step, UnitError> {
        let (neg, digits) = split_sign(s.as_bytes())?;
        if neg {
            return Err(UnitError::Negative);
        }
        let (mut units, mut scale) = parse_unsigned(digits)?;
        if units == 0 {
            return Err(UnitError::BadStep);
        }
        while scale > 0 && units.is_multiple_of(10) {
            units /= 10;
            scale -= 1;
        }
        if scale > MAX_SCALE {
            return Err(UnitError::BadStep);
        }
        // Prices and sizes are i64 counts of steps: a step beyond that range
        // could not even be shown as itself.
        if i64::try_from(units).is_err() {
            return Err(UnitError::Overflow);
        }
        Ok(Step { units, scale })
    }

    /// Builds a step from its parts (`Step::new(5, 1)` is 0.5).
    pub fn new(units: u64, scale: u8) -> Result<Step, UnitError> {
        if units == 0 || scale > MAX_SCALE {
            return Err(UnitError::BadStep);
        }
        if i64::try_from(units).is_err() {
            return Err(UnitError::Overflow);
        }
        let mut s = Step { units, scale };
        while s.scale > 0 && s.units.is_multiple_of(10) {
            s.units /= 10;
            s.scale -= 1;
        }
        Ok(s)
    }

    /// The step's integer units at its own scale.
    pub const fn units(self) -> u64 {
        self.units
    }

    /// Number of decimal places needed to print any multiple of this step.
    pub const fn scale(self) -> u8 {
        self.scale
    }

    /// Lossy value for reporting only (PnL in the status line and the
    /// metrics); never used for prices or quantities on the wire.
    pub fn to_f64(self) -> f64 {
        self.units() as f64 / 10f64.powi(i32::from(self.scale()))
    }

    /// Converts a non-negative decimal string to a whole number of steps.
    /// Extra trailing zeros are fine (`"1.95310"` with step 0.0001); any
    /// non-zero digit finer than the step, or a value between grid points, is
    /// [`UnitError::NotOnGrid`].
    #[inline]
    pub fn count(self, s: &[u8]) -> Result<i64, UnitError> {
        if s.is_empty() {
            return Err(UnitError::Empty);
        }
        if s.len() > MAX_DECIMAL_LEN {
            return Err(UnitError::TooLong);
        }
        let mut int: u64 = 0;
        let mut frac: u64 = 0;
        let mut frac_digits: u8 = 0;
        let mut seen_point = false;
        let mut seen_digit = false;
        for &b in s {
            match b {
                b'0'..=b'9' => {
                    seen_digit = true;
                    let d = u64::from(b - b'0');
                    if !seen_point {
                        int = int
                            .checked_mul(10)
                            .and_then(|v| v.checked_add(d))
                            .ok_or(UnitError::Overflow)?;
                    } else if frac_digits < self.scale {
                        frac = frac * 10 + d;
                        frac_digits += 1;
                    } else if d != 0 {
                        return Err(UnitError::NotOnGrid);
                    }
                }
                b'.' if !seen_point => seen_point = true,
                b'-' => return Err(UnitError::Negative),
                _ => return Err(UnitError::InvalidChar),
            }
        }
        if !seen_digit {
            return Err(UnitError::InvalidChar);
        }
        // Pad the fraction out to the step's scale.
        let pad = pow10(self.scale - frac_digits).ok_or(UnitError::Overflow)? as u64;
        let frac = frac * pad;
        let scale_mul = pow10(self.scale).ok_or(UnitError::Overflow)? as u64;
        let scaled = int
            .checked_mul(scale_mul)
            .and_then(|v| v.checked_add(frac))
            .ok_or(UnitError::Overflow)?;
        // Most instruments' steps are 1 × 10^-k: no division needed.
        let count = if self.units == 1 {
            scaled
        } else {
            if scaled % self.units != 0 {
                return Err(UnitError::NotOnGrid);
            }
            scaled / self.units
        };
        i64::try_from(count).map_err(|_| UnitError::Overflow)
    }

    /// [`Step::count`] as [`Ticks`].
    #[inline]
    pub fn ticks(self, s: &[u8]) -> Result<Ticks, UnitError> {
        self.count(s).map(Ticks)
    }

    /// [`Step::count`] as [`Lots`].
    #[inline]
    pub fn lots(self, s: &[u8]) -> Result<Lots, UnitError> {
        self.count(s).map(Lots)
    }

    /// Writes `count × step` as a plain decimal with exactly [`Step::scale`]
    /// decimal places (no exponent) into `out`, returning the bytes written.
    /// `out` must hold at least 48 bytes; a shorter buffer gets a truncated
    /// number, never a panic.
    #[inline]
    pub fn write(self, count: i64, out: &mut [u8]) -> usize {
        let scaled = i128::from(count) * i128::from(self.units);
        let scaled = i64::try_from(scaled).unwrap_or(if count < 0 { i64::MIN } else { i64::MAX });
        write_scaled(scaled, self.scale, out)
    }

    /// A `Display` adapter for `count × step` (for `write!` into reused buffers).
    pub fn display(self, count: i64) -> StepDisplay {
        StepDisplay { step: self, count }
    }

    /// Rounds a decimal string to the nearest grid point at or below it
    /// (for quantities the operator configured, e.g. `MIN_ORDER_SIZE`).
    pub fn count_floor(self, s: &[u8]) -> Result<i64, UnitError> {
        let d = Decimal::parse(s)?;
        if d.mantissa < 0 {
            return Err(UnitError::Negative);
        }
        let target_scale = self.scale.max(d.scale);
        let v = i128::from(d.rescale(target_scale)?);
        let unit = i128::from(self.units)
            * i128::from(pow10(target_scale - self.scale).ok_or(UnitError::Overflow)?);
        i64::try_from(v / unit).map_err(|_| UnitError::Overflow)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.display(1).fmt(f)
    }
}

/// Formats `count × step`; see [`Step::display`].
#[derive(Debug, Clone, Copy)]
pub struct StepDisplay {
    step: Step,
    count: i64,
}

impl fmt::Display for StepDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 48];
        let n = self.step.write(self.count, &mut buf);
        f.write_str(std::str::from_utf8(&buf[..n]).unwrap_or("?"))
    }
}

/// Powers of ten that fit in `i64`, indexed by exponent.
const POW10: [i64; 19] = {
    let mut t = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

#[inline]
fn pow10(n: u8) -> Option<i64> {
    POW10.get(usize::from(n)).copied()
}

fn split_sign(s: &[u8]) -> Result<(bool, &[u8]), UnitError> {
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    if s.len() > MAX_DECIMAL_LEN {
        return Err(UnitError::TooLong);
    }
    // No `+`: Bybit never writes one, and `Step::count` (the hot path's
    // parser) takes digits and one point only, so every parser refuses it.
    match s[0] {
        b'-' => Ok((true, &s[1..])),
        _ => Ok((false, s)),
    }
}

/// Reads `digits[.digits]` into (mantissa, scale) exactly. Trailing zeros
/// after the point carry no value: they are kept (`"1000.50"` stays two
/// decimals, as written) unless the mantissa's 64 bits or the 18-decimal
/// limit cannot hold them, when they are dropped (`"1.0000000000000000000000"`
/// is 1).
fn parse_unsigned(s: &[u8]) -> Result<(u64, u8), UnitError> {
    let r = parse_digits(s);
    // Signed values need the mantissa within i64 as well.
    if matches!(r, Ok((m, _)) if m <= i64::MAX as u64) {
        return r;
    }
    let t = trim_fraction_zeros(s);
    if t.len() == s.len() {
        return r;
    }
    parse_digits(t).or(r)
}

/// `s` without the zeros that end its fraction (and without the point if
/// nothing else follows it); `"0"` for a fraction of zeros alone (`".000"`).
fn trim_fraction_zeros(s: &[u8]) -> &[u8] {
    let Some(p) = s.iter().position(|&b| b == b'.') else {
        return s;
    };
    let mut end = s.len();
    while end > p + 1 && s[end - 1] == b'0' {
        end -= 1;
    }
    match (p, end == p + 1) {
        (0, true) => b"0",
        (_, true) => &s[..p],
        _ => &s[..end],
    }
}

fn parse_digits(s: &[u8]) -> Result<(u64, u8), UnitError> {
    let mut m: u64 = 0;
    let mut scale: u8 = 0;
    let mut seen_point = false;
    let mut seen_digit = false;
    for &b in s {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                m = m
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    .ok_or(UnitError::Overflow)?;
                if seen_point {
                    scale = scale.checked_add(1).ok_or(UnitError::Overflow)?;
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'-' => return Err(UnitError::Negative),
            _ => return Err(UnitError::InvalidChar),
        }
    }
    if !seen_digit {
        return Err(UnitError::InvalidChar);
    }
    if scale > 18 {
        return Err(UnitError::Overflow);
    }
    Ok((m, scale))
}

/// Writes `scaled × 10^-scale` as ASCII into `out`; returns the length.
fn write_scaled(scaled: i64, scale: u8, out: &mut [u8]) -> usize {
    let mut tmp = [0u8; 48];
    let neg = scaled < 0;
    let mut v = scaled.unsigned_abs();
    let mut i = tmp.len();
    let mut digits = 0u32;
    // Emit at least scale+1 digits so "0.05" keeps its leading zero.
    while (v > 0 || digits <= u32::from(scale)) && i > 1 {
        if scale > 0 && digits == u32::from(scale) {
            i -= 1;
            tmp[i] = b'.';
        }
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        digits += 1;
    }
    if neg && i > 0 {
        i -= 1;
        tmp[i] = b'-';
    }
    let s = &tmp[i..];
    let n = s.len().min(out.len());
    out[..n].copy_from_slice(&s[..n]);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(s: &str) -> Step {
        Step::parse(s).unwrap()
    }

    #[test]
    fn steps_normalise_trailing_zeros() {
        assert_eq!(step("0.10"), Step::new(1, 1).unwrap());
        assert_eq!(step("0.5").units(), 5);
        assert_eq!(step("1").scale(), 0);
        assert_eq!(step("0.000001").scale(), 6);
        assert_eq!(Step::parse("0"), Err(UnitError::BadStep));
        assert_eq!(Step::parse("-1"), Err(UnitError::Negative));
    }

    #[test]
    fn prices_convert_exactly_for_many_tick_sizes() {
        let cases: &[(&str, &str, i64)] = &[
            ("0.1", "16493.5", 164935),
            ("0.10", "16493.50", 164935),
            ("0.01", "30000.50", 3000050),
            ("0.0001", "1.9531", 19531),
            ("0.5", "30247.5", 60495),
            ("0.5", "100", 200),
            ("1", "27451", 27451),
            ("0.001", "0.015", 15),
            ("0.05", "3641.10", 72822),
        ];
        for &(t, p, want) in cases {
            assert_eq!(step(t).count(p.as_bytes()), Ok(want), "{p} at {t}");
        }
    }

    #[test]
    fn off_grid_and_malformed_values_are_typed_errors() {
        assert_eq!(step("0.5").count(b"100.3"), Err(UnitError::NotOnGrid));
        assert_eq!(step("0.1").count(b"1.25"), Err(UnitError::NotOnGrid));
        assert_eq!(step("0.1").count(b"1.20000"), Ok(12));
        assert_eq!(step("0.1").count(b""), Err(UnitError::Empty));
        assert_eq!(step("0.1").count(b"."), Err(UnitError::InvalidChar));
        assert_eq!(step("0.1").count(b"1.2.3"), Err(UnitError::InvalidChar));
        assert_eq!(step("0.1").count(b"1e-05"), Err(UnitError::InvalidChar));
        assert_eq!(step("0.1").count(b"-1"), Err(UnitError::Negative));
        assert_eq!(
            step("0.1").count(b"99999999999999999999"),
            Err(UnitError::Overflow)
        );
        assert_eq!(step("0.1").count(&[b'1'; 41]), Err(UnitError::TooLong));
    }

    #[test]
    fn formatting_round_trips_with_instrument_precision() {
        let mut buf = [0u8; 48];
        for &(t, count, want) in &[
            ("0.1", 164935i64, "16493.5"),
            ("0.01", 5, "0.05"),
            ("0.0001", 19531, "1.9531"),
            ("0.5", 60495, "30247.5"),
            ("1", 27451, "27451"),
            ("0.001", 1, "0.001"),
            ("0.000001", 0, "0.000000"),
            ("0.5", -3, "-1.5"),
        ] {
            let s = step(t);
            let n = s.write(count, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want);
            assert_eq!(s.display(count).to_string(), want);
            if count >= 0 {
                assert_eq!(s.count(want.as_bytes()), Ok(count));
            }
        }
    }

    #[test]
    fn decimals_keep_sign_and_scale() {
        assert_eq!(
            Decimal::parse(b"-0.00255"),
            Ok(Decimal {
                mantissa: -255,
                scale: 5
            })
        );
        assert_eq!(
            Decimal::parse(b"26.3725275").unwrap().to_string(),
            "26.3725275"
        );
        assert_eq!(Decimal::parse(b"5").unwrap().rescale(2), Ok(500));
        assert_eq!(
            Decimal::parse(b"0.015").unwrap().rescale(2),
            Err(UnitError::NotOnGrid)
        );
        assert_eq!(step("0.001").count_floor(b"0.0015"), Ok(1));
        assert_eq!(step("0.001").count_floor(b"0.01"), Ok(10));
    }

    #[test]
    fn sides_parse_case_sensitively() {
        assert_eq!(Side::parse(b"Buy"), Ok(Side::Buy));
        assert_eq!(Side::parse(b"buy"), Err(UnitError::BadSide));
        assert_eq!(Side::Sell.opposite(), Side::Buy);
    }
}
