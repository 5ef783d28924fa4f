#!/usr/bin/env bash
# Regenerates BENCHMARKS.md: every criterion bench of the workspace, the demo, the end-to-end
# latency harness in both CPU placements (unpinned, and every thread on vCPU 0), then the
# report. Takes about 15 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo bench --workspace --bench '*' -- --warm-up-time 1 --measurement-time 3 2>&1 | tee target/bench-criterion.txt
cargo run --release -q -p simulations --bin corridor-sim -- demo --seconds 20 --quiet > target/bench-demo.txt
cargo build --release -q -p benches --bin latency
./target/release/latency --objects 200 --hz 10 --seconds 20 --json target/latency-unpinned.json > /dev/null
taskset -c 0 ./target/release/latency --objects 200 --hz 10 --seconds 20 --json target/latency-cpu0.json > /dev/null
cargo run --release -q -p benches --bin bench-report -- \
    --criterion target/criterion --demo target/bench-demo.txt --lock Cargo.lock \
    --latency unpinned=target/latency-unpinned.json --latency "taskset -c 0=target/latency-cpu0.json" \
    --out BENCHMARKS.md
