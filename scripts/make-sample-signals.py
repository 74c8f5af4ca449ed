#!/usr/bin/env python3
"""Writes data/signals/sample_signals.csv: a toy model's signals for the
bundled sample market, to show `direction.mode: "signals"`.

The model: every Friday, for each asset, the 20-bar log return divided by
its 20-bar volatility times sqrt(20) (a t-statistic of the recent trend),
squashed into [-1, 1] with tanh and rounded to 2 decimals. It only reads
bars up to the Friday it signals on. Deterministic: same sample, same file.
"""
import csv, datetime, math, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "data", "sample")
OUT = os.path.join(ROOT, "data", "signals", "sample_signals.csv")
SYMBOLS = ["EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "XAUUSD", "XAGUSD",
           "BTCUSD", "ETHUSD"]
N = 20

rows = []
for sym in SYMBOLS:
    with open(os.path.join(SAMPLE, sym + ".csv")) as f:
        bars = [(r["time"], float(r["close"])) for r in csv.DictReader(f)]
    for k in range(N, len(bars)):
        day = datetime.date.fromisoformat(bars[k][0])
        if day.weekday() != 4:
            continue
        rets = [math.log(bars[j][1] / bars[j - 1][1])
                for j in range(k - N + 1, k + 1)]
        mean = sum(rets) / N
        sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / (N - 1))
        t = sum(rets) / (sd * math.sqrt(N)) if sd > 0 else 0.0
        rows.append((bars[k][0], sym, round(math.tanh(t), 2)))
rows.sort(key=lambda r: (r[0], SYMBOLS.index(r[1])))
with open(OUT, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["time", "symbol", "signal"])
    for r in rows:
        w.writerow([r[0], r[1], "%g" % r[2]])
print("wrote %d signals to %s" % (len(rows), OUT), file=sys.stderr)
