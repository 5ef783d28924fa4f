#![allow(missing_docs)] // criterion generates undocumented items
#![allow(clippy::expect_used)] // a bench fails loudly on a broken codec
//! Codec benches: a 200-object intersection state and a 200-detection sensor frame encoded and
//! decoded.
//!
//! `codec/state200_roundtrip` is corridor's codec (envelope + bincode 2 +
//! validation); `codec/state200_roundtrip_bitcode` is the alternative measured
//! in the same run (bitcode 0.6 through serde, no envelope or validation), so
//! BENCHMARKS.md can report the ratio. Message sizes are printed once.

use corridor_model::{sample, DetectionFrame, IntersectionState, Timestamp};
use corridor_wire::{decode, encode_into, Header, Limits, PayloadKind};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn codec(c: &mut Criterion) {
    let state = sample::intersection_state(200, 1);
    let header =
        Header::new(PayloadKind::IntersectionState, "rsu-1", 1, Timestamp::from_unix_ns(1), Timestamp::from_unix_ns(2));
    let mut buf = Vec::with_capacity(64 * 1024);
    encode_into(&mut buf, &header, &state).expect("encode");
    let bitcode_len = bitcode::serialize(&state).expect("bitcode").len();
    eprintln!("codec: state200 bytes: corridor/bincode {} , bitcode {}", buf.len(), bitcode_len);

    let mut g = c.benchmark_group("codec");
    g.bench_function("state200_roundtrip", |b| {
        b.iter(|| {
            buf.clear();
            encode_into(&mut buf, &header, black_box(&state)).expect("encode");
            let (_, back): (Header, IntersectionState) = decode(black_box(&buf), Limits::default()).expect("decode");
            back
        })
    });
    g.bench_function("state200_roundtrip_bitcode", |b| {
        b.iter(|| {
            let bytes = bitcode::serialize(black_box(&state)).expect("bitcode");
            let back: IntersectionState = bitcode::deserialize(black_box(&bytes)).expect("bitcode");
            back
        })
    });
    let frame = sample::detection_frame(200, 1);
    let fheader =
        Header::new(PayloadKind::Detections, "lidar-1", 1, Timestamp::from_unix_ns(1), Timestamp::from_unix_ns(1));
    let mut fbuf = Vec::with_capacity(64 * 1024);
    encode_into(&mut fbuf, &fheader, &frame).expect("encode");
    eprintln!("codec: detections200 bytes: {}", fbuf.len());
    g.bench_function("detections200_roundtrip", |b| {
        b.iter(|| {
            fbuf.clear();
            encode_into(&mut fbuf, &fheader, black_box(&frame)).expect("encode");
            let (_, back): (Header, DetectionFrame) = decode(black_box(&fbuf), Limits::default()).expect("decode");
            back
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
