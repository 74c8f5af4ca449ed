/* Tests of the synthetic market generator (src/datagen.c).
 *
 * References used: GSL's gsl_stats_sd / gsl_stats_correlation for realised
 * volatility and Pearson correlation; Parkinson (1980), "The extreme value
 * method for estimating the variance of the rate of return", J. Business
 * 53(1): E[ln(H/L)^2] = 4 ln 2 sigma^2 for a driftless Brownian motion;
 * the C library's gmtime_r / strftime for weekdays and time strings;
 * strtod for the written numbers; cJSON for assets.json; SPEC section 3
 * for bars per year (365.25 crypto, 260 otherwise, times bars a day). */
#include "ballast/datagen.h"
#include "helpers.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_statistics_double.h>

/* ---- helpers ---------------------------------------------------------- */

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/bal-datagen-XXXXXX";
    char *p = mkdtemp(tmpl);

    cr_assert_not_null(p, "mkdtemp: %s", strerror(errno));
    return strdup(p);
}

static void rm_rf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char sub[4096];

    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    d = opendir(path);
    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static int same_file(const char *d1, const char *d2, const char *name)
{
    size_t n1, n2;
    char *a = slurp(d1, name, &n1), *b = slurp(d2, name, &n2);
    int same = n1 == n2 && memcmp(a, b, n1) == 0;

    free(a);
    free(b);
    return same;
}

static int exists(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;

    int len = snprintf(path, sizeof(path), "%s/%s", dir, name);

    cr_assert(len > 0 && (size_t)len < sizeof(path), "path too long");
    return stat(path, &st) == 0;
}

static void gen(bal_datagen_market *m, const bal_datagen_options *o)
{
    bal_error err = BAL_ERROR_INIT;
    int rc = bal_datagen_generate(m, o, &err);

    cr_assert_eq(rc, BAL_OK, "generate: %s", err.msg);
}

/* Time strings by the C library, independently of bal_timefmt. */
static void ref_time(char buf[32], int64_t t, int date_only)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, 32, date_only ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int weekday(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    return tm.tm_wday;     /* 0 = Sunday */
}

static size_t step_of(const bal_datagen_market *m, int64_t t)
{
    return (size_t)((t - m->start) / m->bar_seconds);
}

static size_t find_asset(const bal_datagen_market *m, const char *sym)
{
    size_t i;

    for (i = 0; i < m->n_assets; i++)
        if (!strcmp(m->assets[i].symbol, sym))
            return i;
    cr_assert_fail("no asset %s", sym);
    return 0;
}

/* ---- defaults, symbols, determinism ----------------------------------- */

Test(datagen, default_options_are_the_sample_preset)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    char first[32], last[32];

    cr_assert_eq(o.n_assets, 8);
    cr_assert_eq(o.bar_seconds, 86400);
    cr_assert_eq(o.seed, 42UL);
    /* 2019-01-01: 49 years after 1970 with 12 leap days (1972..2016),
     * (49 * 365 + 12) * 86400 = 1546300800. */
    cr_assert_eq(o.start, 1546300800);
    gen(&m, NULL);
    cr_assert_eq(m.steps, o.steps);
    ref_time(first, m.start, 1);
    ref_time(last, m.start + (int64_t)(m.steps - 1) * m.bar_seconds, 1);
    cr_assert_str_eq(first, "2019-01-01");
    cr_assert_str_eq(last, "2024-12-31");   /* six whole years */
    bal_datagen_release(&m);
}

Test(datagen, symbols_classes_and_start_levels_follow_the_documented_list)
{
    static const char *const want[] = {
        "EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "XAUUSD", "XAGUSD",
        "BTCUSD", "ETHUSD", "CHFUSD", "XPTUSD", "LTCUSD", "CADUSD",
        "XPDUSD", "XRPUSD", "JPYUSD", "BCHUSD", "FX17USD", "MT18USD",
        "CR19USD", "FX20USD", "MT21USD", "CR22USD"
    };
    static const char *const cls[] = {
        "forex", "forex", "forex", "forex", "metal", "metal", "crypto",
        "crypto", "forex", "metal", "crypto", "forex", "metal", "crypto",
        "forex", "crypto", "forex", "metal", "crypto", "forex", "metal",
        "crypto"
    };
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    size_t i;

    o.n_assets = 22;
    o.steps = 30;
    gen(&m, &o);
    cr_assert_eq(m.n_assets, 22);
    for (i = 0; i < 22; i++) {
        cr_assert_str_eq(m.assets[i].symbol, want[i]);
        cr_assert_str_eq(m.assets[i].asset_class, cls[i], "%s",
                         want[i]);
    }
    /* Realistic levels near 2019-01-01 (brief: EURUSD ~1.15, XAUUSD
     * ~1300, BTCUSD ~4000). */
    assert_rel(m.assets[0].start_price, 1.15, 0.05);
    assert_rel(m.assets[4].start_price, 1300.0, 0.05);
    assert_rel(m.assets[6].start_price, 4000.0, 0.05);
    assert_rel(m.assets[0].open[0], m.assets[0].start_price, 0.01);
    bal_datagen_release(&m);
}

Test(datagen, many_assets_get_unique_usd_quoted_symbols)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    size_t i, j, len;

    o.n_assets = BAL_DATAGEN_MAX_ASSETS;
    o.steps = 3;
    gen(&m, &o);
    for (i = 0; i < m.n_assets; i++) {
        len = strlen(m.assets[i].symbol);
        cr_assert(len >= 6 && len < sizeof(m.assets[i].symbol));
        cr_assert_str_eq(m.assets[i].symbol + len - 3, "USD");
        for (j = 0; j < i; j++)
            cr_assert_str_neq(m.assets[i].symbol, m.assets[j].symbol);
    }
    /* index 999: (999 - 16) mod 3 = 2, the crypto slot */
    cr_assert_str_eq(m.assets[999].symbol, "CR1000USD");
    bal_datagen_release(&m);
}

Test(datagen, same_seed_writes_identical_bytes)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_error err = BAL_ERROR_INIT;
    char *d1 = make_tmpdir(), *d2 = make_tmpdir();
    char name[32];
    size_t i;

    o.n_assets = 10;
    o.steps = 500;
    o.seed = 9173;
    cr_assert_eq(bal_datagen_write(d1, &o, &err), BAL_OK, "%s", err.msg);
    cr_assert_eq(bal_datagen_write(d2, &o, &err), BAL_OK, "%s", err.msg);
    cr_assert(same_file(d1, d2, "regimes.csv"));
    cr_assert(same_file(d1, d2, "assets.json"));
    for (i = 0; i < 10; i++) {
        bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;

        gen(&m, &o);
        snprintf(name, sizeof(name), "%s.csv", m.assets[i].symbol);
        bal_datagen_release(&m);
        cr_assert(same_file(d1, d2, name), "%s differs", name);
    }
    rm_rf(d1);
    rm_rf(d2);
    free(d1);
    free(d2);
}

Test(datagen, different_seed_gives_a_different_market)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market a = BAL_DATAGEN_MARKET_INIT;
    bal_datagen_market b = BAL_DATAGEN_MARKET_INIT;
    size_t i, same = 0;

    gen(&a, &o);
    o.seed = 43;
    gen(&b, &o);
    for (i = 0; i < a.n_assets; i++) {
        cr_assert_eq(a.assets[i].n, b.assets[i].n);   /* same calendar */
        same += memcmp(a.assets[i].close, b.assets[i].close,
                       a.assets[i].n * sizeof(double)) == 0;
    }
    cr_assert_eq(same, 0);
    cr_assert(memcmp(a.regime, b.regime, a.steps) != 0);
    bal_datagen_release(&a);
    bal_datagen_release(&b);
}

/* GSL's documented seeding rule: seed 0 means mt19937's default 4357. */
Test(datagen, seed_zero_is_gsl_default_seed)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market a = BAL_DATAGEN_MARKET_INIT;
    bal_datagen_market b = BAL_DATAGEN_MARKET_INIT;

    o.steps = 200;
    o.seed = 0;
    gen(&a, &o);
    o.seed = 4357;
    gen(&b, &o);
    cr_assert(memcmp(a.assets[6].close, b.assets[6].close,
                     a.assets[6].n * sizeof(double)) == 0);
    bal_datagen_release(&a);
    bal_datagen_release(&b);
}

Test(datagen, regime_chain_does_not_depend_on_the_number_of_assets)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market a = BAL_DATAGEN_MARKET_INIT;
    bal_datagen_market b = BAL_DATAGEN_MARKET_INIT;

    o.n_assets = 3;
    gen(&a, &o);
    o.n_assets = 17;
    gen(&b, &o);
    cr_assert(memcmp(a.regime, b.regime, a.steps) == 0);
    bal_datagen_release(&a);
    bal_datagen_release(&b);
}

/* ---- bars ------------------------------------------------------------- */

static void check_bars(const bal_datagen_market *m)
{
    size_t i, j;

    for (i = 0; i < m->n_assets; i++) {
        const bal_datagen_series *s = &m->assets[i];

        for (j = 0; j < s->n; j++) {
            double o = s->open[j], h = s->high[j], l = s->low[j];
            double c = s->close[j], v = s->volume[j];

            cr_assert(isfinite(o) && isfinite(h) && isfinite(l)
                          && isfinite(c) && isfinite(v));
            cr_assert(l > 0.0, "%s bar %zu: low %.17g", s->symbol, j, l);
            cr_assert(h >= fmax(o, c) && l <= fmin(o, c),
                      "%s bar %zu: o %.17g h %.17g l %.17g c %.17g",
                      s->symbol, j, o, h, l, c);
            cr_assert(v >= 1.0 && v == floor(v));
            cr_assert_eq((s->time[j] - m->start) % m->bar_seconds, 0);
            if (j > 0)
                cr_assert_gt(s->time[j], s->time[j - 1]);
        }
    }
}

Test(datagen, every_bar_satisfies_ohlc_invariants)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;

    o.n_assets = 25;         /* includes JPYUSD, XRPUSD and made-up names */
    o.seed = 31337;
    o.steps = 40 * 365;      /* decades: prices wander far from the start */
    gen(&m, &o);
    check_bars(&m);
    bal_datagen_release(&m);
    o.bar_seconds = 3600;
    o.steps = 24 * 200;
    o.start = 1546300800 + 5 * 3600;
    gen(&m, &o);
    check_bars(&m);
    bal_datagen_release(&m);
}

Test(datagen, weekday_markets_skip_weekends_and_crypto_trades_every_day)
{
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    size_t i, j, k, weekdays = 0;

    gen(&m, NULL);
    for (k = 0; k < m.steps; k++) {
        int wd = weekday(m.start + (int64_t)k * 86400);

        weekdays += wd >= 1 && wd <= 5;
    }
    for (i = 0; i < m.n_assets; i++) {
        const bal_datagen_series *s = &m.assets[i];

        if (!strcmp(s->asset_class, "crypto")) {
            cr_assert_eq(s->n, m.steps, "%s", s->symbol);
            for (j = 0; j < s->n; j++)
                cr_assert_eq(s->time[j], m.start + (int64_t)j * 86400);
            continue;
        }
        cr_assert_eq(s->n, weekdays, "%s", s->symbol);
        for (j = 0; j < s->n; j++) {
            int wd = weekday(s->time[j]);

            cr_assert(wd >= 1 && wd <= 5, "%s trades on day %d",
                      s->symbol, wd);
        }
    }
    bal_datagen_release(&m);
}

Test(datagen, hourly_weekday_markets_trade_sunday_2200_to_friday_2200)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    size_t i, j;

    o.bar_seconds = 3600;
    o.start = 1546819200;       /* 2019-01-07, a Monday, 00:00 UTC */
    o.steps = 21 * 24;          /* three whole weeks */
    gen(&m, &o);
    cr_assert_eq(weekday(o.start), 1);
    for (i = 0; i < m.n_assets; i++) {
        const bal_datagen_series *s = &m.assets[i];

        if (!strcmp(s->asset_class, "crypto")) {
            cr_assert_eq(s->n, m.steps);
            continue;
        }
        /* Sun 22:00 .. Fri 22:00 is 5 x 24 = 120 hours a week. */
        cr_assert_eq(s->n, 3 * 120, "%s has %zu bars", s->symbol, s->n);
        for (j = 0; j < s->n; j++) {
            time_t tt = (time_t)s->time[j];
            struct tm tm;

            gmtime_r(&tt, &tm);
            cr_assert(tm.tm_wday != 6);
            cr_assert(!(tm.tm_wday == 5 && tm.tm_hour >= 22));
            cr_assert(!(tm.tm_wday == 0 && tm.tm_hour < 22));
        }
    }
    bal_datagen_release(&m);
}

/* ---- statistics ------------------------------------------------------- */

/* Realised calm volatility (close to close, and Parkinson from high/low)
 * within 15 % of the configured one. */
static void check_calm_vol(const bal_datagen_market *m)
{
    size_t i, j, n;

    for (i = 0; i < m->n_assets; i++) {
        const bal_datagen_series *s = &m->assets[i];
        int crypto = !strcmp(s->asset_class, "crypto");
        double bpy = (crypto ? 365.25 : 260.0) * 86400.0
            / (double)m->bar_seconds;
        double *r = malloc(s->n * sizeof(double)), park = 0.0;
        double sd, vol_park;

        cr_assert_not_null(r);
        assert_rel(s->bars_per_year, bpy, 1e-15);
        for (n = 0, j = 1; j < s->n; j++) {
            if (m->regime[step_of(m, s->time[j])] != BAL_DATAGEN_CALM)
                continue;
            r[n++] = log(s->close[j] / s->close[j - 1]);
            park += pow(log(s->high[j] / s->low[j]), 2);
        }
        cr_assert_gt(n, 300);
        sd = gsl_stats_sd(r, 1, n) * sqrt(bpy);
        vol_park = sqrt(park / (double)n / (4.0 * log(2.0)) * bpy);
        assert_rel(sd, s->annual_vol, 0.15);
        assert_rel(vol_park, s->annual_vol, 0.15);
        free(r);
    }
}

Test(datagen, calm_volatility_matches_the_configured_vol)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    size_t i;

    gen(&m, NULL);
    for (i = 0; i < m.n_assets; i++) {
        const bal_datagen_series *s = &m.assets[i];
        double lo = 0.50, hi = 0.80;       /* crypto, per the brief */

        if (!strcmp(s->asset_class, "forex")) {
            lo = 0.06;
            hi = 0.12;
        } else if (!strcmp(s->asset_class, "metal")) {
            lo = 0.15;
            hi = 0.25;
        }
        cr_assert(s->annual_vol >= lo && s->annual_vol <= hi, "%s: %g",
                  s->symbol, s->annual_vol);
    }
    check_calm_vol(&m);
    bal_datagen_release(&m);
    o.bar_seconds = 3600;
    o.steps = 24 * 365;
    o.seed = 5;
    gen(&m, &o);
    check_calm_vol(&m);
    bal_datagen_release(&m);
}

/* Shock spells: about 3x the calm volatility (2x..4x allowed). */
Test(datagen, shock_volatility_is_about_three_times_calm)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    size_t i, j, nc, ns;

    o.steps = 30 * 365;
    o.seed = 2024;
    gen(&m, &o);
    for (i = 0; i < m.n_assets; i++) {
        const bal_datagen_series *s = &m.assets[i];
        double *rc = malloc(s->n * sizeof(double));
        double *rs = malloc(s->n * sizeof(double));
        double ratio;

        cr_assert(rc && rs);
        for (nc = ns = 0, j = 1; j < s->n; j++) {
            int g = m.regime[step_of(&m, s->time[j])];
            double r = log(s->close[j] / s->close[j - 1]);

            if (g == BAL_DATAGEN_CALM)
                rc[nc++] = r;
            else if (g == BAL_DATAGEN_SHOCK)
                rs[ns++] = r;
        }
        cr_assert_gt(ns, 100);
        ratio = gsl_stats_sd(rs, 1, ns) / gsl_stats_sd(rc, 1, nc);
        cr_assert(ratio > 2.0 && ratio < 4.0, "%s: %g", s->symbol, ratio);
        free(rc);
        free(rs);
    }
    bal_datagen_release(&m);
}

/* Correlation of a and b's one-bar log returns over the bars j >= 1 at
 * which both have a bar at the same time as at j - 1 and the regime is
 * `regime` (a and b must trade on the same calendar or be aligned by
 * time: bars are matched by timestamp). */
static double pair_corr(const bal_datagen_market *m, size_t ia, size_t ib,
                        int regime, size_t *n_out)
{
    const bal_datagen_series *a = &m->assets[ia], *b = &m->assets[ib];
    double *x = malloc(a->n * sizeof(double));
    double *y = malloc(a->n * sizeof(double));
    size_t i, j = 0, n = 0;
    double rho;

    cr_assert(x && y);
    for (i = 1; i < a->n; i++) {
        while (j < b->n && b->time[j] < a->time[i])
            j++;
        if (j >= b->n)
            break;
        if (b->time[j] != a->time[i] || j == 0
            || b->time[j - 1] != a->time[i - 1]
            || m->regime[step_of(m, a->time[i])] != regime)
            continue;
        x[n] = log(a->close[i] / a->close[i - 1]);
        y[n] = log(b->close[j] / b->close[j - 1]);
        n++;
    }
    rho = gsl_stats_correlation(x, 1, y, 1, n);
    free(x);
    free(y);
    *n_out = n;
    return rho;
}

Test(datagen, correlations_have_blocks_and_rise_in_shocks)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    double calm = 0.0, shock = 0.0, rc, rs;
    size_t i, j, n, pairs = 0;

    o.steps = 30 * 365;
    o.seed = 2024;
    gen(&m, &o);
    /* All 28 pairs of the 8 assets, matched by timestamp. */
    for (i = 0; i < m.n_assets; i++) {
        for (j = i + 1; j < m.n_assets; j++) {
            calm += pair_corr(&m, i, j, BAL_DATAGEN_CALM, &n);
            cr_assert_gt(n, 1000);
            shock += pair_corr(&m, i, j, BAL_DATAGEN_SHOCK, &n);
            cr_assert_gt(n, 100);
            pairs++;
        }
    }
    calm /= (double)pairs;
    shock /= (double)pairs;
    cr_assert(shock > calm + 0.2, "mean calm %g, shock %g", calm, shock);
    cr_assert(shock > 0.6, "mean shock correlation %g", shock);
    /* Blocks in calm: forex together, metals together, crypto together,
     * weak links across. */
    rc = pair_corr(&m, find_asset(&m, "EURUSD"), find_asset(&m, "GBPUSD"),
                   BAL_DATAGEN_CALM, &n);
    cr_assert(rc > 0.35, "EURUSD/GBPUSD %g", rc);
    rc = pair_corr(&m, find_asset(&m, "XAUUSD"), find_asset(&m, "XAGUSD"),
                   BAL_DATAGEN_CALM, &n);
    cr_assert(rc > 0.5, "XAUUSD/XAGUSD %g", rc);
    rc = pair_corr(&m, find_asset(&m, "BTCUSD"), find_asset(&m, "ETHUSD"),
                   BAL_DATAGEN_CALM, &n);
    cr_assert(rc > 0.5, "BTCUSD/ETHUSD %g", rc);
    rc = pair_corr(&m, find_asset(&m, "EURUSD"), find_asset(&m, "BTCUSD"),
                   BAL_DATAGEN_CALM, &n);
    cr_assert(fabs(rc) < 0.25, "EURUSD/BTCUSD %g", rc);
    rs = pair_corr(&m, find_asset(&m, "EURUSD"), find_asset(&m, "BTCUSD"),
                   BAL_DATAGEN_SHOCK, &n);
    cr_assert(rs > rc + 0.25, "EURUSD/BTCUSD calm %g shock %g", rc, rs);
    rc = pair_corr(&m, find_asset(&m, "XAUUSD"), find_asset(&m, "ETHUSD"),
                   BAL_DATAGEN_CALM, &n);
    cr_assert(fabs(rc) < 0.25, "XAUUSD/ETHUSD %g", rc);
    bal_datagen_release(&m);
}

/* ---- regimes ---------------------------------------------------------- */

/* Every step labelled; spells within the documented day ranges (calm
 * 20..120, trending 15..90, shock 3..14; the last spell may be cut);
 * shock rare, calm the most common. */
static void check_regimes(const bal_datagen_market *m)
{
    static const size_t lo[3] = { 20, 15, 3 }, hi[3] = { 120, 90, 14 };
    size_t per_day = (size_t)(86400 / m->bar_seconds);
    size_t count[3] = { 0, 0, 0 }, spells[3] = { 0, 0, 0 };
    size_t k, run = 0;

    cr_assert_not_null(m->regime);
    cr_assert_eq(m->regime[0], BAL_DATAGEN_CALM);
    for (k = 0; k < m->steps; k++) {
        int g = m->regime[k];

        cr_assert(g >= 0 && g <= 2, "step %zu: %d", k, g);
        count[g]++;
        run++;
        if (k + 1 < m->steps && m->regime[k + 1] == g)
            continue;
        spells[g]++;
        cr_assert_eq(run % per_day, 0);
        if (k + 1 < m->steps)
            cr_assert(run >= lo[g] * per_day && run <= hi[g] * per_day,
                      "%s spell of %zu steps", bal_datagen_regime_name(g),
                      run);
        run = 0;
    }
    cr_assert(spells[0] > 0 && spells[1] > 0 && spells[2] > 0);
    cr_assert_lt((double)count[2] / (double)m->steps, 0.10);
    cr_assert_gt(count[0], count[1]);
    cr_assert_gt(count[0], count[2]);
}

Test(datagen, regimes_cover_every_step_and_shock_is_rare)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;

    gen(&m, NULL);
    check_regimes(&m);
    bal_datagen_release(&m);
    o.bar_seconds = 3600;
    o.steps = 24 * 2192;
    gen(&m, &o);
    check_regimes(&m);
    bal_datagen_release(&m);
}

Test(datagen, regime_names)
{
    cr_assert_str_eq(bal_datagen_regime_name(BAL_DATAGEN_CALM), "calm");
    cr_assert_str_eq(bal_datagen_regime_name(BAL_DATAGEN_TRENDING),
                     "trending");
    cr_assert_str_eq(bal_datagen_regime_name(BAL_DATAGEN_SHOCK), "shock");
    cr_assert_null(bal_datagen_regime_name((bal_datagen_regime)7));
}

/* ---- files ------------------------------------------------------------ */

/* Splits buf in place into lines; returns the count. */
static size_t split_lines(char *buf, char ***out)
{
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof(*v)), *p = buf, *nl;

    cr_assert_not_null(v);
    while (*p) {
        nl = strchr(p, '\n');
        cr_assert_not_null(nl, "line without a final newline");
        *nl = '\0';
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof(*v));
            cr_assert_not_null(v);
        }
        v[n++] = p;
        p = nl + 1;
    }
    *out = v;
    return n;
}

static double field_num(char **p)
{
    char *end, *f = *p;
    double x;

    errno = 0;
    x = strtod(f, &end);
    cr_assert(end != f && errno == 0, "bad number '%s'", f);
    cr_assert(*end == ',' || *end == '\0', "junk after number in '%s'", f);
    cr_assert_null(memchr(f, 'e', (size_t)(end - f)), "exponent: %s", f);
    cr_assert_null(memchr(f, 'E', (size_t)(end - f)), "exponent: %s", f);
    *p = *end ? end + 1 : end;
    return x;
}

static void check_files(const bal_datagen_options *o)
{
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    bal_error err = BAL_ERROR_INIT;
    char *dir = make_tmpdir(), name[32], want[32], **lines, *buf, *p;
    int date_only = o->bar_seconds == 86400;
    size_t i, j, n, len;
    cJSON *json, *item;

    gen(&m, o);
    cr_assert_eq(bal_datagen_write(dir, o, &err), BAL_OK, "%s", err.msg);
    for (i = 0; i < m.n_assets; i++) {
        const bal_datagen_series *s = &m.assets[i];

        snprintf(name, sizeof(name), "%s.csv", s->symbol);
        buf = slurp(dir, name, &len);
        cr_assert_null(memchr(buf, '\r', len));
        n = split_lines(buf, &lines);
        cr_assert_eq(n, s->n + 1, "%s: %zu lines", name, n);
        cr_assert_str_eq(lines[0], "time,open,high,low,close,volume");
        for (j = 0; j < s->n; j++) {
            p = strchr(lines[j + 1], ',');
            cr_assert_not_null(p);
            *p++ = '\0';
            ref_time(want, s->time[j], date_only);
            cr_assert_str_eq(lines[j + 1], want);
            cr_assert(field_num(&p) == s->open[j], "%s:%zu", name, j + 2);
            cr_assert(field_num(&p) == s->high[j], "%s:%zu", name, j + 2);
            cr_assert(field_num(&p) == s->low[j], "%s:%zu", name, j + 2);
            cr_assert(field_num(&p) == s->close[j], "%s:%zu", name, j + 2);
            cr_assert(field_num(&p) == s->volume[j], "%s:%zu", name,
                      j + 2);
            cr_assert_eq(*p, '\0');
        }
        free(lines);
        free(buf);
    }
    buf = slurp(dir, "regimes.csv", NULL);
    n = split_lines(buf, &lines);
    cr_assert_eq(n, m.steps + 1);
    cr_assert_str_eq(lines[0], "time,regime");
    for (j = 0; j < m.steps; j++) {
        char row[64];

        ref_time(want, m.start + (int64_t)j * m.bar_seconds, date_only);
        snprintf(row, sizeof(row), "%s,%s", want,
                 bal_datagen_regime_name(m.regime[j]));
        cr_assert_str_eq(lines[j + 1], row);
    }
    free(lines);
    free(buf);
    buf = slurp(dir, "assets.json", NULL);
    json = cJSON_Parse(buf);
    cr_assert_not_null(json, "assets.json is not JSON");
    cr_assert(cJSON_IsArray(json));
    cr_assert_eq((size_t)cJSON_GetArraySize(json), m.n_assets);
    i = 0;
    cJSON_ArrayForEach(item, json) {
        const cJSON *sym = cJSON_GetObjectItemCaseSensitive(item, "symbol");
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(item, "file");
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(item, "class");

        cr_assert(cJSON_IsString(sym) && cJSON_IsString(file)
                  && cJSON_IsString(cls));
        cr_assert_eq(cJSON_GetArraySize(item), 3);
        cr_assert_str_eq(sym->valuestring, m.assets[i].symbol);
        snprintf(name, sizeof(name), "%s.csv", m.assets[i].symbol);
        cr_assert_str_eq(file->valuestring, name);
        cr_assert(exists(dir, file->valuestring));
        cr_assert_str_eq(cls->valuestring, m.assets[i].asset_class);
        i++;
    }
    cJSON_Delete(json);
    free(buf);
    bal_datagen_release(&m);
    rm_rf(dir);
    free(dir);
}

Test(datagen, written_daily_files_read_back_to_the_generated_market)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;

    check_files(&o);
}

Test(datagen, written_hourly_files_read_back_to_the_generated_market)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;

    o.bar_seconds = 3600;
    o.n_assets = 16;            /* small prices: JPYUSD, XRPUSD */
    o.steps = 24 * 45;
    o.seed = 77;
    o.start = 1546300800 + 7 * 3600;
    check_files(&o);
}

Test(datagen, write_creates_missing_parent_directories)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_error err = BAL_ERROR_INIT;
    char *root = make_tmpdir(), dir[4096];

    o.steps = 20;
    o.n_assets = 2;
    snprintf(dir, sizeof(dir), "%s/a/b/c/", root);
    cr_assert_eq(bal_datagen_write(dir, &o, &err), BAL_OK, "%s", err.msg);
    cr_assert(exists(dir, "EURUSD.csv") && exists(dir, "GBPUSD.csv")
              && exists(dir, "regimes.csv") && exists(dir, "assets.json"));
    cr_assert(!exists(dir, "XAUUSD.csv"));
    rm_rf(root);
    free(root);
}

/* ---- errors ----------------------------------------------------------- */

/* One option out of range per case; the market stays empty. */
static void expect_einval(const bal_datagen_options *o, const char *what)
{
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    bal_error err = BAL_ERROR_INIT;

    cr_assert_eq(bal_datagen_generate(&m, o, &err), BAL_EINVAL, "%s", what);
    cr_assert_eq(err.code, BAL_EINVAL, "%s", what);
    cr_assert(err.msg[0] != '\0', "%s", what);
    cr_assert_null(m.assets, "%s", what);
    cr_assert_null(m.regime, "%s", what);
    err.code = BAL_OK;
    cr_assert_eq(bal_datagen_write("/nonexistent-never/x", o, &err),
                 BAL_EINVAL, "%s", what);
}

Test(datagen, out_of_range_options_are_rejected)
{
    const bal_datagen_options def = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_options o;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    bal_error err = BAL_ERROR_INIT;

    o = def;
    o.n_assets = 0;
    expect_einval(&o, "no assets");
    bal_datagen_generate(&m, &o, &err);
    cr_assert_str_eq(err.msg, "number of assets must be 1..1000, got 0");
    o = def;
    o.n_assets = BAL_DATAGEN_MAX_ASSETS + 1;
    expect_einval(&o, "too many assets");
    o = def;
    o.bar_seconds = 60;
    expect_einval(&o, "minute bars");
    o = def;
    o.steps = 0;
    expect_einval(&o, "no steps");
    o = def;
    o.steps = (size_t)(BAL_DATAGEN_MAX_SECONDS / 86400) + 1;
    expect_einval(&o, "over 100 years");
#if ULONG_MAX > 0xffffffffUL
    o = def;
    o.seed = 0x100000000UL;
    expect_einval(&o, "seed over 32 bits");
#endif
    o = def;
    o.start += 3600;            /* daily bars must start at midnight */
    expect_einval(&o, "daily start at 01:00");
    o = def;
    o.bar_seconds = 3600;
    o.start += 1800;
    expect_einval(&o, "hourly start at :30");
    o = def;
    o.start = -86400;
    expect_einval(&o, "before 1970");
    o = def;
    o.start = 253402214400;     /* 9999-12-31: the 2192 days run past it */
    expect_einval(&o, "past year 9999");
    /* The last hour that still ends before the year 10000 is accepted. */
    o = def;
    o.bar_seconds = 3600;
    o.steps = 1;
    o.start = 253402300800 - 3600;
    gen(&m, &o);
    bal_datagen_release(&m);
}

Test(datagen, release_accepts_null_and_empty_markets)
{
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;

    bal_datagen_release(NULL);
    bal_datagen_release(&m);
    gen(&m, NULL);
    bal_datagen_release(&m);
    cr_assert_null(m.assets);
    cr_assert_eq(m.n_assets, 0);
    bal_datagen_release(&m);
}

Test(datagen, write_fails_when_a_parent_is_a_file)
{
    bal_error err = BAL_ERROR_INIT;
    char *root = make_tmpdir(), file[1024], dir[4096];
    FILE *f;

    snprintf(file, sizeof(file), "%s/plain", root);
    f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(dir, sizeof(dir), "%s/sub/out", file);
    cr_assert_eq(bal_datagen_write(dir, NULL, &err), BAL_EIO);
    cr_assert_eq(err.code, BAL_EIO);
    snprintf(dir, sizeof(dir), "%s/sub", file);
    cr_assert_str_eq(err.path, dir);
    cr_assert_str_eq(err.msg, "cannot create directory: Not a directory");
    rm_rf(root);
    free(root);
}

Test(datagen, write_fails_when_dir_is_a_file)
{
    bal_error err = BAL_ERROR_INIT;
    char *root = make_tmpdir(), file[4096];
    FILE *f;

    snprintf(file, sizeof(file), "%s/plain", root);
    f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(bal_datagen_write(file, NULL, &err), BAL_EIO);
    cr_assert_str_eq(err.path, file);
    cr_assert_str_eq(err.msg,
                     "cannot use as output directory: Not a directory");
    rm_rf(root);
    free(root);
}

/* A non-empty directory where GBPUSD.csv goes: rename fails. The files
 * already written are complete, and no temporary file is left behind. */
Test(datagen, write_fails_when_the_target_cannot_be_replaced)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_error err = BAL_ERROR_INIT;
    char *dir = make_tmpdir(), path[4096];
    DIR *d;
    struct dirent *e;

    o.steps = 50;
    snprintf(path, sizeof(path), "%s/GBPUSD.csv", dir);
    cr_assert_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof(path), "%s/GBPUSD.csv/keep", dir);
    cr_assert_eq(mkdir(path, 0777), 0);
    cr_assert_eq(bal_datagen_write(dir, &o, &err), BAL_EIO);
    snprintf(path, sizeof(path), "%s/GBPUSD.csv", dir);
    cr_assert_str_eq(err.path, path);
    cr_assert(!strncmp(err.msg, "cannot rename temporary file into place: ",
                       41), "%s", err.msg);
    cr_assert(exists(dir, "EURUSD.csv"));
    cr_assert(!exists(dir, "assets.json"));     /* written last */
    d = opendir(dir);
    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        cr_assert_null(strstr(e->d_name, ".tmp"), "left %s", e->d_name);
    closedir(d);
    rm_rf(dir);
    free(dir);
}

/* The temporary name is taken by a non-empty directory: the file cannot be
 * created, and the earlier complete file under the final name survives. */
Test(datagen, write_fails_when_the_temporary_file_cannot_be_created)
{
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_error err = BAL_ERROR_INIT;
    char *dir = make_tmpdir(), path[4096], *before, *after;
    size_t n1, n2;

    o.steps = 60;
    cr_assert_eq(bal_datagen_write(dir, &o, &err), BAL_OK, "%s", err.msg);
    before = slurp(dir, "XAUUSD.csv", &n1);
    snprintf(path, sizeof(path), "%s/.XAUUSD.csv.tmp%ld", dir,
             (long)getpid());
    cr_assert_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof(path), "%s/.XAUUSD.csv.tmp%ld/x", dir,
             (long)getpid());
    cr_assert_eq(mkdir(path, 0777), 0);
    o.seed = 1234;
    cr_assert_eq(bal_datagen_write(dir, &o, &err), BAL_EIO);
    snprintf(path, sizeof(path), "%s/XAUUSD.csv", dir);
    cr_assert_str_eq(err.path, path);
    cr_assert_str_eq(err.msg, "cannot create file: File exists");
    after = slurp(dir, "XAUUSD.csv", &n2);
    cr_assert(n1 == n2 && memcmp(before, after, n1) == 0);
    free(before);
    free(after);
    rm_rf(dir);
    free(dir);
}
