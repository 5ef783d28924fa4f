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
//!   each bounded by `capacity`: when full, a newcomer whose seq is already queued for that
//!   sender is dropped, else a queued sample repeating an earlier sample's seq, else the
//!   **oldest** sample of that sender (the first sample of a seq stays: a genuine state is not
//!   evicted by a flood of copies of it, nor by its own successor); all counted
//!   (states are latest-wins, and an old state is worth less than a new one);
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

/// The claimed sender of a sample received on `key` and its header's seq (no crypto: a header
/// parse; seq 0 when the envelope does not parse).
pub fn sender_of(key: &str, bytes: &[u8]) -> (Sender, u64) {
    match decode_envelope(bytes, Limits::default()) {
        Ok(env) => match env.signature {
            Some(trailer) => (Sender::Key(trailer.key_id), env.header.seq),
            None => (Sender::Named(env.header.sender), env.header.seq),
        },
        Err(_) => (Sender::Unparsed(key.to_owned()), 0),
    }
}

/// The sequence numbers recently *accepted* (verified) from each signing key, so the intake can
/// drop a sample reusing one before it is queued: a signed sender never reuses a seq, and the
/// guard's replay window would refuse it anyway (label `replay`). This keeps floods of replays
/// and tampered copies of genuine states — which carry a consumed seq — out of the genuine
/// sender's queue. Only signed senders ([`Sender::Key`]): an unsigned RSU restarts its seq
/// and the cache accepts that as a restart.
#[derive(Debug, Default)]
pub struct AcceptedSeqs {
    by_key: HashMap<[u8; 8], VecDeque<u64>>,
}

impl AcceptedSeqs {
    /// How many accepted seqs are kept per key (the guard's replay window is 64 wide).
    pub const KEEP: usize = 64;

    /// Records an accepted `seq` from `key`.
    pub fn record(&mut self, key: [u8; 8], seq: u64) {
        let q = self.by_key.entry(key).or_default();
        if q.len() == Self::KEEP {
            q.pop_front();
        }
        q.push_back(seq);
    }

    /// Whether `seq` was recently accepted from `sender` (always false for unsigned senders).
    pub fn contains(&self, sender: &Sender, seq: u64) -> bool {
        match sender {
            Sender::Key(key) => self.by_key.get(key).is_some_and(|q| q.contains(&seq)),
            _ => false,
        }
    }
}

/// Per-sender bounded FIFOs served round-robin.
#[derive(Debug)]
pub struct FairQueue<K, T> {
    /// Per sender: (seq, sample), oldest first.
    queues: HashMap<K, VecDeque<(u64, T)>>,
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

    /// Enqueues `item` with sequence number `seq` from `sender`; returns the sample dropped
    /// for it if the sender's queue was full: `item` itself when a sample with the same `seq` is
    /// already queued, else the latest queued sample repeating an earlier one's seq, else the
    /// sender's oldest sample.
    pub fn push(&mut self, sender: K, seq: u64, item: T) -> Option<T> {
        let q = self.queues.entry(sender.clone()).or_default();
        if q.is_empty() {
            self.turn.push_back(sender);
        }
        if q.len() >= self.capacity && q.iter().any(|(s, _)| *s == seq) {
            self.dropped += 1;
            return Some(item);
        }
        let dropped = if q.len() >= self.capacity {
            // the latest sample repeating an earlier sample's seq, else the oldest
            let repeat = (1..q.len()).rev().find(|&i| q.iter().take(i).any(|(s, _)| *s == q[i].0));
            match repeat {
                Some(i) => q.remove(i).map(|(_, t)| t),
                None => q.pop_front().map(|(_, t)| t),
            }
        } else {
            None
        };
        q.push_back((seq, item));
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
        let (_, item) = q.pop_front()?;
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
        for i in 0..1000u64 {
            q.push("flood", i, i as i32);
        }
        q.push("rsu-b", 1, 1);
        q.push("rsu-b", 2, 2);
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
            assert!(q.push(s, v as u64, v).is_none());
        }
        let order: Vec<(&str, i32)> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![("a", 1), ("b", 10), ("c", 20), ("a", 2), ("b", 11), ("a", 3)]);
    }

    #[test]
    fn a_flood_of_copies_of_a_queued_seq_does_not_evict_it() {
        let mut q = FairQueue::new(4);
        q.push("rsu-a", 7, "genuine-7");
        for _ in 0..100 {
            q.push("rsu-a", 7, "copy-7");
        }
        q.push("rsu-a", 8, "genuine-8"); // a new seq still gets in (evicting the oldest copy)
        let order: Vec<&str> = std::iter::from_fn(|| q.pop()).map(|(_, v)| v).collect();
        assert_eq!(order, vec!["genuine-7", "copy-7", "copy-7", "genuine-8"]);
        assert_eq!(q.dropped(), 98);
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
        assert_eq!(sender_of("k", &bytes), (Sender::Named("rsu-a".into()), 1));
        assert_eq!(sender_of("k", b"garbage"), (Sender::Unparsed("k".into()), 0));
    }

    #[test]
    fn accepted_seqs_are_remembered_per_signing_key_only() {
        let mut a = AcceptedSeqs::default();
        a.record([1; 8], 7);
        assert!(a.contains(&Sender::Key([1; 8]), 7));
        assert!(!a.contains(&Sender::Key([1; 8]), 8));
        assert!(!a.contains(&Sender::Key([2; 8]), 7));
        assert!(!a.contains(&Sender::Named("rsu-a".into()), 7));
        for seq in 100..100 + AcceptedSeqs::KEEP as u64 {
            a.record([1; 8], seq);
        }
        assert!(!a.contains(&Sender::Key([1; 8]), 7), "only the last KEEP are kept");
    }
}
