#ifndef BAL_COVARIANCE_H
#define BAL_COVARIANCE_H
#include "ballast/error.h"              /* brings <stddef.h> */
#include "ballast/rolling.h"

/* Covariance for sizing and stress correlation (SPEC §3, look-ahead §12).
 * Builds on the rolling engine's outputs (per-asset volatility, per-pair
 * correlation); it does not re-estimate them.
 *
 * Matrices are n x n, row-major doubles. A "correlation matrix" here is
 * symmetric with a diagonal of exactly 1.0; every function below that
 * writes one sets the diagonal to exactly 1.0 and writes (i, j) and (j, i)
 * from one value, so the output is exactly symmetric.
 *
 * Pieces (each usable alone; bal_cov_sizing_corr chains them):
 *   1. matrix helpers: rolling -> correlation matrix, NaN clean-up,
 *      Sigma = rho sigma sigma, shrinkage, stress blend;
 *   2. bal_cov_psd: eigenvalue-floor repair (GSL gsl_eigen_symmv), all
 *      memory taken in bal_cov_psd_new;
 *   3. bal_cov_panel: ring buffer of synchronous return rows (steps at
 *      which every asset has a bar) and the Ledoit-Wolf intensity;
 *   4. bal_cov_stress: expanding stress / calm pair correlations with the
 *      causal type-7 quantile of equal-weight returns;
 *   5. bal_cov_sizing_corr: the sizing correlation of SPEC §3.
 * Formulas and sources: tests/ref/covariance.md. */

/* Shrinkage targets; same order as config.h's enum bal_shrink_target. */
enum bal_cov_target {
    BAL_COV_TARGET_DIAGONAL = 0,        /* identity */
    BAL_COV_TARGET_CONSTANT_CORR = 1    /* off-diagonals = mean rho */
};

/* SPEC §3 / §11 defaults. */
#define BAL_COV_PSD_FLOOR 1e-8
#define BAL_COV_STRESS_QUANTILE 0.1
#define BAL_COV_STRESS_PAIRS 10         /* length of `stress_pairs` */

/* ---- 1. Matrix helpers -------------------------------------------------- */

/* Fills corr_out (n x n) from the engine: off-diagonals are
 * bal_rolling_corr(r, i, j) (NaN kept: a cold pair or a flat series), the
 * diagonal is 1. n must be the engine's asset count. */
void bal_cov_corr_from_rolling(double *corr_out, const bal_rolling *r,
                               size_t n);

/* Replaces each NaN off-diagonal entry of corr by 0 and sets the diagonal
 * to 1. A NaN correlation comes from a pair with a flat series (its
 * covariance is 0 whatever rho is) or a pair still in warm-up (its assets
 * get no weight), so 0 is the neutral value; this matches bal_sizer's
 * treatment. Returns the number of off-diagonal entries replaced (both
 * triangles counted). */
size_t bal_cov_sanitize(double *corr, size_t n);

/* Sigma_ij = rho_ij sigma_i sigma_j with vol_ann the annualised
 * volatilities; Sigma_ii = sigma_i^2 (corr's diagonal is not read). A NaN
 * rho_ij gives Sigma_ij = 0 (see bal_cov_sanitize); a NaN sigma_i gives
 * NaN in row and column i. cov_out may be corr (in place). */
void bal_cov_from_corr(double *cov_out, size_t n, const double *corr,
                       const double *vol_ann);

/* Inverse of bal_cov_from_corr for a user's covariance matrix:
 * vol_out[i] = sqrt(Sigma_ii), corr_out[ij] = Sigma_ij / (vol_i vol_j),
 * diagonal exactly 1. Off-diagonals are not clipped to [-1, 1] (a matrix
 * that is not PSD is left to bal_cov_psd_repair). corr_out may be cov.
 * Returns BAL_EINVAL when an entry is not finite, Sigma_ii <= 0, or
 * Sigma_ij != Sigma_ji (exactly); outputs are then unspecified. */
int bal_cov_to_corr(double *corr_out, double *vol_out, size_t n,
                    const double *cov, bal_error *err);

/* Shrinks the correlation matrix in place:
 *   C <- (1 - delta) C + delta T,
 * T = I (BAL_COV_TARGET_DIAGONAL) or T_ij = rbar for i != j, rbar the mean
 * of the n(n-1)/2 off-diagonal entries of the input
 * (BAL_COV_TARGET_CONSTANT_CORR). The diagonal stays exactly 1; delta = 0
 * leaves corr bit-for-bit unchanged. Returns BAL_EINVAL when delta is not
 * in [0, 1], the target is unknown, or an off-diagonal entry is NaN
 * (run bal_cov_sanitize first); corr is then unchanged. */
int bal_cov_shrink(double *corr, size_t n, int target, double delta,
                   bal_error *err);

/* Stress blend (SPEC §3): for i != j,
 *   C_ij <- (1 - alpha) C_ij + alpha max(C_ij, S_ij),
 * computed as C_ij + alpha max(0, S_ij - C_ij), which is the same number
 * in exact arithmetic and leaves C_ij bit-for-bit unchanged when
 * S_ij <= C_ij or alpha = 0. A NaN S_ij (no stress estimate) leaves C_ij
 * unchanged. The result may not be PSD: repair it afterwards. Returns
 * BAL_EINVAL when alpha is not in [0, 1] or an off-diagonal C_ij is NaN;
 * corr is then unchanged. */
int bal_cov_blend(double *corr, size_t n, const double *stress,
                  double alpha, bal_error *err);

/* ---- 2. PSD repair ------------------------------------------------------ */

/* Eigen workspace for n x n matrices. */
typedef struct bal_cov_psd bal_cov_psd;

/* Caller owns *out (free with bal_cov_psd_free); *out is NULL on failure.
 * BAL_EINVAL for n == 0, BAL_ENOMEM when memory runs out. */
int bal_cov_psd_new(bal_cov_psd **out, size_t n, bal_error *err);
/* Frees w; NULL is a no-op. */
void bal_cov_psd_free(bal_cov_psd *w);

/* Eigenvalue-floor repair of the n x n correlation matrix corr (n as
 * given to bal_cov_psd_new), in place. With lambda_k, v_k the
 * eigenpairs (gsl_eigen_symmv) and f = psd_floor:
 *   - if min_k lambda_k >= f, corr is left bit-for-bit untouched;
 *   - else P = sum_k max(lambda_k - f, 0) v_k v_k' (the clipped matrix
 *     V diag(max(lambda, f)) V' minus f I) and
 *       C'_ij = f [i = j] + (1 - f) P_ij / sqrt(P_ii P_jj),
 *     i.e. the part above the floor is rescaled to a unit diagonal, so C'
 *     has a unit diagonal AND min eigenvalue >= f (plain D B D rescaling of
 *     the clipped B would end below f). P_ii >= 1 - f > 0 always holds for
 *     a unit-diagonal input. Off-diagonals are clamped to [-1, 1] against
 *     rounding.
 * *repaired_out (may be NULL) is 1 when corr was changed, else 0. Never
 * allocates. Returns BAL_EINVAL when psd_floor is not in [0, 1), an entry
 * is NaN or infinite, a diagonal entry is not exactly 1, or corr is not
 * exactly symmetric (corr unchanged); BAL_ENUMERIC when the eigen-solver
 * fails. */
int bal_cov_psd_repair(double *corr, int *repaired_out, bal_cov_psd *w,
                       double psd_floor, bal_error *err);

/* Smallest eigenvalue of the matrix given to the last successful
 * bal_cov_psd_repair (before any repair); NaN before the first. */
double bal_cov_psd_min_eig(const bal_cov_psd *w);

/* ---- 3. Synchronous-return panel and Ledoit-Wolf ------------------------ */

/* The last `window` rows of N synchronous returns, one row per step at
 * which every asset has a bar. Memory (ring buffer and the Ledoit-Wolf
 * workspace) is taken in bal_cov_panel_new: a push is O(N), the intensity
 * O(N^2 window), neither allocates. */
typedef struct bal_cov_panel bal_cov_panel;

/* Caller owns *out (free with bal_cov_panel_free); *out is NULL on
 * failure. simple_returns selects C_t / C_{t-1} - 1 instead of
 * ln(C_t / C_{t-1}) for bal_cov_panel_push_closes (as rolling.h). Returns
 * BAL_EINVAL for n_assets == 0 or window < 2; BAL_ENOMEM when memory runs
 * out or the sizes overflow size_t. */
int bal_cov_panel_new(bal_cov_panel **out, size_t n_assets, size_t window,
                      int simple_returns, bal_error *err);
/* Frees p; NULL is a no-op. */
void bal_cov_panel_free(bal_cov_panel *p);

/* Call once per step at which EVERY asset has a bar, with the N closes
 * (finite, > 0, asserted). The row pushed is each asset's return since the
 * previous such step (the synchronous return of SPEC §3, computed as
 * rolling.c does); the first call only records the closes. The oldest
 * row is dropped once the window is full. */
void bal_cov_panel_push_closes(bal_cov_panel *p, const double *close);
/* Pushes a ready row of N synchronous returns (finite, asserted), for a
 * caller that computes them itself. Do not mix with push_closes on the
 * same panel (push_closes would not see the step). */
void bal_cov_panel_push(bal_cov_panel *p, const double *ret);
/* Rows in the panel, <= window. */
size_t bal_cov_panel_rows(const bal_cov_panel *p);
/* Row k (0 = oldest, k < rows, asserted): N returns, borrowed until the
 * next push. */
const double *bal_cov_panel_row(const bal_cov_panel *p, size_t k);

/* Ledoit-Wolf shrinkage intensity for `target`, estimated on the panel's
 * T rows after standardising each asset (z = (x - mean) / s, s^2 the
 * 1/T variance), so the sample matrix is the correlation matrix R. The
 * estimator is Ledoit & Wolf (2004), "Honey, I shrunk the sample covariance
 * matrix", J. Portfolio Management 30(4), 110-119, Appendix B:
 *   pi_ij = 1/T sum_t (z_it z_jt - r_ij)^2
 *   th_ij = 1/T sum_t (z_it^2 - 1)(z_it z_jt - r_ij)   (theta_ii,ij)
 *   constant_correlation (F_ij = rbar, rbar the mean r_ij, i < j):
 *     pi - rho = sum_{i != j} (pi_ij - rbar th_ij),
 *     gamma    = sum_{i != j} (r_ij - rbar)^2;
 *   diagonal (F = I; the same estimator with the target's off-diagonals
 *   fixed at 0, so its rho term has no off-diagonal part):
 *     pi - rho = sum_{i != j} pi_ij,   gamma = sum_{i != j} r_ij^2;
 *   delta = max(0, min(1, (pi - rho) / gamma / T)).
 * (The diagonal pi_ii cancel against rho's diagonal because the target's
 * diagonal is the sample's.) Assets with zero variance over the panel are
 * left out. gamma == 0 (the sample is the target) gives 1 when pi - rho >
 * 0, else 0; fewer than 2 rows give 1 (no evidence for the sample).
 * Returns BAL_EINVAL for an unknown target (*delta_out unchanged). Uses
 * the panel's workspace, hence the non-const p. */
int bal_cov_panel_ledoit_wolf(double *delta_out, bal_cov_panel *p,
                              int target, bal_error *err);

/* ---- 4. Stress correlation ---------------------------------------------- */

/* Expanding stress / calm correlation of each pair's synchronous returns.
 * Per step: bal_cov_stress_begin classifies the step, then
 * bal_cov_stress_pair adds each pair that got a synchronous return at this
 * step to the stress or the calm statistics. Step t is stress when the
 * caller's portfolio regime is shock, or when the equal-weight return
 * ew_t <= Q_t, Q_t the type-7 quantile at stress_quantile of
 * ew_1..ew_t, the current step INCLUDED (causal: nothing after t is read;
 * the first ew return is therefore always stress). The quantile keeps the
 * order statistics floor(h) and floor(h) + 1, h = (n - 1) p, at the tops of
 * a max-heap and a min-heap (O(log n) per step). Pair statistics are
 * Welford running moments, O(1) per pair per step. All memory is taken in
 * bal_cov_stress_new; nothing allocates afterwards. */
typedef struct bal_cov_stress bal_cov_stress;

/* Caller owns *out (free with bal_cov_stress_free); *out is NULL on
 * failure. max_steps bounds the number of bal_cov_stress_begin calls (the
 * timeline length, known before the run). Returns BAL_EINVAL for
 * n_assets == 0, max_steps == 0 or quantile not in (0, 1); BAL_ENOMEM when
 * memory runs out or the sizes overflow size_t. */
int bal_cov_stress_new(bal_cov_stress **out, size_t n_assets,
                       size_t max_steps, double quantile, bal_error *err);
/* Frees s; NULL is a no-op. */
void bal_cov_stress_free(bal_cov_stress *s);

/* Starts a step. ret_simple[i] is asset i's simple return at this step
 * (since its previous bar; for log returns pass expm1(r)), NaN when it has
 * no bar or no return yet (infinite values are asserted against). ew =
 * mean of the non-NaN values; a step with none adds nothing to the
 * quantile and is stress only if shock != 0. Returns 1 when the step is
 * stress, else 0. More than max_steps calls is a programming error
 * (asserted). */
int bal_cov_stress_begin(bal_cov_stress *s, const double *ret_simple,
                         int shock);
/* Adds pair (i, j)'s synchronous return at the current step: x for asset
 * i, y for asset j (i != j, either order, both < n_assets; x and y finite;
 * at most once per pair per step, after bal_cov_stress_begin; all
 * asserted). */
void bal_cov_stress_pair(bal_cov_stress *s, size_t i, size_t j, double x,
                         double y);

/* Q_t of the last step that had an ew return; NaN before any. */
double bal_cov_stress_threshold(const bal_cov_stress *s);
/* Steps classified so far as stress (stress != 0) or calm. */
size_t bal_cov_stress_steps(const bal_cov_stress *s, int stress);
/* Number of returns pair (i, j) added under stress (stress != 0) or calm
 * steps; i != j (asserted), symmetric. */
size_t bal_cov_stress_count(const bal_cov_stress *s, size_t i, size_t j,
                            int stress);
/* Pearson correlation (own means) of the pair's stress or calm returns,
 * in [-1, 1]; NaN with fewer than 2 returns or a zero variance. */
double bal_cov_stress_corr(const bal_cov_stress *s, size_t i, size_t j,
                           int stress);
/* Fills corr_out (n x n, diagonal 1) with the stress or calm correlations;
 * entries with fewer than min_obs returns (or NaN) are NaN. */
void bal_cov_stress_matrix(double *corr_out, const bal_cov_stress *s,
                           int stress, size_t min_obs);
/* The k pairs (i < j) with the largest rho_stress - rho_calm, largest
 * first; equal differences keep pair order ((0,1), (0,2), .., (1,2), ..).
 * Pairs whose difference is NaN or that have fewer than min_obs stress or
 * calm returns are skipped. Writes up to k entries to i_out, j_out and
 * diff_out (k each) and returns how many. O(pairs k). */
size_t bal_cov_stress_top(size_t *i_out, size_t *j_out, double *diff_out,
                          size_t k, const bal_cov_stress *s, size_t min_obs);

/* ---- 5. The sizing correlation ------------------------------------------ */

/* Options (config engine.*). */
typedef struct bal_cov_options {
    int ledoit_wolf;        /* estimate delta on the panel */
    double shrinkage;       /* fixed delta in [0, 1] (ignored with LW) */
    int target;             /* enum bal_cov_target */
    double psd_floor;       /* [0, 1) */
    double stress_blend;    /* alpha in [0, 1] */
} bal_cov_options;
#define BAL_COV_OPTIONS_INIT \
    { 0, 0.0, BAL_COV_TARGET_DIAGONAL, BAL_COV_PSD_FLOOR, 0.0 }

/* The correlation used for sizing, in place on corr (the engine's rho,
 * e.g. from bal_cov_corr_from_rolling): bal_cov_sanitize, then
 * bal_cov_shrink with delta = opt->shrinkage or the panel's Ledoit-Wolf
 * intensity, then bal_cov_blend with stress_corr when alpha > 0 and
 * stress_corr is not NULL, then bal_cov_psd_repair (one repair at the
 * end: shrinkage cannot break PSD, the blend can). opt NULL means
 * BAL_COV_OPTIONS_INIT; panel may be NULL unless opt->ledoit_wolf.
 * *delta_out and *repaired_out (each may be NULL) get the intensity used
 * and the repair flag. Never allocates. Returns BAL_EINVAL for an option
 * out of range or a missing panel, else what the steps return. */
int bal_cov_sizing_corr(double *corr, double *delta_out, int *repaired_out,
                        bal_cov_psd *w, bal_cov_panel *panel,
                        const double *stress_corr,
                        const bal_cov_options *opt, bal_error *err);

#endif /* BAL_COVARIANCE_H */
