//! The producing end of a ring whose consumer only needs the newest value.
//!
//! Feed → strategy and strategy → orders carry states, not events: the
//! consumer drains the ring and acts on the last value. So the rings are
//! small (a few KiB, which stay in the L1 cache; a 1024-slot ring of market
//! updates put cache misses on every tick), and when one is full the newest
//! value is not dropped: it is held here and goes in as soon as there is
//! room. A newer value replaces a held one. The consumer therefore always
//! receives the newest value once it catches up, after the older ones already
//! in the ring; only values that a newer one superseded are skipped.
//!
//! [`Latest::redirty`] writes the last value pushed into every free slot
//! without publishing anything, so a slot page that only reactions would
//! write (the targets ring) is not first written inside a reaction after the
//! host write-protected it ([`crate::redirty`]).
//!
//! Contract: no allocation, no lock, no syscall, no panic; the producer must
//! call [`Latest::flush`] on each poll so a held value is not left waiting for
//! the next push.

/// A ring producer that holds back the newest value instead of dropping it.
pub struct Latest<T> {
    ring: rtrb::Producer<T>,
    held: Option<T>,
    /// The value most recently put into the ring (for [`Latest::redirty`]).
    last: Option<T>,
}

/// What [`Latest::push`] did with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The value is in the ring.
    Sent,
    /// The ring is full: the value is held (replacing any older held value)
    /// until [`Latest::flush`] finds room.
    Held,
}

impl<T: Copy> Latest<T> {
    /// Wraps the producing end of a ring.
    pub fn new(ring: rtrb::Producer<T>) -> Latest<T> {
        Latest {
            ring,
            held: None,
            last: None,
        }
    }

    /// Pushes `v`, which supersedes any held value; holds `v` if the ring
    /// is full.
    #[inline]
    pub fn push(&mut self, v: T) -> Pushed {
        if self.held.is_some() {
            self.held = Some(v);
            return if self.flush() {
                Pushed::Sent
            } else {
                Pushed::Held
            };
        }
        match self.ring.push(v) {
            Ok(()) => {
                self.last = Some(v);
                Pushed::Sent
            }
            Err(rtrb::PushError::Full(v)) => {
                self.held = Some(v);
                Pushed::Held
            }
        }
    }

    /// Moves a held value into the ring if there is room; true when nothing
    /// is held any more.
    #[inline]
    pub fn flush(&mut self) -> bool {
        let Some(v) = self.held.take() else {
            return true;
        };
        match self.ring.push(v) {
            Ok(()) => {
                self.last = Some(v);
                true
            }
            Err(rtrb::PushError::Full(v)) => {
                self.held = Some(v);
                false
            }
        }
    }

    /// Writes the last value pushed into every free slot, publishing
    /// nothing: the consumer sees no new value and the ring's positions do
    /// not move (rtrb leaves written but uncommitted slots unread).
    pub fn redirty(&mut self) {
        let Some(v) = self.last else {
            return;
        };
        let free = self.ring.slots();
        if let Ok(mut chunk) = self.ring.write_chunk_uninit(free) {
            let (a, b) = chunk.as_mut_slices();
            for slot in a.iter_mut().chain(b.iter_mut()) {
                slot.write(std::hint::black_box(v));
            }
            // Dropped without a commit: nothing is published.
        }
    }

    /// Whether a value is waiting for room.
    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(c: &mut rtrb::Consumer<u32>) -> Vec<u32> {
        std::iter::from_fn(|| c.pop().ok()).collect()
    }

    #[test]
    fn a_full_ring_holds_the_newest_value_and_delivers_it_once_there_is_room() {
        let (p, mut c) = rtrb::RingBuffer::new(2);
        let mut l = Latest::new(p);
        assert_eq!(l.push(1), Pushed::Sent);
        assert_eq!(l.push(2), Pushed::Sent);
        // Full: 3 is held, then replaced by 4 (3 is superseded).
        assert_eq!(l.push(3), Pushed::Held);
        assert_eq!(l.push(4), Pushed::Held);
        assert!(l.is_holding());
        assert!(!l.flush(), "no room yet");
        assert_eq!(drain(&mut c), vec![1, 2]);
        assert!(l.flush());
        assert!(!l.is_holding());
        assert_eq!(drain(&mut c), vec![4]);
    }

    #[test]
    fn a_newer_value_supersedes_a_held_one_when_room_appears() {
        let (p, mut c) = rtrb::RingBuffer::new(1);
        let mut l = Latest::new(p);
        assert_eq!(l.push(1), Pushed::Sent);
        assert_eq!(l.push(2), Pushed::Held);
        assert_eq!(drain(&mut c), vec![1]);
        // Room for one: 3 takes it; the held 2 was superseded.
        assert_eq!(l.push(3), Pushed::Sent);
        assert!(!l.is_holding());
        assert_eq!(drain(&mut c), vec![3]);
    }

    #[test]
    fn redirty_publishes_nothing_and_moves_nothing() {
        let (p, mut c) = rtrb::RingBuffer::new(4);
        let mut l = Latest::new(p);
        l.redirty(); // nothing pushed yet: nothing to write
        assert_eq!(l.push(1), Pushed::Sent);
        assert_eq!(l.push(2), Pushed::Sent);
        l.redirty();
        assert_eq!(drain(&mut c), vec![1, 2]);
        l.redirty();
        assert!(drain(&mut c).is_empty(), "no value appears");
        // The ring still takes exactly its capacity, in order.
        for v in 3..7 {
            assert_eq!(l.push(v), Pushed::Sent);
        }
        assert_eq!(l.push(7), Pushed::Held);
        l.redirty();
        assert_eq!(drain(&mut c), vec![3, 4, 5, 6]);
        assert!(l.flush());
        assert_eq!(drain(&mut c), vec![7]);
    }

    #[test]
    fn nothing_held_means_flush_has_nothing_to_do() {
        let (p, mut c) = rtrb::RingBuffer::new(1);
        let mut l = Latest::<u32>::new(p);
        assert!(l.flush());
        assert!(drain(&mut c).is_empty());
    }
}
