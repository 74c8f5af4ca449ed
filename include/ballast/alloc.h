#ifndef BAL_ALLOC_H
#define BAL_ALLOC_H
#include "ballast/error.h"

/* Allocation methods (SPEC §4 item 2, §12): long-only weights b_i >= 0
 * with sum 1 for a covariance matrix.
 *
 * Conventions shared by every method:
 *   - `cov` is n x n, row-major, a covariance (any consistent scale: the
 *     weights do not depend on it). It is read symmetrised, as
 *     (cov[i][j] + cov[j][i]) / 2, and only on the active assets. It must
 *     be positive semi-definite; bal_alloc_eigen_range checks that.
 *   - `active` (n bytes, NULL = all) marks the assets that take part; the
 *     others get exactly 0 and are left out of the problem, which is
 *     solved on the active sub-matrix.
 *   - An active asset whose variance is 0 has no finite inverse
 *     volatility, correlation or risk budget: INVERSE_VOL, ERC and HRP
 *     give it 0 and solve on the rest. MIN_VARIANCE keeps it (a riskless
 *     asset is then the minimum-variance portfolio). INVERSE_ATR does the
 *     same with an ATR of 0.
 *   - When no active asset is usable, every weight is 0 (the portfolio
 *     stays in cash) and the call succeeds.
 *   - A NaN or infinite covariance entry between two active assets, or a
 *     negative variance, is BAL_EINVAL; so is a NaN, infinite or negative
 *     ATR for INVERSE_ATR.
 *
 * Methods:
 *   EQUAL         1/m over the m active assets (cov not read, may be NULL).
 *   INVERSE_VOL   (1/sigma_i) / sum_j (1/sigma_j), sigma_i = sqrt(cov_ii).
 *   INVERSE_ATR   (1/atr_i) / sum_j (1/atr_j), atr_i = atr_frac[i] (ATR as
 *                 a fraction of price; cov not read, may be NULL).
 *   ERC           equal risk contributions w_i (S w)_i = w'S w / m. Solved
 *                 on the correlation matrix R (S = D R D) by damped Newton
 *                 on Spinu's (2013) self-concordant log-barrier problem
 *                   min_z  z'R z / 2 - sum_i log z_i,   z > 0,
 *                 whose minimiser has z_i (R z)_i = 1; then w = D^-1 z
 *                 normalised. Newton steps are damped by 1 / (1 + lambda)
 *                 while the Newton decrement lambda > 1/4, so every iterate
 *                 stays positive and the method converges globally for any
 *                 positive semi-definite S, singular ones included, as long
 *                 as no long-only portfolio of the usable assets has zero
 *                 variance (then no ERC portfolio exists: BAL_ENUMERIC).
 *                 Stops when max_i |RC_i / sum RC - 1/m| <= erc_tol, with
 *                 RC_i = w_i (S w)_i computed on S; BAL_ENUMERIC after
 *                 max_iter Newton steps, or when the Newton system is not
 *                 positive definite (S is not PSD).
 *   HRP           hierarchical risk parity (Lopez de Prado 2016), rules of
 *                 SPEC §12: rho_ij = S_ij / (sigma_i sigma_j) clipped to
 *                 [-1, 1]; d_ij = sqrt(0.5 (1 - rho_ij)). With hrp_ldp 0
 *                 ("condensed", as PyPortfolioOpt's HRPOpt) the linkage
 *                 clusters d itself; with hrp_ldp 1 (the 2016 paper's
 *                 listing) it clusters the Euclidean distances between the
 *                 rows of d. Linkage as bal_alloc_linkage below. The order
 *                 is the dendrogram's leaves, left child first. Recursive
 *                 bisection of the ordered list: the left half takes
 *                 floor(k/2) of k assets; each half's variance V uses
 *                 inverse-variance weights inside it; alpha = 1 - V_left /
 *                 (V_left + V_right) goes to the left half (0.5 when both
 *                 variances are 0). Unlike PyPortfolioOpt, rho is not
 *                 rounded to 6 decimals before clustering.
 *   MIN_VARIANCE  min w'S w subject to sum w = 1, w >= 0, exactly, by a
 *                 primal active-set method: start at the lowest-variance
 *                 asset; on the free set F solve the equality-constrained
 *                 problem min w_F'S_FF w_F, sum w_F = 1 through the
 *                 eigen-decomposition of S_FF (eigenvalues below
 *                 BAL_ALLOC_RANK_RTOL times the largest count as 0; the
 *                 minimum-norm minimiser is taken when S_FF is singular);
 *                 step towards it until a weight reaches 0 (that asset
 *                 leaves F), else accept it and free the bound asset with
 *                 the most negative KKT multiplier (S w)_j - w'S w, until
 *                 none is below -BAL_ALLOC_KKT_RTOL (relative to the
 *                 largest variance). When the optimum is not unique
 *                 (singular S), the minimum-norm point of the optimal set
 *                 is returned: a second active-set pass minimises |w|^2
 *                 over the optimal face. BAL_ENUMERIC after max_iter
 *                 active-set changes (degenerate cycling; not expected).
 */

enum bal_alloc_method {
    BAL_ALLOC_EQUAL,
    BAL_ALLOC_INVERSE_VOL,
    BAL_ALLOC_INVERSE_ATR,
    BAL_ALLOC_ERC,
    BAL_ALLOC_HRP,
    BAL_ALLOC_MIN_VARIANCE
};

/* Linkage of the hierarchical clustering (scipy.cluster.hierarchy names);
 * same order as config.h's enum bal_linkage, so a value converts with a
 * cast. */
enum bal_alloc_linkage {
    BAL_ALLOC_LINK_SINGLE,
    BAL_ALLOC_LINK_AVERAGE,
    BAL_ALLOC_LINK_COMPLETE,
    BAL_ALLOC_LINK_WARD
};

/* Tolerances of the minimum-variance solver: an eigenvalue of a free-set
 * sub-matrix counts as 0 below RANK_RTOL times that sub-matrix's largest
 * one; a KKT multiplier counts as negative below -KKT_RTOL times the
 * largest variance. Both sit well above double rounding (~1e-16 times the
 * condition number of well-posed problems) and far below any variance
 * difference that matters for an allocation. */
#define BAL_ALLOC_RANK_RTOL 1e-12
#define BAL_ALLOC_KKT_RTOL 1e-11

typedef struct bal_alloc_options {
    int method;         /* enum bal_alloc_method */
    int linkage;        /* HRP: enum bal_alloc_linkage */
    int hrp_ldp;        /* HRP: 0 condensed (PyPortfolioOpt), 1 ldp (2016) */
    double erc_tol;     /* ERC: max |RC_i / sum RC - 1/m|, > 0 */
    size_t max_iter;    /* ERC Newton steps / active-set changes, > 0 */
} bal_alloc_options;
#define BAL_ALLOC_OPTIONS_INIT \
    { BAL_ALLOC_EQUAL, BAL_ALLOC_LINK_SINGLE, 0, 1e-10, 1000 }

/* One merge of a dendrogram: leaves are 0..n-1 (input order), merge k
 * creates cluster n + k; left < right; distance is the linkage height;
 * size the number of leaves under it. */
typedef struct bal_alloc_merge {
    size_t left, right;
    double distance;
    size_t size;
} bal_alloc_merge;

/* Scratch for problems of up to n assets, allocated once. */
typedef struct bal_alloc_work bal_alloc_work;

/* Caller owns *out (free with bal_alloc_work_free). BAL_EINVAL if n is 0,
 * BAL_ENOMEM. */
int bal_alloc_work_new(bal_alloc_work **out, size_t n, bal_error *err);
void bal_alloc_work_free(bal_alloc_work *w);        /* NULL is a no-op */

/* Writes the n weights of method opt->method into w_out (see the top of
 * this header). `atr_frac` (n) is read by INVERSE_ATR only and may be NULL
 * otherwise; `cov` may be NULL for EQUAL and INVERSE_ATR. Nothing is
 * allocated when work was made for >= n assets; a smaller work grows
 * (BAL_ENOMEM if that fails). Returns 0, BAL_EINVAL (bad options or
 * input, w_out untouched), BAL_ENUMERIC (ERC or MIN_VARIANCE did not
 * converge; w_out untouched) or BAL_ENOMEM. */
int bal_alloc_weights(double *w_out, const bal_alloc_options *opt, size_t n,
                      const double *cov, const unsigned char *active,
                      const double *atr_frac, bal_alloc_work *work,
                      bal_error *err);

/* Agglomerative clustering of n points with the n x n row-major distance
 * matrix `dist` (read symmetrised; the diagonal is ignored; entries must
 * be finite, else BAL_EINVAL). Each step merges the two clusters at the
 * smallest linkage distance; ties go to the pair with the
 * lexicographically smallest (min id, max id). Cluster distances follow
 * scipy.cluster.hierarchy.linkage (Lance-Williams): single = min,
 * complete = max, average = size-weighted mean, ward =
 *   sqrt(((|v|+|s|) d(v,s)^2 + (|v|+|t|) d(v,t)^2 - |v| d(s,t)^2)
 *        / (|s|+|t|+|v|))   (0 if the bracket is negative)
 * for the merge of s and t seen from v. The merges and the leaf order are
 * read with bal_alloc_tree. O(n^3) time, no allocation when work was made
 * for >= n (else it grows). */
int bal_alloc_linkage(const double *dist, size_t n, int linkage,
                      bal_alloc_work *work, bal_error *err);

/* The dendrogram of the last bal_alloc_linkage call, or of the last
 * bal_alloc_weights call with HRP (for report.json "clusters"): returns
 * the number of leaves m and sets *merges (m - 1 entries, in merge order)
 * and *order (the m leaves, left child first). Leaf ids are the input
 * indices 0..n-1 of the call (with inactive or zero-variance assets left
 * out of the tree) and merge k has id n + k, n being the call's n. The
 * arrays are borrowed from work and valid until its next use. Returns 0
 * (and NULL pointers) after any other call. */
size_t bal_alloc_tree(const bal_alloc_work *work,
                      const bal_alloc_merge **merges, const size_t **order);

/* Smallest and largest eigenvalue of the symmetrised n x n matrix `cov`
 * (GSL symmetric eigensolver), for checking positive semi-definiteness:
 * callers may accept min >= -rtol * max. BAL_EINVAL when an entry is not
 * finite, BAL_ENUMERIC when GSL fails. No allocation when work was made
 * for >= n (else it grows). */
int bal_alloc_eigen_range(double *min_out, double *max_out, size_t n,
                          const double *cov, bal_alloc_work *work,
                          bal_error *err);

/* Names as in config files and the CLI: "equal", "inverse_vol",
 * "inverse_atr", "erc", "hrp", "min_variance"; "single", "average",
 * "complete", "ward". _parse returns the enum value or -1 when unknown;
 * _name returns NULL for an unknown value. */
int bal_alloc_method_parse(const char *name);
const char *bal_alloc_method_name(int method);
int bal_alloc_linkage_parse(const char *name);
const char *bal_alloc_linkage_name(int linkage);

#endif /* BAL_ALLOC_H */
