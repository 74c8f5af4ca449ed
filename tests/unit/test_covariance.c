/* Covariance module (SPEC §3 "Covariance for sizing", "Stress
 * correlation"; look-ahead §12). References: hand computations written out
 * below, closed-form spectra of two non-PSD families (derived in
 * tests/ref/covariance.md), GSL (gsl_eigen_symm, gsl_stats_correlation,
 * gsl_stats_quantile_from_sorted_data) and a plain-loop re-implementation
 * of Ledoit & Wolf (2004) Appendix B. */
#include "ballast/covariance.h"
#include "ballast/rolling.h"
#include "helpers.h"

#include <criterion/criterion.h>
#include <float.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static gsl_rng *new_rng(unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);

    cr_assert_not_null(rng);
    gsl_rng_set(rng, seed);
    return rng;
}

static double *xcalloc(size_t n)
{
    double *p = calloc(n, sizeof(*p));

    cr_assert_not_null(p);
    return p;
}

/* Eigenvalues of the n x n row-major matrix a, ascending, into ev, with
 * GSL's value-only solver (a different routine from the module's). */
static void eigenvalues(double *ev, const double *a, size_t n)
{
    gsl_matrix *m = gsl_matrix_alloc(n, n);
    gsl_vector *v = gsl_vector_alloc(n);
    gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(n);
    size_t i, j;

    cr_assert(m && v && ws);
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            gsl_matrix_set(m, i, j, a[i * n + j]);
    cr_assert_eq(gsl_eigen_symm(m, v, ws), 0);
    for (i = 0; i < n; i++)
        ev[i] = gsl_vector_get(v, i);
    gsl_sort(ev, 1, n);
    gsl_eigen_symm_free(ws);
    gsl_vector_free(v);
    gsl_matrix_free(m);
}

static double min_eigenvalue(const double *a, size_t n)
{
    double ev[16];

    cr_assert(n <= 16);
    eigenvalues(ev, a, n);
    return ev[0];
}

/* 3 x 3 correlation matrix from its upper triangle. */
static void corr3(double *c, double r12, double r13, double r23)
{
    c[0] = 1.0;
    c[1] = r12;
    c[2] = r13;
    c[3] = r12;
    c[4] = 1.0;
    c[5] = r23;
    c[6] = r13;
    c[7] = r23;
    c[8] = 1.0;
}

/* Random symmetric matrix with unit diagonal, off-diagonals U(-1, 1):
 * usually not PSD for n >= 4. */
static void random_symmetric(double *c, size_t n, gsl_rng *rng)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        c[i * n + i] = 1.0;
        for (j = i + 1; j < n; j++) {
            double x = 2.0 * gsl_rng_uniform(rng) - 1.0;

            c[i * n + j] = x;
            c[j * n + i] = x;
        }
    }
}

/* Sample correlation matrix of T random correlated rows (PSD). */
static void random_psd_corr(double *c, size_t n, size_t T, gsl_rng *rng)
{
    double *x = xcalloc(n * T);
    size_t i, j, t;

    for (t = 0; t < T; t++) {
        double common = gsl_ran_gaussian(rng, 1.0);

        for (i = 0; i < n; i++)
            x[i * T + t] = 0.6 * common + gsl_ran_gaussian(rng, 1.0)
                           + 0.3 * (double)i * gsl_ran_gaussian(rng, 1.0);
    }
    for (i = 0; i < n; i++) {
        c[i * n + i] = 1.0;
        for (j = i + 1; j < n; j++) {
            double r = gsl_stats_correlation(x + i * T, 1, x + j * T, 1, T);

            c[i * n + j] = r;
            c[j * n + i] = r;
        }
    }
    free(x);
}

/* ---- 1. Matrix helpers -------------------------------------------------- */

Test(covariance, from_corr_is_rho_sigma_sigma_by_hand)
{
    double c[9], s[9], vol[3] = { 0.152, 0.0874, 0.231 };

    corr3(c, 0.385, NAN, -0.731);
    bal_cov_from_corr(s, 3, c, vol);
    /* Decimal arithmetic on the inputs as written:
     * S11 = 0.152^2 = 0.023104, S22 = 0.0874^2 = 0.00763876,
     * S33 = 0.231^2 = 0.053361,
     * S12 = 0.385 * 0.152 * 0.0874 = 0.005114648,
     * S23 = -0.731 * 0.0874 * 0.231 = -0.0147584514,
     * S13 = 0 (NaN rho counts as 0). */
    assert_rel(s[0], 0.023104, 1e-15);
    assert_rel(s[4], 0.00763876, 1e-15);
    assert_rel(s[8], 0.053361, 1e-15);
    assert_rel(s[1], 0.005114648, 1e-15);
    assert_rel(s[5], -0.0147584514, 1e-15);
    cr_assert_eq(s[2], 0.0);
    cr_assert_eq(s[6], 0.0);
    cr_assert_eq(s[1], s[3]);
    cr_assert_eq(s[5], s[7]);

    /* In place gives the same numbers. */
    bal_cov_from_corr(c, 3, c, vol);
    cr_assert_eq(memcmp(c, s, sizeof(s)), 0);
}

Test(covariance, from_corr_nan_vol_poisons_its_row_and_column)
{
    double c[9], s[9], vol[3] = { 0.152, NAN, 0.231 };
    size_t k;

    corr3(c, 0.385, 0.2, -0.731);
    bal_cov_from_corr(s, 3, c, vol);
    for (k = 0; k < 3; k++) {
        assert_nan(s[1 * 3 + k]);
        assert_nan(s[k * 3 + 1]);
    }
    assert_rel(s[2], 0.2 * 0.152 * 0.231, 1e-15);
}

Test(covariance, to_corr_inverts_from_corr)
{
    double c[9], s[9], back[9], vol[3] = { 0.152, 0.0874, 0.231 }, v[3];
    bal_error err = BAL_ERROR_INIT;
    size_t k;

    corr3(c, 0.385, -0.213, 0.571);
    bal_cov_from_corr(s, 3, c, vol);
    cr_assert_eq(bal_cov_to_corr(back, v, 3, s, &err), 0);
    for (k = 0; k < 3; k++)
        assert_rel(v[k], vol[k], 1e-15);
    for (k = 0; k < 9; k++)
        assert_rel(back[k], c[k], 1e-14);
    cr_assert_eq(back[0], 1.0);
    cr_assert_eq(back[1], back[3]);
}

Test(covariance, to_corr_rejects_bad_matrices)
{
    double s[4] = { 0.04, 0.01, 0.01, 0.09 }, c[4], v[2];
    bal_error err = BAL_ERROR_INIT;

    s[2] = 0.011;
    cr_assert_eq(bal_cov_to_corr(c, v, 2, s, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "covariance is not symmetric at (0, 1)");
    s[2] = 0.01;
    s[3] = 0.0;
    cr_assert_eq(bal_cov_to_corr(c, v, 2, s, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "variance of asset 1 is not positive");
    s[3] = 0.09;
    s[1] = NAN;
    cr_assert_eq(bal_cov_to_corr(c, v, 2, s, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "covariance (0, 1) is not finite");
}

Test(covariance, sanitize_zeroes_nan_pairs_and_fixes_diagonal)
{
    double c[9];

    corr3(c, NAN, 0.2, -0.4);
    c[4] = 0.9;
    cr_assert_eq(bal_cov_sanitize(c, 3), 2);
    cr_assert_eq(c[1], 0.0);
    cr_assert_eq(c[3], 0.0);
    cr_assert_eq(c[4], 1.0);
    cr_assert_eq(c[2], 0.2);
    cr_assert_eq(bal_cov_sanitize(c, 3), 0);
}

Test(covariance, corr_from_rolling_reads_the_engine)
{
    bal_rolling_options o = BAL_ROLLING_OPTIONS_INIT;
    bal_rolling *r = NULL;
    unsigned char has[3] = { 1, 1, 1 };
    double close[3] = { 1.2345, 98.76, 17.3 }, c[9];
    gsl_rng *rng = new_rng(11);
    size_t t, i, j;

    o.corr_window = 5;
    cr_assert_eq(bal_rolling_new(&r, 3, &o, NULL), 0);
    for (t = 0; t < 4; t++)
        bal_rolling_step(r, has, NULL, NULL, close);
    bal_cov_corr_from_rolling(c, r, 3);
    assert_nan(c[1]);           /* still in warm-up */
    for (t = 0; t < 20; t++) {
        for (i = 0; i < 3; i++)
            close[i] *= exp(0.01 * gsl_ran_gaussian(rng, 1.0));
        bal_rolling_step(r, has, NULL, NULL, close);
    }
    bal_cov_corr_from_rolling(c, r, 3);
    for (i = 0; i < 3; i++) {
        cr_assert_eq(c[i * 3 + i], 1.0);
        for (j = 0; j < 3; j++)
            if (j != i)
                cr_assert_eq(c[i * 3 + j], bal_rolling_corr(r, i, j));
    }
    bal_rolling_free(r);
    gsl_rng_free(rng);
}

/* ---- 2. PSD repair ------------------------------------------------------ */

Test(covariance, repair_leaves_a_psd_matrix_bit_for_bit)
{
    double c[36], before[36];
    bal_cov_psd *w = NULL;
    bal_error err = BAL_ERROR_INIT;
    gsl_rng *rng = new_rng(2024);
    int repaired = -1, k;

    cr_assert_eq(bal_cov_psd_new(&w, 6, &err), 0);
    for (k = 0; k < 20; k++) {
        random_psd_corr(c, 6, 40, rng);
        cr_assert_geq(min_eigenvalue(c, 6), 1e-3);  /* the premise */
        memcpy(before, c, sizeof(c));
        cr_assert_eq(bal_cov_psd_repair(c, &repaired, w, 1e-8, &err), 0);
        cr_assert_eq(repaired, 0);
        cr_assert_eq(memcmp(c, before, sizeof(c)), 0);
        assert_rel(bal_cov_psd_min_eig(w), min_eigenvalue(before, 6), 1e-10);
    }
    bal_cov_psd_free(w);
    gsl_rng_free(rng);
}

Test(covariance, repair_known_3x3_matches_closed_form)
{
    double c[9], ev[3], f = 1e-8, h;
    bal_cov_psd *w = NULL;
    bal_error err = BAL_ERROR_INIT;
    int repaired = 0;

    /* C = I + a M, a = 0.9, M = [[0,1,1],[1,0,-1],[1,-1,0]]. M(1,1,0) =
     * (1,1,0), M(1,0,1) = (1,0,1), M(1,-1,-1) = -2 (1,-1,-1): the spectrum
     * of C is 1 + a = 1.9 (twice) and 1 - 2a = -0.8, u = (1,-1,-1)/sqrt3.
     * Clipping: P = (1.9 - f)(I - u u'), P_ii = (1.9 - f) 2/3,
     * P_12 = P_13 = (1.9 - f)/3, P_23 = -(1.9 - f)/3, so
     * C'_12 = C'_13 = (1 - f)/2, C'_23 = -(1 - f)/2 and the spectrum of
     * C' = f I + (1 - f) (3/2)(I - u u') is f, f + 1.5 (1 - f) (twice). */
    corr3(c, 0.9, 0.9, -0.9);
    eigenvalues(ev, c, 3);      /* the derivation, checked by GSL */
    assert_abs(ev[0], -0.8, 1e-14);
    assert_abs(ev[1], 1.9, 1e-14);
    assert_abs(ev[2], 1.9, 1e-14);

    cr_assert_eq(bal_cov_psd_new(&w, 3, &err), 0);
    cr_assert_eq(bal_cov_psd_repair(c, &repaired, w, f, &err), 0);
    cr_assert_eq(repaired, 1);
    assert_abs(bal_cov_psd_min_eig(w), -0.8, 1e-14);
    h = 0.5 * (1.0 - f);
    assert_abs(c[1], h, 1e-15);
    assert_abs(c[2], h, 1e-15);
    assert_abs(c[5], -h, 1e-15);
    cr_assert_eq(c[0], 1.0);
    cr_assert_eq(c[4], 1.0);
    cr_assert_eq(c[8], 1.0);
    cr_assert_eq(c[1], c[3]);
    cr_assert_eq(c[2], c[6]);
    cr_assert_eq(c[5], c[7]);
    eigenvalues(ev, c, 3);
    assert_abs(ev[0], f, 1e-15);
    assert_abs(ev[1], f + 1.5 * (1.0 - f), 1e-14);
    assert_abs(ev[2], f + 1.5 * (1.0 - f), 1e-14);
    bal_cov_psd_free(w);
}

Test(covariance, repair_equicorrelation_matches_closed_form)
{
    double c[16], ev[4], f = 0.2, want = -(1.0 - f) / 3.0;
    bal_cov_psd *w = NULL;
    int repaired = 0;
    size_t i, j;

    /* Equicorrelation rho = -0.5, n = 4: spectrum 1 + 3 rho = -0.5 on
     * (1,1,1,1)/2 and 1 - rho = 1.5 (three times). P = (1.5 - f)(I - J/4),
     * P_ii = (1.5 - f) 3/4, P_ij = -(1.5 - f)/4, so C'_ij = -(1 - f)/3;
     * spectrum of C': f once, f + (4/3)(1 - f) three times. */
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++)
            c[i * 4 + j] = i == j ? 1.0 : -0.5;
    cr_assert_eq(bal_cov_psd_new(&w, 4, NULL), 0);
    cr_assert_eq(bal_cov_psd_repair(c, &repaired, w, f, NULL), 0);
    cr_assert_eq(repaired, 1);
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++)
            if (i != j)
                assert_abs(c[i * 4 + j], want, 1e-15);
    eigenvalues(ev, c, 4);
    assert_abs(ev[0], f, 1e-15);
    for (i = 1; i < 4; i++)
        assert_abs(ev[i], f + 4.0 / 3.0 * (1.0 - f), 1e-14);
    cr_assert_geq(ev[0], f * (1.0 - 1e-12));
    bal_cov_psd_free(w);
}

/* Repairs random non-PSD matrices and checks the result against GSL's
 * eigenvalues: unit diagonal, exact symmetry, |rho| <= 1, min eigenvalue
 * >= floor (1 - 1e-12) - slack, and the floor eigenvalue has the
 * multiplicity of the eigenvalues clipped (the part above the floor keeps
 * its rank). slack: an eigen-solver's backward error is O(eps ||C||);
 * with floor 1e-8 a relative 1e-12 is 1e-20, below double resolution. */
static void repair_random(double f, double slack, unsigned long seed)
{
    enum { N = 6 };
    double c[N * N], before[N * N], ev0[N], ev1[N];
    bal_cov_psd *w = NULL;
    gsl_rng *rng = new_rng(seed);
    int repaired, k, nrep = 0;
    size_t i, j, clipped, at_floor;

    cr_assert_eq(bal_cov_psd_new(&w, N, NULL), 0);
    for (k = 0; k < 200; k++) {
        random_symmetric(c, N, rng);
        memcpy(before, c, sizeof(c));
        eigenvalues(ev0, c, N);
        cr_assert_eq(bal_cov_psd_repair(c, &repaired, w, f, NULL), 0);
        cr_assert_eq(repaired, ev0[0] < f);
        if (!repaired) {
            cr_assert_eq(memcmp(c, before, sizeof(c)), 0);
            continue;
        }
        nrep++;
        for (i = 0; i < N; i++) {
            cr_assert_eq(c[i * N + i], 1.0);
            for (j = 0; j < N; j++) {
                cr_assert_eq(c[i * N + j], c[j * N + i]);
                cr_assert_leq(fabs(c[i * N + j]), 1.0);
            }
        }
        eigenvalues(ev1, c, N);
        cr_assert_geq(ev1[0], f * (1.0 - 1e-12) - slack,
                      "min eigenvalue %.17g, floor %g", ev1[0], f);
        clipped = 0;
        at_floor = 0;
        for (i = 0; i < N; i++) {
            clipped += ev0[i] <= f;
            at_floor += fabs(ev1[i] - f) <= 1e-12;
        }
        cr_assert_eq(at_floor, clipped);
    }
    cr_assert_gt(nrep, 100);    /* most random matrices needed repair */
    bal_cov_psd_free(w);
    gsl_rng_free(rng);
}

Test(covariance, repair_random_floor_02_reaches_the_floor)
{
    repair_random(0.2, 0.0, 7);
}

Test(covariance, repair_random_default_floor_reaches_the_floor)
{
    repair_random(1e-8, 64 * 6 * DBL_EPSILON, 8);
}

Test(covariance, repair_random_zero_floor_gives_psd)
{
    repair_random(0.0, 64 * 6 * DBL_EPSILON, 9);
}

Test(covariance, repair_rejects_bad_input_and_leaves_it)
{
    double c[9], before[9];
    bal_cov_psd *w = NULL;
    bal_error err = BAL_ERROR_INIT;

    cr_assert_eq(bal_cov_psd_new(&w, 0, &err), BAL_EINVAL);
    cr_assert_null(w);
    cr_assert_str_eq(err.msg, "no assets");
    cr_assert_eq(bal_cov_psd_new(&w, 3, &err), 0);
    assert_nan(bal_cov_psd_min_eig(w));

    corr3(c, 0.9, 0.9, -0.9);
    memcpy(before, c, sizeof(c));
    cr_assert_eq(bal_cov_psd_repair(c, NULL, w, -0.1, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "psd_floor must lie in [0, 1), got -0.1");
    cr_assert_eq(bal_cov_psd_repair(c, NULL, w, 1.0, &err), BAL_EINVAL);
    cr_assert_eq(bal_cov_psd_repair(c, NULL, w, NAN, &err), BAL_EINVAL);
    cr_assert_eq(memcmp(c, before, sizeof(c)), 0);

    c[5] = NAN;
    cr_assert_eq(bal_cov_psd_repair(c, NULL, w, 1e-8, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "correlation (1, 2) is not finite");
    c[5] = -0.9;
    c[4] = 0.999;
    cr_assert_eq(bal_cov_psd_repair(c, NULL, w, 1e-8, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg,
                     "correlation diagonal (1, 1) is 0.999, not 1");
    c[4] = 1.0;
    c[7] = -0.89;
    cr_assert_eq(bal_cov_psd_repair(c, NULL, w, 1e-8, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "correlation is not symmetric at (1, 2)");
    bal_cov_psd_free(w);
}

Test(covariance, repair_of_one_asset_is_a_no_op)
{
    double c[1] = { 1.0 };
    bal_cov_psd *w = NULL;
    int repaired = -1;

    cr_assert_eq(bal_cov_psd_new(&w, 1, NULL), 0);
    cr_assert_eq(bal_cov_psd_repair(c, &repaired, w, 0.5, NULL), 0);
    cr_assert_eq(repaired, 0);
    cr_assert_eq(c[0], 1.0);
    bal_cov_psd_free(w);
}

/* ---- Shrinkage and blend ------------------------------------------------ */

Test(covariance, shrink_fixed_intensity_by_hand)
{
    double c[9], d[9];

    /* rho12 = 0.385, rho13 = -0.213, rho23 = 0.571, delta = 0.35.
     * Diagonal target: (1 - delta) rho = 0.65 rho:
     *   0.25025, -0.13845, 0.37115.
     * Constant correlation: rbar = (0.385 - 0.213 + 0.571) / 3 = 0.743/3,
     * delta rbar = 0.26005/3, so 0.65 rho + 0.26005/3 =
     *   (0.75075 + 0.26005)/3 = 1.0108/3,
     *   (-0.41535 + 0.26005)/3 = -0.1553/3,
     *   (1.11345 + 0.26005)/3 = 1.3735/3. */
    corr3(c, 0.385, -0.213, 0.571);
    memcpy(d, c, sizeof(c));
    cr_assert_eq(bal_cov_shrink(c, 3, BAL_COV_TARGET_DIAGONAL, 0.35, NULL),
                 0);
    assert_rel(c[1], 0.25025, 1e-15);
    assert_rel(c[2], -0.13845, 1e-15);
    assert_rel(c[5], 0.37115, 1e-15);
    cr_assert_eq(c[3], c[1]);
    cr_assert_eq(c[4], 1.0);

    cr_assert_eq(bal_cov_shrink(d, 3, BAL_COV_TARGET_CONSTANT_CORR, 0.35,
                                NULL), 0);
    assert_rel(d[1], 1.0108 / 3.0, 1e-14);
    assert_rel(d[2], -0.1553 / 3.0, 1e-14);
    assert_rel(d[5], 1.3735 / 3.0, 1e-14);
    cr_assert_eq(d[7], d[5]);
    cr_assert_eq(d[0], 1.0);
    cr_assert_eq(d[8], 1.0);
}

Test(covariance, shrink_extremes)
{
    double c[9], before[9];

    corr3(c, 0.385, -0.213, 0.571);
    memcpy(before, c, sizeof(c));
    cr_assert_eq(bal_cov_shrink(c, 3, BAL_COV_TARGET_CONSTANT_CORR, 0.0,
                                NULL), 0);
    cr_assert_eq(memcmp(c, before, sizeof(c)), 0);
    cr_assert_eq(bal_cov_shrink(c, 3, BAL_COV_TARGET_DIAGONAL, 1.0, NULL),
                 0);
    cr_assert_eq(c[1], 0.0);
    cr_assert_eq(c[5], 0.0);
    memcpy(c, before, sizeof(c));
    cr_assert_eq(bal_cov_shrink(c, 3, BAL_COV_TARGET_CONSTANT_CORR, 1.0,
                                NULL), 0);
    assert_rel(c[1], 0.743 / 3.0, 1e-15);
    cr_assert_eq(c[1], c[2]);
    cr_assert_eq(c[1], c[5]);
}

Test(covariance, shrink_rejects_bad_arguments)
{
    double c[9], before[9];
    bal_error err = BAL_ERROR_INIT;

    corr3(c, 0.385, -0.213, 0.571);
    memcpy(before, c, sizeof(c));
    cr_assert_eq(bal_cov_shrink(c, 3, 0, -0.1, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg,
                     "shrinkage intensity must lie in [0, 1], got -0.1");
    cr_assert_eq(bal_cov_shrink(c, 3, 0, 1.5, &err), BAL_EINVAL);
    cr_assert_eq(bal_cov_shrink(c, 3, 0, NAN, &err), BAL_EINVAL);
    cr_assert_eq(bal_cov_shrink(c, 3, 7, 0.5, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "unknown shrinkage target 7");
    cr_assert_eq(memcmp(c, before, sizeof(c)), 0);
    c[2] = NAN;
    cr_assert_eq(bal_cov_shrink(c, 3, 0, 0.5, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "correlation (0, 2) is NaN");
}

Test(covariance, blend_by_hand_then_repair)
{
    double c[9], s[9], f = 1e-8, h = 0.5 * (1.0 - f);
    bal_cov_psd *w = NULL;
    int repaired = 0;

    /* rho: 12 = 0.9, 13 = 0.5, 23 = -0.9; stress: 12 = 0.4 (below rho,
     * no change), 13 = 0.9, 23 NaN (no estimate, no change).
     * alpha = 0.5: C13 = 0.5 * 0.5 + 0.5 * max(0.5, 0.9) = 0.7. */
    corr3(c, 0.9, 0.5, -0.9);
    corr3(s, 0.4, 0.9, NAN);
    cr_assert_eq(bal_cov_blend(c, 3, s, 0.5, NULL), 0);
    assert_rel(c[2], 0.7, 1e-15);
    cr_assert_eq(c[6], c[2]);
    cr_assert_eq(c[1], 0.9);
    cr_assert_eq(c[5], -0.9);

    /* alpha = 1 turns rho13 into 0.9: the known non-PSD matrix, whose
     * repair is +-(1 - f)/2 (see repair_known_3x3_matches_closed_form). */
    corr3(c, 0.9, 0.5, -0.9);
    cr_assert_eq(bal_cov_blend(c, 3, s, 1.0, NULL), 0);
    cr_assert_eq(c[2], 0.9);
    cr_assert_eq(bal_cov_psd_new(&w, 3, NULL), 0);
    cr_assert_eq(bal_cov_psd_repair(c, &repaired, w, f, NULL), 0);
    cr_assert_eq(repaired, 1);
    assert_abs(c[1], h, 1e-15);
    assert_abs(c[2], h, 1e-15);
    assert_abs(c[5], -h, 1e-15);
    bal_cov_psd_free(w);
}

Test(covariance, blend_matches_the_spec_formula)
{
    enum { N = 5 };
    double c[N * N], s[N * N], b[N * N];
    double alphas[4] = { 0.0, 0.137, 0.62, 1.0 };
    gsl_rng *rng = new_rng(31);
    size_t i, j, a;

    for (a = 0; a < 4; a++) {
        random_symmetric(c, N, rng);
        random_symmetric(s, N, rng);
        memcpy(b, c, sizeof(c));
        cr_assert_eq(bal_cov_blend(b, N, s, alphas[a], NULL), 0);
        for (i = 0; i < N; i++)
            for (j = 0; j < N; j++) {
                double al = alphas[a], r = c[i * N + j], x = s[i * N + j];
                double want = (1 - al) * r + al * (x > r ? x : r);

                if (i == j)
                    continue;
                assert_abs(b[i * N + j], want, 4e-16);
                cr_assert_eq(b[i * N + j], b[j * N + i]);
            }
    }
    gsl_rng_free(rng);
}

Test(covariance, blend_rejects_bad_arguments)
{
    double c[9], s[9];
    bal_error err = BAL_ERROR_INIT;

    corr3(c, 0.9, 0.5, -0.9);
    corr3(s, 0.4, 0.9, 0.1);
    cr_assert_eq(bal_cov_blend(c, 3, s, 1.2, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "stress_blend must lie in [0, 1], got 1.2");
    cr_assert_eq(bal_cov_blend(c, 3, s, NAN, &err), BAL_EINVAL);
    c[1] = NAN;
    cr_assert_eq(bal_cov_blend(c, 3, s, 0.5, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "correlation (0, 1) is NaN");
}

/* ---- 3. Panel and Ledoit-Wolf ------------------------------------------- */

/* Ledoit & Wolf (2004), "Honey, I shrunk the sample covariance matrix",
 * J. Portfolio Management 30(4):110-119, Appendix B, written out in plain
 * loops over ALL (i, j) in long double, on the standardised panel
 *   y_it = (x_it - mean_i) / sd_i, sd_i^2 = 1/T sum_t (x_it - mean_i)^2
 * (sd from gsl_stats_sd_m, converted from ddof 1), skipping assets with
 * sd 0. With s_ij = 1/T sum_t y_it y_jt (the sample matrix):
 *   rbar  = 2 / (N (N - 1)) sum_{i<j} s_ij / sqrt(s_ii s_jj)
 *   f_ii  = s_ii, f_ij = rbar sqrt(s_ii s_jj)       (constant correlation)
 *   f_ij  = 0 for i != j                            (diagonal: F = I)
 *   pi_ij = 1/T sum_t (y_it y_jt - s_ij)^2,   pi = sum_ij pi_ij
 *   th_ii,ij = 1/T sum_t (y_it^2 - s_ii)(y_it y_jt - s_ij)
 *   rho   = sum_i pi_ii + sum_{i != j} rbar/2 (sqrt(s_jj/s_ii) th_ii,ij
 *           + sqrt(s_ii/s_jj) th_jj,ij)   (constant correlation)
 *   rho   = sum_i pi_ii                   (diagonal: f_ij constant)
 *   gamma = sum_ij (f_ij - s_ij)^2
 *   delta = max(0, min(1, (pi - rho) / gamma / T)); gamma = 0 gives 1
 *   when pi - rho > 0, else 0.
 * x is T rows of n values, row-major. */
static double ref_ledoit_wolf(const double *x, size_t T, size_t n, int cc)
{
    long double s[16][16], y[256][16], pi = 0, rho = 0, gamma = 0;
    long double rbar = 0, num, ratio;
    double col[256];
    size_t m = 0, i, a, b, t;

    cr_assert(n <= 16 && T <= 256);
    for (i = 0; i < n; i++) {
        double mean, sd;

        for (t = 0; t < T; t++)
            col[t] = x[t * n + i];
        mean = gsl_stats_mean(col, 1, T);
        sd = gsl_stats_sd_m(col, 1, T, mean)
             * sqrt((double)(T - 1) / (double)T);
        if (!(sd > 0))
            continue;
        for (t = 0; t < T; t++)
            y[t][m] = ((long double)col[t] - mean) / sd;
        m++;
    }
    for (a = 0; a < m; a++)
        for (b = 0; b < m; b++) {
            s[a][b] = 0;
            for (t = 0; t < T; t++)
                s[a][b] += y[t][a] * y[t][b];
            s[a][b] /= T;
        }
    for (a = 0; a < m; a++)
        for (b = a + 1; b < m; b++)
            rbar += s[a][b] / sqrtl(s[a][a] * s[b][b]);
    if (m > 1)
        rbar = 2 * rbar / (long double)(m * (m - 1));
    for (a = 0; a < m; a++)
        for (b = 0; b < m; b++) {
            long double p = 0, th_a = 0, th_b = 0, fab;

            for (t = 0; t < T; t++) {
                long double e = y[t][a] * y[t][b] - s[a][b];

                p += e * e;
                th_a += (y[t][a] * y[t][a] - s[a][a]) * e;
                th_b += (y[t][b] * y[t][b] - s[b][b]) * e;
            }
            p /= T;
            th_a /= T;
            th_b /= T;
            pi += p;
            if (a == b) {
                rho += p;
                continue;
            }
            fab = cc ? rbar * sqrtl(s[a][a] * s[b][b]) : 0;
            gamma += (fab - s[a][b]) * (fab - s[a][b]);
            if (cc)
                rho += rbar / 2 * (sqrtl(s[b][b] / s[a][a]) * th_a
                                   + sqrtl(s[a][a] / s[b][b]) * th_b);
        }
    num = pi - rho;
    if (!(gamma > 0))
        return num > 0 ? 1.0 : 0.0;
    ratio = num / gamma / (long double)T;
    return (double)(ratio < 0 ? 0 : ratio > 1 ? 1 : ratio);
}

/* Rows of correlated returns: a common factor, an industry factor for
 * assets 0-1, noise with asset-specific scales and shifts. */
static void panel_rows(double *x, size_t T, size_t n, gsl_rng *rng)
{
    size_t t, i;

    for (t = 0; t < T; t++) {
        double mkt = gsl_ran_gaussian(rng, 0.01);
        double ind = gsl_ran_gaussian(rng, 0.008);

        for (i = 0; i < n; i++)
            x[t * n + i] = 0.0003 * (double)i
                           + (0.6 + 0.2 * (double)i) * mkt
                           + (i < 2 ? ind : 0.0)
                           + gsl_ran_tdist(rng, 5.0) * 0.004
                             * (1.0 + 0.5 * (double)i);
    }
}

Test(covariance, ledoit_wolf_matches_the_published_formula)
{
    enum { N = 4, W = 40, T = 57 };
    double x[T * N], d_diag, d_cc, ref_diag, ref_cc;
    bal_cov_panel *p = NULL;
    gsl_rng *rng = new_rng(424242);
    size_t t;

    panel_rows(x, T, N, rng);
    cr_assert_eq(bal_cov_panel_new(&p, N, W, 0, NULL), 0);
    for (t = 0; t < T; t++)
        bal_cov_panel_push(p, x + t * N);
    cr_assert_eq(bal_cov_panel_rows(p), W);
    cr_assert_eq(memcmp(bal_cov_panel_row(p, 0), x + (T - W) * N,
                        N * sizeof(double)), 0);
    cr_assert_eq(bal_cov_panel_ledoit_wolf(&d_diag, p,
                                           BAL_COV_TARGET_DIAGONAL, NULL), 0);
    cr_assert_eq(bal_cov_panel_ledoit_wolf(&d_cc, p,
                                           BAL_COV_TARGET_CONSTANT_CORR,
                                           NULL), 0);
    /* The reference sees only the last W rows, from the test's copy. */
    ref_diag = ref_ledoit_wolf(x + (T - W) * N, W, N, 0);
    ref_cc = ref_ledoit_wolf(x + (T - W) * N, W, N, 1);
    /* Interior values, so the clamp cannot hide a difference. */
    cr_assert(ref_diag > 0.0 && ref_diag < 1.0, "ref_diag %g", ref_diag);
    cr_assert(ref_cc > 0.0 && ref_cc < 1.0, "ref_cc %g", ref_cc);
    assert_rel(d_diag, ref_diag, 1e-10);
    assert_rel(d_cc, ref_cc, 1e-10);
    bal_cov_panel_free(p);
    gsl_rng_free(rng);
}

Test(covariance, ledoit_wolf_many_panels_match_the_formula)
{
    enum { N = 5, W = 30 };
    double x[W * N], d, ref;
    bal_cov_panel *p = NULL;
    gsl_rng *rng = new_rng(99);
    size_t t, k;
    int target;

    for (k = 0; k < 30; k++) {
        panel_rows(x, W, N, rng);
        cr_assert_eq(bal_cov_panel_new(&p, N, W, 0, NULL), 0);
        for (t = 0; t < W; t++)
            bal_cov_panel_push(p, x + t * N);
        for (target = 0; target < 2; target++) {
            cr_assert_eq(bal_cov_panel_ledoit_wolf(&d, p, target, NULL), 0);
            ref = ref_ledoit_wolf(x, W, N, target);
            assert_abs(d, ref, 1e-10);
        }
        bal_cov_panel_free(p);
    }
    gsl_rng_free(rng);
}

Test(covariance, ledoit_wolf_is_invariant_to_affine_rescaling)
{
    enum { N = 4, W = 40 };
    double x[W * N], y[W * N], d0, d1;
    double scale[N] = { 2.385, 0.0731, 17.2, 0.5 };
    double shift[N] = { -0.731, 0.002, 3.1, 0.0 };
    bal_cov_panel *p = NULL, *q = NULL;
    gsl_rng *rng = new_rng(5);
    size_t t, i;
    int target;

    panel_rows(x, W, N, rng);
    for (t = 0; t < W; t++)
        for (i = 0; i < N; i++)
            y[t * N + i] = scale[i] * x[t * N + i] + shift[i];
    cr_assert_eq(bal_cov_panel_new(&p, N, W, 0, NULL), 0);
    cr_assert_eq(bal_cov_panel_new(&q, N, W, 0, NULL), 0);
    for (t = 0; t < W; t++) {
        bal_cov_panel_push(p, x + t * N);
        bal_cov_panel_push(q, y + t * N);
    }
    for (target = 0; target < 2; target++) {
        cr_assert_eq(bal_cov_panel_ledoit_wolf(&d0, p, target, NULL), 0);
        cr_assert_eq(bal_cov_panel_ledoit_wolf(&d1, q, target, NULL), 0);
        assert_rel(d1, d0, 1e-9);
    }
    bal_cov_panel_free(p);
    bal_cov_panel_free(q);
    gsl_rng_free(rng);
}

Test(covariance, ledoit_wolf_leaves_out_a_flat_asset)
{
    enum { N = 4, W = 40 };
    double x[W * N], x5[W * (N + 1)], d, ref;
    bal_cov_panel *p = NULL;
    gsl_rng *rng = new_rng(77);
    size_t t, i;
    int target;

    panel_rows(x, W, N, rng);
    for (t = 0; t < W; t++) {
        for (i = 0; i < N; i++)
            x5[t * (N + 1) + (i < 2 ? i : i + 1)] = x[t * N + i];
        x5[t * (N + 1) + 2] = 0.0125;   /* flat asset in the middle */
    }
    cr_assert_eq(bal_cov_panel_new(&p, N + 1, W, 0, NULL), 0);
    for (t = 0; t < W; t++)
        bal_cov_panel_push(p, x5 + t * (N + 1));
    for (target = 0; target < 2; target++) {
        cr_assert_eq(bal_cov_panel_ledoit_wolf(&d, p, target, NULL), 0);
        ref = ref_ledoit_wolf(x, W, N, target);
        assert_abs(d, ref, 1e-10);
    }
    bal_cov_panel_free(p);
    gsl_rng_free(rng);
}

Test(covariance, ledoit_wolf_degenerate_panels)
{
    double row[2] = { 0.011, -0.004 }, d = -1, x[6 * 2], ref;
    bal_cov_panel *p = NULL;
    bal_error err = BAL_ERROR_INIT;
    gsl_rng *rng = new_rng(3);
    size_t t;

    cr_assert_eq(bal_cov_panel_new(&p, 2, 6, 0, NULL), 0);
    cr_assert_eq(bal_cov_panel_ledoit_wolf(&d, p, 0, NULL), 0);
    cr_assert_eq(d, 1.0);       /* no rows: no evidence for the sample */
    bal_cov_panel_push(p, row);
    cr_assert_eq(bal_cov_panel_ledoit_wolf(&d, p, 1, NULL), 0);
    cr_assert_eq(d, 1.0);
    cr_assert_eq(bal_cov_panel_ledoit_wolf(&d, p, 2, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "unknown shrinkage target 2");
    bal_cov_panel_free(p);

    /* Two assets, constant-correlation target: the target equals the
     * sample (gamma = 0); the rule gives 1 or 0 by the sign of pi - rho,
     * as the reference does. */
    panel_rows(x, 6, 2, rng);
    cr_assert_eq(bal_cov_panel_new(&p, 2, 6, 0, NULL), 0);
    for (t = 0; t < 6; t++)
        bal_cov_panel_push(p, x + t * 2);
    cr_assert_eq(bal_cov_panel_ledoit_wolf(&d, p, 1, NULL), 0);
    ref = ref_ledoit_wolf(x, 6, 2, 1);
    cr_assert_eq(d, ref);
    bal_cov_panel_free(p);
    gsl_rng_free(rng);
}

Test(covariance, panel_push_closes_makes_synchronous_returns)
{
    double c0[2] = { 1.2345, 98.76 }, c1[2] = { 1.2401, 97.5 };
    double c2[2] = { 1.2399, 97.9 };
    bal_cov_panel *lg = NULL, *sp = NULL;
    const double *r;

    cr_assert_eq(bal_cov_panel_new(&lg, 2, 3, 0, NULL), 0);
    cr_assert_eq(bal_cov_panel_new(&sp, 2, 3, 1, NULL), 0);
    bal_cov_panel_push_closes(lg, c0);
    bal_cov_panel_push_closes(sp, c0);
    cr_assert_eq(bal_cov_panel_rows(lg), 0);
    bal_cov_panel_push_closes(lg, c1);
    bal_cov_panel_push_closes(sp, c1);
    bal_cov_panel_push_closes(lg, c2);
    bal_cov_panel_push_closes(sp, c2);
    cr_assert_eq(bal_cov_panel_rows(lg), 2);
    r = bal_cov_panel_row(lg, 0);
    assert_rel(r[0], log(1.2401 / 1.2345), 1e-12);
    assert_rel(r[1], log(97.5 / 98.76), 1e-12);
    r = bal_cov_panel_row(lg, 1);
    assert_rel(r[0], log(1.2399 / 1.2401), 1e-11);
    r = bal_cov_panel_row(sp, 1);
    assert_rel(r[1], 97.9 / 97.5 - 1.0, 1e-12);
    bal_cov_panel_free(lg);
    bal_cov_panel_free(sp);
}

Test(covariance, panel_rejects_bad_sizes)
{
    bal_cov_panel *p = NULL;
    bal_error err = BAL_ERROR_INIT;

    cr_assert_eq(bal_cov_panel_new(&p, 0, 10, 0, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "no assets");
    cr_assert_eq(bal_cov_panel_new(&p, 3, 1, 0, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "panel window must be at least 2, got 1");
    cr_assert_null(p);
    cr_assert_eq(bal_cov_panel_new(&p, (size_t)1 << 40, (size_t)1 << 40, 0,
                                   &err), BAL_ENOMEM);
    cr_assert_null(p);
}

/* ---- 4. Stress correlation ---------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Type-7 quantile of h[0..n-1] by sort and interpolation (GSL). */
static double sorted_quantile(const double *h, size_t n, double p,
                              double *scratch)
{
    memcpy(scratch, h, n * sizeof(*h));
    qsort(scratch, n, sizeof(*scratch), cmp_double);
    return gsl_stats_quantile_from_sorted_data(scratch, 1, n, p);
}

static void quantile_every_step(double p, unsigned long seed)
{
    enum { T = 600 };
    double hist[T], scratch[T], x[1];
    bal_cov_stress *s = NULL;
    gsl_rng *rng = new_rng(seed);
    size_t t;

    cr_assert_eq(bal_cov_stress_new(&s, 1, T, p, NULL), 0);
    assert_nan(bal_cov_stress_threshold(s));
    for (t = 0; t < T; t++) {
        double q;
        int flag;

        /* Rounded to 0.001: many ties. */
        x[0] = round(gsl_ran_gaussian(rng, 0.012) * 1000.0) / 1000.0;
        if (t % 97 == 50)
            x[0] = -0.25;       /* crashes */
        hist[t] = x[0];
        flag = bal_cov_stress_begin(s, x, 0);
        q = sorted_quantile(hist, t + 1, p, scratch);
        cr_assert_eq(bal_cov_stress_threshold(s), q,
                     "step %zu: %.17g, want %.17g", t,
                     bal_cov_stress_threshold(s), q);
        cr_assert_eq(flag, x[0] <= q);
    }
    bal_cov_stress_free(s);
    gsl_rng_free(rng);
}

Test(covariance, expanding_quantile_matches_sort_p010)
{
    quantile_every_step(0.1, 1);
}

Test(covariance, expanding_quantile_matches_sort_p037)
{
    quantile_every_step(0.37, 2);
}

Test(covariance, expanding_quantile_matches_sort_p090)
{
    quantile_every_step(0.9, 3);
}

/* A synthetic market for the stress tests: N assets, some bars missing,
 * returns whose correlation rises on bad days, a shock flag now and then.
 * ret[t * N + i] is NaN when asset i has no return at step t. */
static void market(double *ret, int *shock, size_t T, size_t N,
                   gsl_rng *rng)
{
    size_t t, i;

    for (t = 0; t < T; t++) {
        double mkt = gsl_ran_gaussian(rng, 0.01);
        int bad = gsl_rng_uniform(rng) < 0.12;

        if (bad)
            mkt -= 0.02;
        shock[t] = gsl_rng_uniform(rng) < 0.05;
        for (i = 0; i < N; i++) {
            double beta = bad ? 1.0 : 0.2 + 0.15 * (double)i;

            ret[t * N + i] = beta * mkt
                             + gsl_ran_gaussian(rng, 0.008)
                               * (1.0 + 0.3 * (double)i);
            if (t == 0 || gsl_rng_uniform(rng) < 0.12)
                ret[t * N + i] = NAN;
        }
    }
    for (i = 0; i < N; i++)     /* one step with no return at all */
        ret[7 * N + i] = NAN;
}

/* Feeds steps [t0, t1) of the market: pair returns are the two assets'
 * returns when both have one. Records the flags. */
static void feed(bal_cov_stress *s, const double *ret, const int *shock,
                 size_t t0, size_t t1, size_t N, int *flags)
{
    size_t t, i, j;

    for (t = t0; t < t1; t++) {
        const double *r = ret + t * N;

        flags[t] = bal_cov_stress_begin(s, r, shock[t]);
        for (i = 0; i < N; i++)
            for (j = i + 1; j < N; j++)
                if (!isnan(r[i]) && !isnan(r[j]))
                    bal_cov_stress_pair(s, j, i, r[j], r[i]);
    }
}

Test(covariance, stress_and_calm_correlations_match_gsl_on_the_subsets)
{
    enum { N = 4, T = 500 };
    static double ret[T * N], hist[T], scratch[T], xs[2][T], ys[2][T];
    int shock[T], flags[T], ref_flag[T];
    size_t t, i, j, nh = 0, nstress = 0;
    bal_cov_stress *s = NULL;
    gsl_rng *rng = new_rng(8080);

    market(ret, shock, T, N, rng);
    cr_assert_eq(bal_cov_stress_new(&s, N, T, 0.1, NULL), 0);
    feed(s, ret, shock, 0, T, N, flags);

    /* Independent flags: ew = mean of the available simple returns, the
     * quantile by sort over ew_1..ew_t. */
    for (t = 0; t < T; t++) {
        double sum = 0;
        size_t k = 0;

        for (i = 0; i < N; i++)
            if (!isnan(ret[t * N + i])) {
                sum += ret[t * N + i];
                k++;
            }
        ref_flag[t] = shock[t];
        if (k > 0) {
            hist[nh++] = sum / (double)k;
            if (hist[nh - 1] <= sorted_quantile(hist, nh, 0.1, scratch))
                ref_flag[t] = 1;
        }
        cr_assert_eq(flags[t], ref_flag[t], "step %zu", t);
        nstress += (size_t)ref_flag[t];
    }
    cr_assert_eq(bal_cov_stress_steps(s, 1), nstress);
    cr_assert_eq(bal_cov_stress_steps(s, 0), T - nstress);
    cr_assert_gt(nstress, 60);

    for (i = 0; i < N; i++) {
        for (j = i + 1; j < N; j++) {
            size_t n[2] = { 0, 0 };
            int st;

            for (t = 0; t < T; t++) {
                st = ref_flag[t];
                if (isnan(ret[t * N + i]) || isnan(ret[t * N + j]))
                    continue;
                xs[st][n[st]] = ret[t * N + i];
                ys[st][n[st]++] = ret[t * N + j];
            }
            for (st = 0; st < 2; st++) {
                double want = gsl_stats_correlation(xs[st], 1, ys[st], 1,
                                                    n[st]);

                cr_assert_eq(bal_cov_stress_count(s, i, j, st), n[st]);
                cr_assert_eq(bal_cov_stress_count(s, j, i, st), n[st]);
                assert_abs(bal_cov_stress_corr(s, i, j, st), want, 1e-12);
                assert_abs(bal_cov_stress_corr(s, j, i, st), want, 1e-12);
            }
            /* The market makes bad days more correlated. */
            cr_assert_gt(bal_cov_stress_corr(s, i, j, 1),
                         bal_cov_stress_corr(s, i, j, 0));
        }
    }
    bal_cov_stress_free(s);
    gsl_rng_free(rng);
}

Test(covariance, stress_matrix_and_undefined_pairs)
{
    double c[9], r[3];
    bal_cov_stress *s = NULL;

    cr_assert_eq(bal_cov_stress_new(&s, 3, 10, 0.1, NULL), 0);
    /* Step 1: ew = (0.01 + 0.02) / 2 is the only value, so stress. */
    r[0] = 0.01;
    r[1] = 0.02;
    r[2] = NAN;
    cr_assert_eq(bal_cov_stress_begin(s, r, 0), 1);
    bal_cov_stress_pair(s, 0, 1, 0.01, 0.02);
    /* Step 2: ew = 0.05 > Q = 0.015 + 0.1 (0.05 - 0.015): calm. */
    r[0] = 0.05;
    r[1] = 0.05;
    cr_assert_eq(bal_cov_stress_begin(s, r, 0), 0);
    assert_rel(bal_cov_stress_threshold(s), 0.015 + 0.1 * 0.035, 1e-15);
    bal_cov_stress_pair(s, 0, 1, 0.05, 0.05);
    /* Step 3: no returns at all; shock decides. */
    r[0] = r[1] = r[2] = NAN;
    cr_assert_eq(bal_cov_stress_begin(s, r, 1), 1);
    cr_assert_eq(bal_cov_stress_begin(s, r, 0), 0);
    cr_assert_eq(bal_cov_stress_count(s, 0, 1, 1), 1);
    cr_assert_eq(bal_cov_stress_count(s, 0, 1, 0), 1);
    assert_nan(bal_cov_stress_corr(s, 0, 1, 1));    /* one return */
    bal_cov_stress_matrix(c, s, 1, 0);
    cr_assert_eq(c[0], 1.0);
    assert_nan(c[1]);
    assert_nan(c[5]);
    cr_assert_eq(bal_cov_stress_steps(s, 1), 2);
    cr_assert_eq(bal_cov_stress_steps(s, 0), 2);
    bal_cov_stress_free(s);
}

Test(covariance, stress_matrix_honours_min_obs)
{
    enum { N = 4, T = 300 };
    static double ret[T * N];
    int shock[T], flags[T];
    double c[N * N];
    bal_cov_stress *s = NULL;
    gsl_rng *rng = new_rng(12);
    size_t i, j;

    market(ret, shock, T, N, rng);
    cr_assert_eq(bal_cov_stress_new(&s, N, T, 0.1, NULL), 0);
    feed(s, ret, shock, 0, T, N, flags);
    bal_cov_stress_matrix(c, s, 1, 2);
    for (i = 0; i < N; i++)
        for (j = 0; j < N; j++) {
            if (i == j)
                cr_assert_eq(c[i * N + j], 1.0);
            else
                cr_assert_eq(c[i * N + j], bal_cov_stress_corr(s, i, j, 1));
        }
    bal_cov_stress_matrix(c, s, 0, T + 1);
    for (i = 0; i < N; i++)
        for (j = 0; j < N; j++)
            if (i != j)
                assert_nan(c[i * N + j]);
    bal_cov_stress_free(s);
    gsl_rng_free(rng);
}

struct ranked {
    size_t i, j, order;
    double diff;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;

    if (x->diff != y->diff)
        return x->diff > y->diff ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

Test(covariance, stress_pairs_are_ranked_with_ties_in_pair_order)
{
    enum { N = 5, T = 400, P = N * (N - 1) / 2 };
    static double xs[2][T], ys[2][T];
    double diff[12];
    size_t ti[12], tj[12], t, i, j, k, n, nn[2];
    int flag[T];
    struct ranked want[P];
    bal_cov_stress *s = NULL;
    gsl_rng *rng = new_rng(555);
    /* Per pair: a factor loading so the diffs differ; pairs (0,3) and
     * (1,2) share one stream of returns, so their diffs tie exactly. */
    static double px[T][P], py[T][P];

    for (t = 0; t < T; t++) {
        double m = gsl_ran_gaussian(rng, 0.01);

        for (k = 0; k < P; k++) {
            double b = 0.1 * (double)k;

            px[t][k] = m * b + gsl_ran_gaussian(rng, 0.01);
            py[t][k] = m * (1.0 - b / 2) + gsl_ran_gaussian(rng, 0.01);
        }
        /* Pair (0,3) is index 2 and (1,2) index 4 in pair order. */
        px[t][4] = px[t][2];
        py[t][4] = py[t][2];
    }

    cr_assert_eq(bal_cov_stress_new(&s, N, T, 0.25, NULL), 0);
    for (t = 0; t < T; t++) {
        double e[N];

        for (i = 0; i < N; i++)
            e[i] = px[t][0] + 0.001 * (double)i;
        flag[t] = bal_cov_stress_begin(s, e, t % 13 == 0);
        for (i = 0, k = 0; i < N; i++)
            for (j = i + 1; j < N; j++, k++)
                bal_cov_stress_pair(s, i, j, px[t][k], py[t][k]);
    }

    /* Reference: gsl_stats_correlation on the subsets, then qsort by
     * diff descending and pair order. */
    for (i = 0, k = 0; i < N; i++)
        for (j = i + 1; j < N; j++, k++) {
            double rho[2];
            int st;

            nn[0] = nn[1] = 0;
            for (t = 0; t < T; t++) {
                st = flag[t];
                xs[st][nn[st]] = px[t][k];
                ys[st][nn[st]++] = py[t][k];
            }
            for (st = 0; st < 2; st++)
                rho[st] = gsl_stats_correlation(xs[st], 1, ys[st], 1,
                                                nn[st]);
            want[k].i = i;
            want[k].j = j;
            want[k].order = k;
            want[k].diff = rho[1] - rho[0];
        }
    cr_assert_eq(want[2].diff, want[4].diff);   /* the tie is exact */
    qsort(want, P, sizeof(want[0]), cmp_ranked);

    n = bal_cov_stress_top(ti, tj, diff, 4, s, 2);
    cr_assert_eq(n, 4);
    for (k = 0; k < n; k++) {
        cr_assert_eq(ti[k], want[k].i, "rank %zu", k);
        cr_assert_eq(tj[k], want[k].j, "rank %zu", k);
        assert_abs(diff[k], want[k].diff, 1e-12);
    }
    n = bal_cov_stress_top(ti, tj, diff, 12, s, 2);
    cr_assert_eq(n, P);
    for (k = 0; k < n; k++) {
        cr_assert_eq(ti[k], want[k].i, "rank %zu", k);
        cr_assert_eq(tj[k], want[k].j, "rank %zu", k);
    }
    /* Tied pairs: (0,3) comes before (1,2) wherever they rank. */
    for (k = 0; k + 1 < n; k++)
        if (ti[k] == 1 && tj[k] == 2)
            cr_assert_fail("(1,2) ranked before (0,3)");
        else if (ti[k] == 0 && tj[k] == 3) {
            cr_assert_eq(ti[k + 1], 1);
            cr_assert_eq(tj[k + 1], 2);
            break;
        }
    cr_assert_eq(bal_cov_stress_top(ti, tj, diff, 0, s, 2), 0);
    cr_assert_eq(bal_cov_stress_top(ti, tj, diff, 10, s, T + 1), 0);
    bal_cov_stress_free(s);
    gsl_rng_free(rng);
}

/* Snapshot of everything the stress object reports after a step. */
struct snap {
    int flag;
    double q;
    double calm[16], stress[16];
};

static void take(struct snap *sn, const bal_cov_stress *s, int flag)
{
    sn->flag = flag;
    sn->q = bal_cov_stress_threshold(s);
    bal_cov_stress_matrix(sn->calm, s, 0, 2);
    bal_cov_stress_matrix(sn->stress, s, 1, 2);
}

static int same_snap(const struct snap *a, const struct snap *b)
{
    return a->flag == b->flag
           && memcmp(&a->q, &b->q, sizeof(a->q)) == 0
           && memcmp(a->calm, b->calm, sizeof(a->calm)) == 0
           && memcmp(a->stress, b->stress, sizeof(a->stress)) == 0;
}

Test(covariance, stress_has_no_look_ahead)
{
    enum { N = 4, T1 = 200, T = 320 };
    static double ret[T * N], other[T * N];
    static struct snap a[T1], b[T1];
    int shock[T], shock2[T], flags[T];
    bal_cov_stress *s1 = NULL, *s2 = NULL;
    gsl_rng *rng = new_rng(9);
    size_t t, i;

    market(ret, shock, T, N, rng);
    /* Future of run 2: crashes and shocks everywhere after T1. */
    memcpy(other, ret, sizeof(ret));
    memcpy(shock2, shock, sizeof(shock));
    for (t = T1; t < T; t++) {
        shock2[t] = 1;
        for (i = 0; i < N; i++)
            if (!isnan(other[t * N + i]))
                other[t * N + i] = -0.3 + 0.01 * (double)i;
    }
    /* Run 1: the data truncated at T1. Run 2: the full, altered data. */
    cr_assert_eq(bal_cov_stress_new(&s1, N, T1, 0.1, NULL), 0);
    cr_assert_eq(bal_cov_stress_new(&s2, N, T, 0.1, NULL), 0);
    for (t = 0; t < T1; t++) {
        feed(s1, ret, shock, t, t + 1, N, flags);
        take(&a[t], s1, flags[t]);
    }
    for (t = 0; t < T; t++) {
        feed(s2, other, shock2, t, t + 1, N, flags);
        if (t < T1)
            take(&b[t], s2, flags[t]);
    }
    for (t = 0; t < T1; t++)
        cr_assert(same_snap(&a[t], &b[t]), "step %zu differs", t);
    /* And the future did change the later state (the test can fail). */
    cr_assert_gt(bal_cov_stress_steps(s2, 1), bal_cov_stress_steps(s1, 1));
    bal_cov_stress_free(s1);
    bal_cov_stress_free(s2);
    gsl_rng_free(rng);
}

Test(covariance, stress_rejects_bad_arguments)
{
    bal_cov_stress *s = NULL;
    bal_error err = BAL_ERROR_INIT;

    cr_assert_eq(bal_cov_stress_new(&s, 0, 10, 0.1, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "no assets");
    cr_assert_eq(bal_cov_stress_new(&s, 2, 0, 0.1, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "max_steps must be positive");
    cr_assert_eq(bal_cov_stress_new(&s, 2, 10, 0.0, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "stress_quantile must lie in (0, 1), got 0");
    cr_assert_eq(bal_cov_stress_new(&s, 2, 10, 1.0, &err), BAL_EINVAL);
    cr_assert_eq(bal_cov_stress_new(&s, 2, 10, NAN, &err), BAL_EINVAL);
    cr_assert_eq(bal_cov_stress_new(&s, 2, SIZE_MAX / 4, 0.1, &err),
                 BAL_ENOMEM);
    cr_assert_null(s);
}

Test(covariance, stress_beyond_max_steps_is_a_bug, .signal = SIGABRT)
{
    double r[2] = { 0.01, 0.02 };
    bal_cov_stress *s = NULL;

    cr_assert_eq(bal_cov_stress_new(&s, 2, 1, 0.1, NULL), 0);
    bal_cov_stress_begin(s, r, 0);
    bal_cov_stress_begin(s, r, 0);
}

Test(covariance, stress_pair_twice_in_a_step_is_a_bug, .signal = SIGABRT)
{
    double r[2] = { 0.01, 0.02 };
    bal_cov_stress *s = NULL;

    cr_assert_eq(bal_cov_stress_new(&s, 2, 5, 0.1, NULL), 0);
    bal_cov_stress_begin(s, r, 0);
    bal_cov_stress_pair(s, 0, 1, 0.01, 0.02);
    bal_cov_stress_pair(s, 1, 0, 0.02, 0.01);
}

/* ---- 5. Sizing pipeline ------------------------------------------------- */

Test(covariance, sizing_corr_chains_the_steps)
{
    enum { N = 5, W = 30 };
    double c[N * N], manual[N * N], s[N * N], x[W * N], delta, d2;
    bal_cov_options o = BAL_COV_OPTIONS_INIT;
    bal_cov_psd *w = NULL;
    bal_cov_panel *p = NULL;
    gsl_rng *rng = new_rng(61);
    int rep, rep2;
    size_t t;

    cr_assert_eq(bal_cov_psd_new(&w, N, NULL), 0);
    cr_assert_eq(bal_cov_panel_new(&p, N, W, 0, NULL), 0);
    panel_rows(x, W, N, rng);
    for (t = 0; t < W; t++)
        bal_cov_panel_push(p, x + t * N);
    random_symmetric(c, N, rng);
    random_symmetric(s, N, rng);
    c[1] = c[5] = NAN;
    s[2] = s[10] = NAN;

    /* Fixed intensity, constant-correlation target, blend. */
    o.shrinkage = 0.3;
    o.target = BAL_COV_TARGET_CONSTANT_CORR;
    o.stress_blend = 0.4;
    memcpy(manual, c, sizeof(c));
    cr_assert_eq(bal_cov_sanitize(manual, N), 2);
    cr_assert_eq(bal_cov_shrink(manual, N, o.target, 0.3, NULL), 0);
    cr_assert_eq(bal_cov_blend(manual, N, s, 0.4, NULL), 0);
    cr_assert_eq(bal_cov_psd_repair(manual, &rep2, w, o.psd_floor, NULL), 0);
    cr_assert_eq(bal_cov_sizing_corr(c, &delta, &rep, w, NULL, s, &o, NULL),
                 0);
    cr_assert_eq(delta, 0.3);
    cr_assert_eq(rep, rep2);
    cr_assert_eq(memcmp(c, manual, sizeof(c)), 0);

    /* Ledoit-Wolf: the intensity is the panel's. */
    random_symmetric(c, N, rng);
    o.ledoit_wolf = 1;
    o.target = BAL_COV_TARGET_DIAGONAL;
    o.stress_blend = 0.0;
    cr_assert_eq(bal_cov_panel_ledoit_wolf(&d2, p, o.target, NULL), 0);
    memcpy(manual, c, sizeof(c));
    cr_assert_eq(bal_cov_shrink(manual, N, o.target, d2, NULL), 0);
    cr_assert_eq(bal_cov_psd_repair(manual, NULL, w, o.psd_floor, NULL), 0);
    cr_assert_eq(bal_cov_sizing_corr(c, &delta, NULL, w, p, s, &o, NULL),
                 0);
    cr_assert_eq(delta, d2);
    cr_assert_eq(memcmp(c, manual, sizeof(c)), 0);
    bal_cov_psd_free(w);
    bal_cov_panel_free(p);
    gsl_rng_free(rng);
}

Test(covariance, sizing_corr_defaults_leave_a_psd_matrix_alone)
{
    enum { N = 4 };
    double c[N * N], before[N * N], delta = -1;
    bal_cov_psd *w = NULL;
    gsl_rng *rng = new_rng(4);
    int rep = -1;

    random_psd_corr(c, N, 50, rng);
    memcpy(before, c, sizeof(c));
    cr_assert_eq(bal_cov_psd_new(&w, N, NULL), 0);
    cr_assert_eq(bal_cov_sizing_corr(c, &delta, &rep, w, NULL, NULL, NULL,
                                     NULL), 0);
    cr_assert_eq(delta, 0.0);
    cr_assert_eq(rep, 0);
    cr_assert_eq(memcmp(c, before, sizeof(c)), 0);
    bal_cov_psd_free(w);
    gsl_rng_free(rng);
}

Test(covariance, sizing_corr_rejects_bad_options)
{
    double c[9];
    bal_cov_options o = BAL_COV_OPTIONS_INIT;
    bal_cov_psd *w = NULL;
    bal_error err = BAL_ERROR_INIT;

    corr3(c, 0.3, 0.2, 0.1);
    cr_assert_eq(bal_cov_psd_new(&w, 3, NULL), 0);
    o.ledoit_wolf = 1;
    cr_assert_eq(bal_cov_sizing_corr(c, NULL, NULL, w, NULL, NULL, &o, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "ledoit_wolf shrinkage needs a return panel");
    o = (bal_cov_options)BAL_COV_OPTIONS_INIT;
    o.psd_floor = 1.0;
    cr_assert_eq(bal_cov_sizing_corr(c, NULL, NULL, w, NULL, NULL, &o, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "psd_floor must lie in [0, 1), got 1");
    o = (bal_cov_options)BAL_COV_OPTIONS_INIT;
    o.stress_blend = -0.5;
    cr_assert_eq(bal_cov_sizing_corr(c, NULL, NULL, w, NULL, NULL, &o, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "stress_blend must lie in [0, 1], got -0.5");
    o = (bal_cov_options)BAL_COV_OPTIONS_INIT;
    o.target = 3;
    cr_assert_eq(bal_cov_sizing_corr(c, NULL, NULL, w, NULL, NULL, &o, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "unknown shrinkage target 3");
    o = (bal_cov_options)BAL_COV_OPTIONS_INIT;
    o.shrinkage = 2.0;
    cr_assert_eq(bal_cov_sizing_corr(c, NULL, NULL, w, NULL, NULL, &o, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg,
                     "shrinkage intensity must lie in [0, 1], got 2");
    bal_cov_psd_free(w);
}
