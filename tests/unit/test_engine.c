#include "ballast/engine.h"
#include "ballast/numfmt.h"
#include "helpers.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
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

    memset(&o, 0, sizeof(o));
    o.n_assets = N_ASSETS;
    o.symbols = syms;
    o.bars_per_year = no_bpy;
    o.crypto = zeros;
    o.equity = zeros;
    o.cost_rate = zero_rate;
    o.fill_close = 1;
    o.capital = 1e6;
    o.intersection = 1;
    o.rolling = (bal_rolling_options)BAL_ROLLING_OPTIONS_INIT;
    o.sizer = (bal_sizer_options)BAL_SIZER_OPTIONS_INIT;
    o.sizer.method = BAL_SIZE_FIXED;
    o.sizer.targets = fixed_w;
    o.rebalance.schedule = BAL_SCHED_MONTHLY;
    o.rebalance.drift = NAN;
    o.rebalance.drift_rel = NAN;
    o.rebalance.vol_shift = NAN;
    o.rebalance.corr_shift = NAN;
    o.rebalance.target_shift = NAN;
    o.rebalance.target_check = 1;
    o.rebalance.drawdown_step = NAN;
    o.metrics = (bal_metrics_options)BAL_METRICS_OPTIONS_INIT;
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
Test(engine, no_look_ahead)
{
    bal_engine_options o = base_options();
    bal_result full, cut, moved;
    size_t k;
    int64_t tk;

    o.sizer.method = BAL_SIZE_INVERSE_VOL;
    o.sizer.target_vol = 0.12;
    o.rolling.vol_window = 20;
    o.rolling.corr_window = 20;
    o.rebalance.schedule = BAL_SCHED_WEEKLY;
    o.rebalance.drift = 0.02;
    o.fill_close = 0;
    o.intersection = 0;
    run_cut(&full, &o, N_DAYS, 5, 0);
    cr_assert_gt(full.rebalances, 20);
    for (k = 60; k < 300; k += 77) {
        cr_assert_gt(k, full.t0);
        tk = full.time[k - full.t0];       /* the time of step k */
        run_cut(&cut, &o, k + 1, 5, 0);        /* bars up to step k */
        assert_same_until(&full, &cut, tk - 1);
        bal_result_release(&cut);
        run_cut(&moved, &o, N_DAYS, 5, (int)k);
        assert_same_until(&full, &moved, tk);
        bal_result_release(&moved);
    }
    bal_result_release(&full);
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
    static const char *const two[2] = { "A", "B" };
    double ca[4] = { 10, 11, 12.1, 11 }, cb[4] = { 20, 19, 19.95, 21 };
    double w[2] = { 0.6, 0.4 }, rate[2] = { 0.001, 0.001 };
    double bpy[2] = { NAN, NAN };
    int zero2[2] = { 0, 0 };
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
    o.n_assets = 2;
    o.symbols = two;
    o.bars_per_year = bpy;
    o.crypto = zero2;
    o.equity = zero2;
    o.cost_rate = rate;
    o.sizer.targets = w;
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
