#!/usr/bin/env bash
# Regenerates BENCHMARKS.md: every criterion bench of the workspace, then the demo,
# then the report. Takes a few minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo bench --workspace --benches -- --warm-up-time 1 --measurement-time 3 2>&1 | tee target/bench-criterion.txt
cargo run --release -q -p simulations --bin corridor-sim -- demo --seconds 20 --quiet > target/bench-demo.txt
cargo run --release -q -p benches --bin bench-report -- \
    --criterion target/criterion --demo target/bench-demo.txt --lock Cargo.lock --out BENCHMARKS.md
