#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (the
# Python venv with the outside tools: Zenoh Python client, SUMO, lanelet2,
# py-motmetrics), then runs every Rust test, unit, integration and doc.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

scripts/setup-venv.sh
export CORRIDOR_PYTHON="$root/.venv/bin/python"
export PATH="$root/.venv/bin:$PATH"     # netconvert, sumo, ...
export CORRIDOR_REALMAPS="${CORRIDOR_REALMAPS:-$root/../shared/realmaps}"

# The SDK's Python package (pyo3), built and installed into .venv for the Python tests
# (crates/corridor-sdk/tests/vehicle.rs runs Python scripts that import it).
VIRTUAL_ENV="$root/.venv" "$root/.venv/bin/maturin" develop --quiet -m crates/corridor-sdk-python/Cargo.toml

if command -v cargo-nextest >/dev/null 2>&1; then
    cargo test --workspace --doc
    cargo nextest run --workspace --no-fail-fast    # last: its summary closes the run
else
    cargo test --workspace --no-fail-fast
fi
