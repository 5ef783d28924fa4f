#!/usr/bin/env bash
# Regenerates BENCHMARKS.md: every criterion bench of the workspace, the demo, the end-to-end
# latency harness in both CPU placements (unpinned, and every thread on vCPU 0) with the RSU
# in-process and in a separate process and signed (--signed), the transport variants, the scale harness (50 RSUs x
# 100 objects + 200 vehicles for 30 s) and its knee search, then the report.
# About 20 minutes on 2 quiet cores once built (two runs on 2026-12-06: 21 and 18.5 min; the
# second: latency harness 3.5, scale with both knee searches 7.5, transports 4, criterion 2, demo 1).
#
#   benches/run.sh                 # everything
#   benches/run.sh harness report  # only these stages (harness, scale, transports, criterion, demo, report;
#                                # always run in this order)
#
# Honours CARGO_TARGET_DIR; results land in $target/bench-out.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tgt="${CARGO_TARGET_DIR:-$root/target}"
out="$tgt/bench-out"
mkdir -p "$out"
stages="${*:-harness scale transports criterion demo report}"
has() { [[ " $stages " == *" $1 "* ]]; }

if has harness; then
    cargo build --release -q -p benches --bin latency --bin scale --bin bench-report
    lat="$tgt/release/latency"
    # --signed: the e2e also with a signing RSU and a verifying vehicle (both e2e runs then use the demo map)
    "$lat" --objects 200 --hz 10 --seconds 20 --split --signed --json "$out/latency-unpinned.json" > /dev/null
    taskset -c 0 "$lat" --objects 200 --hz 10 --seconds 20 --split --signed --json "$out/latency-cpu0.json" > /dev/null
fi
if has scale; then
    cargo build --release -q -p benches --bin scale
    sc="$tgt/release/scale"
    "$sc" --rsus 50 --objects 100 --vehicles 200 --seconds 30 --json "$out/scale-50x100.json" > /dev/null
    # where the time goes: the same load with the vehicles in a second process, or on 20 sessions
    "$sc" --rsus 50 --objects 100 --vehicles 200 --seconds 15 --vehicles-process --json "$out/scale-50x100-vproc.json" > /dev/null
    "$sc" --rsus 50 --objects 100 --vehicles 200 --seconds 15 --vehicle-sessions 20 --json "$out/scale-50x100-vs20.json" > /dev/null
    "$sc" --find-knee --rsus 50 --objects 100 --vehicles 200 --json "$out/scale-knee.json" > /dev/null
    "$sc" --find-knee --knee-over vehicles --rsus 50 --objects 100 --vehicles 200 --json "$out/scale-knee-vehicles.json" > /dev/null
fi
if has transports; then
    cargo build --release -q -p benches --bin latency
    lat="$tgt/release/latency"
    for t in tcp tcp-nobatch lowlatency tls; do
        "$lat" --objects 200 --hz 10 --seconds 10 --pings 3000 --paced-pings 50 --split --transport "$t" \
            --json "$out/transport-$t.json" > /dev/null 2> "$out/transport-$t.err" \
            || printf '{"error": "failed: %s"}\n' "$(grep -m1 Error "$out/transport-$t.err" | tr -d '"\\')" > "$out/transport-$t.json"
    done
    # the transport variants that need extra zenoh features get their own binary
    t0=$SECONDS
    cargo build --release -q -p benches --bin latency --features udp,shm,quic
    echo "release build of latency with --features udp,shm,quic: $((SECONDS - t0)) s (incremental over the default build)" > "$out/feature-build.txt"
    cp "$tgt/release/latency" "$out/latency-udp-shm"
    for t in udp shm quic; do
        "$out/latency-udp-shm" --objects 200 --hz 10 --seconds 10 --pings 3000 --paced-pings 50 --split --transport "$t" \
            --json "$out/transport-$t.json" > /dev/null 2> "$out/transport-$t.err" \
            || printf '{"error": "failed: %s"}\n' "$(grep -m1 Error "$out/transport-$t.err" | tr -d '"\\')" > "$out/transport-$t.json"
    done
fi
if has criterion; then
    cargo bench --workspace --bench '*' -- --warm-up-time 1 --measurement-time 3 2>&1 | tee "$out/criterion.txt"
fi
if has demo; then
    cargo run --release -q -p simulations --bin corridor-sim -- demo --seconds 20 --quiet > "$out/demo.txt"
fi
if has report; then
    cargo run --release -q -p benches --bin bench-report -- \
        --criterion "$tgt/criterion" --demo "$out/demo.txt" --lock Cargo.lock \
        --latency "unpinned=$out/latency-unpinned.json" --latency "taskset -c 0=$out/latency-cpu0.json" \
        --transport "tcp=$out/transport-tcp.json" --transport "tcp-nobatch=$out/transport-tcp-nobatch.json" \
        --transport "lowlatency=$out/transport-lowlatency.json" --transport "tls=$out/transport-tls.json" \
        --transport "udp=$out/transport-udp.json" --transport "shm=$out/transport-shm.json" \
        --transport "quic=$out/transport-quic.json" \
        --scale "default, 30 s=$out/scale-50x100.json" \
        --scale "vehicles in a 2nd process, 15 s=$out/scale-50x100-vproc.json" \
        --scale "vehicles on 20 sessions, 15 s=$out/scale-50x100-vs20.json" --knee "$out/scale-knee.json" \
        --knee "$out/scale-knee-vehicles.json" \
        --out BENCHMARKS.md
fi
