/* Metrics (SPEC section 6). Every expected value is a hand computation
 * written out below (carried to 20 digits in decimal arithmetic, see
 * tests/ref/metrics.md), a closed form, GSL used through a different
 * route than src/metrics.c, or a published definition with its source. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>

#include "ballast/metrics.h"
#include "helpers.h"

#define DAY 86400
#define T0 INT64_C(1678060800)  /* 2023-03-06T00:00:00Z */
#define RTOL 1e-12

static bal_metrics run(const double *e, const int64_t *t, size_t n,
                       const bal_metrics_options *opt)
{
    bal_metrics m;
    bal_error err = BAL_ERROR_INIT;
    int rc;

    memset(&m, 0, sizeof(m));
    rc = bal_metrics_compute(&m, e, t, n, opt, &err);
    cr_assert_eq(rc, BAL_OK, "rc %d: %s", rc, err.msg);
    return m;
}

static void days_to_times(int64_t *t, const double *days, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        t[i] = T0 + (int64_t)(days[i] * DAY);
}

/* ---------------------------------------------------------------------
 * The 8-point curve. Times (days after T0): 0 1 2 3 4 7 8 9 (a weekend
 * gap), so t_n - t_0 = 9 days.
 *   E = 1000, 982.37, 1003.51, 1021.88, 994.06, 957.43, 1012.95, 1034.72
 * The FIRST step is a loss: E_0 is a peak, so dd_1 = -0.01763.
 *
 * A (auto) = round(7 * 365.25 / 9) = round(284.0833) = 284.
 * Returns r_t = E_t / E_{t-1} - 1:
 *   r1 = -17.63 / 1000     = -0.01763
 *   r2 =  21.14 / 982.37   =  0.021519386789091686
 *   r3 =  18.37 / 1003.51  =  0.018305746828631503
 *   r4 = -27.82 / 1021.88  = -0.027224331624065448
 *   r5 = -36.63 / 994.06   = -0.036848882361225681
 *   r6 =  55.52 / 957.43   =  0.057988573577180577
 *   r7 =  21.77 / 1012.95  =  0.021491682708919493
 *   sum r = 0.037602175918532131, mean = sum / 7 = 0.0053717394169331616
 *   deviations: -0.023001739417 0.016147647372 0.012934007412
 *               -0.032596071041 -0.042220621778 0.052616834160
 *                0.016119943292
 *   sum dev^2 = 0.0068305836390139458; / 6 = 0.0011384306065023243
 *   sd = 0.033740637316184831; sqrt(284) = 16.852299546352717
 *   volatility = sd * sqrt(284) = 0.56860732693719319
 * rf = 0.0213: rf_p = 1.0213^(1/284) - 1 = 7.4215167900578762e-5
 *   mean - rf_p = 0.0052975242490325828 (sd unchanged by the shift)
 *   sharpe = 0.0052975242490325828 / 0.033740637316184831 * 16.8522995
 *          = 2.6459329935638275
 * mar = 0.0347: mar_p = 1.0347^(1/284) - 1 = 1.2011823343695496e-4
 *   d = r - mar_p: -0.017750118233 0.021399268556 0.018185628595
 *                  -0.027344449858 -0.036969000595 0.057868455344
 *                   0.021371564475
 *   min(d,0)^2: 3.1506669730e-4, 7.4771893801e-4, 1.3667070050e-3
 *   sum = 0.0024294926402786205; / 7 = 3.4707037718266008e-4
 *   downside = sqrt(.) = 0.018629824936983710
 *   sortino = 0.0052516211834962066 * 16.8522995 / 0.0186298249
 *           = 4.7505488423864104
 * total_return = 1034.72 / 1000 - 1 = 0.03472
 * cagr = 1.03472^(284/7) - 1 = exp(40.571428571 * 0.034130858716145603)
 *      - 1 = 2.9937781853507372
 * cagr_calendar = 1.03472^(365.25/9) - 1 = 1.03472^40.583333 - 1
 *      = 2.9954012660136000
 * dd: 0, -0.01763, 0, 0, -0.027224331624065448 (994.06/1021.88 - 1),
 *     -0.063070027791912945 (957.43/1021.88 - 1),
 *     -0.0087387951618585352 (1012.95/1021.88 - 1), 0
 *   max_drawdown = 0.063070027791912945
 *   sum dd^2 = 0.0051061760789306834; ulcer = sqrt(/ 7) = 0.027008401018229980
 *   calmar = 2.9937781853507372 / 0.063070027791912945 = 47.467526020887685
 *   recovery_factor = 0.03472 / 0.063070027791912945 = 0.55049920248254461
 * VaR: sorted r: -0.036848882361225681, -0.027224331624065448, ...
 *   h = (7 - 1) * 0.05 = 0.3 -> x(0) + 0.3 (x(1) - x(0))
 *   = -0.036848882361225681 + 0.3 * 0.009624550737160233
 *   = -0.033961517140077611
 *   CVaR = mean of r <= VaR = r5 alone = -0.036848882361225681
 * moments (1/n): m2 = 0.0068305836390139458 / 7 = 9.7579766271627797e-4
 *   m3 = 4.8813465902869044e-6, m4 = 1.7735282198853287e-6
 *   skew = m3 / m2^1.5 = 0.16014005918096507
 *   excess kurtosis = m4 / m2^2 - 3 = -1.1374044708358259
 * best = r6, worst = r5, hit_rate = 4 up / 7 non-zero = 0.5714285714285714
 * Episodes: (peak 3, trough 5, end 7) depth 0.063070..., 4 steps, 6 days,
 *   to_recover 2 steps / 2 days; (peak 0, trough 1, end 2), depth 0.01763,
 *   2 steps / 2 days, to_recover 1 step / 1 day.
 * --------------------------------------------------------------------- */
static const double main_e[8] = { 1000.0, 982.37, 1003.51, 1021.88,
                                  994.06, 957.43, 1012.95, 1034.72 };
static const double main_days[8] = { 0, 1, 2, 3, 4, 7, 8, 9 };

Test(metrics, hand_computed_curve_every_metric)
{
    bal_metrics_options opt = BAL_METRICS_OPTIONS_INIT;
    int64_t t[8];
    bal_metrics m;
    const bal_drawdown_episode *ep;

    days_to_times(t, main_days, 8);
    opt.risk_free = 0.0213;
    opt.mar = 0.0347;
    m = run(main_e, t, 8, &opt);

    cr_assert_eq(m.n_returns, 7);
    cr_assert_eq(m.periods_per_year, 284.0);
    assert_rel(m.total_return, 0.03472, RTOL);
    assert_rel(m.cagr, 2.9937781853507372, RTOL);
    assert_rel(m.cagr_calendar, 2.9954012660136000, RTOL);
    assert_rel(m.volatility, 0.56860732693719319, RTOL);
    assert_rel(m.sharpe, 2.6459329935638275, RTOL);
    assert_rel(m.sortino, 4.7505488423864104, RTOL);
    assert_rel(m.max_drawdown, 0.063070027791912945, RTOL);
    assert_rel(m.ulcer_index, 0.027008401018229980, RTOL);
    assert_rel(m.calmar, 47.467526020887685, RTOL);
    assert_rel(m.recovery_factor, 0.55049920248254461, RTOL);
    assert_rel(m.var_95, -0.033961517140077611, RTOL);
    assert_rel(m.cvar_95, -0.036848882361225681, RTOL);
    assert_rel(m.skew, 0.16014005918096507, RTOL);
    assert_rel(m.excess_kurtosis, -1.1374044708358259, RTOL);
    assert_rel(m.best_period, 0.057988573577180577, RTOL);
    assert_rel(m.worst_period, -0.036848882361225681, RTOL);
    assert_rel(m.hit_rate, 4.0 / 7.0, RTOL);

    cr_assert_eq(m.max_drawdown_duration, 4);
    cr_assert_eq(m.longest_underwater, 4);
    assert_rel(m.max_drawdown_duration_days, 6.0, RTOL);
    assert_rel(m.longest_underwater_days, 6.0, RTOL);

    cr_assert_eq(m.n_episodes, 2);
    ep = &m.episodes[0];
    cr_assert_eq(ep->peak, 3);
    cr_assert_eq(ep->trough, 5);
    cr_assert_eq(ep->end, 7);
    cr_assert_eq(ep->recovered, 1);
    assert_rel(ep->depth, 0.063070027791912945, RTOL);
    cr_assert_eq(ep->length, 4);
    cr_assert_eq(ep->to_recover, 2);
    assert_rel(ep->length_days, 6.0, RTOL);
    assert_rel(ep->to_recover_days, 2.0, RTOL);
    cr_assert_eq(ep->peak_time, T0 + 3 * DAY);
    cr_assert_eq(ep->trough_time, T0 + 7 * DAY);
    cr_assert_eq(ep->end_time, T0 + 9 * DAY);
    ep = &m.episodes[1];     /* the first return's loss is an episode */
    cr_assert_eq(ep->peak, 0);
    cr_assert_eq(ep->trough, 1);
    cr_assert_eq(ep->end, 2);
    cr_assert_eq(ep->recovered, 1);
    assert_rel(ep->depth, 0.01763, RTOL);
    cr_assert_eq(ep->length, 2);
    cr_assert_eq(ep->to_recover, 1);
    assert_rel(ep->length_days, 2.0, RTOL);
    assert_rel(ep->to_recover_days, 1.0, RTOL);
}

Test(metrics, drawdown_series_counts_the_first_loss)
{
    /* hand values from the block above */
    static const double want[8] = { 0.0, -0.01763, 0.0, 0.0,
                                    -0.027224331624065448,
                                    -0.063070027791912945,
                                    -0.0087387951618585352, 0.0 };
    double dd[8];
    size_t i;

    bal_metrics_drawdown(dd, main_e, 8);
    for (i = 0; i < 8; i++) {
        if (want[i] == 0.0)
            cr_assert(dd[i] == 0.0 && !signbit(dd[i]), "dd[%zu] = %.17g",
                      i, dd[i]);
        else
            assert_rel(dd[i], want[i], RTOL);
    }
}

Test(metrics, drawdown_series_nan_and_nonpositive_peak)
{
    static const double e1[4] = { 50.0, NAN, 40.0, 55.0 };
    static const double e2[3] = { 0.0, 0.0, 0.0 };
    double dd[4];

    bal_metrics_drawdown(dd, e1, 4);
    assert_abs(dd[0], 0.0, 0.0);
    assert_nan(dd[1]);
    assert_rel(dd[2], 40.0 / 50.0 - 1.0, RTOL);  /* NaN did not move it */
    assert_abs(dd[3], 0.0, 0.0);
    bal_metrics_drawdown(dd, e2, 3);
    assert_nan(dd[0]);
    assert_nan(dd[2]);
    bal_metrics_drawdown(dd, e2, 0);            /* no-op */
}

/* ---------------------------------------------------------------------
 * Three episodes; the deepest is not the longest; the last is open.
 * step:  0    1     2     3     4     5      6     7      8      9     10
 * E:   100  96.3  97.1  98.4  99.2  100.7  88.9  101.3  102.8  95.55  97.2
 * hour:  0   72    96   120   144   168    240   264    288    300   330
 * A: peak 0 (100), trough 1, back at 100.7 >= 100 on step 5:
 *    length 5 steps, 168 h = 7 days; to_recover 4 steps, 96 h = 4 days;
 *    depth 1 - 96.3/100 = 0.037
 * B: peak 5 (100.7), trough 6 (88.9), back on step 7 (101.3):
 *    length 2 steps, 96 h = 4 days; to_recover 1 step, 24 h = 1 day;
 *    depth 1 - 88.9/100.7 = 0.11717974180734856
 * C: peak 8 (102.8), trough 9 (95.55), unrecovered, end = 10:
 *    length 2 steps, 42 h = 1.75 days; to_recover 1 step, 30 h = 1.25 days;
 *    depth 1 - 95.55/102.8 = 0.070525291828793774
 * By depth: B, C, A. max_drawdown_duration = 2 (B, 4 days);
 * longest_underwater = 5 (A, 7 days).
 * --------------------------------------------------------------------- */
Test(metrics, episodes_deepest_is_not_longest)
{
    static const double e[11] = { 100.0, 96.3, 97.1, 98.4, 99.2, 100.7,
                                  88.9, 101.3, 102.8, 95.55, 97.2 };
    static const int64_t hours[11] = { 0, 72, 96, 120, 144, 168, 240, 264,
                                       288, 300, 330 };
    int64_t t[11];
    bal_metrics m;
    const bal_drawdown_episode *ep;
    size_t i;

    for (i = 0; i < 11; i++)
        t[i] = T0 + hours[i] * 3600;
    m = run(e, t, 11, NULL);

    cr_assert_eq(m.n_episodes, 3);
    assert_rel(m.max_drawdown, 0.11717974180734856, RTOL);
    cr_assert_eq(m.max_drawdown_duration, 2);
    assert_rel(m.max_drawdown_duration_days, 4.0, RTOL);
    cr_assert_eq(m.longest_underwater, 5);
    assert_rel(m.longest_underwater_days, 7.0, RTOL);

    ep = &m.episodes[0];                                /* B */
    cr_assert(ep->peak == 5 && ep->trough == 6 && ep->end == 7);
    cr_assert(ep->recovered == 1 && ep->length == 2 && ep->to_recover == 1);
    assert_rel(ep->depth, 0.11717974180734856, RTOL);
    assert_rel(ep->length_days, 4.0, RTOL);
    assert_rel(ep->to_recover_days, 1.0, RTOL);

    ep = &m.episodes[1];                                /* C, open */
    cr_assert(ep->peak == 8 && ep->trough == 9 && ep->end == 10);
    cr_assert(ep->recovered == 0 && ep->length == 2 && ep->to_recover == 1);
    assert_rel(ep->depth, 0.070525291828793774, RTOL);
    assert_rel(ep->length_days, 1.75, RTOL);
    assert_rel(ep->to_recover_days, 1.25, RTOL);
    cr_assert_eq(ep->end_time, T0 + 330 * 3600);

    ep = &m.episodes[2];                                /* A */
    cr_assert(ep->peak == 0 && ep->trough == 1 && ep->end == 5);
    cr_assert(ep->recovered == 1 && ep->length == 5 && ep->to_recover == 4);
    assert_rel(ep->depth, 0.037, RTOL);
    assert_rel(ep->length_days, 7.0, RTOL);
    assert_rel(ep->to_recover_days, 4.0, RTOL);
}

/* An equal value ends an episode ("at or above"), and a flat stretch at
 * the peak moves the episode's peak to its last step.
 * E: 100, 100, 97.5, 100, 99.1, 99.3, 99.1 ; daily.
 * Episode 1: peak 1 (last step at 100), trough 2, end 3 (100 >= 100).
 * Episode 2: peak 3, trough 4 (first of the two 99.1), open, end 6. */
Test(metrics, equal_value_recovers_and_flat_peak_moves)
{
    static const double e[7] = { 100.0, 100.0, 97.5, 100.0, 99.1, 99.3,
                                 99.1 };
    static const double d[7] = { 0, 1, 2, 3, 4, 5, 6 };
    int64_t t[7];
    bal_metrics m;

    days_to_times(t, d, 7);
    m = run(e, t, 7, NULL);
    cr_assert_eq(m.n_episodes, 2);
    cr_assert(m.episodes[0].peak == 1 && m.episodes[0].trough == 2 &&
              m.episodes[0].end == 3 && m.episodes[0].recovered == 1);
    cr_assert(m.episodes[1].peak == 3 && m.episodes[1].trough == 4 &&
              m.episodes[1].end == 6 && m.episodes[1].recovered == 0);
    cr_assert_eq(m.longest_underwater, 3);          /* 3 -> 6 */
    cr_assert_eq(m.max_drawdown_duration, 2);       /* 1 -> 3, 2.5% */
    assert_rel(m.max_drawdown, 0.025, RTOL);
}

/* longest_underwater_days is the calendar length of the episode that is
 * longest in steps (its twin), even when another is longer in days.
 * E: 10, 9.7, 9.8, 9.9, 10.2, 9.6, 10.5 at days 0 1 2 3 4 30 31:
 * episode 1 peak 0 -> end 4: 4 steps, 4 days; episode 2 peak 4 -> end 6:
 * 2 steps, 27 days (and deeper: 1 - 9.6/10.2). */
Test(metrics, longest_underwater_days_is_the_twin_in_steps)
{
    static const double e[7] = { 10.0, 9.7, 9.8, 9.9, 10.2, 9.6, 10.5 };
    static const double d[7] = { 0, 1, 2, 3, 4, 30, 31 };
    int64_t t[7];
    bal_metrics m;

    days_to_times(t, d, 7);
    m = run(e, t, 7, NULL);
    cr_assert_eq(m.longest_underwater, 4);
    assert_rel(m.longest_underwater_days, 4.0, RTOL);
    cr_assert_eq(m.max_drawdown_duration, 2);
    assert_rel(m.max_drawdown_duration_days, 27.0, RTOL);
}

/* Equal lengths: the earliest episode is the longest.
 * E: 10, 9.5, 10, 9.3, 10.1 at days 0 1 2 10 20: episode 1 (peak 0 ->
 * end 2) 2 steps, 2 days, depth 0.05; episode 2 (peak 2 -> end 4) 2 steps,
 * 18 days, depth 0.07 (the deepest). */
Test(metrics, longest_underwater_tie_goes_to_the_earliest)
{
    static const double e[5] = { 10.0, 9.5, 10.0, 9.3, 10.1 };
    static const double d[5] = { 0, 1, 2, 10, 20 };
    int64_t t[5];
    bal_metrics m;

    days_to_times(t, d, 5);
    m = run(e, t, 5, NULL);
    cr_assert_eq(m.longest_underwater, 2);
    assert_rel(m.longest_underwater_days, 2.0, RTOL);
    cr_assert_eq(m.max_drawdown_duration, 2);
    assert_rel(m.max_drawdown_duration_days, 18.0, RTOL);
}

/* 13 episodes of one dip each (peak 100, dip, back to 100); depths in
 * time order 0.031 0.087 0.012 0.055 0.087 0.043 0.019 0.066 0.024 0.071
 * 0.008 0.049 0.035. Top 10 by depth, ties in time order: episodes
 * 1 4 9 7 3 11 5 12 0 8 (dropped: 6, 2, 10). Episode k has peak 2k,
 * trough 2k+1, end 2k+2. */
Test(metrics, top_ten_episodes_by_depth_ties_in_time_order)
{
    static const double dips[13] = { 96.9, 91.3, 98.8, 94.5, 91.3, 95.7,
                                     98.1, 93.4, 97.6, 92.9, 99.2, 95.1,
                                     96.5 };
    static const size_t order[10] = { 1, 4, 9, 7, 3, 11, 5, 12, 0, 8 };
    double e[27];
    int64_t t[27];
    bal_metrics m;
    size_t i;

    for (i = 0; i < 27; i++) {
        e[i] = i % 2 ? dips[i / 2] : 100.0;
        t[i] = T0 + (int64_t)i * DAY;
    }
    m = run(e, t, 27, NULL);
    cr_assert_eq(m.n_episodes, 10);
    for (i = 0; i < 10; i++) {
        size_t k = order[i];

        cr_assert_eq(m.episodes[i].peak, 2 * k, "rank %zu", i);
        cr_assert_eq(m.episodes[i].trough, 2 * k + 1);
        cr_assert_eq(m.episodes[i].end, 2 * k + 2);
        assert_rel(m.episodes[i].depth, 1.0 - dips[k] / 100.0, RTOL);
    }
    assert_rel(m.max_drawdown, 0.087, RTOL);
    cr_assert_eq(m.max_drawdown_duration, 2);
    cr_assert_eq(m.longest_underwater, 2);
}

/* ---------------------------------------------------------------------
 * 23 returns (VaR / CVaR / moments).
 * sorted, lowest: -0.0502 -0.0405 -0.0318 -0.0271 ...
 * Type 7 at p = 0.05, 0-based: h = (23 - 1) 0.05 = 1.1, j = 1, g = 0.1:
 *   VaR = x(1) + 0.1 (x(2) - x(1)) = -0.0405 + 0.1 * 0.0087 = -0.03963.
 * R's definition (?quantile, type 7: m = 1 - p, j = floor(np + m),
 *   Q = (1 - g) x[j] + g x[j+1], 1-based): np + m = 1.15 + 0.95 = 2.1,
 *   j = 2, g = 0.1: (0.9)(-0.0405) + (0.1)(-0.0318) = -0.03963. Same.
 * CVaR = mean(-0.0502, -0.0405) = -0.04535.
 * Quartile p = 0.25: h = 5.5, x(5) = -0.0167, x(6) = -0.0137 -> -0.0152.
 * p = 0.9: h = 19.8, x(19) = 0.0231, x(20) = 0.0264 -> 0.02574.
 * Moments: sum = -0.0129, mean = -5.6086956521739130e-4,
 *   m2 = 5.0991020793950851e-4, m3 = -4.8466247799786307e-6,
 *   m4 = 6.4652103583522000e-7; skew = m3 / m2^1.5 = -0.42091929962784590,
 *   excess kurtosis = m4 / m2^2 - 3 = -0.51346115854592685.
 * --------------------------------------------------------------------- */
static const double r23[23] = {
    0.0123, -0.0271, 0.0057, -0.0089, 0.0312, -0.0405, 0.0016, 0.0198,
    -0.0137, 0.0264, -0.0052, 0.0091, -0.0318, 0.0143, 0.0072, -0.0226,
    0.0385, -0.0011, 0.0049, -0.0167, 0.0231, -0.0502, 0.0108
};

static void curve_from_returns(double *e, int64_t *t, const double *r,
                               size_t n)
{
    size_t i;

    e[0] = 1000.0;
    t[0] = T0;
    for (i = 1; i <= n; i++) {
        e[i] = e[i - 1] * (1.0 + r[i - 1]);
        t[i] = T0 + (int64_t)i * DAY;
    }
}

Test(metrics, quantile7_matches_hand_and_r_type7)
{
    double x[23], work[23];

    memcpy(x, r23, sizeof(x));
    assert_rel(bal_quantile7(x, 23, 0.05, work), -0.03963, RTOL);
    assert_rel(bal_quantile7(x, 23, 0.25, work), -0.0152, RTOL);
    assert_rel(bal_quantile7(x, 23, 0.9, work), 0.02574, RTOL);
    assert_abs(bal_quantile7(x, 23, 0.0, work), -0.0502, 0.0);
    assert_abs(bal_quantile7(x, 23, 1.0, work), 0.0385, 0.0);
    cr_assert(memcmp(x, r23, sizeof(x)) == 0, "x was modified");
    cr_assert(work[0] == -0.0502 && work[22] == 0.0385, "work not sorted");
}

Test(metrics, quantile7_edges)
{
    static const double x4[4] = { 2.385, -0.731, 1.204, 0.517 };
    static const double xn[3] = { 1.5, NAN, -2.25 };
    double work[4];
    double one = -0.731;

    /* median of 4: h = 1.5 -> (0.517 + 1.204) / 2 = 0.8605 */
    assert_rel(bal_quantile7(x4, 4, 0.5, work), 0.8605, RTOL);
    assert_abs(bal_quantile7(&one, 1, 0.37, work), -0.731, 0.0);
    assert_nan(bal_quantile7(x4, 0, 0.5, work));
    assert_nan(bal_quantile7(x4, 4, -0.01, work));
    assert_nan(bal_quantile7(x4, 4, 1.01, work));
    assert_nan(bal_quantile7(x4, 4, NAN, work));
    assert_nan(bal_quantile7(xn, 3, 0.5, work));
}

Test(metrics, var_cvar_through_the_curve)
{
    double e[24];
    int64_t t[24];
    bal_metrics m;

    curve_from_returns(e, t, r23, 23);
    m = run(e, t, 24, NULL);
    cr_assert_eq(m.n_returns, 23);
    assert_rel(m.var_95, -0.03963, RTOL);
    assert_rel(m.cvar_95, -0.04535, RTOL);
    assert_rel(m.worst_period, -0.0502, RTOL);
    assert_rel(m.best_period, 0.0385, RTOL);
    assert_rel(m.hit_rate, 13.0 / 23.0, RTOL);  /* 13 positive, none 0 */
}

/* GSL's gsl_stats_skew is (1/n) sum ((x - mean)/s)^3 with the sample sd
 * s (ddof 1), s^2 = n/(n-1) m2, so m3 / m2^1.5 = gsl_skew (n/(n-1))^1.5;
 * gsl_stats_kurtosis is (1/n) sum ((x - mean)/s)^4 - 3, so
 * m4 / m2^2 - 3 = (gsl_kurt + 3) (n/(n-1))^2 - 3. */
Test(metrics, skew_kurtosis_match_moments_and_converted_gsl)
{
    double e[24];
    int64_t t[24];
    double r[23];
    bal_metrics m;
    double c, g1, g2;
    size_t i;

    curve_from_returns(e, t, r23, 23);
    m = run(e, t, 24, NULL);
    assert_rel(m.skew, -0.42091929962784590, 1e-11);
    assert_rel(m.excess_kurtosis, -0.51346115854592685, 1e-11);

    for (i = 0; i < 23; i++)
        r[i] = e[i + 1] / e[i] - 1.0;
    c = 23.0 / 22.0;
    g1 = gsl_stats_skew(r, 1, 23) * pow(c, 1.5);
    g2 = (gsl_stats_kurtosis(r, 1, 23) + 3.0) * c * c - 3.0;
    assert_rel(m.skew, g1, 1e-11);
    assert_rel(m.excess_kurtosis, g2, 1e-11);
}

/* ---------------------------------------------------------------------
 * periods_per_year "auto" = round(n * 365.25 * 86400 / (t_n - t_0)).
 * --------------------------------------------------------------------- */
static double auto_a(size_t n, int64_t step)
{
    double e[400];
    int64_t t[400];
    size_t i;

    cr_assert(n < 400);
    for (i = 0; i <= n; i++) {
        e[i] = 100.0 + (double)(i % 7) * 0.37;
        t[i] = T0 + (int64_t)i * step;
    }
    return run(e, t, n + 1, NULL).periods_per_year;
}

Test(metrics, periods_per_year_auto_rounding)
{
    const int64_t julian_year = 31557600;   /* 365.25 * 86400 */

    /* 5 returns in 2 years: 2.5 -> 3 (half away from zero) */
    cr_assert_eq(auto_a(5, 2 * julian_year / 5), 3.0);
    /* 3 returns in 2 years: 1.5 -> 2 */
    cr_assert_eq(auto_a(3, 2 * julian_year / 3), 2.0);
    /* daily: 365.25 -> 365; weekly: 365.25 / 7 = 52.18 -> 52 */
    cr_assert_eq(auto_a(30, DAY), 365.0);
    cr_assert_eq(auto_a(30, 7 * DAY), 52.0);
    /* hourly, 24/7: 8766 */
    cr_assert_eq(auto_a(100, 3600), 8766.0);
    /* 1 return over 3 years: 0.33 rounds to 0, floored at 1 */
    cr_assert_eq(auto_a(1, 3 * julian_year), 1.0);
}

Test(metrics, periods_per_year_given_is_used)
{
    bal_metrics_options opt = BAL_METRICS_OPTIONS_INIT;
    int64_t t[8];
    bal_metrics m;

    days_to_times(t, main_days, 8);
    opt.periods_per_year = 52.0;
    m = run(main_e, t, 8, &opt);
    cr_assert_eq(m.periods_per_year, 52.0);
    /* sd from the hand block * sqrt(52); cagr = 1.03472^(52/7) - 1 */
    assert_rel(m.volatility, 0.033740637316184831 * sqrt(52.0), RTOL);
    assert_rel(m.cagr, pow(1.03472, 52.0 / 7.0) - 1.0, RTOL);
}

/* ---------------------------------------------------------------------
 * Monthly curve, A = 12, rf = 0.0413, mar = 0.0725; times 2021-01-01,
 * 02-01, ..., 07-01 (181 days).
 *   E = 250000, 253712.5, 251004.25, 254877.1, 255390.3, 252210.8,
 *       258841.6
 *   r = 0.01485, -0.010674483913878898, 0.015429420019780542,
 *       0.0020135194570245817, -0.012449572282110949, 0.026290706028449218
 *   mean = 0.0059099315515440822, sd (ddof 1) = 0.015577019595522786
 *   rf_p = 1.0413^(1/12) - 1 = 0.0033781876370064619
 *   sharpe = (0.0059099315515440822 - 0.0033781876370064619)
 *            / 0.015577019595522786 * sqrt(12) = 0.56302286388506089
 *   mar_p = 1.0725^(1/12) - 1 = 0.0058497409526456541: the +0.20% month
 *   is below it and counts as downside:
 *   min(r - mar_p, 0)^2 = 2.7305000744e-4, 1.4716595363e-5, 3.3486486486e-4
 *   sum = 6.2263146766667173e-4, downside = sqrt(sum / 6)
 *       = 0.010186849919272327
 *   sortino = (mean - mar_p) sqrt(12) / downside
 *           = 6.0190598898428131e-5 * 3.4641016151377546 / 0.0101868499
 *           = 0.020468187173905845
 *   cagr = 1.0353664^(12/6) - 1 = 0.07198358224896 (exact)
 *   cagr_calendar = 1.0353664^(365.25/181) - 1 = 0.072652773729273073
 * --------------------------------------------------------------------- */
Test(metrics, rf_and_mar_converted_per_period)
{
    static const double e[7] = { 250000.0, 253712.5, 251004.25, 254877.1,
                                 255390.3, 252210.8, 258841.6 };
    static const double d[7] = { 0, 31, 59, 90, 120, 151, 181 };
    bal_metrics_options opt = BAL_METRICS_OPTIONS_INIT;
    int64_t t[7];
    bal_metrics m;

    days_to_times(t, d, 7);
    opt.periods_per_year = 12.0;
    opt.risk_free = 0.0413;
    opt.mar = 0.0725;
    m = run(e, t, 7, &opt);
    assert_rel(m.sharpe, 0.56302286388506089, RTOL);
    assert_rel(m.sortino, 0.020468187173905845, RTOL);
    assert_rel(m.volatility, 0.015577019595522786 * sqrt(12.0), RTOL);
    assert_rel(m.cagr, 0.07198358224896, RTOL);
    assert_rel(m.cagr_calendar, 0.072652773729273073, RTOL);
    assert_rel(m.hit_rate, 4.0 / 6.0, RTOL);

    /* with rf = mar = 0 the same curve gives mean / sd sqrt(12) and
     * mean sqrt(12) / sqrt((0.010674483913878898^2
     *   + 0.012449572282110949^2) / 6) */
    opt.risk_free = 0.0;
    opt.mar = 0.0;
    m = run(e, t, 7, &opt);
    assert_rel(m.sharpe, 0.0059099315515440822 / 0.015577019595522786 *
                             sqrt(12.0), RTOL);
    assert_rel(m.sortino,
               0.0059099315515440822 * sqrt(12.0) /
                   sqrt((0.010674483913878898 * 0.010674483913878898 +
                         0.012449572282110949 * 0.012449572282110949) /
                        6.0),
               RTOL);
}

/* ---------------------------------------------------------------------
 * Degenerate curves.
 * --------------------------------------------------------------------- */
Test(metrics, flat_curve_gives_nan_ratios)
{
    static const double e[5] = { 1234.5, 1234.5, 1234.5, 1234.5, 1234.5 };
    static const double d[5] = { 0, 1, 2, 3, 4 };
    bal_metrics_options opt = BAL_METRICS_OPTIONS_INIT;
    int64_t t[5];
    bal_metrics m;

    days_to_times(t, d, 5);
    m = run(e, t, 5, NULL);
    assert_abs(m.total_return, 0.0, 0.0);
    assert_abs(m.cagr, 0.0, 0.0);
    assert_abs(m.cagr_calendar, 0.0, 0.0);
    assert_abs(m.volatility, 0.0, 0.0);
    assert_nan(m.sharpe);               /* sd 0 */
    assert_nan(m.sortino);              /* no downside */
    assert_abs(m.max_drawdown, 0.0, 0.0);
    cr_assert(!signbit(m.max_drawdown), "max_drawdown is -0");
    assert_nan(m.calmar);
    assert_nan(m.recovery_factor);
    assert_abs(m.ulcer_index, 0.0, 0.0);
    assert_abs(m.var_95, 0.0, 0.0);
    assert_abs(m.cvar_95, 0.0, 0.0);
    assert_nan(m.skew);                 /* m2 = 0 */
    assert_nan(m.excess_kurtosis);
    assert_nan(m.hit_rate);             /* every return is 0 */
    assert_abs(m.best_period, 0.0, 0.0);
    assert_abs(m.worst_period, 0.0, 0.0);
    cr_assert_eq(m.n_episodes, 0);
    cr_assert_eq(m.max_drawdown_duration, 0);
    cr_assert_eq(m.longest_underwater, 0);
    assert_abs(m.max_drawdown_duration_days, 0.0, 0.0);
    assert_abs(m.longest_underwater_days, 0.0, 0.0);

    /* every r - rf_p is the same number: sd 0, sharpe NaN; every
     * r - mar_p = -mar_p: sortino = -mar_p sqrt(A) / mar_p = -sqrt(A) */
    opt.risk_free = 0.0213;
    opt.mar = 0.0347;
    m = run(e, t, 5, &opt);
    cr_assert_eq(m.periods_per_year, 365.0);
    assert_nan(m.sharpe);
    assert_rel(m.sortino, -sqrt(365.0), RTOL);
}

/* E = 500 -> 512.35 one day later: A = round(365.25) = 365, r = 0.0247. */
Test(metrics, single_return_curve)
{
    static const double up[2] = { 500.0, 512.35 };
    static const double down[2] = { 500.0, 487.65 };
    int64_t t[2] = { T0, T0 + DAY };
    bal_metrics m;

    m = run(up, t, 2, NULL);
    cr_assert_eq(m.n_returns, 1);
    cr_assert_eq(m.periods_per_year, 365.0);
    assert_rel(m.total_return, 0.0247, RTOL);
    assert_rel(m.cagr, pow(1.0247, 365.0) - 1.0, 1e-11);
    assert_rel(m.cagr_calendar, pow(1.0247, 365.25) - 1.0, 1e-11);
    assert_nan(m.volatility);           /* ddof 1 needs 2 returns */
    assert_nan(m.sharpe);
    assert_nan(m.sortino);              /* no return below 0 */
    assert_nan(m.skew);
    assert_nan(m.excess_kurtosis);
    assert_rel(m.var_95, 0.0247, RTOL);
    assert_rel(m.cvar_95, 0.0247, RTOL);
    assert_rel(m.best_period, 0.0247, RTOL);
    assert_rel(m.worst_period, 0.0247, RTOL);
    assert_rel(m.hit_rate, 1.0, 0.0);
    assert_abs(m.max_drawdown, 0.0, 0.0);
    assert_nan(m.calmar);

    /* r = -0.0247: sortino = r sqrt(365) / |r| = -sqrt(365); one open
     * episode of 1 step whose trough is the last step */
    m = run(down, t, 2, NULL);
    assert_rel(m.sortino, -sqrt(365.0), RTOL);
    assert_rel(m.max_drawdown, 0.0247, RTOL);
    assert_rel(m.calmar, (pow(0.9753, 365.0) - 1.0) / 0.0247, 1e-11);
    assert_rel(m.ulcer_index, 0.0247, RTOL);
    assert_abs(m.hit_rate, 0.0, 0.0);
    cr_assert_eq(m.n_episodes, 1);
    cr_assert(m.episodes[0].peak == 0 && m.episodes[0].trough == 1 &&
              m.episodes[0].end == 1 && m.episodes[0].recovered == 0 &&
              m.episodes[0].length == 1 && m.episodes[0].to_recover == 0);
    cr_assert_eq(m.max_drawdown_duration, 1);
    assert_rel(m.max_drawdown_duration_days, 1.0, RTOL);
}

/* ---------------------------------------------------------------------
 * Ruin: E = 1000, 850.5, 0, 0, 0 (daily, A = 365). After ruin a 0 -> 0
 * step is a 0 return, so r = -0.1495, -1, 0, 0.
 *   total_return = cagr = cagr_calendar = -1; dd = 0, -0.1495, -1, -1, -1
 *   max_drawdown = 1, calmar = recovery_factor = -1
 *   ulcer = sqrt((0.1495^2 + 3) / 4) = sqrt(3.02235025 / 4)
 *         = 0.86924539831971501
 *   mean = -1.1495 / 4 = -0.287375; sd (ddof 1) = 0.48028210026330706
 *   volatility = sd sqrt(365) = 9.1757766417435569
 *   sharpe = mean / sd sqrt(365) = -11.431389308542358
 *   sortino = mean sqrt(365) / sqrt((0.1495^2 + 1) / 4)
 *           = -0.287375 * 19.104973174542800 / 0.50555668574354746
 *           = -10.859893303476723
 *   sorted r: -1, -0.1495, 0, 0; h = 0.15: VaR = -1 + 0.15 * 0.8505
 *   = -0.872425; CVaR = -1
 *   skew = -1.0832976210757564, excess kurtosis = -0.72889569330621962
 *   hit_rate = 0 up / 2 non-zero = 0
 * --------------------------------------------------------------------- */
Test(metrics, ruined_curve_is_defined)
{
    static const double e[5] = { 1000.0, 850.5, 0.0, 0.0, 0.0 };
    static const double d[5] = { 0, 1, 2, 3, 4 };
    int64_t t[5];
    bal_metrics m;

    days_to_times(t, d, 5);
    m = run(e, t, 5, NULL);
    cr_assert_eq(m.periods_per_year, 365.0);
    assert_rel(m.total_return, -1.0, RTOL);
    assert_rel(m.cagr, -1.0, RTOL);
    assert_rel(m.cagr_calendar, -1.0, RTOL);
    assert_rel(m.max_drawdown, 1.0, RTOL);
    assert_rel(m.calmar, -1.0, RTOL);
    assert_rel(m.recovery_factor, -1.0, RTOL);
    assert_rel(m.ulcer_index, 0.86924539831971501, RTOL);
    assert_rel(m.volatility, 9.1757766417435569, RTOL);
    assert_rel(m.sharpe, -11.431389308542358, RTOL);
    assert_rel(m.sortino, -10.859893303476723, RTOL);
    assert_rel(m.var_95, -0.872425, RTOL);
    assert_rel(m.cvar_95, -1.0, RTOL);
    assert_rel(m.skew, -1.0832976210757564, RTOL);
    assert_rel(m.excess_kurtosis, -0.72889569330621962, RTOL);
    assert_abs(m.best_period, 0.0, 0.0);
    assert_rel(m.worst_period, -1.0, RTOL);
    assert_abs(m.hit_rate, 0.0, 0.0);
    cr_assert_eq(m.n_episodes, 1);
    cr_assert(m.episodes[0].peak == 0 && m.episodes[0].trough == 2 &&
              m.episodes[0].end == 4 && m.episodes[0].recovered == 0);
    assert_rel(m.episodes[0].depth, 1.0, RTOL);
    cr_assert_eq(m.max_drawdown_duration, 4);
}

/* ---------------------------------------------------------------------
 * empyrical (quantopian/empyrical, empyrical/stats.py; tests/ref):
 *   sharpe_ratio  = mean(r - rf) / std(r - rf, ddof=1) * sqrt(A), rf per
 *                   period (empyrical does not convert it);
 *   sortino_ratio = mean(r - req) * A / downside_risk,
 *   downside_risk = sqrt(mean(min(r - req, 0)^2)) * sqrt(A), req per period.
 * Written out here in long double over the returns E_t / E_{t-1} - 1 of a
 * 500-step random curve (mt19937, seed 20240917), A = 252.
 * --------------------------------------------------------------------- */
Test(metrics, sharpe_sortino_match_empyrical_definitions)
{
    enum { N = 500 };
    static double e[N + 1];
    static int64_t t[N + 1];
    bal_metrics_options opt = BAL_METRICS_OPTIONS_INIT;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    long double sum = 0, mean, ss = 0, down = 0, sharpe, dsr, sortino;
    double rf_p, req;
    bal_metrics m;
    size_t i;

    cr_assert_not_null(rng);
    gsl_rng_set(rng, 20240917);
    e[0] = 1.0e6;
    t[0] = T0;
    for (i = 1; i <= N; i++) {
        e[i] = e[i - 1] * (1.0 + 0.0004 + gsl_ran_gaussian(rng, 0.011));
        t[i] = T0 + (int64_t)i * DAY;
    }
    gsl_rng_free(rng);

    opt.periods_per_year = 252.0;
    opt.risk_free = 0.0213;
    opt.mar = 0.0347;
    m = run(e, t, N + 1, &opt);

    rf_p = pow(1.0213, 1.0 / 252.0) - 1.0;
    for (i = 1; i <= N; i++)
        sum += (long double)(e[i] / e[i - 1] - 1.0) - rf_p;
    mean = sum / N;
    for (i = 1; i <= N; i++) {
        long double x = (long double)(e[i] / e[i - 1] - 1.0) - rf_p - mean;

        ss += x * x;
    }
    sharpe = mean / sqrtl(ss / (N - 1)) * sqrtl(252.0L);
    assert_rel(m.sharpe, (double)sharpe, 1e-9);

    req = pow(1.0347, 1.0 / 252.0) - 1.0;
    sum = 0;
    for (i = 1; i <= N; i++) {
        long double x = (long double)(e[i] / e[i - 1] - 1.0) - req;

        sum += x;
        if (x < 0)
            down += x * x;
    }
    dsr = sqrtl(down / N) * sqrtl(252.0L);
    sortino = sum / N * 252.0L / dsr;
    assert_rel(m.sortino, (double)sortino, 1e-9);

    /* empyrical.annual_volatility: nanstd(r, ddof=1) * A^(1/2) */
    sum = 0;
    ss = 0;
    for (i = 1; i <= N; i++)
        sum += (long double)(e[i] / e[i - 1] - 1.0);
    mean = sum / N;
    for (i = 1; i <= N; i++) {
        long double x = (long double)(e[i] / e[i - 1] - 1.0) - mean;

        ss += x * x;
    }
    assert_rel(m.volatility, (double)(sqrtl(ss / (N - 1)) * sqrtl(252.0L)),
               1e-12);
}

/* ---------------------------------------------------------------------
 * Error paths: BAL_EINVAL with the exact message, *out untouched.
 * --------------------------------------------------------------------- */
struct bad_case {
    double e[3];
    int64_t dt[3];
    size_t n;
    bal_metrics_options opt;
    const char *msg;
};

Test(metrics, error_paths)
{
    static const struct bad_case cases[] = {
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 0, BAL_METRICS_OPTIONS_INIT,
          "need at least 2 equity points, got 0" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 1, BAL_METRICS_OPTIONS_INIT,
          "need at least 2 equity points, got 1" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 1 }, 3, BAL_METRICS_OPTIONS_INIT,
          "time[2] (1678147200) is not after time[1] (1678147200)" },
        { { 1.0, 2.0, 3.0 }, { 0, -1, 2 }, 3, BAL_METRICS_OPTIONS_INIT,
          "time[1] (1677974400) is not after time[0] (1678060800)" },
        { { 1.0, NAN, 3.0 }, { 0, 1, 2 }, 3, BAL_METRICS_OPTIONS_INIT,
          "equity[1] is not finite" },
        { { 1.0, 2.0, INFINITY }, { 0, 1, 2 }, 3, BAL_METRICS_OPTIONS_INIT,
          "equity[2] is not finite" },
        { { 1.0, -2.5, 3.0 }, { 0, 1, 2 }, 3, BAL_METRICS_OPTIONS_INIT,
          "equity[1] is negative (-2.5)" },
        { { 0.0, 0.0, 0.0 }, { 0, 1, 2 }, 3, BAL_METRICS_OPTIONS_INIT,
          "initial equity is 0" },
        { { 1.0, 0.0, 3.0 }, { 0, 1, 2 }, 3, BAL_METRICS_OPTIONS_INIT,
          "equity[2] rises from 0 after ruin" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 3, { -252.0, 0.0, 0.0 },
          "periods_per_year must be finite and >= 0 (0 = auto), got -252" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 3, { NAN, 0.0, 0.0 },
          "periods_per_year must be finite and >= 0 (0 = auto), got nan" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 3, { INFINITY, 0.0, 0.0 },
          "periods_per_year must be finite and >= 0 (0 = auto), got inf" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 3, { 0.0, -1.0, 0.0 },
          "risk_free must be finite and > -1, got -1" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 3, { 0.0, NAN, 0.0 },
          "risk_free must be finite and > -1, got nan" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 3, { 0.0, 0.0, -1.5 },
          "mar must be finite and > -1, got -1.5" },
        { { 1.0, 2.0, 3.0 }, { 0, 1, 2 }, 3, { 0.0, 0.0, INFINITY },
          "mar must be finite and > -1, got inf" },
    };
    size_t k, i;

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const struct bad_case *c = &cases[k];
        bal_error err = BAL_ERROR_INIT;
        bal_metrics m, before;
        int64_t t[3];
        int rc;

        for (i = 0; i < 3; i++)
            t[i] = T0 + c->dt[i] * DAY;
        memset(&m, 0xA5, sizeof(m));
        before = m;
        rc = bal_metrics_compute(&m, c->e, t, c->n, &c->opt, &err);
        cr_assert_eq(rc, BAL_EINVAL, "case %zu: rc %d", k, rc);
        cr_assert_eq(err.code, BAL_EINVAL, "case %zu", k);
        cr_assert_str_eq(err.msg, c->msg, "case %zu", k);
        cr_assert(memcmp(&m, &before, sizeof(m)) == 0,
                  "case %zu: out was written", k);
    }
}

Test(metrics, error_with_null_err_returns_code)
{
    static const double e[2] = { 1.0, -1.0 };
    int64_t t[2] = { T0, T0 + DAY };
    bal_metrics m;

    cr_assert_eq(bal_metrics_compute(&m, e, t, 2, NULL, NULL), BAL_EINVAL);
}

/* Times far apart: the difference overflows int64 but not the metric. */
Test(metrics, extreme_times_do_not_overflow)
{
    static const double e[3] = { 100.0, 97.3, 101.2 };
    int64_t t[3] = { INT64_MIN + 1, 0, INT64_MAX };
    bal_metrics m;

    m = run(e, t, 3, NULL);
    cr_assert_eq(m.periods_per_year, 1.0);
    cr_assert(m.episodes[0].length_days > 1e14,
              "length_days %.17g", m.episodes[0].length_days);
}
