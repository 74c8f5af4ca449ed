#!/bin/sh
# Rewrites tests/baselines/<name>.json from a fresh run of every config in
# configs/. Run it after an intended change of results, review the diff,
# and commit it with the change that explains it.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BALLAST=${1:-$ROOT/build/ballast}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for cfg in "$ROOT"/configs/*.json; do
    name=$(basename "$cfg" .json)
    "$BALLAST" run "$cfg" -o "$TMP/$name" -q > /dev/null
    "$BALLAST" check "$TMP/$name/report.json" --update-baseline \
        --baseline "$ROOT/tests/baselines/$name.json" -q
    echo "updated tests/baselines/$name.json"
done
