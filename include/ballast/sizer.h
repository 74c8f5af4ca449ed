#ifndef BAL_SIZER_H
#define BAL_SIZER_H
#include "ballast/error.h"
#include <math.h>               /* NAN in BAL_SIZER_OPTIONS_INIT */

/* Target weights at a decision step (SPEC §4): allocation, caps,
 * volatility target. Weights are fractions of equity; cash is 1 - sum. */

enum bal_sizer_method {
    BAL_SIZE_FIXED,         /* the given targets */
    BAL_SIZE_EQUAL,         /* 1/n over active assets */
    BAL_SIZE_INVERSE_VOL    /* (1/sigma_i) / sum_j (1/sigma_j) */
};

typedef struct bal_sizer_options {
    int method;             /* enum bal_sizer_method */
    const double *targets;  /* method FIXED: n weights, borrowed */
    double max_weight;      /* per-asset cap in (0, 1] */
    double target_vol;      /* annualised; NaN = no volatility target */
    double max_gross;       /* bound on sum |w| (> 0) */
} bal_sizer_options;
#define BAL_SIZER_OPTIONS_INIT { BAL_SIZE_EQUAL, NULL, 1.0, NAN, 2.0 }

/* Room the caller provides for bal_sizer_targets: doubles. */
#define BAL_SIZER_WORK(n) (2 * (n))

/* Writes n target weights into w_out.
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

/* Caps weights at `cap` and redistributes the excess over uncapped
 * assets pro rata (iterative water-filling); weights <= 0 never receive
 * any. `capped` is n bytes of scratch. */
void bal_sizer_cap(double *w, size_t n, double cap, unsigned char *capped);

#endif /* BAL_SIZER_H */
