#ifndef BAL_REGIME_H
#define BAL_REGIME_H
#include "ballast/error.h"              /* brings <stddef.h> */

/* Market regimes (SPEC §3 "Regime", warm-up §12): a label per asset,
 * updated on the asset's own bars, and a portfolio label aggregated from
 * them.
 *
 * Per asset, at its bar t (0-based index b on its own series):
 *   shock     when sd_short / sd_long > shock_ratio, where sd_short and
 *             sd_long are the sample sds (ddof 1) of the last short_window
 *             and long_window returns (the criterion is false while
 *             sd_long is 0), or when |C_t - C_{t-1}| > shock_atr ATR_{t-1},
 *             the Wilder ATR(atr_window) as of the previous bar (TA-Lib
 *             seed, as bal_rolling_wilder);
 *   trending  otherwise, when Kaufman's efficiency ratio
 *             ER = |C_t - C_{t-n}| / sum_{k=t-n+1..t} |C_k - C_{k-1}|,
 *             n = er_window (ER = 0 when the sum is 0), exceeds
 *             er_threshold;
 *   ranging   otherwise.
 * A NaN shock_ratio or shock_atr switches that criterion off.
 *
 * Warm-up: the label is first defined at the first bar b at which
 *   b >= er_window,
 *   b >= long_window            (only when shock_ratio is on),
 *   ATR_{t-1} is defined        (only when shock_atr is on; with a finite
 *                                high/low on every bar that is
 *                                b >= atr_window + 1),
 * i.e. with the SPEC defaults at b = 60, the asset's 61st bar. Once
 * defined it stays defined: if a later NaN high/low restarts the ATR seed,
 * the ATR criterion is skipped until the ATR is defined again. A
 * close-only asset (NaN high/low) with shock_atr on never gets a label,
 * so the engine should refuse that config up front (SPEC §2).
 *
 * All memory is taken in bal_regime_new; bal_regime_step is O(1) per asset
 * (amortised: running sums are recomputed from their ring buffers once
 * per window) and never allocates. */

/* Options (config `regime.*`, plus the engine's atr_window and return
 * kind). Limits: short_window >= 2, long_window > short_window,
 * er_window >= 1, atr_window >= 1, shock_ratio > 0 or NaN, shock_atr > 0
 * or NaN, er_threshold in [0, 1], corr_spike in [-1, 1] or NaN,
 * shock_share in [0, 1]. simple_returns: the vols use C_t / C_{t-1} - 1
 * instead of ln(C_t / C_{t-1}) (`engine.returns`). */
typedef struct bal_regime_options {
    size_t short_window, long_window, er_window, atr_window;
    double shock_ratio, shock_atr, er_threshold, corr_spike, shock_share;
    int simple_returns;
} bal_regime_options;
#define BAL_REGIME_OPTIONS_INIT \
    { 5, 60, 20, 14, 2.0, 3.0, 0.3, 0.6, 0.5, 0 }

/* Labels. BAL_REGIME_NONE: not defined yet (warm-up). */
enum bal_regime_label {
    BAL_REGIME_NONE = -1,
    BAL_REGIME_TRENDING = 0,
    BAL_REGIME_RANGING = 1,
    BAL_REGIME_SHOCK = 2
};

/* "trending", "ranging" or "shock"; NULL for any other value (including
 * BAL_REGIME_NONE). The string is static. */
const char *bal_regime_name(int label);

/* Per-asset regime state for n assets. */
typedef struct bal_regime bal_regime;

/* Creates a detector for n (>= 1) assets; opt NULL means
 * BAL_REGIME_OPTIONS_INIT. Caller owns *out (free with bal_regime_free);
 * *out is NULL on failure. BAL_EINVAL (naming the option) for n == 0 or
 * an option outside its limits; BAL_ENOMEM when memory runs out or the
 * sizes overflow size_t. */
int bal_regime_new(bal_regime **out, size_t n, const bal_regime_options *opt,
                   bal_error *err);
/* Frees r; NULL is a no-op. */
void bal_regime_free(bal_regime *r);

/* Feeds one timeline step. has_bar[i] != 0 when asset i has a bar at this
 * step; high[i], low[i], close[i] are read only then. close[i] must be
 * finite and > 0 (asserted). high and low may be NaN, or both NULL: that
 * bar's true range is then undefined (see bal_rolling_wilder_push). An
 * asset without a bar keeps its label and state. Never allocates. */
void bal_regime_step(bal_regime *r, const unsigned char *has_bar,
                     const double *high, const double *low,
                     const double *close);

/* Label of asset i (< n, asserted) as of its latest bar: a
 * bal_regime_label, BAL_REGIME_NONE until warm. */
int bal_regime_asset(const bal_regime *r, size_t i);
/* 1 once asset i's label is defined (see warm-up above), else 0. */
int bal_regime_warm(const bal_regime *r, size_t i);
/* Diagnostics as of asset i's latest bar, NaN until the label is defined:
 * the efficiency ratio in [0, 1], and sd_short / sd_long (NaN when
 * shock_ratio is off or sd_long is 0). */
double bal_regime_er(const bal_regime *r, size_t i);
double bal_regime_vol_ratio(const bal_regime *r, size_t i);

/* Portfolio label from the current per-asset labels; a pure function of
 * them and the inputs. Risk weight of asset i = |w_i| sigma_i /
 * sum_j |w_j| sigma_j over the assets whose label is defined; w NULL means
 * equal weights (before the first allocation), sigma NULL means equal
 * sigmas. An asset whose |w_i| sigma_i is not finite and positive (NaN,
 * infinite, zero, or a negative sigma) gets risk weight 0.
 * Returns BAL_REGIME_SHOCK when the risk-weighted share of assets in shock
 * exceeds shock_share or avg_corr > corr_spike (skipped when either is
 * NaN); else BAL_REGIME_TRENDING when the trending risk weight exceeds the
 * ranging one, else BAL_REGIME_RANGING (ties go to ranging). Returns
 * BAL_REGIME_NONE when no asset with a defined label has a positive risk
 * weight (avg_corr is then not read either). */
int bal_regime_portfolio(const bal_regime *r, const double *w,
                         const double *sigma, double avg_corr);

#endif /* BAL_REGIME_H */
