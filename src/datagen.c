#include "ballast/datagen.h"
#include "ballast/numfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* Byte-identical output across compilers: never fuse a*b+c into an FMA
 * (clang contracts by default; gcc does not in ISO C mode). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

enum { CLS_FOREX, CLS_METAL, CLS_CRYPTO, N_CLASSES };
static const char *const class_names[N_CLASSES] = { "forex", "metal",
                                                    "crypto" };

/* Named assets, in the order they are handed out. Start levels are close to
 * the markets' own on 2019-01-01; decimals are the usual quote precision. */
struct asset_spec {
    const char *symbol;
    int cls;
    double vol;         /* annual calm vol of log returns */
    double price;       /* start level */
    int decimals;       /* price tick 10^-decimals */
    int commodity_fx;   /* AUD, NZD, CAD: an extra shared factor */
};

static const struct asset_spec named_assets[] = {
    { "EURUSD", CLS_FOREX, 0.07, 1.1467, 5, 0 },
    { "GBPUSD", CLS_FOREX, 0.09, 1.2756, 5, 0 },
    { "AUDUSD", CLS_FOREX, 0.10, 0.7043, 5, 1 },
    { "NZDUSD", CLS_FOREX, 0.11, 0.6716, 5, 1 },
    { "XAUUSD", CLS_METAL, 0.15, 1282.5, 2, 0 },
    { "XAGUSD", CLS_METAL, 0.25, 15.49, 3, 0 },
    { "BTCUSD", CLS_CRYPTO, 0.70, 3843.5, 2, 0 },
    { "ETHUSD", CLS_CRYPTO, 0.80, 140.8, 2, 0 },
    { "CHFUSD", CLS_FOREX, 0.08, 1.0167, 5, 0 },
    { "XPTUSD", CLS_METAL, 0.22, 795.0, 2, 0 },
    { "LTCUSD", CLS_CRYPTO, 0.80, 31.0, 3, 0 },
    { "CADUSD", CLS_FOREX, 0.07, 0.733, 5, 1 },
    { "XPDUSD", CLS_METAL, 0.25, 1260.0, 2, 0 },
    { "XRPUSD", CLS_CRYPTO, 0.80, 0.352, 5, 0 },
    { "JPYUSD", CLS_FOREX, 0.08, 0.009124, 7, 0 },
    { "BCHUSD", CLS_CRYPTO, 0.80, 160.0, 2, 0 },
};
#define N_NAMED (sizeof(named_assets) / sizeof(named_assets[0]))

#define MAX_SEED 4294967295UL       /* gsl_rng_mt19937 keeps 32 bits */
#define MAX_TIME 253402300800LL     /* 10000-01-01: four-digit years */

/* Bars a year by class (SPEC section 3): 365.25 days for crypto, 260
 * weekdays for Mon..Fri markets; times bars a day. */
#define DAYS_CRYPTO 365.25
#define DAYS_WEEKDAY 260.0

/* Regime spells: durations in whole days, drawn uniformly; the jump chain
 * moves to next_a with probability p_a, else to next_b. The time share in
 * shock is about 4 % (stationary jump chain 1 : 0.91 : 0.53 for calm :
 * trending : shock, times mean durations 70, 52.5 and 8.5 days). */
static const struct spell_rule {
    unsigned long lo, hi;
    unsigned char next_a, next_b;
    double p_a;
} spell_rules[3] = {
    { 20, 120, BAL_DATAGEN_TRENDING, BAL_DATAGEN_SHOCK, 0.70 },
    { 15, 90, BAL_DATAGEN_CALM, BAL_DATAGEN_SHOCK, 0.75 },
    { 3, 14, BAL_DATAGEN_CALM, BAL_DATAGEN_TRENDING, 0.60 },
};

static const double vol_mult[3] = { 1.0, 1.0, 3.0 };   /* by regime */
#define SHOCK_CORR 0.8          /* correlations in shock move toward it */
#define SHOCK_PULL 0.75         /* ... by this share of the distance */
#define TREND_SHARPE_LO 2.0     /* |annual drift| / vol in a trend */
#define TREND_SHARPE_HI 4.0
#define TREND_AGAINST 0.15      /* chance an asset goes against its class */
#define MEAN_REVERSION 0.1      /* a year, on log(price / start) */
#define GAP_SHARE 0.02          /* open gap sd / bar sd */
#define GAP_SHARE_REOPEN 0.25   /* ... on the first bar after a closure */
#define MIN_SIGNIFICANT 1e4     /* ticks keep >= 5 significant digits */
#define MAX_DECIMALS 15
#define VOLUME_SD 0.3           /* log-normal noise on volume */
#define VOLUME_SHOCK 2.0        /* volume multiplier in shock */
/* Mean volume per calendar day by class (spread over the bars a market
 * trades, so a weekday market trades 365.25 / 260 of it a session). */
static const double base_volume[N_CLASSES] = { 90000, 60000, 25000 };

/* Factor loadings: USD, forex, commodity forex, metal, crypto. A
 * correlation matrix L L' with its diagonal set to 1 is positive definite
 * whenever every |L_i| < 1 (it is L L' plus a positive diagonal). */
#define N_FACTORS 5

static const double pow10_tab[MAX_DECIMALS + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15
};

struct asset_state {
    struct asset_spec spec;
    double bars_per_year;
    double log_start;
    double log_prev;        /* log of the last close */
    double prev_close;
    double trend;           /* annual log drift of the current trend */
    int closed;             /* market closed since the last bar */
};

static void spec_for(struct asset_spec *s, char sym[16], size_t i)
{
    size_t k = i + 1;       /* 1-based, as in the symbol */

    if (i < N_NAMED) {
        *s = named_assets[i];
        snprintf(sym, 16, "%s", s->symbol);
        return;
    }
    s->commodity_fx = 0;
    s->cls = (int)((i - N_NAMED) % N_CLASSES);
    switch (s->cls) {
    case CLS_FOREX:
        snprintf(sym, 16, "FX%zuUSD", k);
        s->vol = 0.06 + 0.01 * (double)(k % 7);
        s->price = 0.5 + 0.1 * (double)(k % 10);
        s->decimals = 5;
        break;
    case CLS_METAL:
        snprintf(sym, 16, "MT%zuUSD", k);
        s->vol = 0.15 + 0.02 * (double)(k % 6);
        s->price = 20.0 * (double)(1 + k % 10);
        s->decimals = 3;
        break;
    default:
        snprintf(sym, 16, "CR%zuUSD", k);
        s->vol = 0.50 + 0.05 * (double)(k % 7);
        s->price = 10.0 * (double)(1 + k % 20);
        s->decimals = 3;
        break;
    }
    s->symbol = NULL;
}

static void loadings(double l[N_FACTORS], const struct asset_spec *s)
{
    memset(l, 0, N_FACTORS * sizeof(*l));
    switch (s->cls) {
    case CLS_FOREX:
        l[0] = 0.55;
        l[1] = 0.5;
        l[2] = s->commodity_fx ? 0.5 : 0.0;
        break;
    case CLS_METAL:
        l[0] = 0.45;
        l[3] = 0.75;
        break;
    default:
        l[0] = 0.15;
        l[4] = 0.85;
        break;
    }
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Forex and metals: Mon..Fri dates (daily), Sun 22:00 to Fri 22:00 UTC
 * (hourly); crypto always. */
static int trades_at(int cls, int64_t t, int64_t bar_seconds)
{
    int64_t days, sod;
    int wd;

    if (cls == CLS_CRYPTO)
        return 1;
    days = floor_div(t, 86400);
    sod = t - days * 86400;
    wd = (int)(((days % 7) + 7 + 4) % 7);  /* 0 = Sunday; 1970-01-01 Thu */
    if (bar_seconds == 86400)
        return wd >= 1 && wd <= 5;
    if (wd == 6)
        return 0;
    if (wd == 5)
        return sod < 22 * 3600;
    if (wd == 0)
        return sod >= 22 * 3600;
    return 1;
}

/* Decimals of the tick for a bar whose previous close (or start level) is
 * ref: the asset's own, more while ref has under 5 significant digits. */
static int tick_decimals(int base, double ref)
{
    int d = base;

    while (d < MAX_DECIMALS && ref * pow10_tab[d] < MIN_SIGNIFICANT)
        d++;
    return d;
}

static double to_tick(double x, double scale)
{
    double k = round(x * scale);

    return (k < 1.0 ? 1.0 : k) / scale;     /* never below one tick */
}

static int check_options(const bal_datagen_options *o, bal_error *err)
{
    if (o->n_assets < 1 || o->n_assets > BAL_DATAGEN_MAX_ASSETS)
        return bal_error_set(err, BAL_EINVAL,
                             "number of assets must be 1..%d, got %zu",
                             BAL_DATAGEN_MAX_ASSETS, o->n_assets);
    if (o->bar_seconds != 86400 && o->bar_seconds != 3600)
        return bal_error_set(err, BAL_EINVAL,
                             "bar size must be 86400 or 3600 seconds, "
                             "got %lld", (long long)o->bar_seconds);
    if (o->steps < 1
        || o->steps > (size_t)(BAL_DATAGEN_MAX_SECONDS / o->bar_seconds))
        return bal_error_set(err, BAL_EINVAL,
                             "steps must be 1..%lld for this bar size, "
                             "got %zu",
                             (long long)(BAL_DATAGEN_MAX_SECONDS
                                         / o->bar_seconds), o->steps);
    if (o->seed > MAX_SEED)
        return bal_error_set(err, BAL_EINVAL,
                             "seed must be 0..%lu, got %lu", MAX_SEED,
                             o->seed);
    if (o->start < 0 || o->start % o->bar_seconds != 0)
        return bal_error_set(err, BAL_EINVAL,
                             "start must be a %s at or after 1970-01-01, "
                             "got %lld seconds",
                             o->bar_seconds == 86400 ? "midnight UTC"
                                                     : "whole hour",
                             (long long)o->start);
    if (o->start > MAX_TIME - (int64_t)o->steps * o->bar_seconds)
        return bal_error_set(err, BAL_EINVAL,
                             "the generated period must end before the "
                             "year 10000");
    return BAL_OK;
}

/* Fills l (n x n, row-major, lower triangle) with the Cholesky factor of
 * the calm (shock = 0) or shock correlation matrix. */
static int chol_factor(double *l, const struct asset_state *a, size_t n,
                       int shock, bal_error *err)
{
    gsl_matrix *m = gsl_matrix_alloc(n, n);
    double li[N_FACTORS], lj[N_FACTORS];
    size_t i, j, f;
    int st;

    if (!m)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        loadings(li, &a[i].spec);
        for (j = 0; j < n; j++) {
            double rho = 0.0;

            loadings(lj, &a[j].spec);
            for (f = 0; f < N_FACTORS; f++)
                rho += li[f] * lj[f];
            if (shock)
                rho += SHOCK_PULL * (SHOCK_CORR - rho);
            gsl_matrix_set(m, i, j, i == j ? 1.0 : rho);
        }
    }
    st = gsl_linalg_cholesky_decomp1(m);
    if (st != GSL_SUCCESS) {
        gsl_matrix_free(m);
        return bal_error_set(err, BAL_ENUMERIC,
                             "cholesky factorisation of the %s correlation "
                             "matrix failed: %s", shock ? "shock" : "calm",
                             gsl_strerror(st));
    }
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            l[i * n + j] = j <= i ? gsl_matrix_get(m, i, j) : 0.0;
    gsl_matrix_free(m);
    return BAL_OK;
}

static void draw_regimes(unsigned char *reg, size_t steps,
                         int64_t bar_seconds, gsl_rng *rng)
{
    size_t k = 0, per_day = (size_t)(86400 / bar_seconds);
    unsigned char state = BAL_DATAGEN_CALM;

    while (k < steps) {
        const struct spell_rule *r = &spell_rules[state];
        unsigned long days = r->lo
            + gsl_rng_uniform_int(rng, r->hi - r->lo + 1);
        size_t len = (size_t)days * per_day, j;
        double u;

        for (j = 0; j < len && k < steps; j++)
            reg[k++] = state;
        u = gsl_rng_uniform(rng);
        state = u < r->p_a ? r->next_a : r->next_b;
    }
}

/* A trend: each class draws a direction, each asset follows it (or, with
 * chance TREND_AGAINST, goes against it) at Sharpe 2..4 a year. */
static void draw_trends(struct asset_state *a, size_t n, gsl_rng *rng)
{
    double sign[N_CLASSES];
    size_t i, c;

    for (c = 0; c < N_CLASSES; c++)
        sign[c] = gsl_rng_uniform(rng) < 0.5 ? -1.0 : 1.0;
    for (i = 0; i < n; i++) {
        double against = gsl_rng_uniform(rng) < TREND_AGAINST ? -1.0 : 1.0;
        double sharpe = TREND_SHARPE_LO
            + (TREND_SHARPE_HI - TREND_SHARPE_LO) * gsl_rng_uniform(rng);

        a[i].trend = against * sign[a[i].spec.cls] * sharpe * a[i].spec.vol;
    }
}

/* Per-asset draws of one step, taken whether or not the asset trades so
 * the random stream does not depend on the calendar. */
struct bar_draws {
    double z;       /* correlated standard normal */
    double gap;     /* standard normal */
    double u_hi;    /* uniform in (0, 1) */
    double u_lo;
    double vol;     /* standard normal */
};

static void make_bar(bal_datagen_series *s, struct asset_state *a,
                     const struct bar_draws *d, int regime, int64_t t)
{
    double sb = a->spec.vol / sqrt(a->bars_per_year) * vol_mult[regime];
    double drift = (regime == BAL_DATAGEN_TRENDING ? a->trend : 0.0)
        - MEAN_REVERSION * (a->log_prev - a->log_start);
    double ret = drift / a->bars_per_year + sb * d->z;
    double gap = (a->closed ? GAP_SHARE_REOPEN : GAP_SHARE) * sb * d->gap;
    double b = ret - gap;   /* open to close, in logs */
    double v = sb * sb;     /* intrabar diffusion variance */
    double log_open = a->log_prev + gap;
    /* Extremes of a Brownian bridge from 0 to b with variance v:
     * P(max > m) = exp(-2 m (m - b) / v) for m >= max(0, b), solved for
     * m at a uniform draw (the min mirrors it). */
    double up = 0.5 * (b + sqrt(b * b - 2.0 * v * log(d->u_hi)));
    double dn = 0.5 * (b - sqrt(b * b - 2.0 * v * log(d->u_lo)));
    double scale = pow10_tab[tick_decimals(a->spec.decimals, a->prev_close)];
    double o = to_tick(exp(log_open), scale);
    double c = to_tick(exp(log_open + b), scale);
    double h = to_tick(exp(log_open + up), scale);
    double l = to_tick(exp(log_open + dn), scale);
    double day_share = DAYS_CRYPTO / a->bars_per_year;
    double volume;
    size_t j = s->n;

    /* Rounding is monotone, so these only guard against a libm exp that
     * is not; they keep low <= min(open, close) <= max <= high. */
    h = fmax(h, fmax(o, c));
    l = fmin(l, fmin(o, c));
    volume = base_volume[a->spec.cls] * day_share
        * exp(VOLUME_SD * d->vol - 0.5 * VOLUME_SD * VOLUME_SD)
        * (0.6 + 0.5 * fabs(d->z))
        * (regime == BAL_DATAGEN_SHOCK ? VOLUME_SHOCK : 1.0);
    volume = fmax(round(volume), 1.0);

    s->time[j] = t;
    s->open[j] = o;
    s->high[j] = h;
    s->low[j] = l;
    s->close[j] = c;
    s->volume[j] = volume;
    s->n = j + 1;
    a->prev_close = c;
    a->log_prev = log(c);
    a->closed = 0;
}

static int alloc_series(bal_datagen_series *s, size_t n)
{
    size_t m = n ? n : 1;

    s->time = malloc(m * sizeof(*s->time));
    s->open = malloc(m * sizeof(double));
    s->high = malloc(m * sizeof(double));
    s->low = malloc(m * sizeof(double));
    s->close = malloc(m * sizeof(double));
    s->volume = malloc(m * sizeof(double));
    return (s->time && s->open && s->high && s->low && s->close && s->volume)
        ? 0 : -1;
}

static void simulate(bal_datagen_market *m, struct asset_state *a,
                     const double *chol_calm, const double *chol_shock,
                     double *u, struct bar_draws *d, gsl_rng *rng)
{
    size_t n = m->n_assets, k, i, j;

    for (k = 0; k < m->steps; k++) {
        int regime = m->regime[k];
        const double *l = regime == BAL_DATAGEN_SHOCK ? chol_shock
                                                      : chol_calm;
        int64_t t = m->start + (int64_t)k * m->bar_seconds;

        if (regime == BAL_DATAGEN_TRENDING
            && (k == 0 || m->regime[k - 1] != BAL_DATAGEN_TRENDING))
            draw_trends(a, n, rng);
        for (j = 0; j < n; j++)
            u[j] = gsl_ran_gaussian(rng, 1.0);
        for (i = 0; i < n; i++) {
            double z = 0.0;

            for (j = 0; j <= i; j++)
                z += l[i * n + j] * u[j];
            d[i].z = z;
            d[i].gap = gsl_ran_gaussian(rng, 1.0);
            d[i].u_hi = gsl_rng_uniform_pos(rng);
            d[i].u_lo = gsl_rng_uniform_pos(rng);
            d[i].vol = gsl_ran_gaussian(rng, 1.0);
        }
        for (i = 0; i < n; i++) {
            if (trades_at(a[i].spec.cls, t, m->bar_seconds))
                make_bar(&m->assets[i], &a[i], &d[i], regime, t);
            else if (m->assets[i].n > 0)
                a[i].closed = 1;
        }
    }
}

int bal_datagen_generate(bal_datagen_market *out,
                         const bal_datagen_options *opt, bal_error *err)
{
    static const bal_datagen_options defaults = BAL_DATAGEN_OPTIONS_INIT;
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    struct asset_state *a = NULL;
    struct bar_draws *d = NULL;
    double *chol_calm = NULL, *chol_shock = NULL, *u = NULL;
    gsl_rng *rng = NULL;
    size_t n, i, k;
    int rc;

    BAL_ASSERT(out != NULL);
    *out = m;
    if (!opt)
        opt = &defaults;
    rc = check_options(opt, err);
    if (rc < 0)
        return rc;
    n = opt->n_assets;
    m.steps = opt->steps;
    m.start = opt->start;
    m.bar_seconds = opt->bar_seconds;
    m.assets = calloc(n, sizeof(*m.assets));
    m.regime = malloc(m.steps);
    a = calloc(n, sizeof(*a));
    d = calloc(n, sizeof(*d));
    u = calloc(n, sizeof(*u));
    chol_calm = malloc(n * n * sizeof(*chol_calm));
    chol_shock = malloc(n * n * sizeof(*chol_shock));
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!m.assets || !m.regime || !a || !d || !u || !chol_calm
        || !chol_shock || !rng) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    m.n_assets = n;
    for (i = 0; i < n; i++) {
        bal_datagen_series *s = &m.assets[i];
        size_t bars = 0;
        double days;

        spec_for(&a[i].spec, s->symbol, i);
        days = a[i].spec.cls == CLS_CRYPTO ? DAYS_CRYPTO : DAYS_WEEKDAY;
        a[i].bars_per_year = days * (double)(86400 / m.bar_seconds);
        a[i].prev_close = a[i].spec.price;
        a[i].log_start = log(a[i].spec.price);
        a[i].log_prev = a[i].log_start;
        s->asset_class = class_names[a[i].spec.cls];
        s->annual_vol = a[i].spec.vol;
        s->bars_per_year = a[i].bars_per_year;
        s->start_price = a[i].spec.price;
        for (k = 0; k < m.steps; k++)
            bars += (size_t)trades_at(a[i].spec.cls,
                                      m.start + (int64_t)k * m.bar_seconds,
                                      m.bar_seconds);
        if (alloc_series(s, bars) < 0) {
            rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
            goto done;
        }
    }
    rc = chol_factor(chol_calm, a, n, 0, err);
    if (rc == BAL_OK)
        rc = chol_factor(chol_shock, a, n, 1, err);
    if (rc < 0)
        goto done;
    gsl_rng_set(rng, opt->seed);
    draw_regimes(m.regime, m.steps, m.bar_seconds, rng);
    simulate(&m, a, chol_calm, chol_shock, u, d, rng);
    *out = m;
    m = (bal_datagen_market)BAL_DATAGEN_MARKET_INIT;   /* moved out */
    rc = BAL_OK;
done:
    bal_datagen_release(&m);
    gsl_rng_free(rng);
    free(chol_shock);
    free(chol_calm);
    free(u);
    free(d);
    free(a);
    return rc;
}

void bal_datagen_release(bal_datagen_market *m)
{
    size_t i;

    if (!m)
        return;
    if (m->assets) {
        for (i = 0; i < m->n_assets; i++) {
            bal_datagen_series *s = &m->assets[i];

            free(s->time);
            free(s->open);
            free(s->high);
            free(s->low);
            free(s->close);
            free(s->volume);
        }
    }
    free(m->assets);
    free(m->regime);
    *m = (bal_datagen_market)BAL_DATAGEN_MARKET_INIT;
}

const char *bal_datagen_regime_name(bal_datagen_regime r)
{
    switch (r) {
    case BAL_DATAGEN_CALM:
        return "calm";
    case BAL_DATAGEN_TRENDING:
        return "trending";
    case BAL_DATAGEN_SHOCK:
        return "shock";
    }
    return NULL;
}

/* ---- writing ---------------------------------------------------------- */

#define PATH_LEN 4096
#define NUM_LEN 64

/* x (a multiple of 10^-decimals) as a plain decimal without trailing zeros;
 * strtod reads it back to x because x is the double nearest that decimal. */
static const char *fmt_fixed(char buf[NUM_LEN], double x, int decimals)
{
    int len = snprintf(buf, NUM_LEN, "%.*f", decimals, x);

    BAL_ASSERT(len > 0 && len < NUM_LEN);
    if (decimals > 0) {
        while (buf[len - 1] == '0')
            len--;
        if (buf[len - 1] == '.')
            len--;
        buf[len] = '\0';
    }
    return buf;
}

struct emit_ctx {
    const bal_datagen_market *m;
    size_t asset;
};

typedef int (*emit_fn)(FILE *f, const struct emit_ctx *c);

static int emit_series(FILE *f, const struct emit_ctx *c)
{
    const bal_datagen_series *s = &c->m->assets[c->asset];
    struct asset_spec spec;
    char sym[16], tb[BAL_NUMFMT_LEN];
    char ob[NUM_LEN], hb[NUM_LEN], lb[NUM_LEN], cb[NUM_LEN], vb[NUM_LEN];
    int date_only = c->m->bar_seconds == 86400;
    size_t j;

    spec_for(&spec, sym, c->asset);
    if (fputs("time,open,high,low,close,volume\n", f) < 0)
        return -1;
    for (j = 0; j < s->n; j++) {
        double ref = j ? s->close[j - 1] : s->start_price;
        int dec = tick_decimals(spec.decimals, ref);

        if (fprintf(f, "%s,%s,%s,%s,%s,%s\n",
                    bal_timefmt(tb, s->time[j], date_only),
                    fmt_fixed(ob, s->open[j], dec),
                    fmt_fixed(hb, s->high[j], dec),
                    fmt_fixed(lb, s->low[j], dec),
                    fmt_fixed(cb, s->close[j], dec),
                    fmt_fixed(vb, s->volume[j], 0)) < 0)
            return -1;
    }
    return 0;
}

static int emit_regimes(FILE *f, const struct emit_ctx *c)
{
    const bal_datagen_market *m = c->m;
    int date_only = m->bar_seconds == 86400;
    char tb[BAL_NUMFMT_LEN];
    size_t k;

    if (fputs("time,regime\n", f) < 0)
        return -1;
    for (k = 0; k < m->steps; k++) {
        int64_t t = m->start + (int64_t)k * m->bar_seconds;
        const char *name =
            bal_datagen_regime_name((bal_datagen_regime)m->regime[k]);

        if (fprintf(f, "%s,%s\n", bal_timefmt(tb, t, date_only), name) < 0)
            return -1;
    }
    return 0;
}

static int emit_assets_json(FILE *f, const struct emit_ctx *c)
{
    const bal_datagen_market *m = c->m;
    size_t i;

    if (fputs("[\n", f) < 0)
        return -1;
    for (i = 0; i < m->n_assets; i++) {
        const bal_datagen_series *s = &m->assets[i];

        if (fprintf(f, "  {\"symbol\": \"%s\", \"file\": \"%s.csv\", "
                       "\"class\": \"%s\"}%s\n", s->symbol, s->symbol,
                    s->asset_class, i + 1 < m->n_assets ? "," : "") < 0)
            return -1;
    }
    return fputs("]\n", f) < 0 ? -1 : 0;
}

static int io_error(bal_error *err, const char *path, const char *what,
                    int errnum)
{
    return bal_error_set_at(err, BAL_EIO, path, 0, 0, "%s: %s", what,
                            strerror(errnum));
}

static int join_path(char out[PATH_LEN], const char *dir, const char *name,
                     bal_error *err)
{
    int len = snprintf(out, PATH_LEN, "%s/%s", dir, name);

    if (len < 0 || len >= PATH_LEN)
        return bal_error_set(err, BAL_EINVAL, "path too long: '%s/%s'", dir,
                             name);
    return BAL_OK;
}

/* Writes dir/name through dir/.name.tmp<pid>: data, fsync, rename. */
static int write_atomic(const char *dir, const char *name, emit_fn emit,
                        const struct emit_ctx *c, bal_error *err)
{
    char path[PATH_LEN], tmp[PATH_LEN], tname[256];
    FILE *f = NULL;
    int fd, rc, e;

    snprintf(tname, sizeof(tname), ".%s.tmp%ld", name, (long)getpid());
    rc = join_path(path, dir, name, err);
    if (rc == BAL_OK)
        rc = join_path(tmp, dir, tname, err);
    if (rc < 0)
        return rc;
    unlink(tmp);                /* a leftover of a killed run, if any */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0)
        return io_error(err, path, "cannot create file", errno);
    f = fdopen(fd, "w");
    if (!f) {
        e = errno;
        close(fd);
        rc = io_error(err, path, "cannot create file", e);
        goto fail;
    }
    if (emit(f, c) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = io_error(err, path, "cannot write file", errno);
        goto fail;
    }
    e = fclose(f) != 0 ? errno : 0;
    f = NULL;
    if (e) {
        rc = io_error(err, path, "cannot write file", e);
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rc = io_error(err, path, "cannot rename temporary file into place",
                      errno);
        goto fail;
    }
    return BAL_OK;
fail:
    if (f)
        fclose(f);
    unlink(tmp);
    return rc;
}

/* mkdir -p dir; BAL_EIO naming the first component that cannot be made. */
static int make_dirs(const char *dir, bal_error *err)
{
    char path[PATH_LEN];
    struct stat st;
    size_t len = strlen(dir), i;

    if (len == 0)
        return bal_error_set(err, BAL_EINVAL, "empty output directory name");
    if (len >= PATH_LEN)
        return bal_error_set(err, BAL_EINVAL, "path too long: '%s'", dir);
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return io_error(err, path, "cannot create directory", errno);
        path[i] = dir[i];
    }
    if (stat(dir, &st) != 0)
        return io_error(err, dir, "cannot access directory", errno);
    if (!S_ISDIR(st.st_mode))
        return io_error(err, dir, "cannot use as output directory",
                        ENOTDIR);
    return BAL_OK;
}

int bal_datagen_write(const char *dir, const bal_datagen_options *opt,
                      bal_error *err)
{
    bal_datagen_market m = BAL_DATAGEN_MARKET_INIT;
    struct emit_ctx c;
    char name[32];
    size_t i;
    int rc;

    BAL_ASSERT(dir != NULL);
    rc = bal_datagen_generate(&m, opt, err);
    if (rc < 0)
        return rc;
    rc = make_dirs(dir, err);
    c.m = &m;
    for (i = 0; rc == BAL_OK && i < m.n_assets; i++) {
        c.asset = i;
        snprintf(name, sizeof(name), "%s.csv", m.assets[i].symbol);
        rc = write_atomic(dir, name, emit_series, &c, err);
    }
    if (rc == BAL_OK)
        rc = write_atomic(dir, "regimes.csv", emit_regimes, &c, err);
    if (rc == BAL_OK)
        rc = write_atomic(dir, "assets.json", emit_assets_json, &c, err);
    bal_datagen_release(&m);
    return rc;
}
