/* Rolling engine (SPEC §3 and §12). References: hand computations written
 * out below, GSL (gsl_stats_sd, gsl_stats_correlation), naive long-double
 * two-pass recomputations and naive re-implementations of the written
 * rules (synchronous pair returns, RiskMetrics recursions, TA-Lib ATR). */
#include "ballast/rolling.h"
#include "ballast/numfmt.h"
#include "helpers.h"

#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
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

/* Two-pass mean and sample variance of x[0..n-1] in long double, on the
 * data shifted by x[0] (exact for nearby values), so the reference keeps
 * its accuracy even where long double is only double (valgrind). */
static void two_pass(const double *x, size_t n, long double *mean,
                     long double *var)
{
    long double s = 0.0L, ss = 0.0L;
    size_t i;

    for (i = 0; i < n; i++)
        s += (long double)(x[i] - x[0]);
    s /= (long double)n;
    for (i = 0; i < n; i++) {
        long double d = (long double)(x[i] - x[0]) - s;

        ss += d * d;
    }
    *mean = (long double)x[0] + s;
    *var = ss / (long double)(n - 1);
}

/* Two-pass Pearson correlation, shifted the same way. */
static double two_pass_corr(const double *x, const double *y, size_t n)
{
    long double mx = 0.0L, my = 0.0L, sxx = 0.0L, syy = 0.0L, sxy = 0.0L;
    size_t i;

    for (i = 0; i < n; i++) {
        mx += (long double)(x[i] - x[0]);
        my += (long double)(y[i] - y[0]);
    }
    mx /= (long double)n;
    my /= (long double)n;
    for (i = 0; i < n; i++) {
        long double dx = (long double)(x[i] - x[0]) - mx;
        long double dy = (long double)(y[i] - y[0]) - my;

        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    return (double)(sxy / sqrtl(sxx * syy));
}

/* ---- Wilder ATR --------------------------------------------------------- */

/* TA-Lib ATR with n = 3 on 6 bars (H, L, C):
 *   bar 0: 10.20  9.85 10.05   TR undefined
 *   bar 1: 10.43 10.01 10.31   TR = max(10.43,10.05) - min(10.01,10.05)
 *                                 = 10.43 - 10.01 = 0.42
 *   bar 2: 10.38  9.92  9.97   TR = 10.38 - 9.92 = 0.46
 *   bar 3: 10.12  9.61  9.70   TR = 10.12 - 9.61 = 0.51
 *                              ATR = (0.42 + 0.46 + 0.51) / 3 = 139/300
 *   bar 4:  9.66  9.38  9.52   gap down, prev close 9.70 above the high:
 *                              TR = 9.70 - 9.38 = 0.32
 *                              ATR = (2 * 139/300 + 0.32) / 3 = 187/450
 *   bar 5: 10.07  9.81 10.02   gap up, prev close 9.52 below the low:
 *                              TR = 10.07 - 9.52 = 0.55
 *                              ATR = (2 * 187/450 + 0.55) / 3 = 1243/2700 */
Test(rolling, wilder_hand_computed_ta_lib_seed)
{
    static const double h[] = { 10.20, 10.43, 10.38, 10.12, 9.66, 10.07 };
    static const double l[] = { 9.85, 10.01, 9.92, 9.61, 9.38, 9.81 };
    static const double c[] = { 10.05, 10.31, 9.97, 9.70, 9.52, 10.02 };
    static const double tr[] = { NAN, 0.42, 0.46, 0.51, 0.32, 0.55 };
    const double atr[] = { NAN, NAN, NAN, 139.0 / 300.0, 187.0 / 450.0,
                           1243.0 / 2700.0 };
    bal_rolling_wilder a;
    size_t t;

    bal_rolling_wilder_init(&a, 3);
    assert_nan(bal_rolling_wilder_atr(&a));
    for (t = 0; t < 6; t++) {
        bal_rolling_wilder_push(&a, h[t], l[t], c[t]);
        if (t == 0) {
            assert_nan(bal_rolling_wilder_tr(&a));
        } else {
            assert_rel(bal_rolling_wilder_tr(&a), tr[t], 1e-12);
        }
        if (t < 3) {
            assert_nan(bal_rolling_wilder_atr(&a));
        } else {
            assert_rel(bal_rolling_wilder_atr(&a), atr[t], 1e-12);
        }
    }
}

/* Random OHLC bars with gaps: the open moves away from the last close. */
static void random_bars(gsl_rng *rng, size_t n, double c0, double *h,
                        double *l, double *c)
{
    double prev = c0;
    size_t t;

    for (t = 0; t < n; t++) {
        double o = prev * exp(gsl_ran_gaussian(rng, 0.004));
        double cl = o * exp(gsl_ran_gaussian(rng, 0.011));
        double hi = fmax(o, cl) * (1.0 + fabs(gsl_ran_gaussian(rng, 0.003)));
        double lo = fmin(o, cl) * (1.0 - fabs(gsl_ran_gaussian(rng, 0.003)));

        h[t] = hi;
        l[t] = lo;
        c[t] = cl;
        prev = cl;
    }
}

/* Naive ATR with Wilder's original three-term true range
 * max(H - L, |H - C_prev|, |L - C_prev|) and the TA-Lib seed. */
static void atr_reference(const double *h, const double *l, const double *c,
                          size_t nb, size_t n, double *out)
{
    double *tr = xcalloc(nb);
    double sum = 0.0;
    size_t t;

    for (t = 1; t < nb; t++)
        tr[t] = fmax(h[t] - l[t], fmax(fabs(h[t] - c[t - 1]),
                                       fabs(l[t] - c[t - 1])));
    for (t = 0; t < nb && t < n; t++)
        out[t] = NAN;
    if (nb > n) {
        for (t = 1; t <= n; t++)
            sum += tr[t];
        out[n] = sum / (double)n;
        for (t = n + 1; t < nb; t++)
            out[t] = ((double)(n - 1) * out[t - 1] + tr[t]) / (double)n;
    }
    free(tr);
}

Test(rolling, wilder_matches_naive_reference_on_random_bars)
{
    static const size_t periods[] = { 1, 2, 5, 14 };
    const size_t nb = 400;
    double *h = xcalloc(nb), *l = xcalloc(nb), *c = xcalloc(nb);
    double *ref = xcalloc(nb);
    gsl_rng *rng = new_rng(20240611);
    size_t k, t;

    random_bars(rng, nb, 1.2385, h, l, c);
    for (k = 0; k < sizeof(periods) / sizeof(periods[0]); k++) {
        bal_rolling_wilder a;

        atr_reference(h, l, c, nb, periods[k], ref);
        bal_rolling_wilder_init(&a, periods[k]);
        for (t = 0; t < nb; t++) {
            bal_rolling_wilder_push(&a, h[t], l[t], c[t]);
            if (t < periods[k]) {
                assert_nan(bal_rolling_wilder_atr(&a));
            } else {
                assert_rel(bal_rolling_wilder_atr(&a), ref[t], 1e-12);
            }
        }
    }
    gsl_rng_free(rng);
    free(h);
    free(l);
    free(c);
    free(ref);
}

/* A NaN high makes that bar's TR undefined and restarts the seed from the
 * next bar: with n = 2 the ATR is back two true ranges later. */
Test(rolling, wilder_nan_high_low_restarts_seed)
{
    bal_rolling_wilder a;

    bal_rolling_wilder_init(&a, 2);
    bal_rolling_wilder_push(&a, 5.12, 4.87, 5.03);
    bal_rolling_wilder_push(&a, 5.21, 4.95, 5.14);   /* TR 0.26 */
    bal_rolling_wilder_push(&a, 5.30, 5.02, 5.27);   /* TR 0.28 */
    assert_rel(bal_rolling_wilder_atr(&a), (0.26 + 0.28) / 2.0, 1e-12);
    bal_rolling_wilder_push(&a, NAN, 5.11, 5.19);
    assert_nan(bal_rolling_wilder_tr(&a));
    assert_nan(bal_rolling_wilder_atr(&a));
    /* TR = max(5.33, 5.19) - min(5.08, 5.19) = 0.25, seed has 1 of 2 */
    bal_rolling_wilder_push(&a, 5.33, 5.08, 5.31);
    assert_rel(bal_rolling_wilder_tr(&a), 0.25, 1e-12);
    assert_nan(bal_rolling_wilder_atr(&a));
    /* TR = max(5.36, 5.31) - min(5.17, 5.31) = 0.19 */
    bal_rolling_wilder_push(&a, 5.36, 5.17, 5.22);
    assert_rel(bal_rolling_wilder_atr(&a), (0.25 + 0.19) / 2.0, 1e-12);
    /* a low of NaN does the same */
    bal_rolling_wilder_push(&a, 5.41, NAN, 5.29);
    assert_nan(bal_rolling_wilder_atr(&a));
}

Test(rolling, wilder_period_one_is_true_range)
{
    bal_rolling_wilder a;

    bal_rolling_wilder_init(&a, 1);
    bal_rolling_wilder_push(&a, 2.385, 2.291, 2.347);
    assert_nan(bal_rolling_wilder_atr(&a));
    /* TR = max(2.402, 2.347) - min(2.318, 2.347) = 0.084 */
    bal_rolling_wilder_push(&a, 2.402, 2.318, 2.331);
    assert_rel(bal_rolling_wilder_atr(&a), 0.084, 1e-12);
    /* TR = max(2.339, 2.331) - min(2.207, 2.331) = 0.132 */
    bal_rolling_wilder_push(&a, 2.339, 2.207, 2.214);
    assert_rel(bal_rolling_wilder_atr(&a), 0.132, 1e-12);
}

/* ---- Rolling window ---------------------------------------------------- */

Test(rolling, window_sd_matches_gsl_after_wraparounds)
{
    const size_t w = 20, n = 20 * 50 + 7;
    double *x = xcalloc(n), *buf = xcalloc(w);
    gsl_rng *rng = new_rng(7311);
    bal_rolling_window v;
    size_t t;

    bal_rolling_window_init(&v, buf, w);
    assert_nan(bal_rolling_window_sd(&v));
    for (t = 0; t < n; t++) {
        x[t] = 0.0004 + gsl_ran_gaussian(rng, 0.0131);
        bal_rolling_window_push(&v, x[t]);
        if (t + 1 < w) {
            assert_nan(bal_rolling_window_sd(&v));
            assert_nan(bal_rolling_window_mean(&v));
            continue;
        }
        assert_rel(bal_rolling_window_sd(&v),
                   gsl_stats_sd(x + t + 1 - w, 1, w), 1e-11);
        assert_abs(bal_rolling_window_mean(&v),
                   gsl_stats_mean(x + t + 1 - w, 1, w), 1e-15);
    }
    gsl_rng_free(rng);
    free(x);
    free(buf);
}

/* SPEC §3: running sums within 1e-9 * max(|x|, mean square) of a two-pass
 * recomputation over 10^6 steps. Data 1e6 + a trend + noise (the trend
 * carries the data 3.7e5 away from any fixed anchor); the sums are checked
 * against sums recomputed with the same anchor, and the variance (a much
 * tighter test) against a long-double two-pass variance. */
Test(rolling, window_precision_over_1e6_steps_large_offset)
{
    const size_t w = 50, n = 1000000;
    double *x = xcalloc(n), *buf = xcalloc(w);
    gsl_rng *rng = new_rng(99173);
    bal_rolling_window v;
    double worst = 0.0;
    size_t t, i;

    bal_rolling_window_init(&v, buf, w);
    for (t = 0; t < n; t++) {
        long double mean, var;
        const double *win;
        double got;

        x[t] = 1.0e6 + 0.37 * (double)t + 2.385 * gsl_ran_gaussian(rng, 1.0);
        bal_rolling_window_push(&v, x[t]);
        if (t + 1 < w)
            continue;
        win = x + t + 1 - w;
        two_pass(win, w, &mean, &var);
        got = bal_rolling_window_var(&v);
        if (fabs(got - (double)var) / (double)var > worst)
            worst = fabs(got - (double)var) / (double)var;
        if (t % 97 == 0) {
            long double s1 = 0.0L, s2 = 0.0L, big = 0.0L, tol;

            for (i = 0; i < w; i++) {
                long double d = (long double)win[i] - v.k;
                s1 += d;
                s2 += d * d;
                if (fabsl(win[i]) > big)
                    big = fabsl(win[i]);
            }
            tol = 1e-9L * fmaxl(big, s2 / (long double)w);
            cr_assert(fabsl(v.s1 - s1) <= tol, "step %zu: s1 off", t);
            cr_assert(fabsl(v.s2 - s2) <= tol, "step %zu: s2 off", t);
            assert_rel(bal_rolling_window_mean(&v), (double)mean, 1e-15);
        }
    }
    cr_assert(worst <= 1e-9, "worst relative variance error %g", worst);
    gsl_rng_free(rng);
    free(x);
    free(buf);
}

/* A jump from ~1.7 to ~3.1e8 leaves the anchor far from the data: once the
 * window holds only new values the sums are re-anchored (within a quarter
 * window at worst) and precision is back. Here the last periodic re-anchor
 * (at push 320) kept an old value as anchor, and the window is all new at
 * push 350, 10 pushes before the next periodic re-anchor. */
Test(rolling, window_recovers_after_level_shift)
{
    const size_t w = 40, n = 600, shift = 310;
    double *x = xcalloc(n), *buf = xcalloc(w);
    gsl_rng *rng = new_rng(4471);
    bal_rolling_window v;
    size_t t;

    bal_rolling_window_init(&v, buf, w);
    for (t = 0; t < n; t++) {
        long double mean, var;

        x[t] = (t < shift ? 1.7 : 3.1e8) + gsl_ran_gaussian(rng, 1e-3);
        bal_rolling_window_push(&v, x[t]);
        if (t + 1 < w || (t >= shift && t + 1 < shift + w))
            continue;
        two_pass(x + t + 1 - w, w, &mean, &var);
        assert_rel(bal_rolling_window_var(&v), (double)var, 1e-9);
    }
    gsl_rng_free(rng);
    free(x);
    free(buf);
}

/* 0.1 + 0.1 + 0.1 != 0.3 in binary, yet a window of w equal values must
 * have variance exactly 0 and mean exactly the value, also after a noisy
 * history and before any re-anchor. */
Test(rolling, window_constant_values_give_exact_zero_variance)
{
    double buf[3];
    bal_rolling_window v;
    size_t t;

    bal_rolling_window_init(&v, buf, 3);
    for (t = 0; t < 3; t++)
        bal_rolling_window_push(&v, 0.1);
    cr_assert(bal_rolling_window_var(&v) == 0.0);
    cr_assert(bal_rolling_window_mean(&v) == 0.1);

    bal_rolling_window_push(&v, 2.385);
    bal_rolling_window_push(&v, -0.731);
    cr_assert(bal_rolling_window_var(&v) > 0.0);
    for (t = 0; t < 3; t++)
        bal_rolling_window_push(&v, 0.7);
    cr_assert(bal_rolling_window_var(&v) == 0.0);
    cr_assert(bal_rolling_window_mean(&v) == 0.7);
    cr_assert(bal_rolling_window_sd(&v) == 0.0);
}

/* A constant window must give exactly 0 (and a NaN correlation) whatever
 * the phase of the re-anchoring cycle at which it appears: sweep the
 * number of wide-ranging values pushed before w copies of 0.7. */
Test(rolling, constant_window_is_exact_at_every_anchor_phase)
{
    enum { W = 12 };
    double vbuf[W], cbuf[2 * W];
    gsl_rng *rng = new_rng(6607);
    size_t off, t;

    for (off = 1; off <= 3 * W; off++) {
        bal_rolling_window v;
        bal_rolling_cov c;

        bal_rolling_window_init(&v, vbuf, W);
        bal_rolling_cov_init(&c, cbuf, W);
        for (t = 0; t < off; t++) {
            double x = gsl_ran_gaussian(rng, 1.0) * pow(10.0, (double)(t % 5));

            bal_rolling_window_push(&v, x);
            bal_rolling_cov_push(&c, x, gsl_ran_gaussian(rng, 2.385));
        }
        for (t = 0; t < W; t++) {
            bal_rolling_window_push(&v, 0.7);
            bal_rolling_cov_push(&c, 0.7, gsl_ran_gaussian(rng, 2.385));
        }
        cr_assert(bal_rolling_window_var(&v) == 0.0, "offset %zu: %.17g",
                  off, bal_rolling_window_var(&v));
        cr_assert(bal_rolling_window_mean(&v) == 0.7, "offset %zu", off);
        assert_nan(bal_rolling_cov_corr(&c));
    }
    gsl_rng_free(rng);
}

/* ---- Rolling correlation ----------------------------------------------- */

Test(rolling, cov_corr_matches_gsl_after_wraparounds)
{
    const size_t w = 25, n = 25 * 40 + 11;
    double *x = xcalloc(n), *y = xcalloc(n), *buf = xcalloc(2 * w);
    gsl_rng *rng = new_rng(5813);
    bal_rolling_cov c;
    size_t t;

    bal_rolling_cov_init(&c, buf, w);
    for (t = 0; t < n; t++) {
        double z = gsl_ran_gaussian(rng, 0.012);

        x[t] = 0.0003 + z;
        y[t] = -0.0002 + 0.6 * z + gsl_ran_gaussian(rng, 0.009);
        bal_rolling_cov_push(&c, x[t], y[t]);
        if (t + 1 < w) {
            assert_nan(bal_rolling_cov_corr(&c));
            continue;
        }
        assert_abs(bal_rolling_cov_corr(&c),
                   gsl_stats_correlation(x + t + 1 - w, 1, y + t + 1 - w, 1,
                                         w), 1e-12);
    }
    gsl_rng_free(rng);
    free(x);
    free(y);
    free(buf);
}

/* Correlated data with large, different offsets and trends over 10^6 steps
 * against a long-double two-pass correlation. */
Test(rolling, cov_precision_over_1e6_steps_large_offset)
{
    const size_t w = 60, n = 1000000;
    double *x = xcalloc(n), *y = xcalloc(n), *buf = xcalloc(2 * w);
    gsl_rng *rng = new_rng(31337);
    bal_rolling_cov c;
    size_t t;

    bal_rolling_cov_init(&c, buf, w);
    for (t = 0; t < n; t++) {
        double z = gsl_ran_gaussian(rng, 1.0);

        x[t] = 1.0e6 + 0.21 * (double)t + z;
        y[t] = -4.2e4 - 0.05 * (double)t + 0.31 * z
               + gsl_ran_gaussian(rng, 0.77);
        bal_rolling_cov_push(&c, x[t], y[t]);
        if (t + 1 < w || t % 13 != 0)
            continue;
        assert_abs(bal_rolling_cov_corr(&c),
                   two_pass_corr(x + t + 1 - w, y + t + 1 - w, w), 1e-10);
    }
    gsl_rng_free(rng);
    free(x);
    free(y);
    free(buf);
}

Test(rolling, cov_corr_nan_when_a_variance_is_zero)
{
    static const double y[] = { 0.0123, -0.0087, 0.0154, -0.0031, 0.0042 };
    double buf[10];
    bal_rolling_cov c;
    size_t t;

    bal_rolling_cov_init(&c, buf, 5);
    for (t = 0; t < 5; t++)
        bal_rolling_cov_push(&c, 0.1, y[t]);
    assert_nan(bal_rolling_cov_corr(&c));
    /* one different x: defined, and equal to GSL on the window */
    bal_rolling_cov_push(&c, 0.3, -0.0066);
    {
        const double wx[] = { 0.1, 0.1, 0.1, 0.1, 0.3 };
        const double wy[] = { -0.0087, 0.0154, -0.0031, 0.0042, -0.0066 };

        assert_abs(bal_rolling_cov_corr(&c),
                   gsl_stats_correlation(wx, 1, wy, 1, 5), 1e-12);
    }
    /* y constant for a whole window: NaN again */
    for (t = 0; t < 5; t++)
        bal_rolling_cov_push(&c, y[t], 2.385);
    assert_nan(bal_rolling_cov_corr(&c));
}

/* ---- EWMA --------------------------------------------------------------- */

/* lambda = 0.94, x = 0.0123, -0.0087, 0.0154, -0.0031:
 *   S1 = 0.0123^2                                  = 1.5129e-4
 *   S2 = 0.94 * 1.5129e-4  + 0.06 * 0.0087^2
 *      = 1.422126e-4 + 4.5414e-6                   = 1.467540e-4
 *   S3 = 0.94 * 1.46754e-4 + 0.06 * 0.0154^2
 *      = 1.3794876e-4 + 1.42296e-5                 = 1.5217836e-4
 *   S4 = 0.94 * 1.5217836e-4 + 0.06 * 0.0031^2
 *      = 1.430476584e-4 + 5.766e-7                 = 1.436242584e-4
 * With w = 3 the result is NaN for two values, then sqrt(S3), sqrt(S4). */
Test(rolling, ewvar_matches_hand_recursion)
{
    bal_rolling_ewvar e;

    bal_rolling_ewvar_init(&e, 0.94, 3);
    bal_rolling_ewvar_push(&e, 0.0123);
    assert_nan(bal_rolling_ewvar_sd(&e));
    bal_rolling_ewvar_push(&e, -0.0087);
    assert_nan(bal_rolling_ewvar_var(&e));
    bal_rolling_ewvar_push(&e, 0.0154);
    assert_rel(bal_rolling_ewvar_var(&e), 1.5217836e-4, 1e-12);
    assert_rel(bal_rolling_ewvar_sd(&e), sqrt(1.5217836e-4), 1e-12);
    bal_rolling_ewvar_push(&e, -0.0031);
    assert_rel(bal_rolling_ewvar_var(&e), 1.436242584e-4, 1e-12);
}

/* lambda = 0.94 on pairs (0.0123, 0.0071), (-0.0087, -0.0032),
 * (0.0154, 0.0049):
 *   Sxx: as above, S3 = 1.5217836e-4
 *   Syy: 5.041e-5; 0.94 * 5.041e-5 + 0.06 * 1.024e-5 = 4.79998e-5;
 *        0.94 * 4.79998e-5 + 0.06 * 2.401e-5 = 4.6560412e-5
 *   Sxy: 8.733e-5; 0.94 * 8.733e-5 + 0.06 * 2.784e-5 = 8.37606e-5;
 *        0.94 * 8.37606e-5 + 0.06 * 7.546e-5 = 8.3262564e-5
 *   rho = 8.3262564e-5 / sqrt(1.5217836e-4 * 4.6560412e-5) (w = 3) */
Test(rolling, ewcorr_matches_hand_recursion)
{
    bal_rolling_ewcorr e;

    bal_rolling_ewcorr_init(&e, 0.94, 3);
    bal_rolling_ewcorr_push(&e, 0.0123, 0.0071);
    bal_rolling_ewcorr_push(&e, -0.0087, -0.0032);
    assert_nan(bal_rolling_ewcorr_corr(&e));
    bal_rolling_ewcorr_push(&e, 0.0154, 0.0049);
    assert_rel(e.sxx, 1.5217836e-4, 1e-12);
    assert_rel(e.syy, 4.6560412e-5, 1e-12);
    assert_rel(e.sxy, 8.3262564e-5, 1e-12);
    assert_rel(bal_rolling_ewcorr_corr(&e),
               8.3262564e-5 / sqrt(1.5217836e-4 * 4.6560412e-5), 1e-12);
}

Test(rolling, ewcorr_nan_when_a_variance_is_zero)
{
    bal_rolling_ewcorr e;

    bal_rolling_ewcorr_init(&e, 0.9, 1);
    bal_rolling_ewcorr_push(&e, 0.0, 0.0134);
    assert_nan(bal_rolling_ewcorr_corr(&e));
    bal_rolling_ewcorr_push(&e, -0.0071, 0.0022);
    cr_assert(!isnan(bal_rolling_ewcorr_corr(&e)));
}

/* ---- The engine ---------------------------------------------------------- */

static bal_rolling *engine(size_t n, const bal_rolling_options *opt)
{
    bal_error err = BAL_ERROR_INIT;
    bal_rolling *r = NULL;
    int rc = bal_rolling_new(&r, n, opt, &err);

    cr_assert_eq(rc, BAL_OK, "bal_rolling_new: %s", err.msg);
    cr_assert_not_null(r);
    return r;
}

Test(rolling, engine_single_asset_matches_references)
{
    const size_t nb = 300, n = 5, w = 12;
    double *h = xcalloc(nb), *l = xcalloc(nb), *c = xcalloc(nb);
    double *atr = xcalloc(nb), *ret = xcalloc(nb);
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    gsl_rng *rng = new_rng(8082);
    const unsigned char has = 1;
    bal_rolling *r;
    size_t t;

    opt.atr_window = n;
    opt.vol_window = w;
    r = engine(1, &opt);
    random_bars(rng, nb, 1.0937, h, l, c);
    atr_reference(h, l, c, nb, n, atr);
    for (t = 0; t < nb; t++) {
        bal_rolling_step(r, &has, h + t, l + t, c + t);
        cr_assert_eq(bal_rolling_bars(r, 0), t + 1);
        if (t == 0) {
            assert_nan(bal_rolling_ret(r, 0));
        } else {
            ret[t] = log(c[t] / c[t - 1]);
            assert_rel(bal_rolling_ret(r, 0), ret[t], 1e-12);
        }
        if (t < n) {
            assert_nan(bal_rolling_atr(r, 0));
        } else {
            assert_rel(bal_rolling_atr(r, 0), atr[t], 1e-12);
        }
        if (t < w) {             /* returns ret[1..t]: fewer than w */
            assert_nan(bal_rolling_vol(r, 0));
        } else {
            assert_rel(bal_rolling_vol(r, 0),
                       gsl_stats_sd(ret + t + 1 - w, 1, w), 1e-10);
        }
    }
    bal_rolling_free(r);
    gsl_rng_free(rng);
    free(h);
    free(l);
    free(c);
    free(atr);
    free(ret);
}

/* closes 100, 102.5, 99.8: simple returns 0.025 and 99.8/102.5 - 1
 * = -0.0263414634...; log returns ln(1.025) and ln(99.8/102.5). */
Test(rolling, engine_simple_vs_log_returns)
{
    static const double c[] = { 100.0, 102.5, 99.8 };
    const unsigned char has = 1;
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    bal_rolling *rs, *rl;
    size_t t;

    opt.simple_returns = 1;
    rs = engine(1, &opt);
    rl = engine(1, NULL);
    for (t = 0; t < 3; t++) {
        bal_rolling_step(rs, &has, NULL, NULL, c + t);
        bal_rolling_step(rl, &has, NULL, NULL, c + t);
        if (t == 1) {
            assert_rel(bal_rolling_ret(rs, 0), 0.025, 1e-14);
            assert_rel(bal_rolling_ret(rl, 0), log(1.025), 1e-14);
        }
    }
    assert_rel(bal_rolling_ret(rs, 0), -0.108 / 4.1, 1e-14);
    assert_rel(bal_rolling_ret(rl, 0), log(99.8 / 102.5), 1e-13);
    bal_rolling_free(rs);
    bal_rolling_free(rl);
}

/* Naive synchronous returns of pair (i, j) over the steps fed so far:
 * log returns between consecutive steps at which both have bars. */
struct sync_ref {
    double *ri, *rj;
    size_t n;
    double pci, pcj;
    int seen;
};

static void sync_ref_step(struct sync_ref *s, int both, double ci, double cj)
{
    if (!both)
        return;
    if (s->seen) {
        s->ri[s->n] = log(ci / s->pci);
        s->rj[s->n] = log(cj / s->pcj);
        s->n++;
    }
    s->pci = ci;
    s->pcj = cj;
    s->seen = 1;
}

/* RiskMetrics recursion from scratch over a pair's whole history. */
static double ewma_corr_ref(const double *x, const double *y, size_t n,
                            double lambda)
{
    double sxx = x[0] * x[0], syy = y[0] * y[0], sxy = x[0] * y[0];
    size_t t;

    for (t = 1; t < n; t++) {
        sxx = lambda * sxx + (1.0 - lambda) * x[t] * x[t];
        syy = lambda * syy + (1.0 - lambda) * y[t] * y[t];
        sxy = lambda * sxy + (1.0 - lambda) * x[t] * y[t];
    }
    return sxy / sqrt(sxx * syy);
}

/* 2024-01-01 is a Monday. Asset 0 (crypto) trades every day, asset 1
 * (Mon-Fri) on weekdays only: the pair's returns run between weekdays, so
 * the Monday return of the crypto asset is Fri -> Mon for the pair, while
 * its own return (and its vol) is Sun -> Mon. */
Test(rolling, engine_pair_uses_fri_to_mon_returns_beside_crypto)
{
    const size_t days = 30, w = 8, vw = 10;
    const int64_t day0 = bal_days_from_civil(2024, 1, 1);
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    gsl_rng *rng = new_rng(1207);
    double cc[30], fc[30], own[30], wrong_x[30], wrong_y[30];
    double prev_corr = NAN;
    size_t prev_count = 0, nwrong = 0, t;
    struct sync_ref s;
    bal_rolling *r;
    double px = 42137.5, pf = 1.0937;

    memset(&s, 0, sizeof(s));
    s.ri = xcalloc(days);
    s.rj = xcalloc(days);
    opt.corr_window = w;
    opt.vol_window = vw;
    r = engine(2, &opt);
    for (t = 0; t < days; t++) {
        int weekday = (int)((day0 + (int64_t)t + 3) % 7);   /* 0 = Monday */
        int open = weekday < 5;
        unsigned char has[2];
        double close[2];
        double z = gsl_ran_gaussian(rng, 0.01);

        px *= exp(2.0 * z + gsl_ran_gaussian(rng, 0.02));
        pf *= exp(0.4 * z + gsl_ran_gaussian(rng, 0.003));
        cc[t] = px;
        fc[t] = pf;
        has[0] = 1;
        has[1] = (unsigned char)open;
        close[0] = px;
        close[1] = pf;
        bal_rolling_step(r, has, NULL, NULL, close);
        sync_ref_step(&s, open, px, pf);
        if (t > 0)
            own[t - 1] = log(cc[t] / cc[t - 1]);

        cr_assert_eq(bal_rolling_pair_count(r, 0, 1), s.n);
        cr_assert_eq(bal_rolling_pair_count(r, 1, 0), s.n);
        if (!open) {
            /* weekend: the pair is untouched */
            cr_assert_eq(bal_rolling_pair_count(r, 0, 1), prev_count);
            cr_assert(memcmp(&prev_corr, &(double){ bal_rolling_corr(r, 0, 1) },
                             sizeof(double)) == 0,
                      "pair changed on a weekend step");
        } else if (weekday == 0 && t > 0) {
            /* Monday: the crypto's own return is Sun -> Mon */
            assert_rel(bal_rolling_ret(r, 0), log(cc[t] / cc[t - 1]), 1e-12);
            assert_rel(bal_rolling_ret(r, 1), log(fc[t] / fc[t - 3]), 1e-12);
            assert_rel(s.ri[s.n - 1], log(cc[t] / cc[t - 3]), 1e-15);
        }
        if (s.n < w) {
            assert_nan(bal_rolling_corr(r, 0, 1));
        } else {
            double want = gsl_stats_correlation(s.ri + s.n - w, 1,
                                                s.rj + s.n - w, 1, w);
            assert_abs(bal_rolling_corr(r, 0, 1), want, 1e-12);
            assert_abs(bal_rolling_corr(r, 1, 0), want, 1e-12);
        }
        if (t >= vw) {
            assert_rel(bal_rolling_vol(r, 0),
                       gsl_stats_sd(own + t - vw, 1, vw), 1e-10);
        }
        prev_count = bal_rolling_pair_count(r, 0, 1);
        prev_corr = bal_rolling_corr(r, 0, 1);
    }
    /* 22 weekdays from Jan 1 to Jan 30 2024: 21 synchronous returns */
    cr_assert_eq(s.n, 21);
    cr_assert_eq(bal_rolling_pair_count(r, 0, 1), 21);
    /* The test discriminates: pairing the crypto's own Sun -> Mon return
     * with the Fri -> Mon FX return gives another correlation. */
    for (t = 1; t < days; t++) {
        int weekday = (int)((day0 + (int64_t)t + 3) % 7);
        size_t back = weekday == 0 ? 3 : 1;

        if (weekday >= 5 || t < back)
            continue;
        wrong_x[nwrong] = log(cc[t] / cc[t - 1]);
        wrong_y[nwrong] = log(fc[t] / fc[t - back]);
        nwrong++;
    }
    cr_assert_eq(nwrong, 21);
    cr_assert(fabs(bal_rolling_corr(r, 0, 1)
                   - gsl_stats_correlation(wrong_x + nwrong - w, 1,
                                           wrong_y + nwrong - w, 1, w))
              > 1e-6);
    bal_rolling_free(r);
    gsl_rng_free(rng);
    free(s.ri);
    free(s.rj);
}

/* Shared calendar: correlation and vol equal GSL on the common dates. */
Test(rolling, engine_shared_calendar_equals_common_date_correlation)
{
    const size_t na = 3, nb = 240, w = 30;
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    gsl_rng *rng = new_rng(6021);
    double *ret = xcalloc(na * nb);     /* ret[i * nb + t] */
    double close[3] = { 1.2385, 155.31, 2034.7 };
    const unsigned char has[3] = { 1, 1, 1 };
    bal_rolling *r;
    size_t t, i, j;

    opt.corr_window = w;
    opt.vol_window = w;
    r = engine(na, &opt);
    for (t = 0; t < nb; t++) {
        double z = gsl_ran_gaussian(rng, 0.008);

        for (i = 0; i < na; i++) {
            double prev = close[i];

            close[i] *= exp((0.5 + 0.3 * (double)i) * z
                            + gsl_ran_gaussian(rng, 0.006));
            ret[i * nb + t] = log(close[i] / prev);
        }
        bal_rolling_step(r, has, NULL, NULL, close);
        if (t < w + 1)          /* returns from step 1 on */
            continue;
        for (i = 0; i < na; i++) {
            const double *ri = ret + i * nb + t + 1 - w;

            assert_rel(bal_rolling_vol(r, i), gsl_stats_sd(ri, 1, w), 1e-10);
            for (j = i + 1; j < na; j++) {
                const double *rj = ret + j * nb + t + 1 - w;

                assert_abs(bal_rolling_corr(r, i, j),
                           gsl_stats_correlation(ri, 1, rj, 1, w), 1e-12);
            }
        }
    }
    bal_rolling_free(r);
    gsl_rng_free(rng);
    free(ret);
}

/* Union calendar with random holes: every pair against the naive
 * synchronous-return reference, rolling and EWMA. */
static void check_union_calendar(int ewma)
{
    enum { NA = 4 };
    const size_t nb = 400, w = 15, vw = 9;
    const double lambda = 0.97;
    static const double miss[NA] = { 0.0, 0.15, 0.3, 0.45 };
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    struct sync_ref s[NA][NA];
    double *own[NA];
    size_t nown[NA] = { 0 };
    double close[NA] = { 1.0937, 0.6612, 1987.25, 23.85 };
    double last[NA];
    gsl_rng *rng = new_rng(ewma ? 777 : 778);
    bal_rolling *r;
    size_t t, i, j;

    memset(s, 0, sizeof(s));
    for (i = 0; i < NA; i++) {
        own[i] = xcalloc(nb);
        last[i] = NAN;
        for (j = i + 1; j < NA; j++) {
            s[i][j].ri = xcalloc(nb);
            s[i][j].rj = xcalloc(nb);
        }
    }
    opt.corr_window = w;
    opt.vol_window = vw;
    opt.corr_ewma = ewma;
    opt.vol_ewma = ewma;
    opt.ewma_lambda = lambda;
    r = engine(NA, &opt);
    for (t = 0; t < nb; t++) {
        unsigned char has[NA];
        double z = gsl_ran_gaussian(rng, 0.01);

        for (i = 0; i < NA; i++) {
            close[i] *= exp((0.3 + 0.25 * (double)i) * z
                            + gsl_ran_gaussian(rng, 0.007));
            has[i] = gsl_rng_uniform(rng) >= miss[i];
            if (has[i]) {
                if (!isnan(last[i]))
                    own[i][nown[i]++] = log(close[i] / last[i]);
                last[i] = close[i];
            }
        }
        bal_rolling_step(r, has, NULL, NULL, close);
        for (i = 0; i < NA; i++) {
            if (nown[i] < vw) {
                assert_nan(bal_rolling_vol(r, i));
            } else if (ewma) {
                double v = own[i][0] * own[i][0];
                size_t k;

                for (k = 1; k < nown[i]; k++)
                    v = lambda * v + (1.0 - lambda) * own[i][k] * own[i][k];
                assert_rel(bal_rolling_vol(r, i), sqrt(v), 1e-11);
            } else {
                assert_rel(bal_rolling_vol(r, i),
                           gsl_stats_sd(own[i] + nown[i] - vw, 1, vw), 1e-10);
            }
            for (j = i + 1; j < NA; j++) {
                struct sync_ref *p = &s[i][j];

                sync_ref_step(p, has[i] && has[j], close[i], close[j]);
                cr_assert_eq(bal_rolling_pair_count(r, i, j), p->n);
                if (p->n < w) {
                    assert_nan(bal_rolling_corr(r, i, j));
                } else if (ewma) {
                    assert_abs(bal_rolling_corr(r, j, i),
                               ewma_corr_ref(p->ri, p->rj, p->n, lambda),
                               1e-12);
                } else {
                    assert_abs(bal_rolling_corr(r, j, i),
                               gsl_stats_correlation(p->ri + p->n - w, 1,
                                                     p->rj + p->n - w, 1, w),
                               1e-12);
                }
            }
        }
    }
    /* the calendars really differ: pairs saw fewer returns than asset 0 */
    cr_assert_lt(s[2][3].n, nown[0]);
    cr_assert_gt(s[2][3].n, w);
    bal_rolling_free(r);
    gsl_rng_free(rng);
    for (i = 0; i < NA; i++) {
        free(own[i]);
        for (j = i + 1; j < NA; j++) {
            free(s[i][j].ri);
            free(s[i][j].rj);
        }
    }
}

Test(rolling, engine_union_calendar_matches_naive_synchronous_reference)
{
    check_union_calendar(0);
}

Test(rolling, engine_union_calendar_ewma_matches_naive_recursion)
{
    check_union_calendar(1);
}

/* atr_window 3, vol_window 4, corr_window 5. Assets 0 and 1 have a bar at
 * every step, asset 2 from step 3 on. At 0-based bar index k: ATR defined
 * from k = 3, vol from k = 4, pair (0, 1) from k = 5; pair (0, 2) has k - 3
 * returns, so asset 0 is CORR-warm (with every other asset) at k = 8. */
Test(rolling, engine_warm_up_steps)
{
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    const unsigned all = BAL_ROLLING_NEED_VOL | BAL_ROLLING_NEED_ATR
                         | BAL_ROLLING_NEED_CORR;
    double h[3], l[3], c[3];
    bal_rolling *r;
    size_t k;

    opt.atr_window = 3;
    opt.vol_window = 4;
    opt.corr_window = 5;
    r = engine(3, &opt);
    cr_assert_eq(bal_rolling_warm(r, 0, 0), 1);
    for (k = 0; k < 12; k++) {
        unsigned char has[3] = { 1, 1, k >= 3 };
        size_t i;

        for (i = 0; i < 3; i++) {
            double base = 1.0 + 0.37 * (double)i;

            c[i] = base * (1.0 + 0.01 * sin(2.385 * (double)(k + 7 * i)));
            h[i] = c[i] * 1.004;
            l[i] = c[i] * 0.9931;
        }
        bal_rolling_step(r, has, h, l, c);
        cr_assert_eq(!!isnan(bal_rolling_atr(r, 0)), k < 3, "k = %zu", k);
        cr_assert_eq(!!isnan(bal_rolling_vol(r, 0)), k < 4, "k = %zu", k);
        cr_assert_eq(!!isnan(bal_rolling_corr(r, 0, 1)), k < 5, "k = %zu", k);
        cr_assert_eq(bal_rolling_pair_count(r, 0, 1), k);
        cr_assert_eq(bal_rolling_pair_count(r, 2, 0), k >= 3 ? k - 3 : 0);
        cr_assert_eq(bal_rolling_warm(r, 0, BAL_ROLLING_NEED_ATR), k >= 3);
        cr_assert_eq(bal_rolling_warm(r, 0, BAL_ROLLING_NEED_VOL), k >= 4);
        cr_assert_eq(bal_rolling_warm(r, 0, BAL_ROLLING_NEED_CORR), k >= 8);
        cr_assert_eq(bal_rolling_warm(r, 0, all), k >= 8);
        cr_assert_eq(bal_rolling_warm(r, 2, BAL_ROLLING_NEED_VOL), k >= 7);
        cr_assert_eq(bal_rolling_warm(r, 0, 0), 1);
    }
    bal_rolling_free(r);
}

/* EWMA vol keeps the rolling warm-up: NaN until vol_window returns. */
Test(rolling, engine_ewma_vol_warm_up_and_hand_value)
{
    static const double c[] = { 50.0, 50.615, 50.174, 50.947 };
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    const unsigned char has = 1;
    double r1 = log(50.615 / 50.0), r2 = log(50.174 / 50.615);
    double r3 = log(50.947 / 50.174), s;
    bal_rolling *r;
    size_t t;

    opt.vol_ewma = 1;
    opt.vol_window = 3;
    opt.ewma_lambda = 0.94;
    r = engine(1, &opt);
    for (t = 0; t < 3; t++) {
        bal_rolling_step(r, &has, NULL, NULL, c + t);
        assert_nan(bal_rolling_vol(r, 0));
        cr_assert_eq(bal_rolling_warm(r, 0, BAL_ROLLING_NEED_VOL), 0);
    }
    bal_rolling_step(r, &has, NULL, NULL, c + 3);
    s = r1 * r1;
    s = 0.94 * s + 0.06 * r2 * r2;
    s = 0.94 * s + 0.06 * r3 * r3;
    assert_rel(bal_rolling_vol(r, 0), sqrt(s), 1e-12);
    cr_assert_eq(bal_rolling_warm(r, 0, BAL_ROLLING_NEED_VOL), 1);
    bal_rolling_free(r);
}

/* Close-only data: ATR stays NaN, never ATR-warm; vol still works. A NaN
 * high on one asset leaves the other's ATR alone. */
Test(rolling, engine_close_only_assets_have_no_atr)
{
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    const unsigned char has[2] = { 1, 1 };
    bal_rolling *r;
    size_t t;

    opt.atr_window = 2;
    opt.vol_window = 2;
    r = engine(2, &opt);
    for (t = 0; t < 6; t++) {
        double c[2] = { 2.385 + 0.1 * sin((double)t),
                        0.731 + 0.01 * (double)t };
        double h[2] = { NAN, c[1] + 0.021 };
        double l[2] = { NAN, c[1] - 0.013 };

        if (t % 2)
            bal_rolling_step(r, has, NULL, NULL, c);
        else
            bal_rolling_step(r, has, h, l, c);
    }
    assert_nan(bal_rolling_atr(r, 0));
    cr_assert_eq(bal_rolling_warm(r, 0, BAL_ROLLING_NEED_ATR), 0);
    cr_assert_eq(bal_rolling_warm(r, 0, BAL_ROLLING_NEED_VOL), 1);
    cr_assert(!isnan(bal_rolling_vol(r, 0)));
    /* asset 1 had h/l only at even steps: its last step (t = 5) had none */
    assert_nan(bal_rolling_atr(r, 1));
    bal_rolling_free(r);
}

/* SPEC §3 precision through the engine: prices near 1e4 with tiny log
 * returns (sd 1e-6, drift 3e-7) over 10^6 steps; vol^2 against a
 * long-double two-pass variance of the engine's own returns. */
Test(rolling, engine_vol_precision_over_1e6_steps_tiny_returns)
{
    const size_t n = 1000000, w = 60;
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    gsl_rng *rng = new_rng(271828);
    double *ret = xcalloc(n);
    const unsigned char has = 1;
    double price = 10023.85, worst = 0.0;
    bal_rolling *r;
    size_t t;

    opt.vol_window = w;
    r = engine(1, &opt);
    for (t = 0; t < n; t++) {
        long double mean, var;
        double got;

        price *= exp(3e-7 + gsl_ran_gaussian(rng, 1e-6));
        bal_rolling_step(r, &has, NULL, NULL, &price);
        if (t == 0)
            continue;
        ret[t] = bal_rolling_ret(r, 0);
        if (t < w)
            continue;
        two_pass(ret + t + 1 - w, w, &mean, &var);
        got = bal_rolling_vol(r, 0);
        got *= got;
        if (fabs(got - (double)var) / (double)var > worst)
            worst = fabs(got - (double)var) / (double)var;
    }
    cr_assert(worst <= 1e-9, "worst relative variance error %g", worst);
    bal_rolling_free(r);
    gsl_rng_free(rng);
    free(ret);
}

/* ---- Errors -------------------------------------------------------------- */

static void expect_new_error(size_t n, const bal_rolling_options *opt,
                             int code, const char *msg)
{
    bal_error err = BAL_ERROR_INIT;
    bal_rolling *r = (bal_rolling *)&err;   /* must be reset to NULL */
    int rc = bal_rolling_new(&r, n, opt, &err);

    cr_assert_eq(rc, code, "rc %d, want %d", rc, code);
    cr_assert_eq(err.code, code);
    cr_assert_null(r);
    cr_assert_str_eq(err.msg, msg);
}

Test(rolling, new_rejects_zero_assets)
{
    expect_new_error(0, NULL, BAL_EINVAL, "no assets");
}

Test(rolling, new_rejects_bad_windows)
{
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;

    opt.atr_window = 0;
    expect_new_error(2, &opt, BAL_EINVAL,
                     "atr_window must be at least 1, got 0");
    opt.atr_window = 14;
    opt.vol_window = 1;
    expect_new_error(2, &opt, BAL_EINVAL,
                     "vol_window must be at least 2, got 1");
    opt.vol_window = 0;
    opt.vol_ewma = 1;
    expect_new_error(2, &opt, BAL_EINVAL,
                     "vol_window must be at least 1, got 0");
    opt.vol_window = 60;
    opt.vol_ewma = 0;
    opt.corr_window = 1;
    expect_new_error(2, &opt, BAL_EINVAL,
                     "corr_window must be at least 2, got 1");
    opt.corr_window = 0;
    opt.corr_ewma = 1;
    expect_new_error(2, &opt, BAL_EINVAL,
                     "corr_window must be at least 1, got 0");
}

Test(rolling, new_accepts_window_one_with_ewma)
{
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    const unsigned char has[2] = { 1, 1 };
    const double c0[2] = { 1.5, 2.5 }, c1[2] = { 1.52, 2.47 };
    const double c2[2] = { 1.49, 2.44 };
    bal_rolling *r;

    opt.vol_window = 1;
    opt.corr_window = 1;
    opt.vol_ewma = 1;
    opt.corr_ewma = 1;
    opt.atr_window = 1;
    r = engine(2, &opt);
    bal_rolling_step(r, has, NULL, NULL, c0);
    assert_nan(bal_rolling_vol(r, 0));
    bal_rolling_step(r, has, NULL, NULL, c1);
    /* one return: sigma = |r_1|, rho = sign(r_1 r_1') = -1 */
    assert_rel(bal_rolling_vol(r, 0), log(1.52 / 1.5), 1e-13);
    assert_rel(bal_rolling_corr(r, 0, 1), -1.0, 1e-15);
    bal_rolling_step(r, has, NULL, NULL, c2);
    cr_assert(bal_rolling_corr(r, 0, 1) > -1.0);
    bal_rolling_free(r);
}

Test(rolling, new_rejects_lambda_outside_unit_interval_with_ewma)
{
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    bal_rolling *r = NULL;

    opt.vol_ewma = 1;
    opt.ewma_lambda = 1.0;
    expect_new_error(1, &opt, BAL_EINVAL, "ewma_lambda must lie in (0, 1), "
                     "got 1");
    opt.vol_ewma = 0;
    opt.corr_ewma = 1;
    opt.ewma_lambda = 0.0;
    expect_new_error(1, &opt, BAL_EINVAL, "ewma_lambda must lie in (0, 1), "
                     "got 0");
    opt.ewma_lambda = NAN;
    expect_new_error(1, &opt, BAL_EINVAL, "ewma_lambda must lie in (0, 1), "
                     "got nan");
    /* lambda is not read without EWMA */
    opt.corr_ewma = 0;
    cr_assert_eq(bal_rolling_new(&r, 1, &opt, NULL), BAL_OK);
    bal_rolling_free(r);
}

Test(rolling, new_reports_sizes_that_overflow)
{
    bal_rolling_options opt = BAL_ROLLING_OPTIONS_INIT;
    bal_rolling *r = NULL;
    char want[128];

    snprintf(want, sizeof(want), "rolling state for %zu assets is too large",
             SIZE_MAX / 2);
    expect_new_error(SIZE_MAX / 2, NULL, BAL_ENOMEM, want);
    opt.corr_window = SIZE_MAX / 2;
    expect_new_error(2, &opt, BAL_ENOMEM,
                     "rolling state for 2 assets is too large");
    /* a NULL err still gets the code */
    cr_assert_eq(bal_rolling_new(&r, 2, &opt, NULL), BAL_ENOMEM);
    cr_assert_null(r);
}

Test(rolling, free_accepts_null)
{
    bal_rolling_free(NULL);
}

Test(rolling, step_asserts_on_nonpositive_close, .signal = SIGABRT)
{
    const unsigned char has = 1;
    const double c = -2.385;
    bal_rolling *r = engine(1, NULL);

    bal_rolling_step(r, &has, NULL, NULL, &c);
}

Test(rolling, step_asserts_on_nan_close, .signal = SIGABRT)
{
    const unsigned char has = 1;
    const double c = NAN;
    bal_rolling *r = engine(1, NULL);

    bal_rolling_step(r, &has, NULL, NULL, &c);
}

Test(rolling, step_ignores_close_of_assets_without_bar)
{
    const unsigned char has[2] = { 1, 0 };
    const double c[2] = { 2.385, NAN };
    bal_rolling *r = engine(2, NULL);

    bal_rolling_step(r, has, NULL, NULL, c);
    cr_assert_eq(bal_rolling_bars(r, 0), 1);
    cr_assert_eq(bal_rolling_bars(r, 1), 0);
    bal_rolling_free(r);
}

Test(rolling, corr_asserts_on_same_asset, .signal = SIGABRT)
{
    bal_rolling *r = engine(2, NULL);

    (void)bal_rolling_corr(r, 1, 1);
}

Test(rolling, window_push_asserts_on_nan, .signal = SIGABRT)
{
    double buf[4];
    bal_rolling_window v;

    bal_rolling_window_init(&v, buf, 4);
    bal_rolling_window_push(&v, NAN);
}

/* The pair accessor reports the synchronous returns of the last step
 * only: the crypto asset's Fri->Mon return is paired at Monday. */
Test(rolling, pair_last_reports_this_steps_synchronous_returns)
{
    bal_rolling *r = NULL;
    bal_rolling_options o = BAL_ROLLING_OPTIONS_INIT;
    unsigned char both[2] = { 1, 1 }, crypto_only[2] = { 0, 1 };
    double c1[2] = { 10, 20 }, c2[2] = { 10, 21 }, c3[2] = { 11, 22.5 };
    double x = 0, y = 0;

    o.simple_returns = 1;
    cr_assert_eq(bal_rolling_new(&r, 2, &o, NULL), 0);
    bal_rolling_step(r, both, NULL, NULL, c1);           /* Friday */
    cr_assert_eq(bal_rolling_pair_last(r, 0, 1, &x, &y), 0);
    bal_rolling_step(r, crypto_only, NULL, NULL, c2);    /* Saturday */
    cr_assert_eq(bal_rolling_pair_last(r, 0, 1, &x, &y), 0);
    bal_rolling_step(r, both, NULL, NULL, c3);           /* Monday */
    cr_assert_eq(bal_rolling_pair_last(r, 1, 0, &x, &y), 1);
    assert_rel(x, 22.5 / 20 - 1, 1e-15);                 /* asset 1 */
    assert_rel(y, 11.0 / 10 - 1, 1e-15);                 /* asset 0 */
    bal_rolling_free(r);
}

Test(rolling, corr_all_lists_every_pair_in_order)
{
    bal_rolling *r = NULL;
    bal_rolling_options o = BAL_ROLLING_OPTIONS_INIT;
    unsigned char all[3] = { 1, 1, 1 };
    double c[3] = { 10, 20, 30 }, all_rho[3];
    int k;

    o.corr_window = 5;
    cr_assert_eq(bal_rolling_new(&r, 3, &o, NULL), 0);
    bal_rolling_corr_all(r, all_rho);
    assert_nan(all_rho[0]);
    for (k = 0; k < 12; k++) {
        c[0] *= 1 + 0.01 * sin(k * 1.7);
        c[1] *= 1 + 0.02 * cos(k * 0.9);
        c[2] *= 1 + 0.015 * sin(k * 2.3 + 0.4);
        bal_rolling_step(r, all, NULL, NULL, c);
    }
    bal_rolling_corr_all(r, all_rho);
    cr_assert_eq(all_rho[0], bal_rolling_corr(r, 0, 1));
    cr_assert_eq(all_rho[1], bal_rolling_corr(r, 0, 2));
    cr_assert_eq(all_rho[2], bal_rolling_corr(r, 1, 2));
    cr_assert(!isnan(all_rho[2]));
    bal_rolling_free(r);
}
