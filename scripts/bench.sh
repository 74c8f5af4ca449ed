#!/usr/bin/env bash
# make bench: load speed and backtest speed on a generated hourly market
# (50 assets x 87,600 hourly steps, SPEC §9), with pandas' read_csv as the
# load peer when python3-pandas is installed. Reports figures and ratios;
# nothing here is a pass/fail test.
set -euo pipefail
BALLAST=${1:-build/ballast}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B="$ROOT/build/bench"
N=${BENCH_ASSETS:-50}
STEPS=${BENCH_STEPS:-87600}
mkdir -p "$B"
# One core, and the same one throughout: on a shared VM an unpinned run
# that the scheduler moves between cores can lose half its speed. Every
# measured run (ballast and pandas) is pinned, when taskset (util-linux)
# is there.
PIN=()
if command -v taskset > /dev/null 2>&1; then
    PIN=(taskset -c 0)
fi
MKT="$B/h${N}x${STEPS}"
if [ ! -f "$MKT/assets.json" ]; then
    echo "generating $N hourly assets x $STEPS steps into $MKT (once)"
    "$BALLAST" data gen --assets "$N" --bar 1h --steps "$STEPS" -o "$MKT"
fi
CFG="$B/bench.json"
python3 - "$MKT" "$CFG" <<'PY'
import json, sys
mkt, cfg = sys.argv[1], sys.argv[2]
assets = json.load(open(mkt + "/assets.json"))
# SPEC §9's backtest: ERC + volatility target + drift + corr_shift
json.dump({
    "name": "bench",
    "data": {"dir": mkt, "assets": assets},
    "engine": {"vol_window": 240, "corr_window": 240},
    "sizing": {"method": "erc", "target_vol": 0.10, "max_gross": 2},
    "rebalance": {"schedule": "weekly", "drift": 0.02, "corr_shift": 0.3},
    "execution": {"fill": "next_open", "cost_bps": 1}
}, open(cfg, "w"), indent=1)
PY
bytes=$(cat "$MKT"/*.csv | wc -c)
echo "market: $N assets, $(du -sh "$MKT" | cut -f1), $bytes CSV bytes"

# ---- backtest and cache: `ballast run` three times with a fresh cache
# folder; the first run parses and writes the cache, the others read it.
rm -rf "$B/cache"
best_hit=0; best_bt=1e9
for i in 1 2 3; do
    "${PIN[@]}" "$BALLAST" run "$CFG" -o "$B/out" --cache-dir "$B/cache" \
        > /dev/null 2> "$B/run.log"
    load=$(sed -n 's/.*loaded .* (\([0-9.]*\) MB\/s).*/\1/p' "$B/run.log")
    bt=$(sed -n 's/.*backtest of .* in \([0-9.]*\) s.*/\1/p' "$B/run.log")
    if [ "$i" -gt 1 ]; then
        best_hit=$(python3 -c "print(max($best_hit, $load))")
    else
        echo "ballast run, first load (parse + write cache): $load MB/s"
    fi
    best_bt=$(python3 -c "print(min($best_bt, $bt))")
done
echo "ballast run, cached load: $best_hit MB/s of CSV (hash + read entries, best of 2)"
echo "ballast backtest: $best_bt s for $N assets x $STEPS steps (ERC + vol target + weekly + drift + corr_shift, excluding load, best of 3)"

# ---- load: the loader alone (tests/bench/bench_load.c: bal_series_load,
# one core, files in the page cache) against pandas.read_csv with date
# parsing, on the same files in the same run. Two sets: one large
# ISO-dated hourly OHLCV file (SPEC §9's case) and the market's files.
BDIR=$(dirname "$BALLAST")
make -s -C "$ROOT" B="$BDIR" "$BDIR/bench-load" > /dev/null
BIG="$B/load-1h"
if [ ! -f "$BIG/EURUSD.csv" ]; then
    echo "generating one hourly asset x 878400 steps into $BIG (once)"
    "$BALLAST" data gen --assets 1 --bar 1h --steps 878400 -o "$BIG" \
        > "$B/gen.log" 2>&1 || { cat "$B/gen.log"; exit 1; }
fi
MKTFILES=()
for f in "$MKT"/*.csv; do
    [ "$(basename "$f")" = regimes.csv ] || MKTFILES+=("$f")
done
load_mb() {     # REPEATS FILE... -> best MB/s of bench-load
    local r=$1
    shift
    "${PIN[@]}" "$BDIR/bench-load" -r "$r" "$@" \
        | sed -n 's/^load: \([0-9.]*\) MB.*/\1/p'
}
big_bytes=$(wc -c < "$BIG/EURUSD.csv")
mkt_bytes=$(cat "${MKTFILES[@]}" | wc -c)
load_big=$(load_mb 7 "$BIG/EURUSD.csv")
load_mkt=$(load_mb 3 "${MKTFILES[@]}")
echo "ballast load:     $load_big MB/s (1 ISO-dated hourly OHLCV file, $big_bytes bytes, best of 7)"
echo "ballast load:     $load_mkt MB/s (${#MKTFILES[@]} asset files, $mkt_bytes bytes, best of 3)"

PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c "import pandas" 2>/dev/null; then
    pandas_mb() {   # FILE... -> best MB/s of read_csv(parse_dates), of 3
        "${PIN[@]}" "$PY" - "$@" <<'PY'
import sys, time
import pandas as pd
files = sys.argv[1:]
size = sum(open(f, "rb").seek(0, 2) for f in files)
best = 0
for _ in range(3):
    t = time.perf_counter()
    for f in files:
        pd.read_csv(f, parse_dates=["time"])
    best = max(best, size / (time.perf_counter() - t) / 1e6)
print(f"{best:.1f}")
PY
    }
    pd_big=$(pandas_mb "$BIG/EURUSD.csv")
    pd_mkt=$(pandas_mb "${MKTFILES[@]}")
    echo "pandas read_csv (parse_dates): $pd_big MB/s (the large file), $pd_mkt MB/s (the asset files), pandas $("$PY" -c 'import pandas; print(pandas.__version__)')"
    echo "ratio ballast / pandas load: $(python3 -c "print(round($load_big / $pd_big, 2))") (large file), $(python3 -c "print(round($load_mkt / $pd_mkt, 2))") (asset files)"
else
    echo "pandas: skipped (install python3-pandas for the load peer)"
fi
