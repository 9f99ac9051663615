# Sourced by the other scripts: where cargo builds (outside the clone, so repeated runs are fast).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/baycount/target}"
