#ifndef BAL_SIZER_H
#define BAL_SIZER_H
#include "ballast/error.h"
#include <math.h>               /* NAN in BAL_SIZER_OPTIONS_INIT */

/* Target weights at a decision step (SPEC §4): allocation, caps,
 * volatility target. Weights are fractions of equity; cash is 1 - sum. */

enum bal_sizer_method {
    BAL_SIZE_FIXED,         /* the given targets */
    BAL_SIZE_EQUAL,         /* 1/n over active assets */
    BAL_SIZE_INVERSE_VOL,   /* (1/sigma_i) / sum_j (1/sigma_j) */
    BAL_SIZE_GIVEN          /* an allocation computed by the caller (e.g.
                               by alloc.h), passed in `targets` */
};

/* Classes for class_caps: any small integers below BAL_SIZER_CLASSES. */
#define BAL_SIZER_CLASSES 8

typedef struct bal_sizer_options {
    int method;             /* enum bal_sizer_method */
    const double *targets;  /* FIXED / GIVEN: n weights >= 0, borrowed */
    double max_weight;      /* per-asset cap in (0, 1] */
    double target_vol;      /* annualised; NaN = no volatility target */
    double max_gross;       /* bound on sum |w| (> 0) */
    /* Direction d_i in [-1, 1] per asset (n, borrowed); NULL = all +1. */
    const double *direction;
    /* Exposure multiplier applied after the volatility target (regime
     * scale x drawdown governor); 1 = none. */
    double multiplier;
    /* Asset classes (n, borrowed; NULL = no class caps) and the cap on
     * the sum of |w| per class (NaN = none). */
    const int *asset_class;
    double class_caps[BAL_SIZER_CLASSES];
} bal_sizer_options;
#define BAL_SIZER_OPTIONS_INIT { BAL_SIZE_EQUAL, NULL, 1.0, NAN, 2.0, NULL, \
    1.0, NULL, { NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN } }

/* Room the caller provides for bal_sizer_targets: doubles. */
#define BAL_SIZER_WORK(n) (2 * (n))

/* Writes n target weights into w_out (SPEC §4):
 *   1. allocation b (>= 0) by method, inactive assets 0;
 *   2. caps on b: weight above max_weight, and class sums above their
 *      class cap, are redistributed over the uncapped assets in proportion
 *      to their weights (iterative water-filling); what cannot be placed
 *      stays in cash;
 *   3. w = d * b with the direction d;
 *   4. volatility target (below);
 *   5. times `multiplier`;
 *   6. |w_i| clipped to max_weight, then each class whose sum of |w|
 *      exceeds its cap scaled down to it (no redistribution).
 *   vol_ann[i]  annualised volatility of asset i (read by INVERSE_VOL and
 *               the volatility target);
 *   corr        n x n row-major correlations (read by the volatility
 *               target; NULL means identity); a NaN off-diagonal entry
 *               (a pair with a flat series) counts as 0;
 *   active[i]   non-zero when asset i may hold weight (warm, tradable);
 *               inactive assets get exactly 0;
 *   work        BAL_SIZER_WORK(n) doubles, so nothing allocates.
 * INVERSE_VOL gives 0 to an active asset whose volatility is 0 or NaN
 * (no finite inverse), and returns all-zero weights when none is usable.
 * Caps: weight above max_weight is redistributed over the uncapped assets
 * in proportion to their weights (water-filling); what cannot be placed
 * stays in cash. Volatility target: all weights are scaled by
 * s = min(target_vol / sqrt(w' S w), max_gross / sum|w|), with
 * S_ij = corr_ij vol_i vol_j (s = max_gross / sum|w| when w' S w = 0);
 * without a target s = min(1, max_gross / sum|w|). Finally |w_i| is
 * clipped to max_weight. Returns BAL_EINVAL when a volatility the method
 * or target needs is NaN for an active asset. */
int bal_sizer_targets(double *w_out, const bal_sizer_options *opt, size_t n,
                      const double *vol_ann, const double *corr,
                      const unsigned char *active, double *work,
                      bal_error *err);

/* Portfolio variance w' S w with S_ij = corr_ij vol_i vol_j; NaN
 * correlations count as 0; corr NULL = identity. */
double bal_sizer_variance(const double *w, size_t n, const double *vol_ann,
                          const double *corr);

/* Risk contributions rc_i = w_i (S w)_i with S_ij = corr_ij vol_i vol_j
 * (NaN correlations count as 0, corr NULL = identity) into rc_out (n);
 * returns their sum. */
double bal_sizer_risk(double *rc_out, const double *w, size_t n,
                      const double *vol_ann, const double *corr);

/* Caps weights at `cap` and class sums at class_caps[asset_class[i]]
 * (asset_class NULL or NaN caps: none) and redistributes the excess over
 * the uncapped assets pro rata (iterative water-filling); weights <= 0
 * never receive any. `capped` is n bytes of scratch. */
void bal_sizer_cap(double *w, size_t n, double cap, const int *asset_class,
                   const double *class_caps, unsigned char *capped);

/* Drawdown governor (SPEC §4.6, §12): an exposure multiplier from the
 * drawdown dd = 1 - E / peak. Target m(dd) = 1 while dd <= start, falling
 * linearly to `floor` at `max` and staying there beyond. The multiplier
 * falls at once and rises by at most recovery_rate per step. With `halt`
 * set, dd >= halt makes it 0 (flat) until the caller's shadow book (the
 * last pre-halt targets marked to market, no costs) is back within
 * `resume` of the peak; then the peak resets to the current equity and
 * the multiplier climbs from 0 at recovery_rate. */
typedef struct bal_governor_options {
    double start, max, floor;
    double recovery_rate;   /* NaN = rises at once */
    double halt, resume;    /* NaN = no halt */
} bal_governor_options;

typedef struct bal_governor {
    bal_governor_options opt;
    double peak;            /* running equity peak (reset on resume) */
    double mult;            /* current multiplier */
    double dd;              /* last drawdown seen */
    int halted;
} bal_governor;

/* Starts with multiplier 1 and no peak. */
void bal_governor_init(bal_governor *g, const bal_governor_options *opt);

/* The target multiplier for drawdown dd (before the recovery limit). */
double bal_governor_target(const bal_governor_options *opt, double dd);

/* Advances one step with the equity E at the close and, while halted, the
 * shadow book's equity (ignored otherwise). Returns the multiplier;
 * *event is set to +1 when the halt starts, -1 when trading resumes, else
 * 0. */
double bal_governor_step(bal_governor *g, double equity, double shadow,
                         int *event);

#endif /* BAL_SIZER_H */
