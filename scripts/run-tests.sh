#!/usr/bin/env bash
# Runs the unit runner, then every CLI case under tests/cli/.
# Usage: scripts/run-tests.sh BALLAST UNIT_RUNNER
#
# A CLI case is a folder tests/cli/NNN-name/ with
#   args     the arguments, one shell word list (may use $BALLAST, $SHARED,
#            $TMP: a fresh scratch folder, $ROOT: the repo)
#   exit     the expected exit code (default 0)
#   stdout   expected standard output (optional, compared exactly)
#   stderr   expected standard error (optional, compared exactly)
#   check    optional script run after the command (cwd = case folder,
#            same variables); it fails the case by exiting non-zero
#   needs    optional: "shared" skips the case when ../shared is absent
# The command runs with the case folder as its working directory.
set -u
BALLAST=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
UNIT=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "$ROOT/.." && pwd)/shared
export BALLAST ROOT SHARED
VG=()
if [ -n "${VALGRIND:-}" ]; then
    VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
        --error-exitcode=99 --suppressions="$ROOT/tests/valgrind.supp")
    # check scripts call $BALLAST too: send those runs through valgrind as
    # well, so every run of a case sees the same arithmetic (valgrind has
    # no 80-bit long double) and every one is checked
    VGDIR=$(mktemp -d)
    printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${VG[*]}" "$BALLAST" \
        > "$VGDIR/ballast"
    chmod +x "$VGDIR/ballast"
    BALLAST="$VGDIR/ballast"
    VG=()
fi

status=0
echo "== unit tests"
if [ -n "${VALGRIND:-}" ]; then
    # Criterion runs each test in a worker process: --trace-children
    # follows them. One suite per valgrind run keeps Criterion's own
    # runner within what it can do under valgrind; its runner's
    # allocations are suppressed (tests/valgrind.supp).
    for suite in $("$UNIT" --list | sed -n 's/^\([a-z_]*\): .*/\1/p'); do
        valgrind -q --trace-children=yes --leak-check=full \
            --errors-for-leak-kinds=definite --error-exitcode=99 \
            --suppressions="$ROOT/tests/valgrind.supp" \
            "$UNIT" --jobs 1 --filter "$suite/*" || status=1
    done
else
    "$UNIT" || status=1
fi

echo "== CLI cases"
pass=0
fail=0
skip=0
for dir in "$ROOT"/tests/cli/*/; do
    [ -f "$dir/args" ] || continue
    name=$(basename "$dir")
    if [ -f "$dir/needs" ] && grep -q shared "$dir/needs" \
        && [ ! -d "$SHARED/data/real" ]; then
        echo "skip: $name (needs ../shared/data/real, which is absent)"
        skip=$((skip + 1))
        continue
    fi
    TMP=$(mktemp -d)
    export TMP
    want_exit=0
    [ -f "$dir/exit" ] && want_exit=$(cat "$dir/exit")
    args=$(cat "$dir/args")
    (cd "$dir" && eval "set -- $args" && \
        exec "${VG[@]}" "$BALLAST" "$@") >"$TMP/.stdout" 2>"$TMP/.stderr" \
        </dev/null
    got_exit=$?
    why=""
    [ "$got_exit" = "$want_exit" ] || why="exit $got_exit, want $want_exit"
    if [ -z "$why" ] && [ -f "$dir/stdout" ] \
        && ! diff -u "$dir/stdout" "$TMP/.stdout" >"$TMP/.diff"; then
        why="stdout differs"
    fi
    if [ -z "$why" ] && [ -f "$dir/stderr" ] \
        && ! diff -u "$dir/stderr" "$TMP/.stderr" >"$TMP/.diff"; then
        why="stderr differs"
    fi
    if [ -z "$why" ] && [ -x "$dir/check" ] \
        && ! (cd "$dir" && ./check) >"$TMP/.diff" 2>&1; then
        why="check failed"
    fi
    if [ -z "$why" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name: $why"
        [ -s "$TMP/.diff" ] && head -n 30 "$TMP/.diff"
        head -n 5 "$TMP/.stderr"
    fi
    rm -rf "$TMP"
done
[ "$fail" -eq 0 ] || status=1
echo "cli: $pass passed, $fail failed, $skip skipped"
exit $status
