//! Criterion benches for issue 10: signing and verifying a 200-object intersection state, and
//! rejecting forgeries (a valid key id with a bad signature pays the EC verification; an
//! unknown key id is rejected before any EC math).
#![allow(missing_docs)]
#![allow(clippy::expect_used)]

use std::collections::HashSet;

use corridor_model::{sample, MapVersion, Timestamp};
use corridor_security::{Certificate, GuardConfig, Signer, SigningKey, StateGuard, TrustStore, SIGNATURE_LEN};
use corridor_wire::{Header, PayloadKind};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use rand_chacha::rand_core::SeedableRng;

const DAY: i64 = 86_400_000_000_000;

fn bench(c: &mut Criterion) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(10);
    let root = SigningKey::generate(&mut rng);
    let rsu = SigningKey::generate(&mut rng);
    let attacker = SigningKey::generate(&mut rng);
    let state = sample::intersection_state(200, 1);
    let t0 = state.capture_time;
    let cert = Certificate::rsu(
        &state.rsu,
        *rsu.verifying_key(),
        [state.intersection.clone()],
        Timestamp::from_unix_ns(t0.unix_ns - DAY),
        Timestamp::from_unix_ns(t0.unix_ns + DAY),
        1,
    )
    .issue(&root)
    .expect("cert");
    let mut trust = TrustStore::new([*root.verifying_key()]);
    trust.add_certificate(cert).expect("admit");
    let guard = StateGuard::new(trust, GuardConfig::default());
    let maps: HashSet<MapVersion> = [state.map_version].into_iter().collect();
    let header = Header::new(PayloadKind::IntersectionState, state.rsu.as_str(), 1, t0, t0);
    let unsigned = corridor_wire::encode(&header, &state).expect("encode");
    let vk = *rsu.verifying_key();
    let signer = Signer::new(rsu);
    let mut valid = unsigned.clone();
    signer.sign_into(&mut valid).expect("sign");
    let mut forged = unsigned.clone();
    Signer::new(attacker.clone()).sign_into(&mut forged).expect("sign");
    let mut forged_known_id = forged.clone();
    let at = forged_known_id.len() - SIGNATURE_LEN - 10;
    forged_known_id[at..at + 8].copy_from_slice(&signer.key_id().0);
    let now = Timestamp::from_unix_ns(t0.unix_ns + 20_000_000);
    let ix = state.intersection.clone();

    eprintln!("security: state200 signed message {} bytes", valid.len());
    let split = valid.len() - SIGNATURE_LEN - 10;

    let mut g = c.benchmark_group("security");
    // Breakdown: the signature check alone (SHA-256 over the signed bytes + one EC verification).
    g.bench_function("verify_signature_only_state200", |b| {
        b.iter(|| vk.verify(black_box(&valid[..split]), &valid[valid.len() - SIGNATURE_LEN..]).expect("valid"))
    });
    // Breakdown: SHA-256 over the signed bytes alone (sha2 picks SHA-NI when the CPU has it).
    g.bench_function("sha256_only_state200", |b| {
        use sha2::Digest;
        b.iter(|| sha2::Sha256::digest(black_box(&valid[..split])))
    });
    g.bench_function("sign_state200", |b| {
        let mut buf = Vec::with_capacity(unsigned.len() + 128);
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(&unsigned);
            signer.sign_into(&mut buf).expect("sign");
            black_box(buf.len())
        })
    });
    // A fresh guard per iteration (setup not timed) so the replay window accepts the message:
    // envelope + signature + payload decode + certificate + freshness + replay + map checks.
    g.bench_function("verify_state200", |b| {
        b.iter_batched_ref(
            || guard.clone(),
            |guard| guard.check_state(now, &ix, black_box(&valid), &maps).expect("valid").signer,
            BatchSize::SmallInput,
        )
    });
    // The costliest forgery: a certified key id with a wrong signature (one EC verification).
    g.bench_function("reject_forged_state200", |b| {
        let mut guard = guard.clone();
        b.iter(|| guard.check_state(now, &ix, black_box(&forged_known_id), &maps).expect_err("forged"))
    });
    // The cheap forgery: an unknown key id, rejected before any EC math.
    g.bench_function("reject_unknown_key_state200", |b| {
        let mut guard = guard.clone();
        b.iter(|| guard.check_state(now, &ix, black_box(&forged), &maps).expect_err("unknown"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
