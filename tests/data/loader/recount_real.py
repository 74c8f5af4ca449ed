#!/usr/bin/env python3
"""Independent recount of the 21 real files of ../shared/data/real, the
reference for tests/unit/test_loader.c (real_files_match_provenance).

Pure Python (csv, datetime, float(), statistics.median, math.log), with
each file's layout hard-coded rather than detected, and the rules of
include/ballast/loader.h written again from their text: newest-first files
reversed, the last row of a duplicate time kept, bars with a missing or
non-positive price dropped, high < low and open/close outside [low, high]
counted, m_t the median of up to 5 closes on each side, spikes where
|ln(C/m)| > 10 * 1.4826 * MAD, bar size the lower median spacing, gaps
longer than 3 bars with the weekend not counted except for crypto.

Run from the repository root:  python3 tests/data/loader/recount_real.py
"""
import csv
import math
import os
from datetime import datetime, timezone
from statistics import median

R = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                 '..', '..', '..', '..', 'shared', 'data', 'real') + os.sep

def ts(y, m, d, H=0, M=0, S=0):
    return int(datetime(y, m, d, H, M, S, tzinfo=timezone.utc).timestamp())

def iso(s):
    s = s.strip()
    if len(s) == 10:
        return ts(int(s[:4]), int(s[5:7]), int(s[8:10]))
    if s.endswith('AM') or s.endswith('PM'):
        h = int(s[11:13]) % 12 + (12 if s.endswith('PM') else 0)
        return ts(int(s[:4]), int(s[5:7]), int(s[8:10]), h)
    sec = int(s[17:19]) if len(s) >= 19 else 0
    return ts(int(s[:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), sec)

def num(s):
    s = s.strip()
    if s == '' or s.lower() in ('nan', 'null'):
        return float('nan')
    mult = 1
    if s[-1] in 'KMB':
        mult = {'K': 1e3, 'M': 1e6, 'B': 1e9}[s[-1]]
        s = s[:-1]
    return float(s.replace(',', '')) * mult if mult != 1 else float(s.replace(',', ''))

def load(name):
    raw = open(R + name, 'rb').read().decode('utf-8-sig')
    lines = raw.splitlines()
    rows = []  # (t, o, h, l, c, date_t_or_None)
    if name.startswith(('EURUSD_1d.', 'GBPUSD', 'USDJPY', 'AUDUSD', 'GC_1d', 'SI_1d', 'GLD', 'SPY')):
        for r in csv.reader(lines[1:]):
            rows.append((iso(r[0]), num(r[4]), num(r[2]), num(r[3]), num(r[1]), None))
    elif name == 'USDCHF_1d.csv':
        for r in csv.reader(lines[1:], delimiter=';'):
            f = lambda x: float(x.replace(',', '.'))
            rows.append((iso(r[0]), f(r[5]), f(r[3]), f(r[4]), f(r[2]), None))
    elif name in ('EURUSD_1d_mt4.csv', 'EURUSD_1h.csv'):
        for r in csv.reader(lines[1:]):
            d = r[0]
            t = ts(int(d[:4]), int(d[5:7]), int(d[8:10]), int(d[11:13]) if len(d) > 10 else 0,
                   int(d[14:16]) if len(d) > 10 else 0)
            rows.append((t, num(r[1]), num(r[2]), num(r[3]), num(r[4]), None))
    elif name == 'XAUUSD_1h.csv':
        for r in csv.reader(lines):
            d, tm = r[0], r[1]
            t = ts(int(d[:4]), int(d[5:7]), int(d[8:10]), int(tm[:2]), int(tm[3:5]))
            rows.append((t, num(r[2]), num(r[3]), num(r[4]), num(r[5]), None))
    elif name == 'GC_1w_investing.csv':
        for r in csv.reader(lines[1:]):
            mo, dd, yy = r[0].split('/')
            rows.append((ts(int(yy), int(mo), int(dd)), num(r[2]), num(r[3]), num(r[4]), num(r[1]), None))
    else:  # CryptoDataDownload: unix, date, symbol, o, h, l, c
        start = 2 if lines[0].startswith('http') else 1
        for r in csv.reader(lines[start:]):
            u = float(r[0])
            u = int(u // 1000) if u >= 1e11 else int(u)
            try:
                dt = iso(r[1])
            except Exception:
                dt = 'bad'
            rows.append((u, num(r[3]), num(r[4]), num(r[5]), num(r[6]), dt))
    return rows

def weekend_before(t):
    s = t - 2 * 86400
    w = s // 604800
    r = s - w * 604800
    return w * 172800 + min(r, 172800)

def analyse(name, crypto):
    rows = load(name)
    n = len(rows)
    inc = sum(1 for i in range(1, n) if rows[i][0] > rows[i - 1][0])
    dec = sum(1 for i in range(1, n) if rows[i][0] < rows[i - 1][0])
    unsorted = min(inc, dec)
    mismatch = 0
    for r in rows:
        if r[5] is not None:
            if r[5] == 'bad':
                mismatch += 1
            elif len_date_only(name):
                mismatch += r[5] != r[0] // 86400 * 86400
            else:
                mismatch += r[5] != r[0]
    idx = list(range(n))
    if inc == 0 and dec > 0:
        idx.reverse()
    idx.sort(key=lambda i: rows[i][0])  # stable: ties keep order
    # keep the last in file order among equal times
    kept = []
    dups = 0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and rows[idx[j + 1]][0] == rows[idx[i]][0]:
            j += 1
        group = sorted(idx[i:j + 1])
        dups += len(group) - 1
        kept.append(group[-1])
        i = j + 1
    hl = oc = miss = nonpos = 0
    bars = []
    for k in kept:
        t, o, h, l, c, _ = rows[k]
        if any(math.isnan(x) for x in (o, h, l, c)):
            miss += 1
            continue
        if any(x <= 0 for x in (o, h, l, c)):
            nonpos += 1
            continue
        if h < l:
            hl += 1
        if o > h or o < l or c > h or c < l:
            oc += 1
        bars.append((t, c))
    times = [b[0] for b in bars]
    closes = [b[1] for b in bars]
    sp = sorted(times[i] - times[i - 1] for i in range(1, len(times)))
    bar = sp[(len(sp) - 1) // 2]
    gaps = 0
    for i in range(1, len(times)):
        d = times[i] - times[i - 1]
        if not crypto:
            d -= weekend_before(times[i]) - weekend_before(times[i - 1])
        gaps += d > 3 * bar
    m = []
    for t in range(len(closes)):
        nb = [closes[j] for j in range(max(0, t - 5), min(len(closes), t + 6)) if j != t]
        m.append(median(nb))
    r = [math.log(closes[t] / m[t]) for t in range(len(closes))]
    cen = median(r)
    mad = median(abs(x - cen) for x in r)
    spikes = sum(1 for x in r if abs(x) > 10 * 1.4826 * mad) if mad > 0 else 0
    return dict(rows=n, bars=len(bars), first=times[0], last=times[-1], duplicates=dups,
                unsorted=unsorted, high_low=hl, oc=oc, missing=miss, non_positive=nonpos,
                mismatch=mismatch, bar=bar, gaps=gaps, spikes=spikes)

def len_date_only(name):
    return name.endswith('USDT_1d.csv')

files = ['EURUSD_1d.csv', 'GBPUSD_1d.csv', 'USDJPY_1d.csv', 'AUDUSD_1d.csv', 'USDCHF_1d.csv',
         'EURUSD_1d_mt4.csv', 'EURUSD_1h.csv', 'GC_1d.csv', 'SI_1d.csv', 'GLD_1d.csv',
         'XAUUSD_1h.csv', 'GC_1w_investing.csv', 'SPY_1d.csv', 'BTCUSDT_1d.csv', 'ETHUSDT_1d.csv',
         'SOLUSDT_1d.csv', 'XRPUSDT_1d.csv', 'BTCUSD_1d.csv', 'BTCUSD_1h.csv', 'BTCUSDT_1h.csv',
         'ETHUSDT_1h.csv']
for f in files:
    crypto = 'BTC' in f or 'ETH' in f or 'SOL' in f or 'XRP' in f
    print(f, analyse(f, crypto))
