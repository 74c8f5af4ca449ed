#ifndef BAL_ROLLING_H
#define BAL_ROLLING_H
#include "ballast/error.h"              /* brings <stddef.h> */

/* Rolling engine (SPEC §3, warm-up §12): incremental per-asset returns,
 * true range / Wilder ATR, volatility (rolling or EWMA) and per-pair
 * correlation (rolling Pearson or EWMA) on synchronous returns.
 *
 * The file has two layers:
 *   1. primitives: small caller-owned structs (transparent so they can be
 *      embedded and unit-tested). They own nothing: a window's ring buffer
 *      is supplied by the caller and borrowed for the struct's lifetime, so
 *      there is no release function. Pushing is O(1), never allocates.
 *   2. bal_rolling: the multi-asset engine, built on the primitives. All
 *      memory is taken in bal_rolling_new; bal_rolling_step is O(N) for the
 *      assets plus O(K^2) for the K assets with a bar at that step, and
 *      never allocates.
 *
 * Non-finite input that would poison running sums (a NaN or infinite close
 * or window value) is a programming error and trips BAL_ASSERT: the loader
 * guarantees finite positive closes. A NaN high or low only makes the true
 * range of that bar undefined (see bal_rolling_wilder_push). */

/* ---- 1. Primitives ---------------------------------------------------- */

/* Wilder ATR with TA-Lib's seed. TR_t = max(H_t, C_{t-1}) - min(L_t,
 * C_{t-1}) is undefined at the first bar. The first ATR is the mean of the
 * first n true ranges (defined at 0-based bar index n), then
 * ATR_t = ((n - 1) ATR_{t-1} + TR_t) / n. n = 1 gives ATR = TR. */
typedef struct bal_rolling_wilder {
    size_t n;           /* period, >= 1 */
    size_t bars;        /* bars pushed */
    size_t ntr;         /* true ranges in the current seed, <= n */
    double prev_close;  /* close of the previous bar */
    double sum;         /* sum of the seed's true ranges */
    double tr;          /* true range of the last bar, NaN if undefined */
    double atr;         /* NaN until defined */
} bal_rolling_wilder;

/* Resets a to no bars with period n (n >= 1, asserted). */
void bal_rolling_wilder_init(bal_rolling_wilder *a, size_t n);
/* Pushes one bar. close must be finite (asserted). A NaN or infinite high
 * or low makes this bar's TR undefined and restarts the seed: ATR is NaN
 * until n further true ranges are in (its close still serves the next TR). */
void bal_rolling_wilder_push(bal_rolling_wilder *a, double high, double low,
                             double close);
/* The current ATR, NaN until defined. */
double bal_rolling_wilder_atr(const bal_rolling_wilder *a);
/* The last bar's true range, NaN at the first bar or after a NaN high/low. */
double bal_rolling_wilder_tr(const bal_rolling_wilder *a);

/* Mean and sample variance (ddof 1) of the last w values pushed. Shifted
 * data: s1 = sum (x - k), s2 = sum (x - k)^2 over the window for an anchor
 * k. Every w pushes the anchor moves to the window value nearest the window
 * mean and s1, s2 are recomputed from the ring buffer (two-pass), so
 * rounding never accumulates beyond one window (amortised O(1)). The same
 * happens early (at most 4 times per window) when s2 - s1^2/n cancels to
 * below 1e-4 s2, as after a level shift. A window of w identical values
 * has variance exactly 0. */
typedef struct bal_rolling_window {
    double *buf;        /* borrowed ring buffer of w values */
    size_t w;           /* window length, >= 2 */
    size_t n;           /* values in the window, <= w */
    size_t head;        /* next slot to write */
    size_t since;       /* pushes since the last re-anchor */
    size_t run;         /* length of the run of equal values ending now */
    double last;        /* last value pushed */
    double k;           /* anchor */
    double s1, s2;      /* sum (x - k), sum (x - k)^2 over the window */
} bal_rolling_window;

/* Resets v to empty with window w (w >= 2, asserted). buf must hold w
 * doubles and outlive v; the caller keeps ownership. */
void bal_rolling_window_init(bal_rolling_window *v, double *buf, size_t w);
/* Pushes x (finite, asserted), dropping the oldest value once full. */
void bal_rolling_window_push(bal_rolling_window *v, double x);
/* Mean / sample variance / sample sd of the window: NaN until w values are
 * in. Variance is clamped at 0 against rounding. */
double bal_rolling_window_mean(const bal_rolling_window *v);
double bal_rolling_window_var(const bal_rolling_window *v);
double bal_rolling_window_sd(const bal_rolling_window *v);

/* Pearson correlation of the last w (x, y) pairs with the window's own
 * means; same shifted-data scheme and re-anchoring as bal_rolling_window. */
typedef struct bal_rolling_cov {
    double *buf;        /* borrowed ring buffer: slot k's (x, y) pair is at
                           buf[k * stride], buf[k * stride + 1] */
    size_t stride;      /* 2 after bal_rolling_cov_init (a block of 2w);
                           the engine interleaves its pairs' buffers slot
                           by slot, so pairs that push together touch
                           neighbouring memory */
    size_t w, n, head, since;
    size_t runx, runy;  /* runs of equal x and of equal y ending now */
    double lastx, lasty;
    double kx, ky;      /* anchors */
    double sx, sy;      /* sum (x - kx), sum (y - ky) */
    double sxx, syy, sxy;   /* sums of products of the deviations */
} bal_rolling_cov;

/* Resets c to empty with window w (w >= 2, asserted). buf must hold 2 w
 * doubles and outlive c; the caller keeps ownership. */
void bal_rolling_cov_init(bal_rolling_cov *c, double *buf, size_t w);
/* Pushes the pair (x, y), both finite (asserted). */
void bal_rolling_cov_push(bal_rolling_cov *c, double x, double y);
/* Correlation in [-1, 1]; NaN until w pairs are in, or when either
 * window variance is 0 (not positive after rounding). */
double bal_rolling_cov_corr(const bal_rolling_cov *c);

/* Zero-mean EWMA variance (RiskMetrics): S_1 = x_1^2,
 * S_t = lambda S_{t-1} + (1 - lambda) x_t^2. */
typedef struct bal_rolling_ewvar {
    double lambda;      /* decay, 0 < lambda < 1 */
    size_t w;           /* values needed before the result is defined */
    size_t n;           /* values pushed */
    double s;           /* S_t */
} bal_rolling_ewvar;

/* Resets e to empty; asserts 0 < lambda < 1 and w >= 1. */
void bal_rolling_ewvar_init(bal_rolling_ewvar *e, double lambda, size_t w);
/* Pushes x (finite, asserted). */
void bal_rolling_ewvar_push(bal_rolling_ewvar *e, double x);
/* S and sqrt(S); NaN until w values are in. */
double bal_rolling_ewvar_var(const bal_rolling_ewvar *e);
double bal_rolling_ewvar_sd(const bal_rolling_ewvar *e);

/* Zero-mean EWMA correlation (RiskMetrics) of a pair: S_1 = r_1 r_1',
 * S_t = lambda S_{t-1} + (1 - lambda) r_t r_t', rho = S_xy / sqrt(S_xx S_yy)
 * from the pair's own S. */
typedef struct bal_rolling_ewcorr {
    double lambda;
    size_t w, n;
    double sxx, syy, sxy;
} bal_rolling_ewcorr;

/* Resets e to empty; asserts 0 < lambda < 1 and w >= 1. */
void bal_rolling_ewcorr_init(bal_rolling_ewcorr *e, double lambda, size_t w);
/* Pushes the pair (x, y), both finite (asserted). */
void bal_rolling_ewcorr_push(bal_rolling_ewcorr *e, double x, double y);
/* rho in [-1, 1]; NaN until w pairs are in, or when S_xx or S_yy is 0. */
double bal_rolling_ewcorr_corr(const bal_rolling_ewcorr *e);

/* ---- 2. The multi-asset engine ---------------------------------------- */

/* Engine options (config `engine.*`). Windows: atr_window >= 1;
 * vol_window >= 2 (>= 1 with vol_ewma); corr_window >= 2 (>= 1 with
 * corr_ewma). simple_returns: C_t / C_{t-1} - 1 instead of ln(C_t/C_{t-1}).
 * vol_ewma / corr_ewma select the RiskMetrics estimators, whose warm-up is
 * still vol_window / corr_window returns; ewma_lambda must then lie in
 * (0, 1). */
typedef struct bal_rolling_options {
    size_t atr_window, vol_window, corr_window;
    int simple_returns;
    int vol_ewma, corr_ewma;
    double ewma_lambda;
} bal_rolling_options;
#define BAL_ROLLING_OPTIONS_INIT { 14, 60, 60, 0, 0, 0, 0.94 }

/* Flags for bal_rolling_warm. */
enum bal_rolling_warm_flags {
    BAL_ROLLING_NEED_VOL = 1 << 0,
    BAL_ROLLING_NEED_ATR = 1 << 1,
    BAL_ROLLING_NEED_CORR = 1 << 2
};

/* Per-asset and per-pair incremental statistics over one timeline. */
typedef struct bal_rolling bal_rolling;

/* Creates an engine for n_assets (>= 1) assets; opt NULL means
 * BAL_ROLLING_OPTIONS_INIT. Caller owns *out (free with bal_rolling_free);
 * *out is NULL on failure. Returns BAL_EINVAL for n_assets == 0, a window
 * below its minimum or a lambda outside (0, 1) when EWMA is selected;
 * BAL_ENOMEM when memory runs out or the sizes overflow size_t. */
int bal_rolling_new(bal_rolling **out, size_t n_assets,
                    const bal_rolling_options *opt, bal_error *err);
/* Frees r; NULL is a no-op. */
void bal_rolling_free(bal_rolling *r);

/* Feeds one timeline step. has_bar[i] != 0 when asset i has a bar at this
 * step; high[i], low[i], close[i] are read only then. close[i] must be
 * finite and > 0 (asserted). high/low may be NaN (close-only asset: its ATR
 * stays NaN), and high and low may both be NULL when no asset has them.
 * Per asset: the return between consecutive bars of its own series, TR/ATR
 * and vol. Per pair (i < j) with both bars at this step: the return of each
 * asset since the last step at which both had bars is pushed into the
 * pair's window (the first common step only records the closes); a step
 * where either lacks a bar leaves the pair untouched. Never allocates. */
void bal_rolling_step(bal_rolling *r, const unsigned char *has_bar,
                      const double *high, const double *low,
                      const double *close);

/* Accessors; i, j < n_assets (asserted). All values are as of the asset's
 * latest bar: a step without a bar leaves them unchanged. */
/* Wilder ATR, NaN until defined (atr_window true ranges). */
double bal_rolling_atr(const bal_rolling *r, size_t i);
/* Per-bar sd of returns (not annualised), NaN until vol_window returns. */
double bal_rolling_vol(const bal_rolling *r, size_t i);
/* Return at the latest bar, NaN before the asset's 2nd bar. */
double bal_rolling_ret(const bal_rolling *r, size_t i);
/* Correlation of the pair's synchronous returns; symmetric, i != j
 * (asserted). NaN until the pair has corr_window returns, or when either
 * variance is 0. */
double bal_rolling_corr(const bal_rolling *r, size_t i, size_t j);
/* Bars seen by asset i. */
size_t bal_rolling_bars(const bal_rolling *r, size_t i);
/* Synchronous returns seen by the pair (i != j, asserted; symmetric). */
size_t bal_rolling_pair_count(const bal_rolling *r, size_t i, size_t j);
/* 1 when every statistic in `need` (BAL_ROLLING_NEED_* flags) is defined for
 * asset i, else 0: VOL once it has vol_window returns, ATR once its ATR is
 * not NaN, CORR once every pair (i, j), j != i, has corr_window synchronous
 * returns (a pair whose correlation is NaN only because a variance is 0
 * still counts as warm). Vacuously 1 for need == 0 or CORR with one asset. */
int bal_rolling_warm(const bal_rolling *r, size_t i, unsigned need);

/* 1 when the pair (i, j), i != j (asserted), got a synchronous return at
 * the last bal_rolling_step; *x_out is then asset i's and *y_out asset
 * j's return (the configured kind). Else 0 and the outputs are untouched.
 * O(1). */
int bal_rolling_pair_last(const bal_rolling *r, size_t i, size_t j,
                          double *x_out, double *y_out);

/* Every pair's correlation, as bal_rolling_corr gives it, into out
 * (n (n - 1) / 2 values, pairs (0,1), (0,2), .., (0,n-1), (1,2), ..), in
 * one pass: O(N^2). */
void bal_rolling_corr_all(const bal_rolling *r, double *out);

#endif /* BAL_ROLLING_H */
