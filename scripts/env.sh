# Sourced by the other scripts: where cargo builds (outside the clone, so repeated runs are fast).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/baycount/target}"
# Incremental caches only help quick edit-compile loops; they grow the cache by gigabytes a run
# (25 GB here once) and give the test command different fingerprints than a developer's builds.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
