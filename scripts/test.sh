#!/usr/bin/env bash
# The whole test suite: setup, formatting, lints, then every unit, integration and end-to-end test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Benchmarks are built by clippy above and run with `cargo bench`, never as tests.
cargo test --workspace --locked
