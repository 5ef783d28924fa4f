//! The flat wire forms of [`IntersectionState`] and [`DetectionFrame`]: what the two hot payloads
//! look like on the wire.
//!
//! The state is the hot message (every RSU, 10 Hz, 200 objects), so it does not go through serde;
//! nor does a sensor's detection frame (4 sensors per RSU, 10-15 Hz, up to a few hundred
//! detections each, every one decoded on the RSU's path from capture to vehicle).
//! Measured with `benches/codec.rs`, the serde path spent most of its time in the shape of the
//! model, not in bincode: one `Arc<str>` allocation per contributing sensor and per lane id of
//! every object, nalgebra's sequence-shaped serde for vectors and matrices, and the visitor
//! machinery. The flat form fixes each:
//!
//! - sensor and lane ids are written once per message in two tables; an object carries a sensor
//!   **bit mask** (so at most 64 distinct sensors per state, an [`EncodeError::TooManySensors`]
//!   otherwise) and a lane **index** (0 = none). The sensor table is written in name order, so
//!   a track's sensors (a set) always decode sorted by name. Decoding allocates each id once per message and
//!   gives objects clones of the same `Arc`s;
//! - vectors and matrices are fixed arrays (`[f64; 3]`, `[f32; 16]`), copied without a length;
//! - bincode's native `Encode`/`BorrowDecode` derives replace serde's visitors, and the id tables
//!   are borrowed from the message while decoding.
//!
//! A detection frame has no id tables (one sensor, no lanes): each detection is its class, one
//! fixed block of numbers (class confidence, position, the full 3 x 3 covariance as f64: a sensor's
//! covariance goes to the fusion as measured) and the three optional measurements, each a
//! bincode `Option` of a fixed block. `codec/detections200_roundtrip` measured the serde path at
//! 29 us for 200 detections.
//!
//! The layout is part of schema version 1 of the envelope: changing it means bumping
//! [`crate::SCHEMA_VERSION`]. Validation ([`corridor_model::Validate`]) still runs on the decoded
//! model, and a sensor bit or lane index that points outside its table is a typed error.

use bincode::de::BorrowDecoder;
use bincode::enc::write::Writer;
use bincode::enc::Encoder;
use bincode::{BorrowDecode, Encode};
use corridor_model::detection::SensorKind;
use corridor_model::{
    Detection, DetectionFrame, IntersectionId, IntersectionState, LaneId, MapVersion, MovementPhaseState, ObjectClass,
    RsuId, SensorId, SensorList, SignalGroupId, SignalGroupState, Size3, TimeChangeDetails, Timestamp, TrackId,
    TrackedObject,
};
use nalgebra::{Matrix3, Matrix4, Vector3};

use super::{DecodeError, EncodeError};

/// The most distinct sensors one state can name (the width of an object's sensor mask).
pub const MAX_SENSORS_PER_STATE: usize = 64;

// Layout (bincode, little endian, fixed-width integers; `flat_config`):
//   intersection: str, rsu: str, seq: u64, capture_ns, ingest_ns, publish_ns: i64,
//   map_version: [u8; 32], rules_version: Option<[u8; 32]>,
//   sensors: [str], lanes: [str],
//   objects: [{ track_id: u64, class: u8, sensor_mask: u64, lane: u32 (0 = none, i + 1 = lanes[i]),
//               numbers: [u8; NUMBERS_LEN] }],
//   signals: [SignalW]
// where [T] is a varint length and then the elements, as bincode writes a Vec<T>.

/// The flat form's bincode config: little endian, **fixed-width** integers (the varint loop was
/// a measurable share of the state's decode; the message grows ~10 %), and the same claim limit.
fn flat_config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Fixint,
    bincode::config::Limit<{ super::BINCODE_LIMIT }>,
> {
    bincode::config::standard().with_fixed_int_encoding().with_limit::<{ super::BINCODE_LIMIT }>()
}

/// Elements reserved before any has been decoded: the decoder never trusts a length prefix for
/// its allocation, so a forged length fails at the end of the message instead of allocating
/// what it claims.
const SEQ_PREALLOC: usize = 256;

/// Bytes of an object's fixed-size numbers: class confidence (f32), position (3 x f64),
/// velocity (3 x f64), heading (f64), size (3 x f32), covariance (16 x f32, column major),
/// first seen and last updated (2 x i64 ns). bincode copies a `[u8; N]` in one move, where it
/// decodes a `[f64; N]` element by element.
const NUMBERS_LEN: usize = 4 + 24 + 24 + 8 + 12 + 64 + 16;

fn pack(o: &TrackedObject) -> [u8; NUMBERS_LEN] {
    let mut b = [0u8; NUMBERS_LEN];
    // constant offsets: the compiler drops every bounds check
    b[0..4].copy_from_slice(&o.class_confidence.to_le_bytes());
    let (p, v) = (&o.position_m, &o.velocity_mps);
    b[4..12].copy_from_slice(&p.x.to_le_bytes());
    b[12..20].copy_from_slice(&p.y.to_le_bytes());
    b[20..28].copy_from_slice(&p.z.to_le_bytes());
    b[28..36].copy_from_slice(&v.x.to_le_bytes());
    b[36..44].copy_from_slice(&v.y.to_le_bytes());
    b[44..52].copy_from_slice(&v.z.to_le_bytes());
    b[52..60].copy_from_slice(&o.heading_rad.to_le_bytes());
    b[60..64].copy_from_slice(&o.size_m.length_m.to_le_bytes());
    b[64..68].copy_from_slice(&o.size_m.width_m.to_le_bytes());
    b[68..72].copy_from_slice(&o.size_m.height_m.to_le_bytes());
    for (dst, c) in b[72..136].chunks_exact_mut(4).zip(o.covariance.as_slice()) {
        dst.copy_from_slice(&c.to_le_bytes());
    }
    b[136..144].copy_from_slice(&o.first_seen.unix_ns.to_le_bytes());
    b[144..152].copy_from_slice(&o.last_updated.unix_ns.to_le_bytes());
    b
}

#[derive(Encode, BorrowDecode)]
struct SignalW {
    id: u16,
    state: u8,
    timing: Option<TimingW>,
}

#[derive(Encode, BorrowDecode)]
struct TimingW {
    min_end_ns: i64,
    max_end_ns: Option<i64>,
    likely_end_ns: Option<i64>,
    confidence: f32,
}

/// A small string table: index of `s`, appending it if new. Objects of one state mostly share
/// the same few `Arc`s, so a pointer comparison usually hits before any hashing (FxHash: short
/// keys, no untrusted input on the encoding side).
#[derive(Default)]
struct Table<'a> {
    names: Vec<&'a str>,
    by_name: rustc_hash::FxHashMap<&'a str, usize>,
}

impl<'a> Table<'a> {
    /// For the sensor table: a handful of entries, almost always the same `Arc`s.
    fn index_by_scan(&mut self, s: &'a str) -> usize {
        if let Some(i) = self.names.iter().position(|t| std::ptr::eq(*t, s)) {
            return i;
        }
        if let Some(i) = self.names.iter().position(|t| *t == s) {
            return i;
        }
        self.names.push(s);
        self.names.len() - 1
    }

    /// For the lane table: dozens of entries.
    fn index_by_hash(&mut self, s: &'a str) -> usize {
        let next = self.names.len();
        let i = *self.by_name.entry(s).or_insert(next);
        if i == next {
            self.names.push(s);
        }
        i
    }
}

fn class_index(c: ObjectClass) -> u8 {
    ObjectClass::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8
}

/// Appends to a `Vec<u8>` (bincode's std-io writer goes through `io::Write` per field).
struct VecWriter<'b>(&'b mut Vec<u8>);

impl Writer for VecWriter<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// The state as it is written: the model plus the id tables and each object's references into
/// them. Field order is [`StateW`]'s (the decoder's) exactly.
struct StateView<'a> {
    state: &'a IntersectionState,
    sensors: Vec<&'a str>,
    lanes: Vec<&'a str>,
    /// (sensor mask, lane index + 1) per object.
    refs: Vec<(u64, u32)>,
}

fn encode_len<E: Encoder>(len: usize, e: &mut E) -> Result<(), bincode::error::EncodeError> {
    (len as u64).encode(e)
}

impl Encode for StateView<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), bincode::error::EncodeError> {
        let s = self.state;
        s.intersection.as_str().encode(e)?;
        s.rsu.as_str().encode(e)?;
        s.seq.encode(e)?;
        s.capture_time.unix_ns.encode(e)?;
        s.ingest_time.unix_ns.encode(e)?;
        s.publish_time.unix_ns.encode(e)?;
        s.map_version.0.encode(e)?;
        s.rules_version.map(|v| v.0).encode(e)?;
        encode_len(self.sensors.len(), e)?;
        for n in &self.sensors {
            n.encode(e)?;
        }
        encode_len(self.lanes.len(), e)?;
        for n in &self.lanes {
            n.encode(e)?;
        }
        encode_len(s.objects.len(), e)?;
        for (o, (mask, lane)) in s.objects.iter().zip(&self.refs) {
            o.track_id.0.encode(e)?;
            class_index(o.class).encode(e)?;
            mask.encode(e)?;
            lane.encode(e)?;
            pack(o).encode(e)?;
        }
        encode_len(s.signals.len(), e)?;
        for g in &s.signals {
            SignalW {
                id: g.id.0,
                state: g.state as u8,
                timing: g.timing.map(|t| TimingW {
                    min_end_ns: t.min_end.unix_ns,
                    max_end_ns: t.max_end.map(|x| x.unix_ns),
                    likely_end_ns: t.likely_end.map(|x| x.unix_ns),
                    confidence: t.confidence,
                }),
            }
            .encode(e)?;
        }
        Ok(())
    }
}

/// Writes `state` in the flat form to `buf`.
pub(super) fn encode_state(state: &IntersectionState, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut sensors = Table::default();
    // sized up front: growing the map rehashes, which costs more than the whole table lookup
    let mut lanes = Table {
        names: Vec::with_capacity(64),
        by_name: rustc_hash::FxHashMap::with_capacity_and_hasher(64, Default::default()),
    };
    let mut refs = Vec::with_capacity(state.objects.len());
    for o in &state.objects {
        let mut mask = 0u64;
        for s in &o.sensors {
            let i = sensors.index_by_scan(s.as_str());
            if i >= MAX_SENSORS_PER_STATE {
                return Err(EncodeError::TooManySensors(MAX_SENSORS_PER_STATE));
            }
            mask |= 1 << i;
        }
        let lane = match &o.lane {
            Some(l) => {
                let i = lanes.index_by_hash(l.as_str());
                u32::try_from(i + 1).map_err(|_| EncodeError::TooLarge(i))?
            }
            None => 0,
        };
        refs.push((mask, lane));
    }
    // the sensor table goes out in name order, so every object's sensors decode in name order
    // (a track's sensors are a set; the model keeps them sorted)
    let mut sensor_names = sensors.names;
    if !sensor_names.is_sorted() {
        let mut order: Vec<usize> = (0..sensor_names.len()).collect();
        order.sort_by_key(|&i| sensor_names[i]);
        let mut new_index = [0u8; MAX_SENSORS_PER_STATE];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new as u8;
        }
        for (mask, _) in &mut refs {
            let (mut old_mask, mut new_mask) = (*mask, 0u64);
            while old_mask != 0 {
                new_mask |= 1 << new_index[old_mask.trailing_zeros() as usize];
                old_mask &= old_mask - 1;
            }
            *mask = new_mask;
        }
        sensor_names = order.iter().map(|&i| sensor_names[i]).collect();
    }
    let view = StateView { state, sensors: sensor_names, lanes: lanes.names, refs };
    buf.reserve(256 + state.objects.len() * (NUMBERS_LEN + 24) + state.signals.len() * 40);
    bincode::encode_into_writer(&view, VecWriter(buf), flat_config())?;
    Ok(())
}

fn bad(what: String) -> bincode::error::DecodeError {
    bincode::error::DecodeError::OtherString(what)
}

fn read_len<'de, D: BorrowDecoder<'de>>(d: &mut D) -> Result<usize, bincode::error::DecodeError> {
    let len = u64::borrow_decode(d)?;
    usize::try_from(len).map_err(|_| bincode::error::DecodeError::OutsideUsizeRange(len))
}

fn read_ids<'de, D: BorrowDecoder<'de>, T>(
    d: &mut D,
    make: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, bincode::error::DecodeError> {
    let len = read_len(d)?;
    let mut out = Vec::with_capacity(len.min(SEQ_PREALLOC));
    for _ in 0..len {
        let s = <&str>::borrow_decode(d)?;
        out.push(make(s).map_err(bad)?);
    }
    Ok(out)
}

/// The decoded state; decoding goes straight from the message to the model, borrowing the id
/// tables from the message and cloning each id's `Arc` into the objects that name it.
struct Decoded(IntersectionState);

impl<'de, C> BorrowDecode<'de, C> for Decoded {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
        let intersection = IntersectionId::new(<&str>::borrow_decode(d)?).map_err(|e| bad(e.to_string()))?;
        let rsu = RsuId::new(<&str>::borrow_decode(d)?).map_err(|e| bad(e.to_string()))?;
        let seq = u64::borrow_decode(d)?;
        let capture_time = Timestamp::from_unix_ns(i64::borrow_decode(d)?);
        let ingest_time = Timestamp::from_unix_ns(i64::borrow_decode(d)?);
        let publish_time = Timestamp::from_unix_ns(i64::borrow_decode(d)?);
        let map_version = MapVersion(<[u8; 32]>::borrow_decode(d)?);
        let rules_version = Option::<[u8; 32]>::borrow_decode(d)?.map(MapVersion);
        let sensors = read_ids(d, |s| SensorId::new(s).map_err(|e| e.to_string()))?;
        if sensors.len() > MAX_SENSORS_PER_STATE {
            return Err(bad(format!("{} sensors in one state (at most {MAX_SENSORS_PER_STATE})", sensors.len())));
        }
        let lanes = read_ids(d, |s| Ok(LaneId::new(s)))?;
        let n = read_len(d)?;
        let mut objects = Vec::with_capacity(n.min(SEQ_PREALLOC));
        for _ in 0..n {
            let track_id = u64::borrow_decode(d)?;
            let class = u8::borrow_decode(d)?;
            let sensor_mask = u64::borrow_decode(d)?;
            let lane = u32::borrow_decode(d)?;
            let numbers = <[u8; NUMBERS_LEN]>::borrow_decode(d)?;
            let class = *ObjectClass::ALL
                .get(usize::from(class))
                .ok_or_else(|| bad(format!("object {track_id}: unknown class {class}")))?;
            if sensor_mask.checked_shr(sensors.len() as u32).unwrap_or(0) != 0 {
                return Err(bad(format!(
                    "object {track_id}: sensor mask {sensor_mask:#x} names sensors beyond the table of {}",
                    sensors.len()
                )));
            }
            let mut object_sensors = SensorList::new();
            let mut mask = sensor_mask;
            while mask != 0 {
                if let Some(s) = sensors.get(mask.trailing_zeros() as usize) {
                    object_sensors.push(s.clone());
                }
                mask &= mask - 1;
            }
            let lane = match lane {
                0 => None,
                i => Some(lanes.get(i as usize - 1).cloned().ok_or_else(|| {
                    bad(format!("object {track_id}: lane index {i} beyond the table of {}", lanes.len()))
                })?),
            };
            objects.push(unpack(&numbers, TrackId(track_id), class, object_sensors, lane));
        }
        let n = read_len(d)?;
        let mut signals = Vec::with_capacity(n.min(SEQ_PREALLOC));
        for _ in 0..n {
            let s = SignalW::borrow_decode(d)?;
            let state = *MovementPhaseState::ALL
                .get(usize::from(s.state))
                .ok_or_else(|| bad(format!("signal group {}: unknown state {}", s.id, s.state)))?;
            signals.push(SignalGroupState {
                id: SignalGroupId(s.id),
                state,
                timing: s.timing.map(|t| TimeChangeDetails {
                    min_end: Timestamp::from_unix_ns(t.min_end_ns),
                    max_end: t.max_end_ns.map(Timestamp::from_unix_ns),
                    likely_end: t.likely_end_ns.map(Timestamp::from_unix_ns),
                    confidence: t.confidence,
                }),
            });
        }
        Ok(Decoded(IntersectionState {
            intersection,
            rsu,
            seq,
            capture_time,
            ingest_time,
            publish_time,
            map_version,
            rules_version,
            objects,
            signals,
        }))
    }
}

fn unpack(
    n: &[u8; NUMBERS_LEN],
    track_id: TrackId,
    class: ObjectClass,
    sensors: SensorList,
    lane: Option<LaneId>,
) -> TrackedObject {
    let f32_at = |i: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&n[i..i + 4]);
        f32::from_le_bytes(b)
    };
    let f64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&n[i..i + 8]);
        f64::from_le_bytes(b)
    };
    let i64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&n[i..i + 8]);
        i64::from_le_bytes(b)
    };
    let mut cov = [0f32; 16];
    for (c, src) in cov.iter_mut().zip(n[72..136].chunks_exact(4)) {
        let mut b = [0u8; 4];
        b.copy_from_slice(src);
        *c = f32::from_le_bytes(b);
    }
    TrackedObject {
        track_id,
        class,
        class_confidence: f32_at(0),
        position_m: Vector3::new(f64_at(4), f64_at(12), f64_at(20)),
        velocity_mps: Vector3::new(f64_at(28), f64_at(36), f64_at(44)),
        heading_rad: f64_at(52),
        size_m: Size3 { length_m: f32_at(60), width_m: f32_at(64), height_m: f32_at(68) },
        covariance: Matrix4::from_column_slice(&cov),
        first_seen: Timestamp::from_unix_ns(i64_at(136)),
        last_updated: Timestamp::from_unix_ns(i64_at(144)),
        sensors,
        lane,
    }
}

/// Reads a flat state from `bytes`; returns it and the bytes used.
pub(super) fn decode_state(bytes: &[u8]) -> Result<(IntersectionState, usize), DecodeError> {
    let (Decoded(state), used) = bincode::borrow_decode_from_slice(bytes, flat_config())?;
    Ok((state, used))
}

// Detection frame layout (same config):
//   sensor: str, kind: u8 (SensorKind::ALL index), frame_seq: u64, capture_ns: i64,
//   detections: [{ class: u8, numbers: [u8; DET_NUMBERS_LEN],
//                  velocity: Option<[u8; 24]>, heading: Option<[u8; 8]>, size: Option<[u8; 12]> }]

/// Bytes of a detection's fixed numbers: class confidence (f32), position (3 x f64),
/// covariance (9 x f64, column major).
const DET_NUMBERS_LEN: usize = 4 + 24 + 72;

fn f64s<const N: usize>(v: &[f64]) -> [u8; N] {
    let mut b = [0u8; N];
    for (dst, x) in b.chunks_exact_mut(8).zip(v) {
        dst.copy_from_slice(&x.to_le_bytes());
    }
    b
}

fn read_f64s<const N: usize>(b: &[u8]) -> [f64; N] {
    let mut out = [0f64; N];
    for (x, src) in out.iter_mut().zip(b.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(src);
        *x = f64::from_le_bytes(w);
    }
    out
}

fn sensor_kind_index(k: SensorKind) -> u8 {
    SensorKind::ALL.iter().position(|x| *x == k).unwrap_or(0) as u8
}

struct FrameView<'a>(&'a DetectionFrame);

impl Encode for FrameView<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), bincode::error::EncodeError> {
        let f = self.0;
        f.sensor.as_str().encode(e)?;
        sensor_kind_index(f.kind).encode(e)?;
        f.frame_seq.encode(e)?;
        f.capture_time.unix_ns.encode(e)?;
        encode_len(f.detections.len(), e)?;
        for d in &f.detections {
            class_index(d.class).encode(e)?;
            let mut n = [0u8; DET_NUMBERS_LEN];
            n[0..4].copy_from_slice(&d.class_confidence.to_le_bytes());
            n[4..28].copy_from_slice(&f64s::<24>(d.position_m.as_slice()));
            n[28..100].copy_from_slice(&f64s::<72>(d.position_cov.as_slice()));
            n.encode(e)?;
            d.velocity_mps.map(|v| f64s::<24>(v.as_slice())).encode(e)?;
            d.heading_rad.map(f64::to_le_bytes).encode(e)?;
            d.size_m
                .map(|s| {
                    let mut b = [0u8; 12];
                    b[0..4].copy_from_slice(&s.length_m.to_le_bytes());
                    b[4..8].copy_from_slice(&s.width_m.to_le_bytes());
                    b[8..12].copy_from_slice(&s.height_m.to_le_bytes());
                    b
                })
                .encode(e)?;
        }
        Ok(())
    }
}

/// Writes `frame` in the flat form to `buf`.
pub(super) fn encode_frame(frame: &DetectionFrame, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
    buf.reserve(64 + frame.detections.len() * (DET_NUMBERS_LEN + 48));
    bincode::encode_into_writer(FrameView(frame), VecWriter(buf), flat_config())?;
    Ok(())
}

struct DecodedFrame(DetectionFrame);

impl<'de, C> BorrowDecode<'de, C> for DecodedFrame {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
        let sensor = SensorId::new(<&str>::borrow_decode(d)?).map_err(|e| bad(e.to_string()))?;
        let kind = u8::borrow_decode(d)?;
        let kind = *SensorKind::ALL.get(usize::from(kind)).ok_or_else(|| bad(format!("unknown sensor kind {kind}")))?;
        let frame_seq = u64::borrow_decode(d)?;
        let capture_time = Timestamp::from_unix_ns(i64::borrow_decode(d)?);
        let n = read_len(d)?;
        let mut detections = Vec::with_capacity(n.min(SEQ_PREALLOC));
        for i in 0..n {
            let class = u8::borrow_decode(d)?;
            let class = *ObjectClass::ALL
                .get(usize::from(class))
                .ok_or_else(|| bad(format!("detection {i}: unknown class {class}")))?;
            let numbers = <[u8; DET_NUMBERS_LEN]>::borrow_decode(d)?;
            let velocity = Option::<[u8; 24]>::borrow_decode(d)?;
            let heading = Option::<[u8; 8]>::borrow_decode(d)?;
            let size = Option::<[u8; 12]>::borrow_decode(d)?;
            let mut conf = [0u8; 4];
            conf.copy_from_slice(&numbers[0..4]);
            let f32_at = |b: &[u8; 12], i: usize| {
                let mut w = [0u8; 4];
                w.copy_from_slice(&b[i..i + 4]);
                f32::from_le_bytes(w)
            };
            detections.push(Detection {
                class,
                class_confidence: f32::from_le_bytes(conf),
                position_m: Vector3::from(read_f64s::<3>(&numbers[4..28])),
                position_cov: Matrix3::from_column_slice(&read_f64s::<9>(&numbers[28..100])),
                velocity_mps: velocity.map(|b| Vector3::from(read_f64s::<3>(&b))),
                heading_rad: heading.map(f64::from_le_bytes),
                size_m: size.map(|b| Size3 {
                    length_m: f32_at(&b, 0),
                    width_m: f32_at(&b, 4),
                    height_m: f32_at(&b, 8),
                }),
            });
        }
        Ok(DecodedFrame(DetectionFrame { sensor, kind, frame_seq, capture_time, detections }))
    }
}

/// Reads a flat detection frame from `bytes`; returns it and the bytes used.
pub(super) fn decode_frame(bytes: &[u8]) -> Result<(DetectionFrame, usize), DecodeError> {
    let (DecodedFrame(frame), used) = bincode::borrow_decode_from_slice(bytes, flat_config())?;
    Ok((frame, used))
}
