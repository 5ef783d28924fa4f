//! Fair intake of state samples: per-sender bounded queues served round-robin (sans-IO).
//!
//! Checking a signed state costs a P-256 verification (tens of microseconds). If zenoh's
//! callback thread did that work, every sample arriving on the link would wait behind every
//! sample before it, so a flood of forgeries would delay every intersection's valid states.
//! [`Vehicle`](crate::Vehicle) instead has the callback only *classify and enqueue* a sample
//! (a header parse, no crypto) and a worker thread verify and apply it. [`FairQueue`] is that
//! queue:
//!
//! - one FIFO per sender ([`sender_of`]: the key id named by the signature trailer, or the
//!   envelope's sender for unsigned messages, or the raw key when the envelope does not parse),
//!   each bounded by `capacity`: when full the **oldest** sample of that sender is dropped and
//!   counted (states are latest-wins, and an old state is worth less than a new one);
//! - senders are served round-robin, one sample each, so one sender's flood costs the others
//!   at most one sample's work per turn, and never their queue slots.
//!
//! The sender is *claimed*, not authenticated (that is the verification's job): a forger who
//! claims an honest RSU's key id shares that RSU's queue and can crowd it (its states are then
//! dropped oldest-first, counted), but cannot touch any other sender's queue or delay it by more
//! than one verification per forged-sender turn.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use corridor_wire::{decode_envelope, Limits};

/// Who a sample claims to come from (the fairness key of [`FairQueue`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sender {
    /// The signer's key id from the signature trailer.
    Key([u8; 8]),
    /// The envelope's sender field (unsigned message).
    Named(String),
    /// The envelope did not parse: all such samples share one queue per zenoh key.
    Unparsed(String),
}

/// The claimed sender of a sample received on `key` (no crypto: a header parse).
pub fn sender_of(key: &str, bytes: &[u8]) -> Sender {
    match decode_envelope(bytes, Limits::default()) {
        Ok(env) => match env.signature {
            Some(trailer) => Sender::Key(trailer.key_id),
            None => Sender::Named(env.header.sender),
        },
        Err(_) => Sender::Unparsed(key.to_owned()),
    }
}

/// Per-sender bounded FIFOs served round-robin.
#[derive(Debug)]
pub struct FairQueue<K, T> {
    queues: HashMap<K, VecDeque<T>>,
    /// Senders with something queued, in service order.
    turn: VecDeque<K>,
    capacity: usize,
    len: usize,
    dropped: u64,
}

impl<K: Clone + Eq + Hash, T> FairQueue<K, T> {
    /// A queue holding at most `capacity` (at least 1) samples per sender.
    pub fn new(capacity: usize) -> Self {
        Self { queues: HashMap::new(), turn: VecDeque::new(), capacity: capacity.max(1), len: 0, dropped: 0 }
    }

    /// Enqueues `item` from `sender`; returns the sender's oldest sample if it had to be dropped.
    pub fn push(&mut self, sender: K, item: T) -> Option<T> {
        let q = self.queues.entry(sender.clone()).or_default();
        if q.is_empty() {
            self.turn.push_back(sender);
        }
        let dropped = if q.len() >= self.capacity { q.pop_front() } else { None };
        q.push_back(item);
        match dropped {
            Some(old) => {
                self.dropped += 1;
                Some(old)
            }
            None => {
                self.len += 1;
                None
            }
        }
    }

    /// The next sample: the oldest of the sender whose turn it is.
    pub fn pop(&mut self) -> Option<(K, T)> {
        let sender = self.turn.pop_front()?;
        let q = self.queues.get_mut(&sender)?;
        let item = q.pop_front()?;
        self.len -= 1;
        if q.is_empty() {
            self.queues.remove(&sender);
        } else {
            self.turn.push_back(sender.clone());
        }
        Some((sender, item))
    }

    /// Samples queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Samples dropped because their sender's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_sender_cannot_take_another_senders_turn_or_slots() {
        let mut q = FairQueue::new(4);
        for i in 0..1000 {
            q.push("flood", i);
        }
        q.push("rsu-b", 1);
        q.push("rsu-b", 2);
        assert_eq!(q.len(), 6);
        assert_eq!(q.dropped(), 996);
        // rsu-b's samples come out within the first four pops, in order
        let first: Vec<(&str, i32)> = std::iter::from_fn(|| q.pop()).take(4).collect();
        let b: Vec<i32> = first.iter().filter(|(s, _)| *s == "rsu-b").map(|(_, v)| *v).collect();
        assert_eq!(b, vec![1, 2]);
        // the flood keeps its newest samples
        let rest: Vec<i32> = std::iter::from_fn(|| q.pop()).map(|(_, v)| v).collect();
        assert_eq!(rest, vec![998, 999]);
        assert!(q.is_empty());
    }

    #[test]
    fn round_robin_over_senders_and_fifo_within_one() {
        let mut q = FairQueue::new(8);
        for (s, v) in [("a", 1), ("a", 2), ("a", 3), ("b", 10), ("c", 20), ("b", 11)] {
            assert!(q.push(s, v).is_none());
        }
        let order: Vec<(&str, i32)> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![("a", 1), ("b", 10), ("c", 20), ("a", 2), ("b", 11), ("a", 3)]);
    }

    #[test]
    fn the_sender_is_the_signature_key_id_else_the_envelope_sender() {
        let state = corridor_model::sample::intersection_state(1, 1);
        let h = corridor_wire::Header::new(
            corridor_wire::PayloadKind::IntersectionState,
            "rsu-a",
            1,
            state.capture_time,
            state.publish_time,
        );
        let bytes = corridor_wire::encode(&h, &state).unwrap();
        assert_eq!(sender_of("k", &bytes), Sender::Named("rsu-a".into()));
        assert_eq!(sender_of("k", b"garbage"), Sender::Unparsed("k".into()));
    }
}
