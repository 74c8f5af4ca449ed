#include "ballast/portfolio.h"

#include "ballast/rebalance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int bal_portfolio_init(bal_portfolio *p, size_t n, double capital,
                       bal_error *err)
{
    size_t i;

    memset(p, 0, sizeof(*p));
    p->n = n;
    p->cash = capital;
    p->units = calloc(n, sizeof(*p->units));
    p->price = calloc(n, sizeof(*p->price));
    p->order = calloc(n, sizeof(*p->order));
    p->order_decided = calloc(n, sizeof(*p->order_decided));
    p->order_triggers = calloc(n, sizeof(*p->order_triggers));
    p->order_equity = calloc(n, sizeof(*p->order_equity));
    if (!p->units || !p->price || !p->order || !p->order_decided
        || !p->order_triggers || !p->order_equity)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        p->price[i] = NAN;
        p->order[i] = NAN;
    }
    return BAL_OK;
}

void bal_portfolio_release(bal_portfolio *p)
{
    if (!p)
        return;
    free(p->units);
    free(p->price);
    free(p->order);
    free(p->order_decided);
    free(p->order_triggers);
    free(p->order_equity);
    free(p->trades);
    memset(p, 0, sizeof(*p));
}

double bal_portfolio_equity(const bal_portfolio *p)
{
    double e = p->cash;
    size_t i;

    for (i = 0; i < p->n; i++)
        if (p->units[i] != 0)
            e += p->units[i] * p->price[i];
    return e;
}

size_t bal_portfolio_pending(const bal_portfolio *p)
{
    size_t i, k = 0;

    for (i = 0; i < p->n; i++)
        k += !isnan(p->order[i]);
    return k;
}

static int push_trade(bal_portfolio *p, const bal_trade *t, bal_error *err)
{
    if (p->n_trades == p->cap_trades) {
        size_t cap = p->cap_trades ? 2 * p->cap_trades : 256;
        bal_trade *nt = realloc(p->trades, cap * sizeof(*nt));

        if (!nt)
            return bal_error_set(err, BAL_ENOMEM, "out of memory");
        p->trades = nt;
        p->cap_trades = cap;
    }
    p->trades[p->n_trades++] = *t;
    return BAL_OK;
}

/* f(E) = E - E_pre + sum_i (rate_i |w_i E - v_i| + fee_i): convex and
 * increasing when sum rate_i |w_i| < 1; *slope gets its left derivative. */
static double cost_gap(const bal_portfolio *p, double e, double e_pre,
                       const double *w, const unsigned char *trade,
                       const double *rate, double fee, double *slope)
{
    double f = e - e_pre, d = 1;
    size_t i;

    for (i = 0; i < p->n; i++) {
        double v, gap;

        if (!trade[i])
            continue;
        v = p->units[i] != 0 ? p->units[i] * p->price[i] : 0;
        gap = w[i] * e - v;
        if (w[i] == 0 && v == 0)
            continue;                   /* nothing to trade: no fee */
        f += rate[i] * fabs(gap) + fee;
        /* left derivative of |w E - v|: at a kink take the lower slope */
        d += rate[i] * (gap > 0 ? w[i] : gap < 0 ? -w[i] : -fabs(w[i]));
    }
    *slope = d;
    return f;
}

int bal_portfolio_post_equity(const bal_portfolio *p, double *equity_out,
                              const double *w, const unsigned char *trade,
                              const double *rate, double fee, bal_error *err)
{
    double e_pre = bal_portfolio_equity(p), e = e_pre, f, slope;
    size_t iter;

    /* Newton from the right on a convex piecewise-linear f: every step
     * lands at or right of the root and the last one on it exactly. */
    for (iter = 0; iter < 2 * p->n + 8; iter++) {
        double next;

        f = cost_gap(p, e, e_pre, w, trade, rate, fee, &slope);
        if (f <= 0)
            break;
        if (slope <= 0)
            return bal_error_set(err, BAL_ENUMERIC,
                                 "trading costs exceed the equity they "
                                 "are paid from");
        next = e - f / slope;
        if (next >= e)
            break;                      /* rounding: no further progress */
        e = next;
    }
    if (!(e > 0))
        return bal_error_set(err, BAL_ENUMERIC,
                             "trading costs exceed the equity they are "
                             "paid from");
    *equity_out = e;
    return BAL_OK;
}

int bal_portfolio_fill_close(bal_portfolio *p, double *equity_out,
                             const double *w, const unsigned char *trade,
                             const double *rate, double fee, int64_t time,
                             unsigned triggers, bal_error *err)
{
    double e_pre = bal_portfolio_equity(p), e;
    size_t i;
    int rc;

    rc = bal_portfolio_post_equity(p, &e, w, trade, rate, fee, err);
    if (rc < 0)
        return rc;
    for (i = 0; i < p->n; i++) {
        bal_trade t;
        double v, target, du, cost;

        if (!trade[i])
            continue;
        v = p->units[i] != 0 ? p->units[i] * p->price[i] : 0;
        target = w[i] * e;
        if (target == v)
            continue;
        du = target / p->price[i] - p->units[i];
        cost = rate[i] * fabs(target - v) + fee;
        p->cash -= target - v + cost;
        p->units[i] = target / p->price[i];
        p->total_costs += cost;
        if (!(triggers & BAL_TRIG_INITIAL))
            p->turnover_sum += fabs(target - v) / (2 * e_pre);
        t.time = time;
        t.decided = time;
        t.asset = i;
        t.units = du;
        t.price = p->price[i];
        t.cost = cost;
        t.triggers = triggers;
        rc = push_trade(p, &t, err);
        if (rc < 0)
            return rc;
    }
    *equity_out = bal_portfolio_equity(p);
    return BAL_OK;
}

void bal_portfolio_order(bal_portfolio *p, size_t i, double units,
                         int64_t decided, double equity, unsigned triggers)
{
    p->order[i] = units;
    p->order_decided[i] = decided;
    p->order_equity[i] = equity;
    p->order_triggers[i] = triggers;
}

int bal_portfolio_fill_order(bal_portfolio *p, size_t i, double price,
                             double rate, double fee, int64_t time,
                             bal_error *err)
{
    bal_trade t;
    double du, cost;

    if (isnan(p->order[i]))
        return BAL_OK;
    du = p->order[i] - p->units[i];
    p->order[i] = NAN;
    if (du == 0)
        return BAL_OK;
    cost = rate * fabs(du) * price + fee;
    p->cash -= du * price + cost;
    p->units[i] += du;
    p->total_costs += cost;
    if (p->order_equity[i] > 0
        && !(p->order_triggers[i] & BAL_TRIG_INITIAL))
        p->turnover_sum += fabs(du) * price / (2 * p->order_equity[i]);
    t.time = time;
    t.decided = p->order_decided[i];
    t.asset = i;
    t.units = du;
    t.price = price;
    t.cost = cost;
    t.triggers = p->order_triggers[i];
    return push_trade(p, &t, err);
}

void bal_portfolio_liquidate(bal_portfolio *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        if (p->units[i] != 0)
            p->cash += p->units[i] * p->price[i];
        p->units[i] = 0;
        p->order[i] = NAN;
    }
}
