//! Fixed-capacity set of recently seen execution ids.
//!
//! Fills arrive twice (`execution.fast` and `execution`) and again when the
//! exchange's execution list is replayed after a restart; each `execId` must
//! count once. The set remembers the last [`DEDUPE_CAPACITY`] ids in arrival
//! order (a ring) and finds them through an open-addressing hash table with
//! linear probing and backward-shift deletion, so insert, lookup and eviction
//! are O(1) and never allocate after construction.
//!
//! Contract: allocates its two arrays once in [`ExecDedupe::new`]; afterwards
//! no allocation, no panic. A per-entry flag records whether the fill's fee
//! has been counted (the `execution.fast` copy carries none).

use crate::ids::ExecId;

/// How many execution ids are remembered.
pub const DEDUPE_CAPACITY: usize = 8192;
const TABLE: usize = DEDUPE_CAPACITY * 2;
const EMPTY: u32 = u32::MAX;
const FEE: u8 = 1;
const ATTRIBUTED: u8 = 2;

/// What the set knew about an execution id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time: inserted.
    New,
    /// Seen before.
    Duplicate {
        /// The fee was counted on an earlier copy.
        fee_counted: bool,
        /// An earlier copy was matched to one of our orders.
        attributed: bool,
    },
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct ExecDedupe {
    ring: Vec<(ExecId, u8)>,
    head: usize,
    len: usize,
    table: Vec<u32>,
}

impl Default for ExecDedupe {
    fn default() -> Self {
        Self::new()
    }
}

fn hash(id: &ExecId) -> usize {
    // FNV-1a, 64-bit.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 29)) as usize % TABLE
}

impl ExecDedupe {
    /// An empty set (allocates its fixed arrays).
    pub fn new() -> ExecDedupe {
        ExecDedupe {
            ring: vec![(ExecId::default(), 0); DEDUPE_CAPACITY],
            head: 0,
            len: 0,
            table: vec![EMPTY; TABLE],
        }
    }

    /// Number of ids remembered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn find(&self, id: &ExecId) -> Option<usize> {
        let mut pos = hash(id);
        for _ in 0..TABLE {
            let slot = *self.table.get(pos)?;
            if slot == EMPTY {
                return None;
            }
            if self.ring.get(slot as usize).map(|e| &e.0) == Some(id) {
                return Some(pos);
            }
            pos = (pos + 1) % TABLE;
        }
        None
    }

    /// Whether `id` is remembered.
    pub fn contains(&self, id: &ExecId) -> bool {
        self.find(id).is_some()
    }

    /// Looks `id` up and inserts it if new; `fee` says whether this copy
    /// carries a fee, which is then marked counted.
    pub fn check_insert(&mut self, id: &ExecId, fee: bool) -> Seen {
        if let Some(pos) = self.find(id) {
            let slot = self.table.get(pos).copied().unwrap_or(EMPTY) as usize;
            if let Some(e) = self.ring.get_mut(slot) {
                let (fee_counted, attributed) = (e.1 & FEE != 0, e.1 & ATTRIBUTED != 0);
                if fee {
                    e.1 |= FEE;
                }
                return Seen::Duplicate {
                    fee_counted,
                    attributed,
                };
            }
        }
        if self.len == DEDUPE_CAPACITY {
            self.evict_oldest();
        }
        let slot = (self.head + self.len) % DEDUPE_CAPACITY;
        if let Some(e) = self.ring.get_mut(slot) {
            *e = (*id, if fee { FEE } else { 0 });
        }
        self.len += 1;
        let mut pos = hash(id);
        for _ in 0..TABLE {
            match self.table.get_mut(pos) {
                Some(t) if *t == EMPTY => {
                    *t = slot as u32;
                    break;
                }
                _ => pos = (pos + 1) % TABLE,
            }
        }
        Seen::New
    }

    /// Records that a copy of `id` was matched to one of our orders.
    pub fn set_attributed(&mut self, id: &ExecId) {
        if let Some(pos) = self.find(id) {
            let slot = self.table.get(pos).copied().unwrap_or(EMPTY) as usize;
            if let Some(e) = self.ring.get_mut(slot) {
                e.1 |= ATTRIBUTED;
            }
        }
    }

    fn evict_oldest(&mut self) {
        let slot = self.head;
        let id = match self.ring.get(slot) {
            Some(e) => e.0,
            None => return,
        };
        if let Some(mut pos) = self.find(&id) {
            // Backward-shift deletion keeps every probe chain unbroken.
            let mut next = (pos + 1) % TABLE;
            loop {
                let s = self.table.get(next).copied().unwrap_or(EMPTY);
                if s == EMPTY {
                    break;
                }
                let home = self
                    .ring
                    .get(s as usize)
                    .map(|e| hash(&e.0))
                    .unwrap_or(next);
                // Move `s` into the hole if its home is not in (pos, next].
                let dist_home = (next + TABLE - home) % TABLE;
                let dist_hole = (next + TABLE - pos) % TABLE;
                if dist_home >= dist_hole {
                    if let Some(t) = self.table.get_mut(pos) {
                        *t = s;
                    }
                    pos = next;
                }
                next = (next + 1) % TABLE;
            }
            if let Some(t) = self.table.get_mut(pos) {
                *t = EMPTY;
            }
        }
        self.head = (self.head + 1) % DEDUPE_CAPACITY;
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashSet, VecDeque};

    fn id(n: u64) -> ExecId {
        let mut s = ExecId::default();
        s.push(b"e-").unwrap();
        s.push_u64(n).unwrap();
        s
    }

    #[test]
    fn duplicates_are_reported_with_fee_state() {
        let mut d = ExecDedupe::new();
        assert_eq!(d.check_insert(&id(1), false), Seen::New);
        assert_eq!(
            d.check_insert(&id(1), true),
            Seen::Duplicate {
                fee_counted: false,
                attributed: false
            }
        );
        d.set_attributed(&id(1));
        assert_eq!(
            d.check_insert(&id(1), true),
            Seen::Duplicate {
                fee_counted: true,
                attributed: true
            }
        );
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn oldest_ids_are_forgotten_beyond_capacity() {
        let mut d = ExecDedupe::new();
        for n in 0..(DEDUPE_CAPACITY as u64 + 100) {
            assert_eq!(d.check_insert(&id(n), true), Seen::New);
        }
        assert_eq!(d.len(), DEDUPE_CAPACITY);
        assert!(!d.contains(&id(99)));
        assert!(d.contains(&id(100)));
        assert!(d.contains(&id(DEDUPE_CAPACITY as u64 + 99)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn agrees_with_a_model(ops in proptest::collection::vec(0u64..12_000, 1..20_000)) {
            let mut d = ExecDedupe::new();
            let mut set = HashSet::new();
            let mut order = VecDeque::new();
            for n in ops {
                let got = d.check_insert(&id(n), false);
                let want_dup = set.contains(&n);
                prop_assert_eq!(matches!(got, Seen::Duplicate { .. }), want_dup);
                if !want_dup {
                    if order.len() == DEDUPE_CAPACITY {
                        let old = order.pop_front().unwrap();
                        set.remove(&old);
                    }
                    order.push_back(n);
                    set.insert(n);
                }
            }
            prop_assert_eq!(d.len(), order.len());
        }
    }
}
