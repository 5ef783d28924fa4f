//! The vehicle-side guard: every signed message passes [`StateGuard::check_state`] (or
//! [`StateGuard::check_event`] for RSU events, [`StateGuard::check_cloud`] for maps, rules and
//! catalogs) before anything reaches the application.
//!
//! Events run checks 0-4 of the table below (kind `event`; the event's RSU must be the
//! signer's subject); they have no sequence window (replays are caught by event id, see
//! [`StateGuard::check_event`]) and name no map to check.
//!
//! # Check order
//!
//! Cheap, content-independent rejections come first, so a flood of forged messages costs a
//! header parse and a few map lookups each, not elliptic-curve arithmetic:
//!
//! | # | check | rejection / label |
//! |---|---|---|
//! | 0 | envelope decodes (size, magic, schema, no trailing bytes), kind is a state | `malformed`, `wrong_kind` |
//! | 1a | signed at all | `unsigned` |
//! | 1b | key id names a certificate in the trust store (no EC math yet) | `unknown_key` |
//! | 1c | signature is exactly 64 bytes, `0 < r, s < n`, low `s` | `signature_encoding` |
//! | 1e | *pre-check, before EC math*: that key's certificate is an RSU certificate covering the intersection of the key the message arrived on | `not_certified` |
//! | 1f | *pre-check*: the header's `seq` is still acceptable in that key's replay window (not already accepted, not older than the window) — this catches exact duplicates | `replay` |
//! | 1g | *pre-check*: the signature is not the signature of a message already accepted from that key (a tampered copy of a genuine message) | `bad_signature` |
//! | 1d | ECDSA P-256 verification over the envelope's signed bytes | `bad_signature` |
//! | 2 | signer certified for what the *authenticated* message says: certificate subject = envelope sender, payload names the key's intersection | `not_certified` |
//! | 3 | certificate valid now, not revoked | `cert_not_yet_valid`, `cert_expired`, `revoked` |
//! | 4 | freshness: `capture_time` within `[now - freshness - max_clock_offset, now + max_clock_offset]` | `stale`, `future_dated` |
//! | 5 | replay: per-key sliding window over `seq` | `replay` |
//! | 6 | map version named by the state is known ([`MapVersions`]) | `unknown_map` |
//!
//! Why this order: nothing in a message is *believed* before its signature (1d). The
//! pre-checks 1e-1g only refuse messages that could never be accepted whatever their
//! signature: a key not certified for this intersection (1e), a sequence number the window has
//! already consumed (1f: the window only ever advances on accepted messages, so this holds for
//! genuine and forged messages alike), or an ECDSA signature already seen on different accepted
//! bytes (1g: with a fixed key, a valid signature on two different messages means a SHA-256
//! collision). They exist so that the floods an attacker can mount without the RSU's key —
//! replays, tampered copies of genuine messages, messages under another intersection's key —
//! cost no elliptic-curve arithmetic (the verification is ~30-60x the cost of the
//! pre-checks). The price: the `not_certified` and `replay` counters may include forgeries (a
//! forger can claim a real key id), where before only genuine messages reached them. The
//! checks after 1d (2-6) still only count messages really signed by a certified key, so a
//! forger cannot make an honest RSU look revoked or stale. The payload is decoded only after
//! the signature checks, so forged payloads never reach bincode. Authorisation (2, 3) before
//! timing (4, 5) because a message the key was never allowed to send is a more serious finding
//! than a late one.
//!
//! What is left for a flooder that needs ECDSA work from the vehicle: fresh forgeries (new
//! sequence numbers, new signature bytes) claiming a certified key. Each costs one
//! verification. Transport access control (only RSU identities may publish state keys, see
//! `corridor_wire::presets::access_control`) keeps everyone else from sending them at all.
//!
//! # Replay window and RSU restarts
//!
//! Each certified key has a 64-wide sliding bitmap ([`ReplayWindow`]) over the envelope `seq`:
//! a seq above the highest seen is accepted (the window slides), one up to 63 below it is
//! accepted once, anything older is a replay. The window is only *advanced by accepted
//! messages* (after every check passed), so forged messages with huge seqs cannot poison it,
//! and a state rejected as `unknown_map` can be re-checked once the map is known.
//! An RSU must therefore never reuse a seq under the same key: it persists its high-water mark
//! (or derives seq from its capture clock). An RSU that restarts *without* its seq starts a new
//! epoch with a new key and certificate (new key id, new window); the old key can be revoked.
//! When the vehicle restarts, its windows are empty; freshness (4) still bounds replays to
//! messages younger than the freshness window.
//!
//! # Unknown map versions
//!
//! `unknown_map` carries the [`MapVersion`]. The SDK then fetches that map from the cloud by
//! hash, checks it with [`StateGuard::check_cloud`] plus the content hash (the map's hash must
//! equal the version asked for), adds it to its map store, and from then on
//! [`MapVersions::is_known`] returns true; until then every state naming that version is
//! rejected (unusable), and counted. The rejected message did not advance the replay window, so
//! the SDK may re-check the same bytes once the map is in (still subject to freshness).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use corridor_model::{Event, IntersectionId, IntersectionState, MapVersion, Timestamp};
use corridor_wire::{decode, decode_envelope, DecodeError, Envelope, Header, Limits, PayloadKind};

use crate::cert::{Certificate, Role};
use crate::keys::{parse_signature, KeyError, KeyId, ParsedSignature, SIGNATURE_LEN};
use crate::trust::{check_certificate, CertRejection, TrustStore};

/// Whether the application's map store holds a map version.
pub trait MapVersions {
    /// True when the map with this content hash is present and verified.
    fn is_known(&self, version: &MapVersion) -> bool;
}

impl MapVersions for HashSet<MapVersion> {
    fn is_known(&self, version: &MapVersion) -> bool {
        self.contains(version)
    }
}

impl MapVersions for BTreeSet<MapVersion> {
    fn is_known(&self, version: &MapVersion) -> bool {
        self.contains(version)
    }
}

/// Guard settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardConfig {
    /// How old a state's capture time may be (default 200 ms).
    pub freshness: Duration,
    /// Tolerated clock offset between RSU and vehicle, either way (default 50 ms): a capture
    /// time up to this far in the future is accepted, and the age limit is widened by it.
    pub max_clock_offset: Duration,
    /// Decoder size limits.
    pub limits: Limits,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            freshness: Duration::from_millis(200),
            max_clock_offset: Duration::from_millis(50),
            limits: Limits::default(),
        }
    }
}

/// Why the guard refused a message. [`Rejection::reason`] is a stable counter label.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The envelope or payload did not decode.
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    /// A different payload kind than the check expects.
    #[error("payload kind {0:?} not accepted here")]
    WrongKind(PayloadKind),
    /// No signature trailer.
    #[error("unsigned message")]
    Unsigned,
    /// The key id names no certificate in the trust store.
    #[error("unknown signer key {0}")]
    UnknownKey(KeyId),
    /// The signature is not a strict 64-byte low-s `r || s` (truncated, padded, malleated).
    #[error("signature encoding: {0}")]
    SignatureEncoding(KeyError),
    /// The signature does not verify.
    #[error("bad signature from key {0}")]
    BadSignature(KeyId),
    /// The signer is not certified to say this.
    #[error("key {key_id} not certified: {why}")]
    NotCertified {
        /// The signer.
        key_id: KeyId,
        /// What did not match.
        why: &'static str,
    },
    /// The certificate's validity period has not started.
    #[error("certificate not yet valid: {0}")]
    CertNotYetValid(CertRejection),
    /// The certificate has expired.
    #[error("certificate expired: {0}")]
    CertExpired(CertRejection),
    /// The certificate or key is revoked.
    #[error("revoked: {0}")]
    Revoked(CertRejection),
    /// Captured too long ago.
    #[error("stale: captured {age_ms:.1} ms ago")]
    Stale {
        /// Age, ms.
        age_ms: f64,
    },
    /// Captured in the future beyond the clock offset tolerance.
    #[error("future-dated: captured {ahead_ms:.1} ms ahead")]
    FutureDated {
        /// How far ahead, ms.
        ahead_ms: f64,
    },
    /// The sequence number was already seen or is older than the window.
    #[error("replay: seq {seq} from key {key_id}")]
    Replay {
        /// The signer.
        key_id: KeyId,
        /// The sequence number.
        seq: u64,
    },
    /// The state names a map version the application does not hold: fetch it, then retry.
    #[error("unknown map version {0}")]
    UnknownMap(MapVersion),
}

impl Rejection {
    /// A short, stable label for counters.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::WrongKind(_) => "wrong_kind",
            Rejection::Unsigned => "unsigned",
            Rejection::UnknownKey(_) => "unknown_key",
            Rejection::SignatureEncoding(_) => "signature_encoding",
            Rejection::BadSignature(_) => "bad_signature",
            Rejection::NotCertified { .. } => "not_certified",
            Rejection::CertNotYetValid(_) => "cert_not_yet_valid",
            Rejection::CertExpired(_) => "cert_expired",
            Rejection::Revoked(_) => "revoked",
            Rejection::Stale { .. } => "stale",
            Rejection::FutureDated { .. } => "future_dated",
            Rejection::Replay { .. } => "replay",
            Rejection::UnknownMap(_) => "unknown_map",
        }
    }

    /// Every label [`Rejection::reason`] can return, in check order (for registering counters).
    pub const REASONS: [&'static str; 14] = [
        "malformed",
        "wrong_kind",
        "unsigned",
        "unknown_key",
        "signature_encoding",
        "bad_signature",
        "not_certified",
        "cert_not_yet_valid",
        "cert_expired",
        "revoked",
        "stale",
        "future_dated",
        "replay",
        "unknown_map",
    ];
}

impl From<CertRejection> for Rejection {
    fn from(r: CertRejection) -> Self {
        match r {
            CertRejection::UnknownKey(k) => Rejection::UnknownKey(k),
            CertRejection::NotYetValid { .. } => Rejection::CertNotYetValid(r),
            CertRejection::Expired { .. } => Rejection::CertExpired(r),
            CertRejection::Revoked { .. } => Rejection::Revoked(r),
        }
    }
}

/// A state that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The envelope header.
    pub header: Header,
    /// The decoded, validated state.
    pub state: IntersectionState,
    /// The signer's key id.
    pub signer: KeyId,
    /// The signer's certificate serial.
    pub signer_serial: u64,
}

/// An event that passed every check of [`StateGuard::check_event`].
#[derive(Debug, Clone)]
pub struct VerifiedEvent {
    /// The envelope header.
    pub header: Header,
    /// The decoded, validated event.
    pub event: Event,
    /// The signer's key id.
    pub signer: KeyId,
}

/// A cloud message (map, rules, catalog) that passed signature and certificate checks.
#[derive(Debug, Clone)]
pub struct VerifiedCloud<'a> {
    /// The envelope; decode its payload with the type its `header.kind` names.
    pub envelope: Envelope<'a>,
    /// The signer's key id.
    pub signer: KeyId,
}

/// A per-key sliding window over sequence numbers, [`ReplayWindow::WIDTH`] wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayWindow {
    highest: Option<u64>,
    /// Bit `i` set: `highest - i` was accepted.
    seen: u64,
}

impl ReplayWindow {
    /// How far below the highest accepted seq a late message may be.
    pub const WIDTH: u64 = 64;

    /// Whether `seq` would be accepted (does not record it).
    pub fn would_accept(&self, seq: u64) -> bool {
        let Some(highest) = self.highest else { return true };
        if seq > highest {
            return true;
        }
        let back = highest - seq;
        back < Self::WIDTH && self.seen & (1u64 << back) == 0
    }

    /// Records an accepted `seq`.
    pub fn record(&mut self, seq: u64) {
        match self.highest {
            None => {
                self.highest = Some(seq);
                self.seen = 1;
            }
            Some(highest) if seq > highest => {
                let shift = seq - highest;
                self.seen = if shift >= Self::WIDTH { 0 } else { self.seen << shift };
                self.seen |= 1;
                self.highest = Some(seq);
            }
            Some(highest) => {
                let back = highest - seq;
                if back < Self::WIDTH {
                    self.seen |= 1u64 << back;
                }
            }
        }
    }

    /// The highest accepted seq.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// Accepted and rejected counts, by [`Rejection::reason`] label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages that passed every check.
    pub accepted: u64,
    /// Rejections by reason label.
    pub rejected: BTreeMap<&'static str, u64>,
    /// ECDSA verifications run (step 1d): the expensive work; a flood the pre-checks
    /// (1e-1g) refuse does not raise it.
    pub signature_verifications: u64,
}

impl Counters {
    /// Rejections counted under `reason`.
    pub fn rejected(&self, reason: &str) -> u64 {
        self.rejected.get(reason).copied().unwrap_or(0)
    }

    /// All rejections.
    pub fn total_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// The vehicle-side state machine: a trust store, per-key replay windows and counters.
/// Sans-IO: time is passed in, map knowledge is asked through [`MapVersions`].
#[derive(Debug, Clone)]
pub struct StateGuard {
    trust: TrustStore,
    config: GuardConfig,
    windows: HashMap<KeyId, ReplayWindow>,
    /// The signatures of the last [`RECENT_SIGNATURES`] accepted messages of each key (check 1g).
    recent: HashMap<KeyId, VecDeque<[u8; SIGNATURE_LEN]>>,
    counters: Counters,
    /// ECDSA verifications run by `check_state_inner` (`&self`), folded into the counters.
    verifications: std::cell::Cell<u64>,
}

/// How many accepted signatures per key check 1g remembers (a tampered copy of any of the last
/// this-many genuine messages is refused without EC math; older ones are caught by the replay
/// window (1f) unless their seq was changed too, and then by ECDSA).
pub const RECENT_SIGNATURES: usize = 16;

impl StateGuard {
    /// A guard over `trust` with `config`.
    pub fn new(trust: TrustStore, config: GuardConfig) -> Self {
        Self {
            trust,
            config,
            windows: HashMap::new(),
            recent: HashMap::new(),
            counters: Counters::default(),
            verifications: std::cell::Cell::new(0),
        }
    }

    /// The trust store.
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// The trust store, to add certificates or apply a newer revocation list.
    pub fn trust_mut(&mut self) -> &mut TrustStore {
        &mut self.trust
    }

    /// The settings.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// Accepted / rejected counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The replay window of a key, if it has had an accepted message.
    pub fn replay_window(&self, key_id: &KeyId) -> Option<&ReplayWindow> {
        self.windows.get(key_id)
    }

    /// Runs every check (module doc, in order) on an intersection-state message received on the
    /// key of `intersection`. On success the replay window advances and the decoded state is
    /// returned; on failure nothing changes but the rejection counter.
    pub fn check_state(
        &mut self,
        now: Timestamp,
        intersection: &IntersectionId,
        bytes: &[u8],
        maps: &dyn MapVersions,
    ) -> Result<Verified, Rejection> {
        let result = self.check_state_inner(now, intersection, bytes, maps);
        self.counters.signature_verifications += self.verifications.take();
        match result {
            Ok((v, signature)) => {
                self.windows.entry(v.signer).or_default().record(v.header.seq);
                let recent = self.recent.entry(v.signer).or_default();
                if recent.len() == RECENT_SIGNATURES {
                    recent.pop_front();
                }
                recent.push_back(signature);
                self.counters.accepted += 1;
                Ok(v)
            }
            Err(r) => {
                *self.counters.rejected.entry(r.reason()).or_insert(0) += 1;
                Err(r)
            }
        }
    }

    fn check_state_inner(
        &self,
        now: Timestamp,
        intersection: &IntersectionId,
        bytes: &[u8],
        maps: &dyn MapVersions,
    ) -> Result<(Verified, [u8; SIGNATURE_LEN]), Rejection> {
        // 0-1c: envelope, key, signature encoding.
        let pre = pre_authenticate(&self.trust, bytes, self.config.limits, &[PayloadKind::IntersectionState])?;
        let (key_id, cert) = (pre.key_id, pre.cert);
        let not_certified = |why| Rejection::NotCertified { key_id, why };
        // 1e: the key may speak for this intersection at all (depends on the key id only).
        if cert.role != Role::Rsu {
            return Err(not_certified("role is not rsu"));
        }
        if !cert.covers(intersection) {
            return Err(not_certified("intersection not in certificate"));
        }
        // 1f: a seq the window has consumed can never be accepted again, signed or not.
        if let Some(window) = self.windows.get(&key_id) {
            if !window.would_accept(pre.envelope.header.seq) {
                return Err(Rejection::Replay { key_id, seq: pre.envelope.header.seq });
            }
        }
        // 1g: an accepted message's signature on different bytes (a tampered copy).
        if self.recent.get(&key_id).is_some_and(|r| r.contains(&pre.signature_bytes)) {
            return Err(Rejection::BadSignature(key_id));
        }
        // 1d: ECDSA.
        let signature_bytes = pre.signature_bytes;
        self.verifications.set(self.verifications.get() + 1);
        verify(&pre)?;
        // Authenticated from here: decode the payload (strict, validated).
        let (header, state) = decode::<IntersectionState>(bytes, self.config.limits)?;
        // 2: what the authenticated message says matches the certificate.
        if cert.subject != header.sender {
            return Err(not_certified("sender is not the certificate subject"));
        }
        if state.intersection != *intersection {
            return Err(not_certified("payload names another intersection"));
        }
        // 3: certificate valid now, not revoked.
        check_certificate(cert, self.trust.revocation_list(), now)?;
        // 4: freshness.
        check_freshness(&self.config, now, header.capture_time)?;
        // 5: replay.
        if let Some(window) = self.windows.get(&key_id) {
            if !window.would_accept(header.seq) {
                return Err(Rejection::Replay { key_id, seq: header.seq });
            }
        }
        // 6: map version known.
        if !maps.is_known(&state.map_version) {
            return Err(Rejection::UnknownMap(state.map_version));
        }
        Ok((Verified { header, state, signer: key_id, signer_serial: cert.serial }, signature_bytes))
    }

    /// Runs the checks of an event received live on `corridor/{region}/ix/{intersection}/events`
    /// (or uploaded by an RSU, with `fresh = false`): envelope and kind, signature, signer
    /// certified for that intersection (RSU role, subject = sender = the event's RSU, payload
    /// names the intersection), certificate valid now and not revoked, and, when `fresh`, the
    /// same freshness window as states on the envelope's capture time (the time of the frame that
    /// raised the event).
    ///
    /// There is no sequence window: RSUs stamp events with seq 0 (live) or their outbox counter
    /// (uploads). Replays are caught by the event id the signature covers: the SDK and the cloud
    /// keep the ids they accepted (for at least the freshness window), and a replay older than
    /// the window is `stale`. Uploads are checked with `fresh = false` because an RSU's outbox
    /// may deliver hours late after a cloud outage; the cloud's store is idempotent by event id.
    pub fn check_event(
        &mut self,
        now: Timestamp,
        intersection: &IntersectionId,
        bytes: &[u8],
        fresh: bool,
    ) -> Result<VerifiedEvent, Rejection> {
        let result = self.check_event_inner(now, intersection, bytes, fresh);
        self.counters.signature_verifications += self.verifications.take();
        match &result {
            Ok(_) => self.counters.accepted += 1,
            Err(r) => *self.counters.rejected.entry(r.reason()).or_insert(0) += 1,
        }
        result
    }

    fn check_event_inner(
        &self,
        now: Timestamp,
        intersection: &IntersectionId,
        bytes: &[u8],
        fresh: bool,
    ) -> Result<VerifiedEvent, Rejection> {
        let (_, key_id, cert) =
            authenticate(&self.trust, bytes, self.config.limits, &[PayloadKind::Event], &self.verifications)?;
        let (header, event) = decode::<Event>(bytes, self.config.limits)?;
        let not_certified = |why| Rejection::NotCertified { key_id, why };
        if cert.role != Role::Rsu {
            return Err(not_certified("role is not rsu"));
        }
        if cert.subject != header.sender || cert.subject != event.rsu.as_str() {
            return Err(not_certified("sender is not the certificate subject"));
        }
        if !cert.covers(intersection) {
            return Err(not_certified("intersection not in certificate"));
        }
        if event.intersection != *intersection {
            return Err(not_certified("payload names another intersection"));
        }
        check_certificate(cert, self.trust.revocation_list(), now)?;
        if fresh {
            check_freshness(&self.config, now, header.capture_time)?;
        }
        Ok(VerifiedEvent { header, event, signer: key_id })
    }

    /// Checks a cloud message (map, rules, catalog): envelope, signature, a cloud certificate
    /// whose subject is the sender, valid now and not revoked. No freshness or replay check:
    /// these are content-addressed and may be old; the caller checks the content hash against
    /// the version it asked for.
    pub fn check_cloud<'a>(&mut self, now: Timestamp, bytes: &'a [u8]) -> Result<VerifiedCloud<'a>, Rejection> {
        let result = (|| {
            let kinds = [PayloadKind::Map, PayloadKind::Rules, PayloadKind::Catalog];
            // maps may be larger than the state limit: allow the largest bundle cloud-control serves
            let cloud_max = corridor_wire::control::MAX_MAP_SOURCE + 64 * 1024;
            let limits = Limits { max_message_bytes: self.config.limits.max_message_bytes.max(cloud_max) };
            let (envelope, key_id, cert) = authenticate(&self.trust, bytes, limits, &kinds, &self.verifications)?;
            if cert.role != Role::Cloud {
                return Err(Rejection::NotCertified { key_id, why: "role is not cloud" });
            }
            if cert.subject != envelope.header.sender {
                return Err(Rejection::NotCertified { key_id, why: "sender is not the certificate subject" });
            }
            check_certificate(cert, self.trust.revocation_list(), now)?;
            Ok(VerifiedCloud { envelope, signer: key_id })
        })();
        self.counters.signature_verifications += self.verifications.take();
        match &result {
            Ok(_) => self.counters.accepted += 1,
            Err(r) => *self.counters.rejected.entry(r.reason()).or_insert(0) += 1,
        }
        result
    }
}

/// A message that passed steps 0-1c: decoded envelope, known key, well-formed signature.
struct PreAuthenticated<'a, 't> {
    envelope: Envelope<'a>,
    key_id: KeyId,
    cert: &'t Certificate,
    signature: ParsedSignature,
    signature_bytes: [u8; SIGNATURE_LEN],
}

/// Steps 0-1c: decode the envelope, find the certificate by key id, parse the signature. No
/// elliptic-curve arithmetic.
fn pre_authenticate<'a, 't>(
    trust: &'t TrustStore,
    bytes: &'a [u8],
    limits: Limits,
    kinds: &[PayloadKind],
) -> Result<PreAuthenticated<'a, 't>, Rejection> {
    let envelope = decode_envelope(bytes, limits)?;
    if !kinds.contains(&envelope.header.kind) {
        return Err(Rejection::WrongKind(envelope.header.kind));
    }
    let trailer = envelope.signature.ok_or(Rejection::Unsigned)?;
    let key_id = KeyId(trailer.key_id);
    let cert = trust.certificate(&key_id).ok_or(Rejection::UnknownKey(key_id))?;
    let signature = parse_signature(trailer.signature).map_err(Rejection::SignatureEncoding)?;
    // parse_signature accepted it, so it is exactly SIGNATURE_LEN bytes
    let signature_bytes: [u8; SIGNATURE_LEN] = trailer
        .signature
        .try_into()
        .map_err(|_| Rejection::SignatureEncoding(KeyError::SignatureLength(trailer.signature.len())))?;
    Ok(PreAuthenticated { envelope, key_id, cert, signature, signature_bytes })
}

/// Step 1d: the ECDSA verification.
fn verify(pre: &PreAuthenticated<'_, '_>) -> Result<(), Rejection> {
    pre.cert
        .public_key
        .verify_parsed(pre.envelope.signed_bytes, &pre.signature)
        .map_err(|_| Rejection::BadSignature(pre.key_id))
}

/// Steps 0-1d.
fn authenticate<'a, 't>(
    trust: &'t TrustStore,
    bytes: &'a [u8],
    limits: Limits,
    kinds: &[PayloadKind],
    verifications: &std::cell::Cell<u64>,
) -> Result<(Envelope<'a>, KeyId, &'t Certificate), Rejection> {
    let pre = pre_authenticate(trust, bytes, limits, kinds)?;
    verifications.set(verifications.get() + 1);
    verify(&pre)?;
    Ok((pre.envelope, pre.key_id, pre.cert))
}

fn check_freshness(config: &GuardConfig, now: Timestamp, capture: Timestamp) -> Result<(), Rejection> {
    let offset_ns = duration_ns(config.max_clock_offset);
    let ahead_ns = capture.unix_ns.saturating_sub(now.unix_ns);
    if ahead_ns > offset_ns {
        return Err(Rejection::FutureDated { ahead_ms: ahead_ns as f64 / 1e6 });
    }
    let age_ns = now.unix_ns.saturating_sub(capture.unix_ns);
    if age_ns > duration_ns(config.freshness).saturating_add(offset_ns) {
        return Err(Rejection::Stale { age_ms: age_ns as f64 / 1e6 });
    }
    Ok(())
}

fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
