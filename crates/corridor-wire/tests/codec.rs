//! Codec tests: round trips (proptest over generated states), and every way a
#![allow(clippy::unwrap_used)] // test helpers
//! message can be bad, each giving a typed error.

use corridor_model::sample;
use corridor_model::{
    DetectionFrame, IntersectionId, IntersectionState, MapVersion, MovementPhaseState, ObjectClass, RsuId,
    SignalGroupId, SignalGroupState, Size3, Timestamp, TrackId, TrackedObject,
};
use corridor_wire::envelope::FIXED_HEADER_LEN;
use corridor_wire::{decode, decode_envelope, encode, DecodeError, Header, Limits, PayloadKind};
use nalgebra::{Matrix4, Vector3};
use proptest::prelude::*;

fn header(kind: PayloadKind) -> Header {
    Header::new(kind, "rsu-1", 42, Timestamp::from_unix_ns(1_000), Timestamp::from_unix_ns(2_000))
}

fn state_bytes(n: usize) -> Vec<u8> {
    encode(&header(PayloadKind::IntersectionState), &sample::intersection_state(n, 1)).unwrap()
}

#[test]
fn more_than_64_sensors_in_one_state_is_an_encode_error_not_a_wrong_message() {
    let mut state = sample::intersection_state(70, 1);
    for (i, o) in state.objects.iter_mut().enumerate() {
        o.sensors = [corridor_model::SensorId::new(format!("s-{i}")).unwrap()].into_iter().collect();
    }
    let err = encode(&header(PayloadKind::IntersectionState), &state).unwrap_err();
    assert!(matches!(err, corridor_wire::EncodeError::TooManySensors(64)), "{err}");
    state.objects.truncate(64);
    let bytes = encode(&header(PayloadKind::IntersectionState), &state).unwrap();
    let (_, back): (Header, IntersectionState) = decode(&bytes, Limits::default()).unwrap();
    assert_eq!(back, state);
}

#[test]
fn sensors_decode_as_a_set_in_name_order() {
    let mut state = sample::intersection_state(2, 1);
    let id = |n: &str| corridor_model::SensorId::new(n).unwrap();
    state.objects[0].sensors = [id("lidar-1")].into_iter().collect();
    state.objects[1].sensors = [id("lidar-1"), id("cam-0")].into_iter().collect();
    let bytes = encode(&header(PayloadKind::IntersectionState), &state).unwrap();
    let (_, back): (Header, IntersectionState) = decode(&bytes, Limits::default()).unwrap();
    assert_eq!(back.objects[0].sensors.as_slice(), &[id("lidar-1")]);
    assert_eq!(back.objects[1].sensors.as_slice(), &[id("cam-0"), id("lidar-1")]);
}

#[test]
fn a_200_object_state_round_trips() {
    let state = sample::intersection_state(200, 3);
    let bytes = encode(&header(PayloadKind::IntersectionState), &state).unwrap();
    let (h, back): (Header, IntersectionState) = decode(&bytes, Limits::default()).unwrap();
    assert_eq!(back, state);
    assert_eq!(h, header(PayloadKind::IntersectionState));
}

#[test]
fn truncated_messages_are_refused_at_every_length() {
    let bytes = state_bytes(5);
    for len in 0..bytes.len() {
        let err = decode::<IntersectionState>(&bytes[..len], Limits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "len {len}: {err}");
    }
}

#[test]
fn oversized_messages_are_refused_before_decoding() {
    let bytes = state_bytes(50);
    let limits = Limits { max_message_bytes: bytes.len() - 1 };
    let err = decode::<IntersectionState>(&bytes, limits).unwrap_err();
    assert!(matches!(err, DecodeError::Oversized { len, limit } if len == bytes.len() && limit == bytes.len() - 1));
    // a huge garbage buffer is refused by length alone
    let big = vec![0u8; Limits::default().max_message_bytes + 1];
    assert_eq!(decode::<IntersectionState>(&big, Limits::default()).unwrap_err().reason(), "oversized");
}

#[test]
fn wrong_schema_version_magic_kind_and_flags() {
    let good = state_bytes(1);
    let mut b = good.clone();
    b[4] = 9;
    assert!(matches!(
        decode::<IntersectionState>(&b, Limits::default()),
        Err(DecodeError::SchemaVersion { found: 9, supported: 1 })
    ));
    let mut b = good.clone();
    b[0] = b'X';
    assert!(matches!(decode::<IntersectionState>(&b, Limits::default()), Err(DecodeError::BadMagic(_))));
    let mut b = good.clone();
    b[6] = 200;
    assert!(matches!(decode::<IntersectionState>(&b, Limits::default()), Err(DecodeError::UnknownKind(200))));
    assert!(matches!(decode::<DetectionFrame>(&good, Limits::default()), Err(DecodeError::WrongKind { .. })));
    let mut b = good.clone();
    b[7] = 2;
    assert!(matches!(decode::<IntersectionState>(&b, Limits::default()), Err(DecodeError::Flags(2))));
    // the signed flag without a trailer is a truncated message
    let mut b = good.clone();
    b[7] = 1;
    assert!(matches!(decode::<IntersectionState>(&b, Limits::default()), Err(DecodeError::Truncated { .. })));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut b = state_bytes(2);
    b.push(0);
    assert!(matches!(decode::<IntersectionState>(&b, Limits::default()), Err(DecodeError::TrailingBytes(1))));
    // a payload_len that stops short of the real payload leaves bytes inside the payload unread
    let mut b = state_bytes(2);
    let len = u32::from_le_bytes(b[32..36].try_into().unwrap());
    b[32..36].copy_from_slice(&(len + 3).to_le_bytes());
    b.extend_from_slice(&[0, 0, 0]);
    assert!(matches!(decode::<IntersectionState>(&b, Limits::default()), Err(DecodeError::TrailingBytes(3))));
}

#[test]
fn nan_and_absurd_values_are_refused_with_the_field_named() {
    let mut s = sample::intersection_state(3, 1);
    s.objects[1].position_m.x = f64::NAN;
    let bytes = encode(&header(PayloadKind::IntersectionState), &s).unwrap();
    let err = decode::<IntersectionState>(&bytes, Limits::default()).unwrap_err();
    assert_eq!(err.reason(), "invalid_value");
    assert!(err.to_string().contains("objects[2].position_m[0]"), "{err}");

    let mut s = sample::intersection_state(3, 1);
    s.objects[0].velocity_mps.y = 1e5;
    let bytes = encode(&header(PayloadKind::IntersectionState), &s).unwrap();
    assert!(decode::<IntersectionState>(&bytes, Limits::default())
        .unwrap_err()
        .to_string()
        .contains("velocity_mps[1]"));

    let mut f = sample::detection_frame(3, 1);
    f.detections[2].position_cov[(1, 1)] = f64::INFINITY;
    let bytes = encode(&header(PayloadKind::Detections), &f).unwrap();
    assert!(decode::<DetectionFrame>(&bytes, Limits::default()).unwrap_err().to_string().contains("position_cov"));
}

#[test]
fn a_forged_sender_is_refused() {
    let mut b = state_bytes(1);
    b[FIXED_HEADER_LEN] = b'/';
    assert_eq!(decode_envelope(&b, Limits::default()).unwrap_err().reason(), "sender");
}

#[test]
fn a_forged_inner_length_prefix_does_not_allocate_it() {
    // objects is a Vec right after a few small fields: overwrite every byte in turn with a huge
    // varint marker; decoding must fail cleanly (or succeed on a harmless byte), never panic or OOM.
    let good = state_bytes(3);
    let start = FIXED_HEADER_LEN + 5;
    for i in start..good.len().min(start + 200) {
        let mut b = good.clone();
        b[i] = 0xFD; // varint: u64 follows
        let _ = decode::<IntersectionState>(&b, Limits::default());
    }
}

fn arb_object() -> impl Strategy<Value = TrackedObject> {
    (
        any::<u64>(),
        0usize..ObjectClass::ALL.len(),
        (-500.0f64..500.0, -500.0f64..500.0, -5.0f64..5.0),
        (-30.0f64..30.0, -30.0f64..30.0),
        -3.2f64..3.2,
        (0.1f32..20.0, 0.1f32..4.0, 0.1f32..5.0),
        proptest::option::of("[a-z0-9_:#-]{1,12}"),
        0.0f32..=1.0,
        0u8..64,
    )
        .prop_map(|(id, class, p, v, h, s, lane, conf, mask)| TrackedObject {
            track_id: TrackId(id),
            class: ObjectClass::ALL[class],
            class_confidence: conf,
            position_m: Vector3::new(p.0, p.1, p.2),
            velocity_mps: Vector3::new(v.0, v.1, 0.0),
            heading_rad: h,
            size_m: Size3::new(s.0, s.1, s.2),
            covariance: Matrix4::from_fn(|r, c| (r * 4 + c) as f32 * 0.01),
            first_seen: Timestamp::from_unix_ns(id as i64 / 4),
            last_updated: Timestamp::from_unix_ns(id as i64 / 2),
            sensors: ["cam-0", "cam-1", "cam-2", "lidar-0", "lidar-1", "radar-0"]
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| corridor_model::SensorId::new(n).unwrap())
                .collect(),
            lane: lane.map(corridor_model::LaneId::new),
        })
}

fn arb_state() -> impl Strategy<Value = IntersectionState> {
    (proptest::collection::vec(arb_object(), 0..20), any::<u64>(), any::<i64>(), any::<[u8; 32]>(), 0u16..300).prop_map(
        |(objects, seq, t, hash, g)| IntersectionState {
            intersection: IntersectionId::new("ix-p").unwrap(),
            rsu: RsuId::new("rsu-p").unwrap(),
            seq,
            capture_time: Timestamp::from_unix_ns(t),
            ingest_time: Timestamp::from_unix_ns(t / 2),
            publish_time: Timestamp::from_unix_ns(t / 3),
            map_version: MapVersion(hash),
            rules_version: None,
            objects,
            signals: vec![SignalGroupState { id: SignalGroupId(g), state: MovementPhaseState::Dark, timing: None }],
        },
    )
}

fn arb_detection() -> impl Strategy<Value = corridor_model::Detection> {
    (
        0usize..ObjectClass::ALL.len(),
        0.0f32..=1.0,
        (-300.0f64..300.0, -300.0f64..300.0, -10.0f64..10.0),
        proptest::array::uniform9(0.0f64..4.0),
        proptest::option::of((-40.0f64..40.0, -40.0f64..40.0, -2.0f64..2.0)),
        proptest::option::of(-3.2f64..3.2),
        proptest::option::of((0.1f32..20.0, 0.1f32..4.0, 0.1f32..5.0)),
    )
        .prop_map(|(class, conf, p, cov, v, h, s)| corridor_model::Detection {
            class: ObjectClass::ALL[class],
            class_confidence: conf,
            position_m: Vector3::new(p.0, p.1, p.2),
            position_cov: nalgebra::Matrix3::from_column_slice(&cov),
            velocity_mps: v.map(|v| Vector3::new(v.0, v.1, v.2)),
            heading_rad: h,
            size_m: s.map(|s| Size3::new(s.0, s.1, s.2)),
        })
}

fn arb_frame() -> impl Strategy<Value = DetectionFrame> {
    (proptest::collection::vec(arb_detection(), 0..30), 0usize..3, any::<u64>(), any::<i64>()).prop_map(
        |(detections, kind, seq, t)| DetectionFrame {
            sensor: corridor_model::SensorId::new("cam-ne").unwrap(),
            kind: corridor_model::detection::SensorKind::ALL[kind],
            frame_seq: seq,
            capture_time: Timestamp::from_unix_ns(t),
            detections,
        },
    )
}

#[test]
fn a_200_detection_frame_round_trips_and_truncations_are_refused() {
    let frame = sample::detection_frame(200, 5);
    let bytes = encode(&header(PayloadKind::Detections), &frame).unwrap();
    let (_, back): (Header, DetectionFrame) = decode(&bytes, Limits::default()).unwrap();
    assert_eq!(back, frame);
    let small = encode(&header(PayloadKind::Detections), &sample::detection_frame(3, 5)).unwrap();
    for len in 0..small.len() {
        let err = decode::<DetectionFrame>(&small[..len], Limits::default()).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "len {len}: {err}");
    }
}

#[test]
fn a_detection_with_an_unknown_class_or_sensor_kind_is_a_typed_error() {
    let frame = sample::detection_frame(1, 5);
    let bytes = encode(&header(PayloadKind::Detections), &frame).unwrap();
    // payload: sensor str (u64 len + bytes), kind u8, seq u64, capture i64, len u64, class u8
    let payload = bytes.len() - (8 + frame.sensor.as_str().len() + 1 + 8 + 8 + 8 + 1 + 100 + 1 + 9 + 13);
    let kind_at = payload + 8 + frame.sensor.as_str().len();
    let mut b = bytes.clone();
    b[kind_at] = 9;
    let err = decode::<DetectionFrame>(&b, Limits::default()).unwrap_err();
    assert!(err.to_string().contains("unknown sensor kind 9"), "{err}");
    let mut b = bytes;
    b[kind_at + 1 + 8 + 8 + 8] = 200;
    let err = decode::<DetectionFrame>(&b, Limits::default()).unwrap_err();
    assert!(err.to_string().contains("detection 0: unknown class 200"), "{err}");
}

proptest! {
    #[test]
    fn any_detection_frame_round_trips(frame in arb_frame(), seq in any::<u64>()) {
        let h = Header::new(PayloadKind::Detections, "cam-ne", seq, frame.capture_time, frame.capture_time);
        let bytes = encode(&h, &frame).unwrap();
        let (h2, back): (Header, DetectionFrame) = decode(&bytes, Limits::default()).unwrap();
        prop_assert_eq!(h2, h);
        prop_assert_eq!(back, frame);
    }

    #[test]
    fn mutated_detection_frames_never_panic(i in 0usize..4000, v in any::<u8>()) {
        let mut b = encode(&header(PayloadKind::Detections), &sample::detection_frame(8, 2)).unwrap();
        let i = i % b.len();
        b[i] = v;
        let _ = decode::<DetectionFrame>(&b, Limits::default());
    }

    #[test]
    fn any_state_round_trips(state in arb_state(), seq in any::<u64>()) {
        let h = Header::new(PayloadKind::IntersectionState, "rsu-p", seq, state.capture_time, state.publish_time);
        let bytes = encode(&h, &state).unwrap();
        let (h2, back): (Header, IntersectionState) = decode(&bytes, Limits::default()).unwrap();
        prop_assert_eq!(h2, h);
        prop_assert_eq!(back, state);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<IntersectionState>(&bytes, Limits::default());
        let _ = decode::<DetectionFrame>(&bytes, Limits::default());
    }

    #[test]
    fn mutated_messages_never_panic(i in 0usize..4000, v in any::<u8>()) {
        let mut b = state_bytes(10);
        let i = i % b.len();
        b[i] = v;
        let _ = decode::<IntersectionState>(&b, Limits::default());
    }
}

#[test]
fn signed_envelopes_carry_a_structurally_checked_trailer() {
    let state = sample::intersection_state(4, 2);
    let mut b = encode(&header(PayloadKind::IntersectionState), &state).unwrap();
    let unsigned_len = b.len();
    let mut covered = Vec::new();
    corridor_wire::sign_envelope(&mut b, *b"key-0001", |bytes| {
        covered = bytes.to_vec();
        Ok::<_, std::convert::Infallible>(vec![0xAB; 64])
    })
    .unwrap();
    assert_eq!(b.len(), unsigned_len + 10 + 64);
    let env = decode_envelope(&b, Limits::default()).unwrap();
    assert_eq!(env.signed_bytes, &covered[..], "the signature covers header (signed flag set), sender, payload");
    assert_eq!(env.header.flags, 1);
    let sig = env.signature.unwrap();
    assert_eq!((&sig.key_id, sig.signature.len()), (b"key-0001", 64));
    let (_, back): (Header, IntersectionState) = decode(&b, Limits::default()).unwrap();
    assert_eq!(back, state);
    // a truncated signature, a trailing byte, a zero or huge length: all typed errors
    for len in unsigned_len..b.len() {
        assert_eq!(decode_envelope(&b[..len], Limits::default()).unwrap_err().reason(), "truncated", "len {len}");
    }
    let mut t = b.clone();
    t.push(0);
    assert_eq!(decode_envelope(&t, Limits::default()).unwrap_err().reason(), "trailing_bytes");
    for bad in [0u16, 513] {
        let mut t = b.clone();
        t[unsigned_len + 8..unsigned_len + 10].copy_from_slice(&bad.to_le_bytes());
        assert_eq!(decode_envelope(&t, Limits::default()).unwrap_err().reason(), "signature_length");
    }
    // signing twice is refused
    assert!(corridor_wire::sign_envelope(&mut b, [0; 8], |_| Ok::<_, std::convert::Infallible>(vec![1])).is_err());
}
