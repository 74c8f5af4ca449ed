/* Allocation methods (include/ballast/alloc.h). References:
 *   - HRP: tests/ref/alloc/hrp_reference.py, an independent pure-Python
 *     implementation of PyPortfolioOpt 1.5.6 HRPOpt (condensed) and of
 *     Lopez de Prado's 2016 listing (ldp), output in hrp_reference.txt;
 *     scipy.cluster.hierarchy docstring examples (published linkage
 *     matrices); hand-computed trees and weights.
 *   - ERC: the defining condition RC_i = w'Sw / m, checked here to 1e-10;
 *     closed forms w ~ 1/sigma for two assets and for equicorrelation.
 *   - Minimum variance: closed form S^-1 1 / 1'S^-1 1 by GSL LU;
 *     exhaustive enumeration of active sets (GSL LU); least-norm optimum
 *     of singular problems by enumeration with a GSL SVD pseudo-inverse;
 *     hand-computed singular cases. */
#include "ballast/alloc.h"
#include "helpers.h"

#include <gsl/gsl_linalg.h>
#include <stdint.h>
#include <string.h>

/* tests/ref/alloc/hrp_reference.py COV6 and COV7 (also in the CLI case
 * tests/cli/203-weights-hrp-matches-reference). */
static const double COV6[36] = {
    0.020164, 0.0164635, 0.0024282, -0.00229614, -0.00486066, 0.00452412,
    0.0164635, 0.034969, 0.0042636, 0.00475167, 0.0140213, 0.00728178,
    0.0024282, 0.0042636, 0.009025, 0.0116309, 0.00449065, -0.0013452,
    -0.00229614, 0.00475167, 0.0116309, 0.053361, 0.00866019, 0.0013629,
    -0.00486066, 0.0140213, 0.00449065, 0.00866019, 0.026569, 0.00269276,
    0.00452412, 0.00728178, -0.0013452, 0.0013629, 0.00269276, 0.013924
};

static const double COV7[49] = {
    0.048841, -0.0200337, 0.0331588, -0.00779246, -0.0309953, 0.0041769,
    0.00116688,
    -0.0200337, 0.067081, -0.0194302, -0.00382284, 0.0121083, 0.00538461,
    -0.0273504,
    0.0331588, -0.0194302, 0.058564, -0.00773916, -0.02662, 0.00365904,
    -0.00042592,
    -0.00779246, -0.00382284, -0.00773916, 0.006724, 0.008118, -0.00263466,
    0.00548416,
    -0.0309953, 0.0121083, -0.02662, 0.008118, 0.075625, -0.006237,
    -0.00242,
    0.0041769, 0.00538461, 0.00365904, -0.00263466, -0.006237, 0.035721,
    -0.00432432,
    0.00116688, -0.0273504, -0.00042592, 0.00548416, -0.00242, -0.00432432,
    0.030976
};

/* Deterministic high-entropy numbers (xorshift64*, fixed seeds). */
static uint64_t rng_state;

static double rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11)
           / 9007199254740992.0;
}

/* S = B B' + diag(e) with B n x k uniform in [-1, 1], scaled by vol. */
static void random_cov(double *s, size_t n, size_t k, double ridge,
                       uint64_t seed)
{
    double b[16 * 16], vol[16];
    size_t i, j, l;

    rng_state = seed;
    for (i = 0; i < n * k; i++)
        b[i] = 2 * rnd() - 1;
    for (i = 0; i < n; i++)
        vol[i] = 0.05 + 0.3 * rnd();
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            double v = i == j ? ridge : 0;

            for (l = 0; l < k; l++)
                v += b[i * k + l] * b[j * k + l];
            s[i * n + j] = v * vol[i] * vol[j];
        }
}

static double risk_dev(const double *w, const double *s, size_t n)
{
    double rc[16], tot = 0, dev = 0;
    size_t i, j, m = 0;

    for (i = 0; i < n; i++) {
        double sw = 0;

        for (j = 0; j < n; j++)
            sw += s[i * n + j] * w[j];
        rc[i] = w[i] * sw;
        tot += rc[i];
        m += w[i] > 0;
    }
    for (i = 0; i < n; i++) {
        double d;

        if (w[i] == 0)
            continue;
        d = fabs(rc[i] / tot - 1.0 / (double)m);
        if (d > dev)
            dev = d;
    }
    return dev;
}

static double variance(const double *w, const double *s, size_t n)
{
    double v = 0;
    size_t i, j;

    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            v += w[i] * s[i * n + j] * w[j];
    return v;
}

static void assert_simplex(const double *w, size_t n)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        cr_assert(w[i] >= 0, "w[%zu] = %.17g < 0", i, w[i]);
        sum += w[i];
    }
    assert_rel(sum, 1.0, 1e-14);
}

static bal_alloc_work *work_for(size_t n)
{
    bal_alloc_work *w = NULL;
    bal_error err = BAL_ERROR_INIT;

    cr_assert_eq(bal_alloc_work_new(&w, n, &err), 0, "%s", err.msg);
    return w;
}

static int run(double *w, int method, size_t n, const double *cov,
               bal_alloc_work *work, bal_error *err)
{
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;

    o.method = method;
    return bal_alloc_weights(w, &o, n, cov, NULL, NULL, work, err);
}

/* ------------------------------------------------------------------ */

Test(alloc, equal_splits_over_active_assets)
{
    unsigned char act[5] = { 1, 0, 1, 1, 0 };
    double w[5];
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    bal_alloc_work *work = work_for(5);

    cr_assert_eq(bal_alloc_weights(w, &o, 5, NULL, act, NULL, work, NULL),
                 0);
    assert_rel(w[0], 1.0 / 3, 1e-15);
    cr_assert_eq(w[1], 0);
    assert_rel(w[2], 1.0 / 3, 1e-15);
    assert_rel(w[3], 1.0 / 3, 1e-15);
    cr_assert_eq(w[4], 0);
    bal_alloc_work_free(work);
}

/* sigma = 0.21, 0.13, 0.35: 1/sigma = 1300/273, 2100/273, 780/273, sum
 * 4180/273, so w = (65, 105, 39) / 209. Asset 3 has zero variance (0),
 * asset 4 is inactive (0, its NaN row is not read). */
Test(alloc, inverse_vol_by_hand)
{
    double n = NAN;
    double s[25] = {
        0.0441, 0.00732, -0.0193, 0, n,
        0.00732, 0.0169, 0.00271, 0, n,
        -0.0193, 0.00271, 0.1225, 0, n,
        0, 0, 0, 0, n,
        n, n, n, n, n
    };
    unsigned char act[5] = { 1, 1, 1, 1, 0 };
    double w[5];
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    bal_alloc_work *work = work_for(5);

    o.method = BAL_ALLOC_INVERSE_VOL;
    cr_assert_eq(bal_alloc_weights(w, &o, 5, s, act, NULL, work, NULL), 0);
    assert_rel(w[0], 65.0 / 209, 1e-15);
    assert_rel(w[1], 105.0 / 209, 1e-15);
    assert_rel(w[2], 39.0 / 209, 1e-15);
    cr_assert_eq(w[3], 0);
    cr_assert_eq(w[4], 0);
    bal_alloc_work_free(work);
}

/* 1/ATR = 250/3, 100/3, 400/3: w = (250, 100, 400) / 750 = (1/3, 2/15,
 * 8/15); an ATR of 0 gets 0; NaN or negative ATR is an error. */
Test(alloc, inverse_atr_by_hand)
{
    double atr[4] = { 0.012, 0.03, 0.0075, 0 }, w[4] = { 9, 9, 9, 9 };
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    bal_alloc_work *work = work_for(4);
    bal_error err = BAL_ERROR_INIT;

    o.method = BAL_ALLOC_INVERSE_ATR;
    cr_assert_eq(bal_alloc_weights(w, &o, 4, NULL, NULL, atr, work, &err),
                 0);
    assert_rel(w[0], 1.0 / 3, 1e-15);
    assert_rel(w[1], 2.0 / 15, 1e-15);
    assert_rel(w[2], 8.0 / 15, 1e-15);
    cr_assert_eq(w[3], 0);
    atr[1] = NAN;
    cr_assert_eq(bal_alloc_weights(w, &o, 4, NULL, NULL, atr, work, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "ATR of asset 2 is nan");
    atr[1] = -0.01;
    cr_assert_eq(bal_alloc_weights(w, &o, 4, NULL, NULL, atr, work, &err),
                 BAL_EINVAL);
    assert_rel(w[0], 1.0 / 3, 1e-15);   /* untouched on error */
    bal_alloc_work_free(work);
}

/* ------------------------------------------------------------------ */
/* ERC                                                                  */

/* Two assets: w1 s1 (w1 s1 + rho w2 s2) = w2 s2 (w2 s2 + rho w1 s1)
 * holds iff w1 s1 = w2 s2, so w ~ 1/sigma whatever rho. */
Test(alloc, erc_two_assets_is_inverse_vol)
{
    const double s1 = 0.173, s2 = 0.291, rhos[3] = { -0.37, 0.64, 0.0 };
    bal_alloc_work *work = work_for(2);
    size_t k;

    for (k = 0; k < 3; k++) {
        double c[4] = { s1 * s1, rhos[k] * s1 * s2, rhos[k] * s1 * s2,
                        s2 * s2 };
        double w[2];

        cr_assert_eq(run(w, BAL_ALLOC_ERC, 2, c, work, NULL), 0);
        assert_rel(w[0], (1 / s1) / (1 / s1 + 1 / s2), 1e-12);
        assert_rel(w[1], (1 / s2) / (1 / s1 + 1 / s2), 1e-12);
        cr_assert(risk_dev(w, c, 2) <= 1e-10);
    }
    bal_alloc_work_free(work);
}

/* Equicorrelation R = rho 11' + (1 - rho) I: (R z)_i = z_i (1 - rho) +
 * rho sum z, equal for equal z, so z = const and w ~ 1/sigma. */
Test(alloc, erc_equicorrelation_is_inverse_vol)
{
    const double sig[4] = { 0.113, 0.247, 0.069, 0.182 }, rho = 0.31;
    double c[16], w[4], isum = 0;
    bal_alloc_work *work = work_for(4);
    size_t i, j;

    for (i = 0; i < 4; i++) {
        isum += 1 / sig[i];
        for (j = 0; j < 4; j++)
            c[i * 4 + j] = (i == j ? 1 : rho) * sig[i] * sig[j];
    }
    cr_assert_eq(run(w, BAL_ALLOC_ERC, 4, c, work, NULL), 0);
    for (i = 0; i < 4; i++)
        assert_rel(w[i], 1 / sig[i] / isum, 1e-12);
    bal_alloc_work_free(work);
}

Test(alloc, erc_equalises_risk_contributions_to_1e_10)
{
    double c[16 * 16], w[16];
    bal_alloc_work *work = work_for(3);     /* grows on demand */
    bal_error err = BAL_ERROR_INIT;
    uint64_t seed;

    cr_assert_eq(run(w, BAL_ALLOC_ERC, 6, COV6, work, &err), 0, "%s",
                 err.msg);
    assert_simplex(w, 6);
    cr_assert(risk_dev(w, COV6, 6) <= 1e-10, "%g", risk_dev(w, COV6, 6));
    cr_assert_eq(run(w, BAL_ALLOC_ERC, 7, COV7, work, &err), 0, "%s",
                 err.msg);
    assert_simplex(w, 7);
    cr_assert(risk_dev(w, COV7, 7) <= 1e-10, "%g", risk_dev(w, COV7, 7));
    /* random factor models, from well to badly conditioned */
    for (seed = 1; seed <= 12; seed++) {
        size_t n = 4 + seed, k = 1 + seed % 4;
        double ridge = seed % 3 == 0 ? 1e-6 : 0.37;

        random_cov(c, n, k, ridge, 0x9E3779B97F4A7C15ULL * seed);
        cr_assert_eq(run(w, BAL_ALLOC_ERC, n, c, work, &err), 0,
                     "seed %d: %s", (int)seed, err.msg);
        assert_simplex(w, n);
        cr_assert(risk_dev(w, c, n) <= 1e-10, "seed %d: %g", (int)seed,
                  risk_dev(w, c, n));
    }
    bal_alloc_work_free(work);
}

/* Rank 2: x3 = x1 + x2, so S = B B' with rows b1, b2, b1 + b2; the null
 * vector (1, 1, -1) has mixed signs, so every long-only portfolio is
 * risky and the ERC portfolio exists. */
Test(alloc, erc_singular_psd_matrix)
{
    const double b[3][2] = { { 0.137, 0.041 }, { -0.022, 0.189 },
                             { 0.115, 0.230 } };
    double c[9], w[3];
    bal_alloc_work *work = work_for(3);
    bal_error err = BAL_ERROR_INIT;
    size_t i, j;

    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++)
            c[i * 3 + j] = b[i][0] * b[j][0] + b[i][1] * b[j][1];
    cr_assert_eq(run(w, BAL_ALLOC_ERC, 3, c, work, &err), 0, "%s", err.msg);
    assert_simplex(w, 3);
    cr_assert(risk_dev(w, c, 3) <= 1e-10, "%g", risk_dev(w, c, 3));
    bal_alloc_work_free(work);
}

/* rho = -1 with equal volatilities: (1/2, 1/2) has zero variance, no
 * ERC portfolio exists (the barrier problem is unbounded). With the
 * invalid "correlation" -1.5 no positive point has equal contributions
 * and the Newton matrix loses definiteness. */
Test(alloc, erc_fails_cleanly_without_a_solution)
{
    double hedge[4] = { 0.04, -0.04, -0.04, 0.04 };
    double bad[4] = { 0.0256, -0.0336, -0.0336, 0.0196 };
    double w[3] = { 7, 7, 7 };
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    bal_alloc_work *work = work_for(3);
    bal_error err = BAL_ERROR_INIT;

    o.method = BAL_ALLOC_ERC;
    o.max_iter = 200;
    cr_assert_eq(bal_alloc_weights(w, &o, 2, hedge, NULL, NULL, work, &err),
                 BAL_ENUMERIC);
    cr_assert(strstr(err.msg, "erc did not converge in 200 iterations"),
              "%s", err.msg);
    cr_assert_eq(w[0], 7);
    cr_assert_eq(bal_alloc_weights(w, &o, 2, bad, NULL, NULL, work, &err),
                 BAL_ENUMERIC);
    cr_assert(strstr(err.msg, "erc: the covariance matrix is not positive "
                     "semi-definite ("), "%s", err.msg);
    cr_assert_eq(w[0], 7);
    /* too few iterations on a solvable problem */
    o.max_iter = 1;
    cr_assert_eq(bal_alloc_weights(w, &o, 7, COV7, NULL, NULL, work, &err),
                 BAL_ENUMERIC);
    cr_assert(strstr(err.msg, "in 1 iterations"), "%s", err.msg);
    bal_alloc_work_free(work);
}

/* ------------------------------------------------------------------ */
/* HRP                                                                  */

struct ref_tree {
    size_t merges[6][3];        /* left, right, size */
    double dist[6];
    size_t order[7];
    double w[7];
};

static void check_tree(bal_alloc_work *work, size_t n,
                       const struct ref_tree *t, double dist_tol)
{
    const bal_alloc_merge *mg;
    const size_t *ord;
    size_t k;

    cr_assert_eq(bal_alloc_tree(work, &mg, &ord), n);
    for (k = 0; k + 1 < n; k++) {
        cr_assert_eq(mg[k].left, t->merges[k][0], "merge %zu", k);
        cr_assert_eq(mg[k].right, t->merges[k][1], "merge %zu", k);
        cr_assert_eq(mg[k].size, t->merges[k][2], "merge %zu", k);
        assert_abs(mg[k].distance, t->dist[k], dist_tol);
    }
    for (k = 0; k < n; k++)
        cr_assert_eq(ord[k], t->order[k], "order[%zu]", k);
}

/* PyPortfolioOpt HRPOpt.optimize("single") on COV6, by hand: sorted
 * correlations 0.62 (0-1), 0.53 (2-3), 0.46 (1-4), 0.33 (1-5), 0.29
 * (2-4), ...; single linkage merges {0,1} = 6, {2,3} = 7, 4 + 6 = 8,
 * 5 + 8 = 9 and 7 + 9 = 10 (heights sqrt(0.5 (1 - rho)) of those
 * correlations); leaves left first: 2 3 5 4 0 1; bisection [2 3 5] |
 * [4 0 1] (3 of 6), then [2] | [3 5], [3] | [5], [4] | [0 1], [0] | [1].
 * Weights from tests/ref/alloc/hrp_reference.txt [COV6 condensed
 * single]; heights there use rho rounded to 6 decimals as PyPortfolioOpt
 * does, ours are unrounded (differ by < 1e-6). */
Test(alloc, hrp_single_matches_pyportfolioopt)
{
    static const struct ref_tree t = {
        { { 0, 1, 2 }, { 2, 3, 2 }, { 4, 6, 3 }, { 5, 8, 4 }, { 7, 9, 6 } },
        { 0.43588932081435533, 0.4847669543192894, 0.5196147611452161,
          0.5787918451395112, 0.5958187643906492 },
        { 2, 3, 5, 4, 0, 1 },
        { 0.1094972271411587, 0.06313883977449522, 0.38904734928698054,
          0.06323811673389115, 0.13273078342104638, 0.242347683642428 }
    };
    double w[6];
    bal_alloc_work *work = work_for(6);
    size_t i;

    cr_assert_eq(run(w, BAL_ALLOC_HRP, 6, COV6, work, NULL), 0);
    for (i = 0; i < 6; i++)
        assert_rel(w[i], t.w[i], 1e-13);
    assert_simplex(w, 6);
    check_tree(work, 6, &t, 1e-6);
    /* the merge heights, unrounded: d = sqrt(0.5 (1 - rho)) */
    {
        const bal_alloc_merge *mg;
        const size_t *ord;

        bal_alloc_tree(work, &mg, &ord);
        assert_rel(mg[0].distance,
                   sqrt(0.5 * (1 - 0.0164635 / sqrt(0.020164 * 0.034969))),
                   1e-15);
    }
    bal_alloc_work_free(work);
}

/* COV7, each linkage, both distances, against hrp_reference.txt: the
 * eight variants give eight different trees. Single/average/complete are
 * computed there from their definitions over leaf pairs, ward by
 * Lance-Williams (checked against the centroid formula for ldp). */
Test(alloc, hrp_each_linkage_and_distance_match_reference)
{
    static const struct ref_tree t[8] = {
        { { { 0, 2, 2 }, { 3, 6, 2 }, { 4, 8, 3 }, { 1, 9, 4 },
            { 5, 10, 5 }, { 7, 11, 7 } },
          { 0.4358904678930247, 0.5567764362830022, 0.565685424949238,
            0.6442045482608765, 0.6670832032063166, 0.6708203932499369 },
          { 0, 2, 5, 1, 4, 3, 6 },
          { 0.06705134940479499, 0.061758488630633504, 0.05189160097400771,
            0.5582598383371663, 0.05478110645727639, 0.08507543796203317,
            0.12118217823408793 } },
        { { { 0, 2, 2 }, { 3, 6, 2 }, { 1, 4, 2 }, { 5, 7, 3 },
            { 8, 9, 4 }, { 10, 11, 7 } },
          { 0.4358904678930247, 0.5567764362830022, 0.6442045482608765,
            0.6745266957812319, 0.7381990070113716, 0.7795584336922733 },
          { 5, 0, 2, 3, 6, 1, 4 },
          { 0.050430868758767164, 0.06175848863063344, 0.0420581596381215,
            0.5582598383371663, 0.054781106457276345, 0.1115293599439473,
            0.12118217823408793 } },
        { { { 0, 2, 2 }, { 3, 6, 2 }, { 1, 4, 2 }, { 5, 7, 3 },
            { 8, 10, 5 }, { 9, 11, 7 } },
          { 0.4358904678930247, 0.5567764362830022, 0.6442045482608765,
            0.6782329983125268, 0.8455767262643882, 0.8944271909999159 },
          { 1, 4, 3, 6, 5, 0, 2 },
          { 0.045069991165190976, 0.0665805798158801, 0.03758731368245155,
            0.5548388784945109, 0.04933205446607721, 0.11452401855069262,
            0.13206716382519668 } },
        { { { 0, 2, 2 }, { 3, 6, 2 }, { 1, 4, 2 }, { 5, 9, 3 },
            { 8, 10, 5 }, { 7, 11, 7 } },
          { 0.4358904678930247, 0.5567764362830022, 0.6442045482608765,
            0.7291548760951498, 0.8884444083152679, 1.0105161269653955 },
          { 0, 2, 3, 6, 5, 1, 4 },
          { 0.05793660458157419, 0.04468084816116517, 0.06333247612556141,
            0.5516066525605854, 0.03963287240329417, 0.11276818264831073,
            0.13004236351950893 } },
        { { { 0, 2, 2 }, { 3, 4, 2 }, { 6, 8, 3 }, { 1, 9, 4 },
            { 5, 10, 5 }, { 7, 11, 7 } },
          { 0.6177296179320381, 0.8272449481664796, 0.8359173311486565,
            0.9536335498695424, 0.9803814739760914, 1.003348138453139 },
          { 0, 2, 5, 1, 6, 3, 4 },
          { 0.06705134940479503, 0.11089491286326873, 0.05189160097400774,
            0.4086048763103269, 0.036330038853694416, 0.0850754379620332,
            0.24015178363187403 } },
        { { { 0, 2, 2 }, { 3, 4, 2 }, { 6, 8, 3 }, { 1, 5, 2 },
            { 9, 10, 5 }, { 7, 11, 7 } },
          { 0.6177296179320381, 0.8272449481664796, 0.9560889118401238,
            0.9803814739760914, 1.1256313854977609, 1.190538828001637 },
          { 0, 2, 6, 3, 4, 1, 5 },
          { 0.05827330512155665, 0.06199412258799615, 0.049065351182971596,
            0.5707376954018225, 0.050745656381908866, 0.11641968974343857,
            0.09276417958030567 } },
        { { { 0, 2, 2 }, { 3, 4, 2 }, { 1, 5, 2 }, { 6, 8, 3 },
            { 7, 9, 4 }, { 10, 11, 7 } },
          { 0.6177296179320381, 0.8272449481664796, 0.9803814739760914,
            1.076260492531591, 1.2590329760295782, 1.3368695304926084 },
          { 6, 3, 4, 0, 2, 1, 5 },
          { 0.06832392747718077, 0.07283211741258744, 0.05698055020000319,
            0.49310493514550774, 0.04384314160553252, 0.1367725222741182,
            0.1281428058850701 } },
        { { { 0, 2, 2 }, { 3, 4, 2 }, { 1, 5, 2 }, { 6, 8, 3 },
            { 9, 10, 5 }, { 7, 11, 7 } },
          { 0.6177296179320381, 0.8272449481664796, 0.9803814739760914,
            1.0049634587604186, 1.3456230230758748, 1.5956314261084863 },
          { 0, 2, 1, 5, 6, 3, 4 },
          { 0.06734973472214863, 0.0709942953933603, 0.08131904120760197,
            0.4739586671211714, 0.04214080102773897, 0.12271945630710028,
            0.14151800422087837 } },
    };
    bal_alloc_work *work = work_for(7);
    size_t v, i;

    for (v = 0; v < 8; v++) {
        bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
        double w[7];

        o.method = BAL_ALLOC_HRP;
        o.hrp_ldp = v >= 4;
        o.linkage = (int)(v % 4);
        cr_assert_eq(bal_alloc_weights(w, &o, 7, COV7, NULL, NULL, work,
                                       NULL), 0);
        for (i = 0; i < 7; i++)
            assert_rel(w[i], t[v].w[i], 1e-13);
        /* condensed heights: the reference rounds rho to 6 decimals */
        check_tree(work, 7, &t[v], v < 4 ? 1e-6 : 1e-13);
    }
    bal_alloc_work_free(work);
}

/* COV6 with the 2016 paper's listing (ldp): same tree shape as the
 * condensed single linkage here, heights from hrp_reference.txt
 * [COV6 ldp single]. */
Test(alloc, hrp_ldp_single_matches_paper_listing)
{
    static const struct ref_tree t = {
        { { 0, 1, 2 }, { 2, 3, 2 }, { 4, 6, 3 }, { 5, 8, 4 }, { 7, 9, 6 } },
        { 0.6723260665748845, 0.6963983006212094, 0.8157400705364707,
          0.8571626481827957, 0.874799748209897 },
        { 2, 3, 5, 4, 0, 1 },
        { 0.1094972271411587, 0.06313883977449522, 0.38904734928698054,
          0.06323811673389115, 0.13273078342104638, 0.242347683642428 }
    };
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    double w[6];
    bal_alloc_work *work = work_for(6);
    size_t i;

    o.method = BAL_ALLOC_HRP;
    o.hrp_ldp = 1;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, COV6, NULL, NULL, work, NULL),
                 0);
    for (i = 0; i < 6; i++)
        assert_rel(w[i], t.w[i], 1e-13);
    check_tree(work, 6, &t, 1e-13);
    bal_alloc_work_free(work);
}

/* All correlations exactly 0.5 (sigma powers of 2, so every rho is
 * exactly 0.5 and every distance sqrt(0.25) = 0.5): every pair ties.
 * SPEC §12: merge (0,1) -> 3 first, then (2,3) -> 4. Order: 4 = (2, 3):
 * 2, then 3 = (0, 1): 0, 1. Bisection [2] | [0 1]: V_left = 1;
 * V_right: IVP (16, 4) / 20 = (0.8, 0.2), V = 0.64/16 + 0.04/4 +
 * 2 (0.16)(0.0625) = 0.07; alpha = 1 - 1/1.07 = 7/107 to asset 2;
 * [0] | [1]: alpha = 1 - (1/16) / (5/16) = 4/5: w0 = 80/107,
 * w1 = 20/107. (Merging (1,2) first would give order 0 1 2 and other
 * weights.) */
Test(alloc, hrp_ties_merge_lexicographically_smallest_pair)
{
    const double c[9] = { 0.0625, 0.0625, 0.125, 0.0625, 0.25, 0.25,
                          0.125, 0.25, 1.0 };
    static const struct ref_tree t = {
        { { 0, 1, 2 }, { 2, 3, 3 } }, { 0.5, 0.5 }, { 2, 0, 1 },
        { 80.0 / 107, 20.0 / 107, 7.0 / 107 }
    };
    double w[3];
    bal_alloc_work *work = work_for(3);
    int lk;

    for (lk = BAL_ALLOC_LINK_SINGLE; lk <= BAL_ALLOC_LINK_WARD; lk++) {
        bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;

        o.method = BAL_ALLOC_HRP;
        o.linkage = lk;
        cr_assert_eq(bal_alloc_weights(w, &o, 3, c, NULL, NULL, work, NULL),
                     0);
        assert_rel(w[0], 80.0 / 107, 1e-14);
        assert_rel(w[1], 20.0 / 107, 1e-14);
        assert_rel(w[2], 7.0 / 107, 1e-14);
        /* second merge height: single/complete/average 0.5; ward
         * sqrt((2 * 0.25 + 2 * 0.25 - 0.25) / 3) = 0.5 */
        check_tree(work, 3, &t, 1e-15);
    }
    bal_alloc_work_free(work);
}

/* Inactive and zero-variance assets leave the tree; leaf ids stay the
 * input indices and merge k is n + k with the caller's n. The weights
 * equal HRP on the sub-matrix. */
Test(alloc, hrp_tree_keeps_input_ids_with_inactive_assets)
{
    double c8[64], sub[36], w8[8], w6[6];
    unsigned char act[8] = { 1, 1, 0, 1, 1, 1, 1, 1 };
    const size_t map[6] = { 0, 1, 3, 4, 5, 6 };     /* asset 7: var 0 */
    const bal_alloc_merge *m8, *m6;
    const size_t *o8, *o6;
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    bal_alloc_work *work = work_for(8), *work6 = work_for(6);
    size_t i, j, k;

    memset(c8, 0, sizeof(c8));
    for (i = 0; i < 6; i++)
        for (j = 0; j < 6; j++)
            c8[map[i] * 8 + map[j]] = COV6[i * 6 + j];
    c8[2 * 8 + 2] = NAN;            /* inactive: never read */
    memcpy(sub, COV6, sizeof(sub));
    o.method = BAL_ALLOC_HRP;
    cr_assert_eq(bal_alloc_weights(w8, &o, 8, c8, act, NULL, work, NULL), 0);
    cr_assert_eq(bal_alloc_weights(w6, &o, 6, sub, NULL, NULL, work6, NULL),
                 0);
    cr_assert_eq(w8[2], 0);
    cr_assert_eq(w8[7], 0);
    for (i = 0; i < 6; i++)
        assert_rel(w8[map[i]], w6[i], 1e-15);
    cr_assert_eq(bal_alloc_tree(work, &m8, &o8), 6);
    cr_assert_eq(bal_alloc_tree(work6, &m6, &o6), 6);
    for (k = 0; k < 5; k++) {
        size_t l6 = m6[k].left, r6 = m6[k].right;

        cr_assert_eq(m8[k].left, l6 < 6 ? map[l6] : l6 - 6 + 8);
        cr_assert_eq(m8[k].right, r6 < 6 ? map[r6] : r6 - 6 + 8);
        cr_assert_eq(m8[k].size, m6[k].size);
        cr_assert_eq(m8[k].distance, m6[k].distance);
    }
    for (k = 0; k < 6; k++)
        cr_assert_eq(o8[k], map[o6[k]]);
    /* another method clears the tree */
    o.method = BAL_ALLOC_EQUAL;
    cr_assert_eq(bal_alloc_weights(w8, &o, 8, c8, act, NULL, work, NULL), 0);
    cr_assert_eq(bal_alloc_tree(work, &m8, &o8), 0);
    cr_assert_null(m8);
    cr_assert_null(o8);
    bal_alloc_work_free(work);
    bal_alloc_work_free(work6);
}

/* ------------------------------------------------------------------ */
/* Linkage against scipy's published docstring examples.               */

/* scipy.cluster.hierarchy docstrings (single, complete, average, ward;
 * scipy 1.x): X = [[0,0],[0,1],[1,0],[0,4],[0,3],[1,4],[4,0],[3,0],[4,1],
 * [4,4],[3,4],[4,3]], y = pdist(X). */
static void scipy_points(double *d)
{
    static const double x[12][2] = {
        { 0, 0 }, { 0, 1 }, { 1, 0 }, { 0, 4 }, { 0, 3 }, { 1, 4 },
        { 4, 0 }, { 3, 0 }, { 4, 1 }, { 4, 4 }, { 3, 4 }, { 4, 3 }
    };
    size_t i, j;

    for (i = 0; i < 12; i++)
        for (j = 0; j < 12; j++)
            d[i * 12 + j] = sqrt((x[i][0] - x[j][0]) * (x[i][0] - x[j][0])
                                 + (x[i][1] - x[j][1])
                                   * (x[i][1] - x[j][1]));
}

static void check_linkage(int linkage, const double z[11][4])
{
    double d[144];
    const bal_alloc_merge *mg;
    const size_t *ord;
    bal_alloc_work *work = work_for(12);
    size_t k;

    scipy_points(d);
    cr_assert_eq(bal_alloc_linkage(d, 12, linkage, work, NULL), 0);
    cr_assert_eq(bal_alloc_tree(work, &mg, &ord), 12);
    for (k = 0; k < 11; k++) {
        cr_assert_eq(mg[k].left, (size_t)z[k][0], "row %zu", k);
        cr_assert_eq(mg[k].right, (size_t)z[k][1], "row %zu", k);
        assert_abs(mg[k].distance, z[k][2], 5e-9);
        cr_assert_eq(mg[k].size, (size_t)z[k][3], "row %zu", k);
    }
    bal_alloc_work_free(work);
}

/* Ties are everywhere in this example; scipy's complete, average and
 * ward outputs happen to agree with the SPEC §12 tie rule. */
Test(alloc, linkage_complete_matches_scipy_docstring)
{
    static const double z[11][4] = {
        { 0, 1, 1, 2 }, { 3, 4, 1, 2 }, { 6, 7, 1, 2 }, { 9, 10, 1, 2 },
        { 2, 12, 1.41421356, 3 }, { 5, 13, 1.41421356, 3 },
        { 8, 14, 1.41421356, 3 }, { 11, 15, 1.41421356, 3 },
        { 16, 17, 4.12310563, 6 }, { 18, 19, 4.12310563, 6 },
        { 20, 21, 5.65685425, 12 }
    };

    check_linkage(BAL_ALLOC_LINK_COMPLETE, z);
}

Test(alloc, linkage_average_matches_scipy_docstring)
{
    static const double z[11][4] = {
        { 0, 1, 1, 2 }, { 3, 4, 1, 2 }, { 6, 7, 1, 2 }, { 9, 10, 1, 2 },
        { 2, 12, 1.20710678, 3 }, { 5, 13, 1.20710678, 3 },
        { 8, 14, 1.20710678, 3 }, { 11, 15, 1.20710678, 3 },
        { 16, 17, 3.39675184, 6 }, { 18, 19, 3.39675184, 6 },
        { 20, 21, 4.09206523, 12 }
    };

    check_linkage(BAL_ALLOC_LINK_AVERAGE, z);
}

Test(alloc, linkage_ward_matches_scipy_docstring)
{
    static const double z[11][4] = {
        { 0, 1, 1, 2 }, { 3, 4, 1, 2 }, { 6, 7, 1, 2 }, { 9, 10, 1, 2 },
        { 2, 12, 1.29099445, 3 }, { 5, 13, 1.29099445, 3 },
        { 8, 14, 1.29099445, 3 }, { 11, 15, 1.29099445, 3 },
        { 16, 17, 5.77350269, 6 }, { 18, 19, 5.77350269, 6 },
        { 20, 21, 8.16496581, 12 }
    };

    check_linkage(BAL_ALLOC_LINK_WARD, z);
}

/* Single linkage on the same points: all first merges are at exactly 1
 * and the last three at exactly 2. Our rule (smallest (min id, max id)
 * among tied pairs), by hand: (0,1)->12, (2,12)->13 (d(2,0) = 1),
 * (3,4)->14, (5,14)->15, (6,7)->16, (8,16)->17, (9,10)->18,
 * (11,18)->19; at 2: (13,15), (13,17), (15,19), (17,19) tie -> (13,15)
 * ->20; then (17,19) < (17,20) < (19,20) -> (17,19)->21; (20,21)->22.
 * scipy's docstring differs from merge 9 on ((17,20) then (19,21)): its
 * minimum-spanning-tree algorithm breaks ties its own way. */
Test(alloc, linkage_single_ties_follow_spec_rule)
{
    static const double z[11][4] = {
        { 0, 1, 1, 2 }, { 2, 12, 1, 3 }, { 3, 4, 1, 2 }, { 5, 14, 1, 3 },
        { 6, 7, 1, 2 }, { 8, 16, 1, 3 }, { 9, 10, 1, 2 }, { 11, 18, 1, 3 },
        { 13, 15, 2, 6 }, { 17, 19, 2, 6 }, { 20, 21, 2, 12 }
    };

    check_linkage(BAL_ALLOC_LINK_SINGLE, z);
}

Test(alloc, linkage_rejects_bad_input)
{
    double d[4] = { 0, 0.3, NAN, 0 };
    bal_alloc_work *work = work_for(2);
    bal_error err = BAL_ERROR_INIT;

    cr_assert_eq(bal_alloc_linkage(d, 2, BAL_ALLOC_LINK_SINGLE, work, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "distance (1, 2) is not finite");
    d[2] = 0.3;
    cr_assert_eq(bal_alloc_linkage(d, 2, 9, work, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "unknown linkage 9");
    cr_assert_eq(bal_alloc_linkage(d, 0, BAL_ALLOC_LINK_SINGLE, work, &err),
                 BAL_EINVAL);
    bal_alloc_work_free(work);
}

/* ------------------------------------------------------------------ */
/* Minimum variance                                                     */

/* x = S_FF^-1 1 / 1'S_FF^-1 1 over the assets in `set` (bit mask), by
 * GSL LU; returns 0 if singular. */
static int lu_eqp(double *x, const double *s, size_t n, unsigned set)
{
    double a[16 * 16], bb[16];
    size_t idx[16], k = 0, i, j;
    double sum = 0;
    int sign, st;
    gsl_permutation *p;

    for (i = 0; i < n; i++)
        if (set >> i & 1)
            idx[k++] = i;
    for (i = 0; i < k; i++) {
        bb[i] = 1;
        for (j = 0; j < k; j++)
            a[i * k + j] = s[idx[i] * n + idx[j]];
    }
    {
        gsl_matrix_view A = gsl_matrix_view_array(a, k, k);
        gsl_vector_view B = gsl_vector_view_array(bb, k);

        p = gsl_permutation_alloc(k);
        st = gsl_linalg_LU_decomp(&A.matrix, p, &sign);
        if (st == 0)
            st = gsl_linalg_LU_svx(&A.matrix, p, &B.vector);
        gsl_permutation_free(p);
    }
    if (st)
        return 0;
    for (i = 0; i < k; i++)
        sum += bb[i];
    for (i = 0; i < n; i++)
        x[i] = 0;
    for (i = 0; i < k; i++)
        x[idx[i]] = bb[i] / sum;
    return 1;
}

/* Every subset F: the EQP solution, kept if x >= 0 and the KKT
 * multipliers (S x)_j - x'S x >= 0 hold off F: the optimum of the
 * strictly convex problem. */
static void exhaustive(double *best, const double *s, size_t n)
{
    double x[16], bestv = INFINITY;
    unsigned set;
    size_t i, j;

    for (set = 1; set < 1u << n; set++) {
        double v, sx[16];
        int ok = lu_eqp(x, s, n, set);

        for (i = 0; ok && i < n; i++)
            ok = x[i] >= 0;
        if (!ok)
            continue;
        v = variance(x, s, n);
        for (i = 0; i < n; i++) {
            sx[i] = 0;
            for (j = 0; j < n; j++)
                sx[i] += s[i * n + j] * x[j];
            if (!(set >> i & 1) && sx[i] - v < -1e-14)
                ok = 0;
        }
        if (ok && v < bestv) {
            bestv = v;
            memcpy(best, x, n * sizeof(double));
        }
    }
    cr_assert(bestv < INFINITY);
}

/* sigma = (0.12, 0.17, 0.21, 0.26), mild correlations: S^-1 1 > 0 (the
 * test checks it), so the long-only optimum is the closed form. */
Test(alloc, min_variance_closed_form_when_all_positive)
{
    const double sig[4] = { 0.12, 0.17, 0.21, 0.26 };
    const double r[6] = { 0.18, 0.07, 0.12, 0.25, 0.09, 0.31 };
    double c[16], w[4], x[4];
    bal_alloc_work *work = work_for(4);
    size_t i, j, k = 0;

    for (i = 0; i < 4; i++) {
        c[i * 4 + i] = sig[i] * sig[i];
        for (j = i + 1; j < 4; j++, k++)
            c[i * 4 + j] = c[j * 4 + i] = r[k] * sig[i] * sig[j];
    }
    cr_assert(lu_eqp(x, c, 4, 0xF));
    for (i = 0; i < 4; i++)
        cr_assert(x[i] > 0);
    cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, 4, c, work, NULL), 0);
    for (i = 0; i < 4; i++)
        assert_rel(w[i], x[i], 1e-12);
    bal_alloc_work_free(work);
}

Test(alloc, min_variance_binding_matches_exhaustive_active_sets)
{
    double c[12 * 12], w[12], x[12];
    bal_alloc_work *work = work_for(12);
    bal_error err = BAL_ERROR_INIT;
    uint64_t seed;
    size_t i, zeros;

    /* COV6: the bound binds (assets 1 and 3 get 0) */
    exhaustive(x, COV6, 6);
    cr_assert_eq(x[1], 0);
    cr_assert_eq(x[3], 0);
    cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, 6, COV6, work, &err), 0,
                 "%s", err.msg);
    for (i = 0; i < 6; i++)
        assert_abs(w[i], x[i], 1e-12);
    exhaustive(x, COV7, 7);
    cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, 7, COV7, work, &err), 0,
                 "%s", err.msg);
    for (i = 0; i < 7; i++)
        assert_abs(w[i], x[i], 1e-12);
    zeros = 0;
    for (seed = 1; seed <= 10; seed++) {
        size_t n = 3 + seed % 8;

        random_cov(c, n, 2 + seed % 3, 0.21, 0xD1B54A32D192ED03ULL * seed);
        exhaustive(x, c, n);
        cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, n, c, work, &err), 0,
                     "%s", err.msg);
        assert_simplex(w, n);
        for (i = 0; i < n; i++) {
            assert_abs(w[i], x[i], 1e-10);
            zeros += x[i] == 0;
        }
    }
    cr_assert(zeros > 5, "the random cases should bind (%zu zeros)", zeros);
    bal_alloc_work_free(work);
}

/* Assets 0 and 1 identical (variance a), asset 2 with variance b and
 * covariance c: the optimal pooled weight is (b - c) / (a + b - 2c) =
 * 0.084 / 0.118 = 42/59, split equally by the least-norm rule:
 * (21, 21, 17) / 59. */
Test(alloc, min_variance_duplicate_assets_split_equally)
{
    const double a = 0.04, b = 0.09, c = 0.006;
    const double s[9] = { a, a, c, a, a, c, c, c, b };
    double w[3];
    bal_alloc_work *work = work_for(3);

    cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, 3, s, work, NULL), 0);
    assert_rel(w[0], 21.0 / 59, 1e-12);
    assert_rel(w[1], 21.0 / 59, 1e-12);
    assert_rel(w[2], 17.0 / 59, 1e-12);
    bal_alloc_work_free(work);
}

/* S = v v' with v = 0.1 (1, -2, 3): zero variance on {w >= 0, v'w = 0,
 * 1'w = 1}; least norm: w = A'(AA')^-1 (1, 0) with A = [1 1 1; 1 -2 3],
 * AA' = [3 2; 2 14], (AA')^-1 (1,0) = (14, -2)/38, w = (12, 18, 8)/38 =
 * (6, 9, 4)/19 (all positive, so it is the least-norm optimum). */
Test(alloc, min_variance_rank_one_least_norm)
{
    const double v[3] = { 0.1, -0.2, 0.3 };
    double s[9], w[3];
    bal_alloc_work *work = work_for(3);
    size_t i, j;

    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++)
            s[i * 3 + j] = v[i] * v[j];
    cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, 3, s, work, NULL), 0);
    assert_abs(w[0], 6.0 / 19, 1e-12);
    assert_abs(w[1], 9.0 / 19, 1e-12);
    assert_abs(w[2], 4.0 / 19, 1e-12);
    bal_alloc_work_free(work);
}

/* Least-norm minimiser of x'S x on sum x = 1 over `set`, by a GSL SVD
 * pseudo-inverse: P_N 1 / |P_N 1|^2 when 1 has a part in the null space,
 * else S^+ 1 / 1'S^+ 1. */
static void svd_eqp(double *x, const double *s, size_t n, unsigned set)
{
    double a[16 * 16], v[16 * 16], sv[16], wk[16], c, pn[16], pr[16];
    double n2 = 0, sum = 0;
    size_t idx[16], k = 0, i, j, l;

    for (i = 0; i < n; i++)
        if (set >> i & 1)
            idx[k++] = i;
    for (i = 0; i < k; i++)
        for (j = 0; j < k; j++)
            a[i * k + j] = s[idx[i] * n + idx[j]];
    {
        gsl_matrix_view A = gsl_matrix_view_array(a, k, k);
        gsl_matrix_view V = gsl_matrix_view_array(v, k, k);
        gsl_vector_view S = gsl_vector_view_array(sv, k);
        gsl_vector_view W = gsl_vector_view_array(wk, k);

        cr_assert_eq(gsl_linalg_SV_decomp(&A.matrix, &V.matrix, &S.vector,
                                          &W.vector), 0);
    }
    for (i = 0; i < k; i++)
        pn[i] = pr[i] = 0;
    for (l = 0; l < k; l++) {
        c = 0;
        for (i = 0; i < k; i++)
            c += v[i * k + l];
        for (i = 0; i < k; i++) {
            if (sv[l] <= 1e-11 * sv[0])
                pn[i] += c * v[i * k + l];
            else
                pr[i] += c / sv[l] * v[i * k + l];
        }
    }
    for (i = 0; i < k; i++)
        n2 += pn[i];            /* 1'P_N 1 = |P_N 1|^2 */
    for (i = 0; i < n; i++)
        x[i] = 0;
    if (n2 > 1e-9 * (double)k) {
        for (i = 0; i < k; i++)
            x[idx[i]] = pn[i] / n2;
        return;
    }
    for (i = 0; i < k; i++)
        sum += pr[i];
    for (i = 0; i < k; i++)
        x[idx[i]] = pr[i] / sum;
}

/* Rank-deficient S (n assets, rank 2 or 3): enumerate every subset's
 * least-norm EQP solution, keep the feasible ones, take the least
 * variance and, among those within 1e-12 of it, the least norm: that is
 * the least-norm point of the optimal set (the projection of 0 on the
 * optimal face is the least-norm EQP solution on its own support). */
Test(alloc, min_variance_singular_matches_least_norm_enumeration)
{
    double c[10 * 10], w[10], x[10], best[10];
    bal_alloc_work *work = work_for(10);
    bal_error err = BAL_ERROR_INIT;
    uint64_t seed;
    size_t i;

    for (seed = 1; seed <= 8; seed++) {
        size_t n = 4 + seed % 4, k = 2 + seed % 2;
        double bestv = INFINITY, bestn = INFINITY, scale = 0;
        unsigned set;

        random_cov(c, n, k, 0, 0xA0761D6478BD642FULL * seed);
        for (i = 0; i < n; i++)
            if (c[i * n + i] > scale)
                scale = c[i * n + i];
        for (set = 1; set < 1u << n; set++) {
            double v, nn = 0;
            int ok = 1;

            svd_eqp(x, c, n, set);
            for (i = 0; i < n; i++) {
                ok = ok && x[i] >= -1e-12;
                nn += x[i] * x[i];
            }
            if (!ok)
                continue;
            v = variance(x, c, n);
            if (v < bestv - 1e-12 * scale
                || (v <= bestv + 1e-12 * scale && nn < bestn)) {
                if (v < bestv)
                    bestv = v;
                bestn = nn;
                memcpy(best, x, n * sizeof(double));
            }
        }
        cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, n, c, work, &err), 0,
                     "seed %d: %s", (int)seed, err.msg);
        assert_simplex(w, n);
        assert_abs(variance(w, c, n), bestv, 1e-12 * scale);
        for (i = 0; i < n; i++)
            assert_abs(w[i], best[i], 1e-9);
    }
    bal_alloc_work_free(work);
}

/* A riskless asset (row of zeros) takes all the weight; two of them
 * share it equally (least norm); all riskless: equal weights. */
Test(alloc, min_variance_zero_variance_assets)
{
    double s[9] = { 0.0225, 0, 0.0031, 0, 0, 0, 0.0031, 0, 0.0441 };
    double z[9] = { 0 };
    double w[3];
    bal_alloc_work *work = work_for(3);

    cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, 3, s, work, NULL), 0);
    cr_assert_eq(w[0], 0);
    cr_assert_eq(w[1], 1);
    cr_assert_eq(w[2], 0);
    s[0] = 0;
    s[2] = s[6] = 0;
    cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, 3, s, work, NULL), 0);
    assert_rel(w[0], 0.5, 1e-14);
    assert_rel(w[1], 0.5, 1e-14);
    cr_assert_eq(w[2], 0);
    cr_assert_eq(run(w, BAL_ALLOC_MIN_VARIANCE, 3, z, work, NULL), 0);
    assert_rel(w[2], 1.0 / 3, 1e-15);
    bal_alloc_work_free(work);
}

Test(alloc, min_variance_reports_non_convergence)
{
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    double w[6];
    bal_alloc_work *work = work_for(6);
    bal_error err = BAL_ERROR_INIT;

    o.method = BAL_ALLOC_MIN_VARIANCE;
    o.max_iter = 2;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, COV6, NULL, NULL, work, &err),
                 BAL_ENUMERIC);
    cr_assert_str_eq(err.msg, "min_variance did not converge in 2 "
                     "active-set changes");
    bal_alloc_work_free(work);
}

/* ------------------------------------------------------------------ */
/* Errors, edge cases, helpers                                          */

Test(alloc, rejects_bad_options)
{
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    double w[6];
    bal_alloc_work *work = work_for(6);
    bal_error err = BAL_ERROR_INIT;

    o.method = 6;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, COV6, NULL, NULL, work, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "unknown allocation method 6");
    o.method = BAL_ALLOC_HRP;
    o.linkage = 4;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, COV6, NULL, NULL, work, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "unknown linkage 4");
    o.linkage = BAL_ALLOC_LINK_WARD;
    o.hrp_ldp = 2;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, COV6, NULL, NULL, work, &err),
                 BAL_EINVAL);
    o = (bal_alloc_options)BAL_ALLOC_OPTIONS_INIT;
    o.method = BAL_ALLOC_ERC;
    o.erc_tol = NAN;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, COV6, NULL, NULL, work, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "erc_tol must be > 0, got nan");
    o.erc_tol = 1e-10;
    o.max_iter = 0;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, COV6, NULL, NULL, work, &err),
                 BAL_EINVAL);
    o.max_iter = 10;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, NULL, NULL, NULL, work, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "method erc needs a covariance matrix");
    o.method = BAL_ALLOC_INVERSE_ATR;
    cr_assert_eq(bal_alloc_weights(w, &o, 6, NULL, NULL, NULL, work, &err),
                 BAL_EINVAL);
    cr_assert_eq(bal_alloc_weights(w, &o, 0, NULL, NULL, NULL, work, &err),
                 BAL_EINVAL);
    bal_alloc_work_free(work);
}

Test(alloc, rejects_bad_covariance_entries)
{
    double s[4] = { 0.04, 0.01, INFINITY, 0.09 }, w[2];
    unsigned char act[2] = { 1, 0 };
    bal_alloc_work *work = work_for(2);
    bal_error err = BAL_ERROR_INIT;
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    int m;

    for (m = BAL_ALLOC_INVERSE_VOL; m <= BAL_ALLOC_MIN_VARIANCE; m++) {
        if (m == BAL_ALLOC_INVERSE_ATR)
            continue;
        cr_assert_eq(run(w, m, 2, s, work, &err), BAL_EINVAL);
        cr_assert_str_eq(err.msg, "covariance entry (2, 1) is not finite");
    }
    /* the bad entry belongs to an inactive asset: not read */
    o.method = BAL_ALLOC_MIN_VARIANCE;
    cr_assert_eq(bal_alloc_weights(w, &o, 2, s, act, NULL, work, &err), 0);
    cr_assert_eq(w[0], 1);
    s[2] = 0.01;
    s[3] = -0.09;
    cr_assert_eq(run(w, BAL_ALLOC_ERC, 2, s, work, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "variance of asset 2 is negative (-0.09)");
    bal_alloc_work_free(work);
}

Test(alloc, nothing_usable_stays_in_cash)
{
    double s[4] = { 0, 0, 0, 0 }, w[2] = { 5, 5 };
    unsigned char none[2] = { 0, 0 };
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    bal_alloc_work *work = work_for(2);
    int m;

    for (m = BAL_ALLOC_EQUAL; m <= BAL_ALLOC_MIN_VARIANCE; m++) {
        double atr[2] = { 0, 0 };

        o.method = m;
        w[0] = w[1] = 5;
        cr_assert_eq(bal_alloc_weights(w, &o, 2, s, none, atr, work, NULL),
                     0);
        cr_assert(w[0] == 0 && w[1] == 0);
        if (m == BAL_ALLOC_EQUAL || m == BAL_ALLOC_MIN_VARIANCE)
            continue;
        /* active but no finite inverse volatility / ATR */
        cr_assert_eq(bal_alloc_weights(w, &o, 2, s, NULL, atr, work, NULL),
                     0);
        cr_assert(w[0] == 0 && w[1] == 0, "method %d", m);
    }
    bal_alloc_work_free(work);
}

/* A single usable asset gets everything with every method. */
Test(alloc, one_asset_gets_everything)
{
    double s[1] = { 0.0361 }, atr[1] = { 0.013 }, w[1];
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    bal_alloc_work *work = work_for(1);
    const bal_alloc_merge *mg;
    const size_t *ord;
    int m;

    for (m = BAL_ALLOC_EQUAL; m <= BAL_ALLOC_MIN_VARIANCE; m++) {
        o.method = m;
        cr_assert_eq(bal_alloc_weights(w, &o, 1, s, NULL, atr, work, NULL),
                     0);
        cr_assert_eq(w[0], 1, "method %d: %.17g", m, w[0]);
    }
    o.method = BAL_ALLOC_HRP;
    cr_assert_eq(bal_alloc_weights(w, &o, 1, s, NULL, atr, work, NULL), 0);
    cr_assert_eq(bal_alloc_tree(work, &mg, &ord), 1);
    cr_assert_eq(ord[0], 0);
    bal_alloc_work_free(work);
}

/* [[2, 1], [1, 2]] has eigenvalues 1 and 3; [[1, 2], [2, 1]] has -1, 3;
 * an asymmetric input is read symmetrised. */
Test(alloc, eigen_range_by_hand)
{
    double a[4] = { 2, 1, 1, 2 }, b[4] = { 1, 2.5, 1.5, 1 }, lo, hi;
    bal_alloc_work *work = work_for(1);
    bal_error err = BAL_ERROR_INIT;

    cr_assert_eq(bal_alloc_eigen_range(&lo, &hi, 2, a, work, &err), 0);
    assert_rel(lo, 1, 1e-15);
    assert_rel(hi, 3, 1e-15);
    cr_assert_eq(bal_alloc_eigen_range(&lo, &hi, 2, b, work, &err), 0);
    assert_rel(lo, -1, 1e-15);
    assert_rel(hi, 3, 1e-15);
    b[1] = NAN;
    cr_assert_eq(bal_alloc_eigen_range(&lo, &hi, 2, b, work, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "matrix entry (1, 2) is not finite");
    cr_assert_eq(bal_alloc_eigen_range(&lo, &hi, 0, b, work, &err),
                 BAL_EINVAL);
    bal_alloc_work_free(work);
}

Test(alloc, work_new_rejects_zero)
{
    bal_alloc_work *w = (bal_alloc_work *)&w;
    bal_error err = BAL_ERROR_INIT;

    cr_assert_eq(bal_alloc_work_new(&w, 0, &err), BAL_EINVAL);
    cr_assert_null(w);
    bal_alloc_work_free(NULL);
}

Test(alloc, names_round_trip)
{
    int i;

    for (i = BAL_ALLOC_EQUAL; i <= BAL_ALLOC_MIN_VARIANCE; i++)
        cr_assert_eq(bal_alloc_method_parse(bal_alloc_method_name(i)), i);
    for (i = BAL_ALLOC_LINK_SINGLE; i <= BAL_ALLOC_LINK_WARD; i++)
        cr_assert_eq(bal_alloc_linkage_parse(bal_alloc_linkage_name(i)), i);
    cr_assert_str_eq(bal_alloc_method_name(BAL_ALLOC_MIN_VARIANCE),
                     "min_variance");
    cr_assert_eq(bal_alloc_method_parse("fixed"), -1);
    cr_assert_eq(bal_alloc_linkage_parse("Ward"), -1);
    cr_assert_null(bal_alloc_method_name(6));
    cr_assert_null(bal_alloc_linkage_name(-1));
}
