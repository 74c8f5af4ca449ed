#ifndef BAL_DATAGEN_H
#define BAL_DATAGEN_H
#include <stdint.h>
#include "ballast/error.h"

/* Synthetic multi-asset market with known regimes (`ballast data gen`).
 *
 * A calendar of `steps` bars of `bar_seconds` each starts at `start`. Every
 * calendar step carries a true regime: calm, trending (each asset drifts,
 * Sharpe 2..4 a year, direction mostly shared within its class) or shock
 * (3x volatility, correlations pulled 75 % of the way toward 0.8). Spells
 * follow a Markov jump chain with bounded durations: calm 20..120 days,
 * trending 15..90 days, shock 3..14 days; the chain starts calm.
 * Close-to-close log returns are multivariate normal (Cholesky of the
 * regime's correlation matrix, built from a factor model so it is always
 * positive definite), with a weak pull (0.1 a year) of the log price toward
 * its start so long runs stay in realistic ranges. Each bar opens at a small
 * gap from the previous close (larger after a market closure) and gets its
 * high and low from an exact Brownian-bridge extreme draw, so
 * low <= min(open, close) <= max(open, close) <= high on every bar.
 *
 * Assets: index i < 8 is, in order, EURUSD GBPUSD AUDUSD NZDUSD (forex),
 * XAUUSD XAGUSD (metal), BTCUSD ETHUSD (crypto); then CHFUSD XPTUSD LTCUSD
 * CADUSD XPDUSD XRPUSD JPYUSD BCHUSD (forex, metal, crypto in turn); every
 * further asset cycles forex, metal, crypto with the names FX<k>USD,
 * MT<k>USD, CR<k>USD, k = its 1-based index (e.g. FX17USD). All are quoted
 * in USD. Forex and metals trade Mon..Fri (daily bars) or from Sun 22:00 to
 * Fri 22:00 UTC (hourly bars); crypto trades every bar. Annual calm vols are
 * class-typical (forex 6..12 %, metals 15..25 %, crypto 50..80 %) and are
 * annualised as SPEC section 3 does: 365.25 days a year for crypto, 260
 * for the others, times bars a day (86400 / bar_seconds).
 *
 * Prices are rounded to a tick 10^-d, d = the asset's decimals (5 for
 * forex, 2 for XAUUSD, 3 for XAGUSD...), raised by one while the previous
 * close times 10^d is below 10^4 (so a bar keeps 5 significant digits, at
 * most 15 decimals); volumes are whole numbers.
 *
 * Randomness: one GSL gsl_rng_mt19937 seeded with `seed` (GSL maps seed 0 to
 * its default 4357, so seeds 0 and 4357 give the same market). The regime
 * chain is drawn first, so it does not depend on n_assets. The same options
 * give the same doubles (and bytes) on every IEEE-754 machine whose libm
 * gives the same exp and log (rounding to ticks hides a last-bit difference
 * unless it falls on a half tick); FMA contraction is off in datagen.c. */

typedef struct bal_datagen_options {
    size_t n_assets;        /* 1..BAL_DATAGEN_MAX_ASSETS; default 8 (the
                             * sample preset) */
    size_t steps;           /* calendar bars (days or hours); default 2192 =
                             * 2019-01-01..2024-12-31 in daily bars */
    int64_t bar_seconds;    /* 86400 (daily) or 3600 (hourly) */
    unsigned long seed;     /* default 42; must fit in 32 bits */
    int64_t start;          /* UTC seconds >= 0, a multiple of bar_seconds;
                             * default 1546300800 = 2019-01-01 */
} bal_datagen_options;
#define BAL_DATAGEN_OPTIONS_INIT { 8, 2192, 86400, 42UL, 1546300800 }

#define BAL_DATAGEN_MAX_ASSETS 1000

/* Largest span allowed, so prices and dates stay in range: 100 years. */
#define BAL_DATAGEN_MAX_SECONDS ((int64_t)100 * 366 * 86400)

typedef enum bal_datagen_regime {
    BAL_DATAGEN_CALM = 0,
    BAL_DATAGEN_TRENDING = 1,
    BAL_DATAGEN_SHOCK = 2
} bal_datagen_regime;

/* One asset's bars, oldest first; only the bars at which it trades. */
typedef struct bal_datagen_series {
    char symbol[16];
    const char *asset_class;    /* static: "forex", "metal" or "crypto" */
    double annual_vol;          /* calm vol of log returns, annualised */
    double bars_per_year;       /* the annualisation used for annual_vol */
    double start_price;         /* the level before the first bar */
    size_t n;                   /* number of bars */
    int64_t *time;              /* bar open time, UTC seconds */
    double *open, *high, *low, *close, *volume;
} bal_datagen_series;

/* A generated market. Caller-owned; fill with bal_datagen_generate, free
 * the arrays with bal_datagen_release. */
typedef struct bal_datagen_market {
    size_t n_assets;
    bal_datagen_series *assets;     /* n_assets series */
    size_t steps;                   /* calendar steps */
    int64_t start, bar_seconds;     /* step k is at start + k bar_seconds */
    unsigned char *regime;          /* steps labels (bal_datagen_regime) */
} bal_datagen_market;
#define BAL_DATAGEN_MARKET_INIT { 0, NULL, 0, 0, 0, NULL }

/* Generates the market of `opt` (NULL = BAL_DATAGEN_OPTIONS_INIT) into
 * *out, which is overwritten (release an earlier market first). On failure
 * *out is left empty (safe to release). BAL_EINVAL for an option out of
 * range (n_assets, steps, bar_seconds, seed, start alignment, a span over
 * BAL_DATAGEN_MAX_SECONDS or past year 9999), BAL_ENOMEM, BAL_ENUMERIC if
 * a Cholesky factorisation fails. No NaN is ever produced. */
int bal_datagen_generate(bal_datagen_market *out,
                         const bal_datagen_options *opt, bal_error *err);

/* Frees every array of m and resets it to BAL_DATAGEN_MARKET_INIT. NULL and
 * an empty market are no-ops. */
void bal_datagen_release(bal_datagen_market *m);

/* "calm", "trending" or "shock"; NULL for any other value. */
const char *bal_datagen_regime_name(bal_datagen_regime r);

/* Generates the market of `opt` (NULL = defaults) and writes into dir
 * (created, with missing parents, if absent):
 *   <SYMBOL>.csv  header time,open,high,low,close,volume; one row per bar;
 *   regimes.csv   header time,regime; one row per calendar step;
 *   assets.json   an array of {"symbol", "file", "class"}, one per asset.
 * Times are YYYY-MM-DD for daily bars, else YYYY-MM-DDTHH:MM:SSZ; numbers
 * are plain decimals (no exponent) that strtod reads back to exactly the
 * generated doubles; LF line ends. Each file is written to a temporary name
 * in dir, flushed to disk and renamed over its final name, assets.json
 * last; other files in dir are left alone. A failure part-way leaves the
 * files already renamed in their new version and the rest untouched (no
 * half-written file, no temporary left). The whole market is generated in
 * memory first (about 48 bytes a bar). Returns the codes of
 * bal_datagen_generate, BAL_EINVAL for an empty or over-long dir, or
 * BAL_EIO naming the path (err->path) when a directory or file cannot be
 * created or written. */
int bal_datagen_write(const char *dir, const bal_datagen_options *opt,
                      bal_error *err);

#endif /* BAL_DATAGEN_H */
