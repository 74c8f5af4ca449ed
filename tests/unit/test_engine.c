#include "ballast/engine.h"
#include "ballast/numfmt.h"
#include "helpers.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
#include <stdlib.h>
#include <string.h>

#define N_ASSETS 3
#define N_DAYS 400

static const char *const syms[N_ASSETS] = { "AAA", "BBB", "CCC" };

struct market {
    bal_series s[N_ASSETS];
    bal_series *p[N_ASSETS];
};

/* Weekday bars from 2021-01-04 with random log returns; asset 2 also
 * misses every 7th weekday, so the calendars differ. */
static void make_market(struct market *m, unsigned long seed, size_t days)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int64_t t = bal_days_from_civil(2021, 1, 4) * 86400;
    size_t i, k, d;
    bal_error err = BAL_ERROR_INIT;

    for (i = 0; i < N_ASSETS; i++) {
        int64_t *time = calloc(days, sizeof(*time));
        double *o = calloc(days, sizeof(double)), *h = calloc(days,
                                                              sizeof(double));
        double *l = calloc(days, sizeof(double)), *c = calloc(days,
                                                              sizeof(double));
        double px = 10.0 + 37.3 * (double)i;
        int64_t day = t;

        /* one stream per asset, so a shorter market is a prefix */
        gsl_rng_set(rng, seed * 100 + i);
        for (k = 0, d = 0; d < days; day += 86400) {
            int wd = (int)((day / 86400 + 3) % 7);   /* 0 = Monday */

            if (wd >= 5)
                continue;
            d++;
            if (i == 2 && d % 7 == 3)
                continue;
            o[k] = px * exp(gsl_ran_gaussian(rng, 0.002));
            px *= exp(gsl_ran_gaussian(rng, 0.01 + 0.004 * (double)i));
            c[k] = px;
            h[k] = fmax(o[k], c[k]) * (1 + fabs(gsl_ran_gaussian(rng, 0.003)));
            l[k] = fmin(o[k], c[k]) * (1 - fabs(gsl_ran_gaussian(rng, 0.003)));
            time[k] = day;
            k++;
        }
        memset(&m->s[i], 0, sizeof(m->s[i]));
        cr_assert_eq(bal_series_from_arrays(&m->s[i], time, o, h, l, c, k,
                                            &err), 0, "%s", err.msg);
        m->p[i] = &m->s[i];
        free(time);
        free(o);
        free(h);
        free(l);
        free(c);
    }
    gsl_rng_free(rng);
}

static void free_market(struct market *m)
{
    size_t i;

    for (i = 0; i < N_ASSETS; i++)
        bal_series_release(&m->s[i]);
}

static double zero_rate[N_ASSETS];
static double no_bpy[N_ASSETS] = { NAN, NAN, NAN };
static int zeros[N_ASSETS];
static double fixed_w[N_ASSETS] = { 0.5, 0.3, 0.15 };

static bal_engine_options base_options(void)
{
    bal_engine_options o;

    bal_engine_options_init(&o);
    o.n_assets = N_ASSETS;
    o.symbols = syms;
    o.bars_per_year = no_bpy;
    o.crypto = zeros;
    o.equity = zeros;
    o.cost_rate = zero_rate;
    o.intersection = 1;
    o.sizer.method = BAL_SIZE_FIXED;
    o.sizer.targets = fixed_w;
    return o;
}

static const char *const small_syms[2] = { "A", "B" };
static double small_bpy[2] = { NAN, NAN };
static int small_zero[2] = { 0, 0 };

/* Options for a run over n (1 or 2) hand-made series named A and B with
 * the given fixed targets and cost rates. */
static bal_engine_options small_options(size_t n, double *w, double *rate)
{
    bal_engine_options o = base_options();

    o.n_assets = n;
    o.symbols = small_syms;
    o.bars_per_year = small_bpy;
    o.crypto = small_zero;
    o.equity = small_zero;
    o.cost_rate = rate;
    o.sizer.targets = w;
    return o;
}

/* SPEC §12 reference equivalence: PerformanceAnalytics'
 * Return.portfolio(R, weights, rebalance_on = "months", wealth.index =
 * TRUE) sets weights at the first date and rebalances at the last date of
 * each month; between rebalances each holding compounds its own simple
 * return. Computed here independently on the common dates. */
Test(engine, fixed_monthly_matches_return_portfolio)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    double h[N_ASSETS], cash;
    size_t t, i;

    make_market(&m, 7, N_DAYS);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    /* after intersection every series has the same dates */
    cr_assert_eq(res.n_rows, m.s[0].n);
    cr_assert_eq(res.t0, 0, "nothing to warm up: t0 is the first step");
    for (i = 0; i < N_ASSETS; i++)
        h[i] = fixed_w[i];
    cash = 1 - (fixed_w[0] + fixed_w[1] + fixed_w[2]);
    for (t = 1; t < res.n_rows; t++) {
        double wealth = cash;

        for (i = 0; i < N_ASSETS; i++) {
            h[i] *= m.s[i].close[t] / m.s[i].close[t - 1];
            wealth += h[i];
        }
        assert_rel(res.equity[t] / res.equity[0], wealth, 1e-12);
        if (t + 1 < res.n_rows
            && bal_month_key(m.s[0].time[t + 1])
                   != bal_month_key(m.s[0].time[t])) {
            for (i = 0; i < N_ASSETS; i++)
                h[i] = fixed_w[i] * wealth;
            cash = (1 - (fixed_w[0] + fixed_w[1] + fixed_w[2])) * wealth;
        }
    }
    cr_assert_gt(res.rebalances, 10);
    cr_assert_eq(res.rebalances, res.by_trigger[1]);  /* all schedule */
    cr_assert_eq(res.book.total_costs, 0);
    bal_result_release(&res);
    free_market(&m);
}

/* Reference root of E = E_pre - sum k |w E - v| by bisection: a different
 * route from the library's Newton steps. */
static double bisect_post_equity(double e_pre, const double *w,
                                 const double *v, double k, size_t n)
{
    double lo = 0, hi = e_pre;
    int it;

    for (it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi), f = mid - e_pre;
        size_t i;

        for (i = 0; i < n; i++)
            f += k * fabs(w[i] * mid - v[i]);
        if (f > 0)
            hi = mid;
        else
            lo = mid;
    }
    return 0.5 * (lo + hi);
}

/* Every rebalance pays exactly the SPEC §5 cost: replay the run from its
 * trades and prices, solving each rebalance by bisection. */
Test(engine, costs_follow_the_exact_cost_rule)
{
    struct market m;
    bal_engine_options o = base_options();
    double rate[N_ASSETS] = { 0.001, 0.001, 0.001 };
    double u[N_ASSETS] = { 0 }, cash = 1e6;
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    size_t t, i, next_trade = 0;

    o.cost_rate = rate;
    make_market(&m, 11, 200);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    /* t0 = 0: E_0 = capital / (1 + k) for a fully invested portfolio would
     * need sum w = 1; here sum w = 0.95 so E_0 = 1e6 / (1 + 0.95 k). */
    assert_rel(res.equity[0], 1e6 / (1 + 0.95 * 0.001), 1e-13);
    for (t = 0; t < res.n_rows; t++) {
        double e_pre = cash, v[N_ASSETS];

        for (i = 0; i < N_ASSETS; i++) {
            v[i] = u[i] * m.s[i].close[t];
            e_pre += v[i];
        }
        if (next_trade < res.book.n_trades
            && res.book.trades[next_trade].time == res.time[t]) {
            double e = bisect_post_equity(e_pre, fixed_w, v, 0.001,
                                          N_ASSETS);

            assert_rel(res.equity[t], e, 1e-12);
            for (i = 0; i < N_ASSETS; i++) {
                double nu = fixed_w[i] * e / m.s[i].close[t];

                cash -= (nu - u[i]) * m.s[i].close[t];
                u[i] = nu;
            }
            cash -= e_pre - e;          /* the costs */
            while (next_trade < res.book.n_trades
                   && res.book.trades[next_trade].time == res.time[t])
                next_trade++;
        } else {
            assert_rel(res.equity[t], e_pre, 1e-12);
        }
    }
    cr_assert_eq(next_trade, res.book.n_trades);
    {
        double sum = 0;

        for (i = 0; i < res.book.n_trades; i++)
            sum += res.book.trades[i].cost;
        assert_rel(sum, res.book.total_costs, 1e-12);
    }
    bal_result_release(&res);
    free_market(&m);
}

static void run_cut(bal_result *res, bal_engine_options *o, size_t days,
                    unsigned long seed, int perturb_after)
{
    struct market m;
    bal_error err = BAL_ERROR_INIT;
    size_t i, k;

    make_market(&m, seed, days);
    if (perturb_after > 0)
        for (i = 0; i < N_ASSETS; i++)
            for (k = 0; k < m.s[i].n; k++)
                if (m.s[i].time[k] > m.s[0].time[perturb_after]) {
                    m.s[i].close[k] *= 1.37;
                    m.s[i].open[k] *= 1.37;
                    m.s[i].high[k] *= 1.37;
                    m.s[i].low[k] *= 1.37;
                }
    cr_assert_eq(bal_engine_run(res, o, m.p, NULL, &err), 0, "%s", err.msg);
    free_market(&m);
}

static void assert_same_until(const bal_result *a, const bal_result *b,
                              int64_t until)
{
    size_t t, i;

    for (t = 0; t < a->n_rows && a->time[t] <= until; t++) {
        cr_assert_lt(t, b->n_rows);
        cr_assert_eq(a->time[t], b->time[t]);
        cr_assert_eq(a->equity[t], b->equity[t], "equity differs at row %zu",
                     t);
        cr_assert_eq(a->cash[t], b->cash[t]);
    }
    for (i = 0; i < a->book.n_trades; i++) {
        const bal_trade *x = &a->book.trades[i];

        if (x->decided > until)
            break;
        cr_assert_lt(i, b->book.n_trades);
        cr_assert_eq(x->decided, b->book.trades[i].decided);
        cr_assert_eq(x->units, b->book.trades[i].units, "trade %zu", i);
    }
}

/* SPEC §12: truncating after step k leaves every decision and equity value
 * up to k-1 unchanged; changing prices after k leaves everything up to k
 * unchanged. Vol target, inverse vol, drift and next_open fills are on,
 * so each statistic the sizer reads is exercised. */
static void check_no_look_ahead(bal_engine_options *o)
{
    bal_result full, cut, moved;
    size_t k;
    int64_t tk;

    run_cut(&full, o, N_DAYS, 5, 0);
    cr_assert_gt(full.rebalances, 5);
    for (k = 90; k < 300; k += 77) {
        cr_assert_gt(k, full.t0);
        tk = full.time[k - full.t0];       /* the time of step k */
        run_cut(&cut, o, k + 1, 5, 0);         /* bars up to step k */
        assert_same_until(&full, &cut, tk - 1);
        bal_result_release(&cut);
        run_cut(&moved, o, N_DAYS, 5, (int)k);
        assert_same_until(&full, &moved, tk);
        bal_result_release(&moved);
    }
    bal_result_release(&full);
}

/* SPEC §12: truncating after step k leaves every decision and equity value
 * up to k-1 unchanged; changing prices after k leaves everything up to k
 * unchanged. Run for every method, trigger and overlay of the engine. */
Test(engine, no_look_ahead)
{
    bal_engine_options o = base_options();

    o.sizer.method = BAL_SIZE_INVERSE_VOL;
    o.sizer.target_vol = 0.12;
    o.rolling.vol_window = 20;
    o.rolling.corr_window = 20;
    o.rebalance.schedule = BAL_SCHED_WEEKLY;
    o.rebalance.drift = 0.02;
    o.fill_close = 0;
    o.intersection = 0;
    check_no_look_ahead(&o);            /* vol target, drift, next_open */
    o.direction = BAL_DIRECTION_TREND;
    o.lookback = 15;
    o.rebalance.vol_shift = 0.2;
    o.rebalance.corr_shift = 0.3;
    check_no_look_ahead(&o);            /* trend, vol and corr shifts */
    o.slow = 30;
    o.fast = 8;
    o.rebalance.target_shift = 0.05;
    o.rebalance.target_check = 3;
    o.governor = 1;
    o.gov = (bal_governor_options){ 0.01, 0.08, 0.3, 0.05, 0.12, 0.06 };
    o.rebalance.drawdown_step = 0.1;
    o.fill_close = 1;
    check_no_look_ahead(&o);            /* MA trend, target shift, governor */
    o.sizer.method = BAL_SIZE_GIVEN;
    o.alloc.method = BAL_ALLOC_ERC;
    o.cov.ledoit_wolf = 1;
    o.cov.stress_blend = 0.5;
    o.regime_used = 1;
    o.regime_scale[BAL_REGIME_SHOCK] = 0.5;
    o.rebalance.regime_change = 1;
    check_no_look_ahead(&o);            /* ERC, shrinkage, stress, regimes */
    o.alloc.method = BAL_ALLOC_HRP;
    o.alloc.linkage = BAL_ALLOC_LINK_WARD;
    o.cluster_risk_cap = 0.4;
    check_no_look_ahead(&o);            /* HRP with a cluster risk cap */
    o.cluster_risk_cap = NAN;
    o.alloc.method = BAL_ALLOC_MIN_VARIANCE;
    check_no_look_ahead(&o);
    o.alloc.method = BAL_ALLOC_INVERSE_ATR;
    o.fill_close = 0;
    check_no_look_ahead(&o);
}

/* Warm-up: with vol_window w, volatility is first defined at bar index w
 * (SPEC §3), so t0 is step w when all assets share a calendar. */
Test(engine, first_allocation_waits_for_warm_up)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;

    o.sizer.method = BAL_SIZE_INVERSE_VOL;
    o.rolling.vol_window = 25;
    make_market(&m, 3, 120);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(res.t0, 25);
    cr_assert_eq(res.time[0], m.s[0].time[25]);
    cr_assert_eq(res.book.trades[0].decided, m.s[0].time[25]);
    bal_result_release(&res);
    free_market(&m);
}

/* The per-asset P&L adds up to the change in equity. */
Test(engine, pnl_contributions_sum_to_the_equity_change)
{
    struct market m;
    bal_engine_options o = base_options();
    double rate[N_ASSETS] = { 0.0004, 0.0011, 0.0023 };
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    double sum = 0;
    size_t i;

    o.cost_rate = rate;
    o.fill_close = 0;
    o.intersection = 0;
    o.sizer.method = BAL_SIZE_EQUAL;
    o.rebalance.schedule = BAL_SCHED_WEEKLY;
    make_market(&m, 9, 150);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    for (i = 0; i < N_ASSETS; i++)
        sum += res.assets[i].pnl;
    assert_rel(sum, res.equity[res.n_rows - 1] - 1e6, 1e-9);
    bal_result_release(&res);
    free_market(&m);
}

/* Hand case (issue: fixed weights, monthly rebalancing, 10 bps). Two
 * assets, targets 0.6 / 0.4, fill at the close, k = 0.001, capital 1000,
 * four days across a month end:
 *            01-30  01-31  02-01  02-02
 *   A close     10     11   12.1     11
 *   B close     20     19  19.95     21
 * t0 = 01-30 (nothing to warm up): E0 = 1000 / (1 + k).
 * 01-31 is the last step of January, so it rebalances. Before trading
 * vA = 0.6 E0 * 1.1 = 0.66 E0, vB = 0.4 E0 * 0.95 = 0.38 E0, E_pre =
 * 1.04 E0. A is sold (0.6 E < 0.66 E0), B bought (0.4 E > 0.38 E0):
 *   E1 = E_pre - k (0.66 E0 - 0.6 E1) - k (0.4 E1 - 0.38 E0)
 *      = (1.04 - 0.28 k) E0 / (1 - 0.2 k).
 * 02-01: no rebalance (02-02 is still February): E2 = E1 (0.6 * 1.1 +
 * 0.4 * 1.05) = 1.08 E1. 02-02 is the last step: E3 = E1 (0.6 + 0.4 *
 * 21/19). Turnover of the one rebalance: (|dvA| + |dvB|) / (2 E_pre). */
Test(engine, fixed_weights_monthly_with_costs_by_hand)
{
    double ca[4] = { 10, 11, 12.1, 11 }, cb[4] = { 20, 19, 19.95, 21 };
    double w[2] = { 0.6, 0.4 }, rate[2] = { 0.001, 0.001 };
    int64_t t[4];
    bal_series s[2];
    bal_series *p[2] = { &s[0], &s[1] };
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    double k = 0.001, e0 = 1000 / (1 + k), e1, pre, dva, dvb;
    size_t i;

    for (i = 0; i < 4; i++)
        t[i] = (bal_days_from_civil(2024, 1, 30) + (int64_t)i) * 86400;
    memset(s, 0, sizeof(s));
    cr_assert_eq(bal_series_from_arrays(&s[0], t, ca, ca, ca, ca, 4, &err),
                 0);
    cr_assert_eq(bal_series_from_arrays(&s[1], t, cb, cb, cb, cb, 4, &err),
                 0);
    o = small_options(2, w, rate);
    o.capital = 1000;
    cr_assert_eq(bal_engine_run(&res, &o, p, NULL, &err), 0, "%s", err.msg);
    pre = 1.04 * e0;
    e1 = (1.04 - 0.28 * k) * e0 / (1 - 0.2 * k);
    cr_assert_eq(res.n_rows, 4);
    assert_rel(res.equity[0], e0, 1e-15);
    assert_rel(res.equity[1], e1, 1e-14);
    assert_rel(res.equity[2], 1.08 * e1, 1e-14);
    assert_rel(res.equity[3], e1 * (0.6 + 0.4 * 21.0 / 19.0), 1e-14);
    cr_assert_eq(res.rebalances, 1);
    cr_assert_eq(res.book.n_trades, 4);
    assert_rel(res.book.total_costs, (1000 - e0) + (pre - e1), 1e-11);
    dva = 0.66 * e0 - 0.6 * e1;
    dvb = 0.4 * e1 - 0.38 * e0;
    /* A = round(3 * 365.25 * 86400 / (3 * 86400)) = 365 periods a year */
    cr_assert_eq(res.metrics.periods_per_year, 365);
    assert_rel(res.turnover, 365.0 / 3 * (dva + dvb) / (2 * pre), 1e-12);
    assert_rel(res.metrics.total_return, (0.6 + 0.4 * 21.0 / 19.0)
               * e1 / e0 - 1, 1e-13);
    bal_result_release(&res);
    bal_series_release(&s[0]);
    bal_series_release(&s[1]);
}

/* Trend direction: at every rebalance the target's sign is the sign of
 * the asset's return over the last `lookback` bars, read off the input. */
Test(engine, trend_direction_follows_the_lookback_return)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    size_t r, t, checked = 0;

    o.sizer.method = BAL_SIZE_EQUAL;
    o.direction = BAL_DIRECTION_TREND;
    o.lookback = 10;
    o.rebalance.schedule = BAL_SCHED_WEEKLY;
    make_market(&m, 21, 250);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(res.t0, 10, "the trend needs lookback + 1 bars");
    for (r = 0; r < res.n_weights; r++) {
        const bal_weight_row *w = &res.weights[r];
        double want;

        for (t = 0; m.s[w->asset].time[t] != w->time; t++)
            ;
        want = m.s[w->asset].close[t] - m.s[w->asset].close[t - 10];
        cr_assert_eq(w->target > 0, want > 0, "row %zu", r);
        cr_assert_eq(w->target < 0, want < 0, "row %zu", r);
        assert_rel(fabs(w->target), 1.0 / 3, 1e-15);
        checked++;
    }
    cr_assert_gt(checked, 100);
    bal_result_release(&res);
    free_market(&m);
}

/* Signals: a signal applies from the close of the first step whose time
 * is >= its time; before the first one the asset is flat. */
Test(engine, signals_apply_from_their_time)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_signals sg;
    size_t cnt[N_ASSETS] = { 2, 1, 0 };
    int64_t t_a[2], t_b[1];
    double v_a[2] = { 0.6, -1 }, v_b[1] = { 0.3 };
    int64_t *times[N_ASSETS] = { t_a, t_b, NULL };
    double *vals[N_ASSETS] = { v_a, v_b, NULL };
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    size_t r;

    make_market(&m, 4, 60);
    /* A: 0.6 from step 5 (exact time), -1 from step 20 (a time between
     * steps 19 and 20); B: 0.3 from step 30 */
    t_a[0] = m.s[0].time[5];
    t_a[1] = m.s[0].time[19] + 3600;
    t_b[0] = m.s[0].time[30];
    sg.n_assets = N_ASSETS;
    sg.count = cnt;
    sg.time = times;
    sg.value = vals;
    o.direction = BAL_DIRECTION_SIGNALS;
    o.signals = &sg;
    o.intersection = 0;                 /* keep the series' indices */
    o.sizer.method = BAL_SIZE_EQUAL;
    o.rebalance.schedule = BAL_SCHED_DAILY;
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    for (r = 0; r < res.n_weights; r++) {
        const bal_weight_row *w = &res.weights[r];
        double want = 0;

        if (w->asset == 0)
            want = w->time >= m.s[0].time[20] ? -1
                   : w->time >= m.s[0].time[5] ? 0.6 : 0;
        else if (w->asset == 1)
            want = w->time >= m.s[0].time[30] ? 0.3 : 0;
        assert_abs(w->target, want / 3, 1e-15);
    }
    bal_result_release(&res);
    free_market(&m);
}

/* A crash in the middle of the sample: the governor cuts exposure, so the
 * maximum drawdown is smaller than without it on the same data. */
Test(engine, drawdown_governor_reduces_the_drawdown)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result plain, governed;
    bal_error err = BAL_ERROR_INIT;
    size_t i, k;

    make_market(&m, 8, 300);
    for (i = 0; i < N_ASSETS; i++)          /* -2 % a bar for 40 bars */
        for (k = 100; k < m.s[i].n; k++) {
            double f = pow(0.98, (double)(k < 140 ? k - 100 + 1 : 40));

            m.s[i].open[k] *= f;
            m.s[i].high[k] *= f;
            m.s[i].low[k] *= f;
            m.s[i].close[k] *= f;
        }
    o.sizer.method = BAL_SIZE_EQUAL;
    o.rebalance.schedule = BAL_SCHED_MONTHLY;
    o.rebalance.drawdown_step = 0.05;
    cr_assert_eq(bal_engine_run(&plain, &o, m.p, NULL, &err), 0);
    o.governor = 1;
    o.gov = (bal_governor_options){ 0.05, 0.25, 0.25, 0.02, NAN, NAN };
    cr_assert_eq(bal_engine_run(&governed, &o, m.p, NULL, &err), 0);
    cr_assert_gt(plain.metrics.max_drawdown, 0.3);
    cr_assert_lt(governed.metrics.max_drawdown,
                 plain.metrics.max_drawdown - 0.1);
    cr_assert_gt(governed.by_trigger[9], 0, "drawdown_step fired");
    bal_result_release(&plain);
    bal_result_release(&governed);
    free_market(&m);
}

/* One asset quoted in JPY at a constant 100, the account in USD, USDJPY
 * moving: E_t = capital * USDJPY_0 / USDJPY_t exactly (no costs, weight
 * 1, no rebalances after t0). */
Test(engine, prices_convert_into_the_account_currency)
{
    static const char *const two[2] = { "NKY", "USDJPY" };
    int64_t t[5];
    double px[5] = { 100, 100, 100, 100, 100 };
    double fx[5] = { 110, 112.5, 108.25, 120, 125.125 };
    double w[1] = { 1 }, rate[1] = { 0 }, bpy[1] = { NAN };
    int zero1[1] = { 0 }, leg1[1] = { 1 }, inv1[1] = { 1 }, none[1] = { -1 };
    bal_series s[2];
    bal_series *p[2] = { &s[0], &s[1] };
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    size_t i;

    for (i = 0; i < 5; i++)
        t[i] = (bal_days_from_civil(2024, 3, 4) + (int64_t)i) * 86400;
    memset(s, 0, sizeof(s));
    cr_assert_eq(bal_series_from_arrays(&s[0], t, px, px, px, px, 5, &err),
                 0);
    cr_assert_eq(bal_series_from_arrays(&s[1], t, fx, fx, fx, fx, 5, &err),
                 0);
    o.n_assets = 1;
    o.n_series = 2;
    o.symbols = two;
    o.bars_per_year = bpy;
    o.crypto = zero1;
    o.equity = zero1;
    o.cost_rate = rate;
    o.sizer.targets = w;
    o.rebalance.schedule = BAL_SCHED_NONE;
    o.fx_leg1 = leg1;
    o.fx_inv1 = inv1;
    o.fx_leg2 = none;
    o.fx_inv2 = zero1;
    cr_assert_eq(bal_engine_run(&res, &o, p, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(res.n_rows, 5);
    for (i = 0; i < 5; i++)
        assert_rel(res.equity[i], 1e6 * 110 / fx[i], 1e-14);
    assert_rel(res.book.units[0], 1e6 / (100 / 110.0), 1e-15);
    bal_result_release(&res);
    bal_series_release(&s[0]);
    bal_series_release(&s[1]);
}

/* Lots: 0.5 of 1000 at 3.7 is 135.1 units, rounded toward zero to 130
 * (lot 10); the remainder stays in cash: 1000 - 130 * 3.7 = 519. */
Test(engine, lot_size_rounds_units_toward_zero)
{
    int64_t t[3];
    double px[3] = { 3.7, 3.8, 3.9 }, w[1] = { 0.5 }, rate[1] = { 0 };
    double lot[1] = { 10 };
    bal_series s;
    bal_series *p[1] = { &s };
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    size_t i;

    for (i = 0; i < 3; i++)
        t[i] = (bal_days_from_civil(2024, 3, 4) + (int64_t)i) * 86400;
    memset(&s, 0, sizeof(s));
    cr_assert_eq(bal_series_from_arrays(&s, t, px, px, px, px, 3, &err), 0);
    o = small_options(1, w, rate);
    o.capital = 1000;
    o.lot_size = lot;
    o.rebalance.schedule = BAL_SCHED_NONE;
    cr_assert_eq(bal_engine_run(&res, &o, p, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(res.book.units[0], 130);
    assert_rel(res.cash[0], 1000 - 130 * 3.7, 1e-15);
    assert_rel(res.equity[2], 1000 - 130 * 3.7 + 130 * 3.9, 1e-15);
    bal_result_release(&res);
    bal_series_release(&s);
}

/* target_shift is evaluated every target_check steps from t0 only. */
Test(engine, target_shift_runs_on_its_check_steps)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    size_t i, t;

    o.sizer.method = BAL_SIZE_INVERSE_VOL;
    o.rolling.vol_window = 10;
    o.rebalance.schedule = BAL_SCHED_NONE;
    o.rebalance.target_shift = 0;       /* any change fires */
    o.rebalance.target_check = 5;
    make_market(&m, 13, 120);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_gt(res.rebalances, 10);
    cr_assert_eq(res.rebalances, res.by_trigger[7]);
    for (i = 0; i < res.book.n_trades; i++) {
        for (t = 0; res.time[t] != res.book.trades[i].decided; t++)
            ;
        cr_assert_eq(t % 5, 0, "decided at row %zu", t);
    }
    bal_result_release(&res);
    free_market(&m);
}

/* vol_shift 0: any change in a volatility fires (every step after t0
 * but the last); a huge threshold never fires. */
Test(engine, vol_shift_fires_on_volatility_changes)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;

    o.sizer.method = BAL_SIZE_EQUAL;
    o.rolling.vol_window = 10;
    o.rebalance.schedule = BAL_SCHED_NONE;
    o.rebalance.vol_shift = 0;
    make_market(&m, 17, 80);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(res.t0, 10);
    cr_assert_eq(res.by_trigger[5], res.n_rows - 2);
    bal_result_release(&res);
    o.rebalance.vol_shift = 1e9;
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0);
    cr_assert_eq(res.rebalances, 0);
    bal_result_release(&res);
    free_market(&m);
}

/* regime_scale multiplies exposure by the portfolio regime's factor at the
 * decision; regime_change fires exactly when the label differs from the
 * one at the last rebalance. */
Test(engine, regime_scale_and_regime_change)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    size_t r, row = 0, checked = 0;

    o.sizer.method = BAL_SIZE_EQUAL;
    o.regime_used = 1;
    o.regime_scale[BAL_REGIME_TRENDING] = 0.5;
    o.regime_scale[BAL_REGIME_RANGING] = 1;
    o.regime_scale[BAL_REGIME_SHOCK] = 0.25;
    o.regime.short_window = 3;
    o.regime.long_window = 20;
    o.regime.er_window = 10;
    o.regime.shock_ratio = 1.3;
    o.rebalance.schedule = BAL_SCHED_NONE;
    o.rebalance.regime_change = 1;
    make_market(&m, 31, 300);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_gt(res.by_trigger[8], 3, "the regime changed");
    cr_assert_eq(res.rebalances, res.by_trigger[8]);
    for (r = 0; r < res.n_weights; r += N_ASSETS) {
        double gross = 0;
        size_t i;

        while (res.time[row] != res.weights[r].time)
            row++;
        for (i = 0; i < N_ASSETS; i++)
            gross += fabs(res.weights[r + i].target);
        cr_assert_neq(res.regime[row], BAL_REGIME_NONE);
        assert_rel(gross, o.regime_scale[res.regime[row]], 1e-14);
        if (r > 0)
            cr_assert_neq(res.regime[row], res.regime[row - 1],
                          "rebalanced without a change at row %zu", row);
        checked++;
    }
    cr_assert_gt(checked, 3);
    bal_result_release(&res);
    free_market(&m);
}

/* Full shrinkage toward the diagonal makes the sizing correlation the
 * identity: the first allocation's gross is then target / sqrt(sum (b_i
 * sigma_i)^2) with b = 1/3 and sigma_i the annualised sd (ddof 1) of the
 * last vol_window log returns, computed here with GSL. A stress blend can
 * only raise correlations, so it never raises exposure. */
Test(engine, shrinkage_and_stress_blend_feed_the_sizer)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res, blended;
    bal_error err = BAL_ERROR_INIT;
    double var = 0, gross = 0, r[20];
    size_t i, k, w = 20, row;

    o.sizer.method = BAL_SIZE_EQUAL;
    o.sizer.target_vol = 0.02;
    o.rolling.vol_window = w;
    o.rolling.corr_window = w;
    o.rebalance.schedule = BAL_SCHED_WEEKLY;
    o.cov.shrinkage = 1;
    make_market(&m, 41, 200);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    for (i = 0; i < N_ASSETS; i++) {
        double sd;

        for (k = 0; k < w; k++)
            r[k] = log(m.s[i].close[res.t0 - k] / m.s[i].close[res.t0 - k
                                                                - 1]);
        sd = gsl_stats_sd(r, 1, w) * sqrt(260.0);
        var += sd * sd / 9;
    }
    for (i = 0; i < N_ASSETS; i++)
        gross += fabs(res.weights[i].target);
    assert_rel(gross, 0.02 / sqrt(var), 1e-12);
    bal_result_release(&res);

    o.cov.shrinkage = 0;
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0);
    o.cov.stress_blend = 1;
    cr_assert_eq(bal_engine_run(&blended, &o, m.p, NULL, &err), 0);
    cr_assert_eq(res.n_weights, blended.n_weights);
    for (row = 0; row < res.n_weights; row += N_ASSETS) {
        double g0 = 0, g1 = 0;

        for (i = 0; i < N_ASSETS; i++) {
            g0 += fabs(res.weights[row + i].target);
            g1 += fabs(blended.weights[row + i].target);
        }
        cr_assert_leq(g1, g0 * (1 + 1e-12), "row %zu", row);
    }
    bal_result_release(&res);
    bal_result_release(&blended);
    free_market(&m);
}

#define RISK_WIN_MAX 64

/* Risk shares rc_i / sum rc of the weights w at step t0, on a covariance
 * rebuilt here with GSL from the last win log returns of each series (sd
 * ddof 1, Pearson correlation); *max_rho gets the largest off-diagonal
 * correlation. Independent of the engine's rolling statistics. */
static void gsl_risk_shares(double *share, double *max_rho,
                            const struct market *m, size_t t0, size_t win,
                            const double *w)
{
    double r[N_ASSETS][RISK_WIN_MAX], sd[N_ASSETS], total = 0;
    size_t i, j, k;

    cr_assert_leq(win, RISK_WIN_MAX);
    *max_rho = -1;
    for (i = 0; i < N_ASSETS; i++) {
        for (k = 0; k < win; k++)
            r[i][k] = log(m->s[i].close[t0 - k] / m->s[i].close[t0 - k - 1]);
        sd[i] = gsl_stats_sd(r[i], 1, win);
    }
    for (i = 0; i < N_ASSETS; i++) {
        double sw = 0;

        for (j = 0; j < N_ASSETS; j++) {
            double rho = i == j ? 1 : gsl_stats_correlation(r[i], 1, r[j],
                                                             1, win);

            if (i != j && rho > *max_rho)
                *max_rho = rho;
            sw += rho * sd[i] * sd[j] * w[j];
        }
        share[i] = w[i] * sw;
        total += share[i];
    }
    for (i = 0; i < N_ASSETS; i++)
        share[i] /= total;
}

/* ERC inside the engine: the first allocation's risk contributions,
 * measured on a covariance rebuilt with GSL, are equal. */
Test(engine, erc_allocation_equalises_risk_contributions)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    double share[N_ASSETS], w[N_ASSETS], max_rho;
    size_t i, win = 30;

    o.sizer.method = BAL_SIZE_GIVEN;
    o.alloc.method = BAL_ALLOC_ERC;
    o.rolling.vol_window = win;
    o.rolling.corr_window = win;
    make_market(&m, 43, 160);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    for (i = 0; i < N_ASSETS; i++)
        w[i] = res.weights[i].target;
    gsl_risk_shares(share, &max_rho, &m, res.t0, win, w);
    for (i = 0; i < N_ASSETS; i++)
        assert_abs(share[i], 1.0 / N_ASSETS, 1e-9);
    bal_result_release(&res);
    free_market(&m);
}

/* cluster_risk_cap: with nearly uncorrelated assets every asset is its
 * own cluster (single linkage cut at rho >= 0.5 is the connected
 * components of the rho >= 0.5 graph, checked here), so no asset may
 * carry more than the cap of the risk, measured on a covariance rebuilt
 * with GSL from the same window. */
Test(engine, cluster_risk_cap_bounds_each_clusters_risk)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    double share[N_ASSETS], w[N_ASSETS], max_rho;
    size_t i, win = 40;

    o.sizer.method = BAL_SIZE_EQUAL;
    o.rolling.vol_window = win;
    o.rolling.corr_window = win;
    o.cluster_risk_cap = 0.34;
    o.rebalance.schedule = BAL_SCHED_MONTHLY;
    make_market(&m, 47, 200);
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    for (i = 0; i < N_ASSETS; i++)
        w[i] = res.weights[i].target;
    gsl_risk_shares(share, &max_rho, &m, res.t0, win, w);
    cr_assert_lt(max_rho, 0.5, "assets would cluster (rho %g, t0 %zu)",
                 max_rho, res.t0);
    for (i = 0; i < N_ASSETS; i++)
        cr_assert_leq(share[i], 0.34 + 1e-9, "asset %zu: %.6f", i, share[i]);
    cr_assert_gt(share[2], 0.34 - 1e-6, "the cap binds");
    bal_result_release(&res);
    free_market(&m);
}

/* Lots with fills at the close and 100 bps: units are sized on the exact
 * post-trade equity E = 1e6 / 1.01 = 990099.0099.., so 9900.99 units round
 * to 9900; the trade costs 0.01 * 9900 * 100 = 9900 and cash keeps
 * 1e6 - 990000 - 9900 = 100. */
Test(engine, lots_at_the_close_size_on_the_post_trade_equity)
{
    int64_t t[2];
    double px[2] = { 100, 100 }, w[1] = { 1 }, rate[1] = { 0.01 };
    double lot[1] = { 1 };
    bal_series s;
    bal_series *p[1] = { &s };
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;

    t[0] = bal_days_from_civil(2024, 3, 4) * 86400;
    t[1] = t[0] + 86400;
    memset(&s, 0, sizeof(s));
    cr_assert_eq(bal_series_from_arrays(&s, t, px, px, px, px, 2, &err), 0);
    o = small_options(1, w, rate);
    o.lot_size = lot;
    o.rebalance.schedule = BAL_SCHED_NONE;
    cr_assert_eq(bal_engine_run(&res, &o, p, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(res.book.units[0], 9900);
    assert_rel(res.cash[0], 100, 1e-9);
    assert_rel(res.book.total_costs, 9900, 1e-12);
    bal_result_release(&res);
    bal_series_release(&s);
}

/* late_assets "zero" with a volatility target (which needs correlations):
 * B's bars start 60 weekdays after A's and C's, so t0 is when A and C are
 * warm; B gets weight 0 until it is, then the `universe` trigger brings it
 * in (SPEC §12). A pair with an asset that has no bar yet does not hold
 * the others back. */
Test(engine, late_assets_zero_starts_before_every_asset_exists)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    bal_series late = BAL_SERIES_INIT;
    size_t r, k = 60, w = 20;
    int saw_zero = 0, saw_weight = 0;

    make_market(&m, 51, 200);
    /* keep B's bars from index k on */
    cr_assert_eq(bal_series_from_arrays(&late, m.s[1].time + k,
                                        m.s[1].open + k, m.s[1].high + k,
                                        m.s[1].low + k, m.s[1].close + k,
                                        m.s[1].n - k, &err), 0);
    bal_series_release(&m.s[1]);
    m.s[1] = late;
    o.intersection = 0;
    o.late_zero = 1;
    o.sizer.method = BAL_SIZE_EQUAL;
    o.sizer.target_vol = 0.1;
    o.rolling.vol_window = w;
    o.rolling.corr_window = w;
    o.rebalance.schedule = BAL_SCHED_NONE;
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_lt(res.time[0], m.s[1].time[0], "t0 before B's first bar");
    cr_assert_eq(res.by_trigger[4], 1, "B joins once");
    for (r = 0; r < res.n_weights; r++) {
        if (res.weights[r].asset != 1)
            continue;
        if (res.weights[r].time < m.s[1].time[w])
            saw_zero |= res.weights[r].target == 0;
        else
            saw_weight |= res.weights[r].target != 0;
    }
    cr_assert(saw_zero && saw_weight);
    bal_result_release(&res);
    free_market(&m);
}

/* A newer decision replaces an unfilled order (SPEC §5): B has no bars on
 * steps 30..32; its signal goes to 1 at step 30 (an order waits for B's
 * next bar) and back to 0 at step 31, so the order is cancelled and B is
 * never bought. */
Test(engine, a_newer_decision_cancels_a_waiting_order)
{
    struct market m;
    bal_engine_options o = base_options();
    bal_series gap = BAL_SERIES_INIT;
    bal_signals sg;
    size_t cnt[N_ASSETS] = { 1, 2, 1 }, i, k, n;
    int64_t ta[1], tb[2], tc[1];
    double va[1] = { 1 }, vb[2] = { 1, 0 }, vc[1] = { 1 };
    int64_t *times[N_ASSETS] = { ta, tb, tc };
    double *vals[N_ASSETS] = { va, vb, vc };
    int64_t *t;
    double *c;
    bal_result res;
    bal_error err = BAL_ERROR_INIT;

    make_market(&m, 53, 60);
    n = m.s[1].n;
    t = malloc(n * sizeof(*t));
    c = malloc(n * sizeof(*c));
    for (i = 0, k = 0; i < n; i++)
        if (i < 30 || i > 32) {
            t[k] = m.s[1].time[i];
            c[k++] = m.s[1].close[i];
        }
    cr_assert_eq(bal_series_from_arrays(&gap, t, c, c, c, c, k, &err), 0);
    free(t);
    free(c);
    ta[0] = tc[0] = m.s[0].time[0];
    tb[0] = m.s[0].time[30];
    tb[1] = m.s[0].time[31];
    bal_series_release(&m.s[1]);
    m.s[1] = gap;
    sg.n_assets = N_ASSETS;
    sg.count = cnt;
    sg.time = times;
    sg.value = vals;
    o.intersection = 0;
    o.direction = BAL_DIRECTION_SIGNALS;
    o.signals = &sg;
    o.sizer.method = BAL_SIZE_EQUAL;
    o.rebalance.schedule = BAL_SCHED_DAILY;
    cr_assert_eq(bal_engine_run(&res, &o, m.p, NULL, &err), 0, "%s",
                 err.msg);
    for (i = 0; i < res.book.n_trades; i++)
        cr_assert_neq(res.book.trades[i].asset, 1, "B traded (decided %lld)",
                      (long long)res.book.trades[i].decided);
    bal_result_release(&res);
    free_market(&m);
}

/* The governor measures drawdown from E_0, the equity after the first
 * fills: on flat prices the first allocation's 1 % cost is not a
 * drawdown, so the multiplier stays 1 and nothing is sold. */
Test(engine, governor_peak_starts_after_the_first_costs)
{
    int64_t t[6];
    double px[6] = { 50, 50, 50, 50, 50, 50 }, w[1] = { 1 };
    double rate[1] = { 0.01 };
    bal_series s = BAL_SERIES_INIT;
    bal_series *p[1] = { &s };
    bal_engine_options o = base_options();
    bal_result res;
    bal_error err = BAL_ERROR_INIT;
    size_t i;

    for (i = 0; i < 6; i++)
        t[i] = (bal_days_from_civil(2024, 3, 4) + (int64_t)i) * 86400;
    cr_assert_eq(bal_series_from_arrays(&s, t, px, px, px, px, 6, &err), 0);
    o = small_options(1, w, rate);
    o.rebalance.schedule = BAL_SCHED_NONE;
    o.rebalance.drawdown_step = 0;
    o.governor = 1;
    o.gov = (bal_governor_options){ 0, 0.2, 0.25, NAN, NAN, NAN };
    cr_assert_eq(bal_engine_run(&res, &o, p, NULL, &err), 0, "%s", err.msg);
    assert_rel(res.equity[0], 1e6 / 1.01, 1e-15);
    for (i = 0; i < res.n_rows; i++)
        cr_assert_eq(res.dd_mult[i], 1, "row %zu", i);
    cr_assert_eq(res.rebalances, 0);
    bal_result_release(&res);
    bal_series_release(&s);
}
