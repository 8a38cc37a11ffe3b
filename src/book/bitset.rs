//! Fixed-size occupancy bitset over a ladder window.
//!
//! Contract: memory is allocated once in [`Bitset::new`]; every other method
//! is allocation-free, branch-light and never panics — indices at or beyond
//! [`Bitset::len`] read as clear and are ignored on write. Scans work a
//! 64-bit word at a time with `trailing_zeros` / `leading_zeros`, so finding
//! the next set bit within `k` positions costs about `k / 64 + 1` word reads.

/// A fixed number of bits stored as `u64` words (bit `i` is bit `i % 64` of
/// word `i / 64`).
#[derive(Debug, Clone)]
pub struct Bitset {
    words: Box<[u64]>,
    len: usize,
}

impl Bitset {
    /// A cleared bitset of `len` bits (rounded up to whole words for storage).
    pub fn new(len: usize) -> Bitset {
        Bitset {
            words: vec![0u64; len.div_ceil(64)].into_boxed_slice(),
            len,
        }
    }

    /// Number of addressable bits.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the bitset has no addressable bits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether bit `i` is set (false beyond the end).
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        match self.words.get(i >> 6) {
            Some(w) if i < self.len => (w >> (i & 63)) & 1 == 1,
            _ => false,
        }
    }

    /// Sets bit `i` (ignored beyond the end).
    #[inline]
    pub fn set(&mut self, i: usize) {
        if i < self.len {
            if let Some(w) = self.words.get_mut(i >> 6) {
                *w |= 1u64 << (i & 63);
            }
        }
    }

    /// Clears bit `i` (ignored beyond the end).
    #[inline]
    pub fn clear(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i >> 6) {
            *w &= !(1u64 << (i & 63));
        }
    }

    /// Sets bit `i` and returns whether it was already set (false, and no
    /// change, beyond the end).
    #[inline]
    pub fn test_and_set(&mut self, i: usize) -> bool {
        if i >= self.len {
            return false;
        }
        match self.words.get_mut(i >> 6) {
            Some(w) => {
                let m = 1u64 << (i & 63);
                let was = *w & m != 0;
                *w |= m;
                was
            }
            None => false,
        }
    }

    /// Clears bit `i` and returns whether it was set.
    #[inline]
    pub fn test_and_clear(&mut self, i: usize) -> bool {
        match self.words.get_mut(i >> 6) {
            Some(w) => {
                let m = 1u64 << (i & 63);
                let was = *w & m != 0;
                *w &= !m;
                was
            }
            None => false,
        }
    }

    /// Clears every bit.
    pub fn clear_all(&mut self) {
        for w in self.words.iter_mut() {
            *w = 0;
        }
    }

    /// Clears every bit in `lo..=hi`.
    pub fn clear_range(&mut self, lo: usize, hi: usize) {
        let Some(max) = self.len.checked_sub(1) else {
            return;
        };
        let hi = hi.min(max);
        if lo > hi {
            return;
        }
        for wi in (lo >> 6)..=(hi >> 6) {
            let mut keep = 0u64;
            if wi == lo >> 6 {
                keep |= !(!0u64 << (lo & 63));
            }
            if wi == hi >> 6 && (hi & 63) != 63 {
                keep |= !0u64 << ((hi & 63) + 1);
            }
            if let Some(w) = self.words.get_mut(wi) {
                *w &= keep;
            }
        }
    }

    /// Number of set bits in `lo..=hi`.
    pub fn count_range(&self, lo: usize, hi: usize) -> usize {
        let mut n = 0;
        self.for_each_set(lo, hi, |_| n += 1);
        n
    }

    /// The raw words (for callers that walk set bits themselves).
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Replaces word `w` (ignored beyond the end; bits past `len` are masked off).
    #[inline]
    pub fn set_word(&mut self, w: usize, value: u64) {
        let tail = self.len.saturating_sub(w * 64);
        let mask = if tail >= 64 { !0 } else { (1u64 << tail) - 1 };
        if let Some(slot) = self.words.get_mut(w) {
            *slot = value & mask;
        }
    }

    /// Lowest set bit in `lo..=hi`, if any.
    #[inline]
    pub fn next_set_up(&self, lo: usize, hi: usize) -> Option<usize> {
        let hi = hi.min(self.len.checked_sub(1)?);
        if lo > hi {
            return None;
        }
        let last = hi >> 6;
        let mut wi = lo >> 6;
        let mut word = *self.words.get(wi)? & (!0u64 << (lo & 63));
        loop {
            if word != 0 {
                let i = wi * 64 + word.trailing_zeros() as usize;
                return (i <= hi).then_some(i);
            }
            wi += 1;
            if wi > last {
                return None;
            }
            word = *self.words.get(wi)?;
        }
    }

    /// Highest set bit in `lo..=hi`, if any.
    #[inline]
    pub fn next_set_down(&self, hi: usize, lo: usize) -> Option<usize> {
        let hi = hi.min(self.len.checked_sub(1)?);
        if lo > hi {
            return None;
        }
        let first = lo >> 6;
        let mut wi = hi >> 6;
        let mut word = *self.words.get(wi)? & (!0u64 >> (63 - (hi & 63)));
        loop {
            if word != 0 {
                let i = wi * 64 + 63 - word.leading_zeros() as usize;
                return (i >= lo).then_some(i);
            }
            if wi <= first {
                return None;
            }
            wi -= 1;
            word = *self.words.get(wi)?;
        }
    }

    /// Calls `f` with every set bit in `lo..=hi`, lowest first.
    #[inline]
    pub fn for_each_set(&self, lo: usize, hi: usize, mut f: impl FnMut(usize)) {
        let Some(max) = self.len.checked_sub(1) else {
            return;
        };
        let hi = hi.min(max);
        if lo > hi {
            return;
        }
        for wi in (lo >> 6)..=(hi >> 6) {
            let mut word = match self.words.get(wi) {
                Some(&w) => w,
                None => return,
            };
            if wi == lo >> 6 {
                word &= !0u64 << (lo & 63);
            }
            if wi == hi >> 6 {
                word &= !0u64 >> (63 - (hi & 63));
            }
            while word != 0 {
                f(wi * 64 + word.trailing_zeros() as usize);
                word &= word - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scans_cross_word_boundaries() {
        let mut b = Bitset::new(256);
        b.set(3);
        b.set(64);
        b.set(200);
        assert_eq!(b.next_set_up(0, 255), Some(3));
        assert_eq!(b.next_set_up(4, 255), Some(64));
        assert_eq!(b.next_set_up(65, 199), None);
        assert_eq!(b.next_set_up(65, 200), Some(200));
        assert_eq!(b.next_set_down(255, 0), Some(200));
        assert_eq!(b.next_set_down(199, 0), Some(64));
        assert_eq!(b.next_set_down(63, 4), None);
        assert_eq!(b.next_set_down(63, 3), Some(3));
        assert!(b.test_and_clear(64));
        assert!(!b.test_and_clear(64));
        assert!(!b.test_and_set(65));
        assert!(b.test_and_set(65));
        b.clear(65);
        assert_eq!(b.next_set_up(4, 255), Some(200));
        assert!(!b.get(64));
        assert!(!b.get(10_000));
        b.set(10_000);
        assert_eq!(b.next_set_up(201, usize::MAX), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn scans_match_a_linear_search(
            bits in proptest::collection::vec(0usize..200, 0..20),
            a in 0usize..220,
            b in 0usize..220,
        ) {
            let mut s = Bitset::new(200);
            let mut plain = [false; 200];
            for &i in &bits {
                s.set(i);
                plain[i] = true;
            }
            let (lo, hi) = (a.min(b), a.max(b));
            let up = (lo..=hi.min(199)).find(|&i| plain[i]);
            let down = (lo..=hi.min(199)).rev().find(|&i| plain[i]);
            prop_assert_eq!(s.next_set_up(lo, hi), up);
            prop_assert_eq!(s.next_set_down(hi, lo), down);
            let mut seen = Vec::new();
            s.for_each_set(lo, hi, |i| seen.push(i));
            let want: Vec<usize> = (lo..=hi.min(199)).filter(|&i| plain[i]).collect();
            prop_assert_eq!(s.count_range(lo, hi), want.len());
            prop_assert_eq!(seen, want);
            s.clear_range(lo, hi);
            for (i, &was) in plain.iter().enumerate() {
                prop_assert_eq!(s.get(i), was && !(lo..=hi).contains(&i), "bit {}", i);
            }
        }
    }
}
