#ifndef BAL_ENGINE_H
#define BAL_ENGINE_H
#include <stdint.h>
#include <stdio.h>
#include "ballast/alloc.h"
#include "ballast/config.h"
#include "ballast/covariance.h"
#include "ballast/error.h"
#include "ballast/loader.h"
#include "ballast/metrics.h"
#include "ballast/portfolio.h"
#include "ballast/rebalance.h"
#include "ballast/regime.h"
#include "ballast/rolling.h"
#include "ballast/signals.h"
#include "ballast/sizer.h"

/* The backtest loop (SPEC §1, §5, §12): timeline -> rolling engine ->
 * sizer -> rebalancer -> portfolio, one step at a time, then metrics.
 * Per step the work is O(N) per asset plus O(N^2) for correlations, and
 * nothing allocates except the trade and weight logs when they grow. */

enum bal_engine_direction {
    BAL_DIRECTION_LONG,         /* all +1 */
    BAL_DIRECTION_TREND,        /* sign of the lookback return, or of the
                                   fast minus the slow moving average */
    BAL_DIRECTION_SIGNALS       /* the user's signals */
};

typedef struct bal_engine_options {
    size_t n_assets;
    /* Series passed to bal_engine_run: the n_assets traded assets, then
     * FX-only series used for currency conversion (n_series >= n_assets;
     * 0 means n_assets). */
    size_t n_series;
    const char *const *symbols;     /* n, borrowed */
    const double *bars_per_year;    /* n; NaN = from the class and the
                                       median spacing of the first bars */
    const int *crypto;              /* n; non-zero = 365.25-day year */
    const int *equity;              /* n; non-zero = 252-day year */
    const double *cost_rate;        /* n; (cost_bps + spread_bps/2) / 1e4 */
    double fixed_fee;               /* per trade, account currency */
    double slippage_atr;            /* x ATR per unit traded */
    int fill_close;                 /* 1 = "close", 0 = "next_open" */
    double capital;
    int intersection;               /* calendar "intersection" */
    int has_start, has_end;
    int64_t start, end;             /* inclusive, UTC seconds */
    int late_zero;                  /* late_assets "zero" */
    bal_rolling_options rolling;
    bal_sizer_options sizer;
    bal_rebalance_options rebalance;
    double min_trade;
    bal_metrics_options metrics;
    int curves_all;                 /* weights every step */
    /* direction (SPEC §4.1) */
    int direction;                  /* enum bal_engine_direction */
    size_t lookback;                /* trend: bars for the return rule */
    size_t fast, slow;              /* trend: MA windows; 0 = lookback */
    const bal_signals *signals;     /* BAL_DIRECTION_SIGNALS, borrowed */
    /* drawdown governor (SPEC §4.6); governor 0 = off */
    int governor;
    bal_governor_options gov;
    const double *lot_size;         /* n; NaN = fractional; NULL = none */
    /* Currency conversion of asset i: its close times leg 1 times leg 2,
     * each leg the last close of series fx_leg (or its inverse when
     * fx_inv is set); -1 = no leg. NULL arrays = no conversion. */
    const int *fx_leg1, *fx_leg2, *fx_inv1, *fx_inv2;
    /* regimes (SPEC §3): always labelled for the report; they gate the
     * warm-up only when regime_used (a regime_scale != 1, the
     * regime_change trigger or a stress feature) */
    bal_regime_options regime;
    int regime_used;
    double regime_scale[3];         /* by bal_regime_label */
    /* sizing correlation: shrinkage, stress blend, PSD repair (SPEC §3) */
    bal_cov_options cov;
    double stress_quantile;
    /* allocation by alloc.h (inverse_atr, erc, hrp, min_variance): used
     * when sizer.method is BAL_SIZE_GIVEN; the engine passes b */
    bal_alloc_options alloc;
    /* cap on any correlation cluster's share of portfolio risk, NaN = off
     * (clusters: the sizing-correlation dendrogram under alloc.linkage cut
     * at distance 0.5, i.e. assets linked at rho >= 0.5) */
    double cluster_risk_cap;
} bal_engine_options;

/* Sets every option to its default, with every optional feature off
 * (NaN thresholds, no governor, long direction, equal weights, monthly
 * schedule, close fills, capital 1e6): the caller then fills n_assets,
 * symbols, crypto, equity and cost_rate and turns on what it needs. */
void bal_engine_options_init(bal_engine_options *o);

/* Optional per-bar outputs (`--series`), each "time,symbol,value" or
 * "time,pair,value" rows written as the loop runs; NULL = not written. */
typedef struct bal_engine_streams {
    FILE *atr, *vol, *corr, *regime;
} bal_engine_streams;

typedef struct bal_weight_row {
    int64_t time;
    size_t asset;
    double target, actual;
} bal_weight_row;

typedef struct bal_asset_result {
    double avg_weight;      /* mean of v_i / E over the equity rows */
    double final_weight;    /* v_i / E at the last row */
    double pnl;             /* final value - sum of trade flows - costs */
    double costs;
    double risk_contribution; /* w_i (S w)_i / w'S w at the last row */
    double realised_vol;    /* annualised sd of its own returns after t0 */
    double bars_per_year;   /* the annualisation used */
    size_t trades;
} bal_asset_result;

typedef struct bal_result {
    size_t n_assets;
    size_t n_rows;          /* equity rows, t0 .. last step */
    int64_t *time;
    double *equity, *cash, *gross, *net, *drawdown, *dd_mult;
    int *regime;            /* per row: bal_regime label or -1 = empty */
    bal_weight_row *weights;
    size_t n_weights, cap_weights;
    bal_portfolio book;     /* final holdings, every trade, total costs */
    size_t t0;              /* first timeline step with a row */
    size_t n_steps;         /* timeline steps */
    size_t rebalances;      /* initial allocation excluded */
    size_t by_trigger[BAL_TRIG_COUNT];
    double turnover;        /* (A/n) sum of half turnovers */
    double avg_gross, max_gross, time_in_market;
    int ruined;
    int date_only;          /* every input timestamp at midnight */
    bal_asset_result *assets;
    double *final_corr;     /* n x n, NaN where undefined */
    double *calm_corr;      /* n x n expanding calm / stress correlations */
    double *stress_corr;    /* (NaN with fewer than corr_window returns) */
    size_t stress_i[BAL_COV_STRESS_PAIRS], stress_j[BAL_COV_STRESS_PAIRS];
    double stress_diff[BAL_COV_STRESS_PAIRS];
    size_t n_stress_pairs;  /* largest rho_stress - rho_calm first */
    size_t stress_steps;    /* steps classified as stress */
    size_t psd_repairs;     /* decisions whose correlation was repaired */
    double shrinkage;       /* the intensity used at the last decision */
    /* HRP: the tree of the last decision (n_merges = leaves - 1) */
    bal_alloc_merge *merges;
    size_t *leaf_order;
    size_t n_leaves;
    bal_metrics metrics;
} bal_result;

/* Runs the backtest over the loaded series (n_assets of them, in config
 * order). Under an intersection calendar the series are first restricted
 * in place to their common timestamps. Caller owns *out: release with
 * bal_result_release (also after a failure). BAL_EINVAL when nothing can
 * be traded (e.g. no step after warm-up), BAL_ENUMERIC, BAL_ENOMEM,
 * BAL_EIO when a stream cannot be written. */
int bal_engine_run(bal_result *out, const bal_engine_options *opt,
                   bal_series *const *series,
                   const bal_engine_streams *streams, bal_error *err);
void bal_result_release(bal_result *r);

/* Annual bars of a series: D * 86400 / s, s the median spacing of its
 * first (up to 64) bars, D = 365.25 (crypto), 252 (equity) or 260. */
double bal_engine_bars_per_year(const bal_series *s, int crypto,
                                int equity);

/* Engine options built from a config, with the arrays they point to. */
typedef struct bal_engine_setup {
    bal_engine_options opt;
    const char **symbols;
    double *bars_per_year, *cost_rate, *targets, *lot_size;
    int *crypto, *equity, *asset_class;
    int *fx_leg1, *fx_leg2, *fx_inv1, *fx_inv2;
    /* the FX-only series to load after the assets (data.fx entries) */
    size_t n_fx_files;
    const char **fx_paths;          /* borrowed from the config */
    bal_signals signals;            /* loaded by the caller when used */
} bal_engine_setup;

/* Fills *out from a validated config. Features the config selects that
 * this version does not implement are refused with BAL_ECONFIG naming the
 * JSON path, never silently ignored. Caller releases with
 * bal_engine_setup_release (also after a failure). */
int bal_engine_setup_init(bal_engine_setup *out, const bal_config *c,
                          bal_error *err);
void bal_engine_setup_release(bal_engine_setup *s);

#endif /* BAL_ENGINE_H */
