/* The backtest loop: the only module that knows every stage. */
#include "ballast/engine.h"

#include "ballast/numfmt.h"
#include "ballast/timeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bars whose spacing sets an asset's bar size (SPEC §3: "median spacing
 * of its first bars"), so annualisation never looks ahead. */
#define FIRST_BARS 64

/* Per-run scratch, sized once so the step loop never allocates. */
struct work {
    size_t n;
    unsigned char *has_bar, *warm, *was_warm, *trade, *fresh;
    double *high, *low, *close;
    double *vol_ann, *corr, *target, *target_last, *w, *rate, *sizer_work;
    double *bpy, *rv_sum, *rv_sq, *wsum;
    size_t *rv_n;
};

static void work_free(struct work *k)
{
    free(k->has_bar);
    free(k->warm);
    free(k->was_warm);
    free(k->trade);
    free(k->fresh);
    free(k->high);
    free(k->low);
    free(k->close);
    free(k->vol_ann);
    free(k->corr);
    free(k->target);
    free(k->target_last);
    free(k->w);
    free(k->rate);
    free(k->sizer_work);
    free(k->bpy);
    free(k->rv_sum);
    free(k->rv_sq);
    free(k->wsum);
    free(k->rv_n);
}

static int work_alloc(struct work *k, size_t n)
{
    memset(k, 0, sizeof(*k));
    k->n = n;
    k->has_bar = calloc(n, 1);
    k->warm = calloc(n, 1);
    k->was_warm = calloc(n, 1);
    k->trade = calloc(n, 1);
    k->fresh = calloc(n, 1);
    k->high = calloc(n, sizeof(double));
    k->low = calloc(n, sizeof(double));
    k->close = calloc(n, sizeof(double));
    k->vol_ann = calloc(n, sizeof(double));
    k->corr = calloc(n * n, sizeof(double));
    k->target = calloc(n, sizeof(double));
    k->target_last = calloc(n, sizeof(double));
    k->w = calloc(n, sizeof(double));
    k->rate = calloc(n, sizeof(double));
    k->sizer_work = calloc(BAL_SIZER_WORK(n), sizeof(double));
    k->bpy = calloc(n, sizeof(double));
    k->rv_sum = calloc(n, sizeof(double));
    k->rv_sq = calloc(n, sizeof(double));
    k->wsum = calloc(n, sizeof(double));
    k->rv_n = calloc(n, sizeof(size_t));
    return k->has_bar && k->warm && k->was_warm && k->trade && k->fresh
           && k->high
           && k->low && k->close && k->vol_ann && k->corr && k->target
           && k->target_last && k->w && k->rate && k->sizer_work && k->bpy
           && k->rv_sum && k->rv_sq && k->wsum && k->rv_n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

double bal_engine_bars_per_year(const bal_series *s, int crypto, int equity)
{
    int64_t gaps[FIRST_BARS];
    size_t i, k = 0;
    double days = crypto ? 365.25 : equity ? 252 : 260;
    double spacing;

    for (i = 1; i < s->n && k < FIRST_BARS; i++)
        gaps[k++] = s->time[i] - s->time[i - 1];
    if (k == 0)
        return days;                    /* one bar: assume daily */
    qsort(gaps, k, sizeof(gaps[0]), cmp_i64);
    spacing = k % 2 ? (double)gaps[k / 2]
                    : 0.5 * ((double)gaps[k / 2 - 1] + (double)gaps[k / 2]);
    return days * 86400.0 / spacing;
}

static unsigned needs(const bal_engine_options *o)
{
    unsigned need = 0;

    if (o->sizer.method == BAL_SIZE_INVERSE_VOL || !isnan(o->sizer.target_vol))
        need |= BAL_ROLLING_NEED_VOL;
    if (!isnan(o->sizer.target_vol) && o->n_assets > 1)
        need |= BAL_ROLLING_NEED_CORR;
    if (o->slippage_atr > 0)
        need |= BAL_ROLLING_NEED_ATR;
    return need;
}

static int fail_io(bal_error *err)
{
    return bal_error_set(err, BAL_EIO, "cannot write a series file");
}

/* --series rows for one step: ATR and per-bar volatility of each asset
 * with a bar, correlation of each pair with both bars. */
static int write_streams(const bal_engine_streams *st, const bal_rolling *r,
                         const bal_engine_options *o, const struct work *k,
                         int64_t now, int date_only, bal_error *err)
{
    char tbuf[BAL_NUMFMT_LEN], nbuf[BAL_NUMFMT_LEN];
    size_t i, j, n = o->n_assets;

    bal_timefmt(tbuf, now, date_only);
    for (i = 0; i < n; i++) {
        double v;

        if (!k->has_bar[i])
            continue;
        v = bal_rolling_atr(r, i);
        if (st->atr && !isnan(v)
            && fprintf(st->atr, "%s,%s,%s\n", tbuf, o->symbols[i],
                       bal_numfmt(nbuf, v, "")) < 0)
            return fail_io(err);
        v = bal_rolling_vol(r, i);
        if (st->vol && !isnan(v)
            && fprintf(st->vol, "%s,%s,%s\n", tbuf, o->symbols[i],
                       bal_numfmt(nbuf, v, "")) < 0)
            return fail_io(err);
    }
    if (!st->corr)
        return BAL_OK;
    for (i = 0; i < n; i++) {
        if (!k->has_bar[i])
            continue;
        for (j = i + 1; j < n; j++) {
            double v;

            if (!k->has_bar[j])
                continue;
            v = bal_rolling_corr(r, i, j);
            if (!isnan(v) && fprintf(st->corr, "%s,%s|%s,%s\n", tbuf,
                                     o->symbols[i], o->symbols[j],
                                     bal_numfmt(nbuf, v, "")) < 0)
                return fail_io(err);
        }
    }
    return BAL_OK;
}

static int push_weight(bal_result *res, int64_t time, size_t asset,
                       double target, double actual, bal_error *err)
{
    bal_weight_row *row;

    if (res->n_weights == res->cap_weights) {
        size_t cap = res->cap_weights ? 2 * res->cap_weights : 256;
        bal_weight_row *nw = realloc(res->weights, cap * sizeof(*nw));

        if (!nw)
            return bal_error_set(err, BAL_ENOMEM, "out of memory");
        res->weights = nw;
        res->cap_weights = cap;
    }
    row = &res->weights[res->n_weights++];
    row->time = time;
    row->asset = asset;
    row->target = target;
    row->actual = actual;
    return BAL_OK;
}

/* Current weights v_i / E at the marks. */
static void actual_weights(double *w, const bal_portfolio *p, double e)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        w[i] = (p->units[i] != 0 && e > 0) ? p->units[i] * p->price[i] / e
                                            : 0;
}

static void fill_stats(struct work *k, const bal_rolling *r, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        k->vol_ann[i] = bal_rolling_vol(r, i) * sqrt(k->bpy[i]);
        k->corr[i * n + i] = 1;
        for (j = i + 1; j < n; j++) {
            double rho = bal_rolling_corr(r, i, j);

            k->corr[i * n + j] = rho;
            k->corr[j * n + i] = rho;
        }
    }
}

/* Decides and executes a rebalance at the close of step t. Returns 1 when
 * something traded or was ordered, 0 when min_trade skipped everything. */
static int rebalance(bal_result *res, const bal_engine_options *o,
                     struct work *k, const bal_rolling *r, int64_t now,
                     unsigned triggers, bal_error *err)
{
    bal_portfolio *p = &res->book;
    size_t i, n = o->n_assets, moved = 0;
    double e = bal_portfolio_equity(p), e_post;
    int rc;

    fill_stats(k, r, n);
    rc = bal_sizer_targets(k->target, &o->sizer, n, k->vol_ann, k->corr,
                           k->warm, k->sizer_work, err);
    if (rc < 0)
        return rc;
    actual_weights(k->w, p, e);
    for (i = 0; i < n; i++) {
        double dw = fabs(k->target[i] - k->w[i]);

        k->trade[i] = dw > 0 && !(dw < o->min_trade);
        moved += k->trade[i];
        /* proportional cost; slippage_atr x ATR per unit as a rate */
        k->rate[i] = o->cost_rate[i];
        if (o->slippage_atr > 0)
            k->rate[i] += o->slippage_atr * bal_rolling_atr(r, i)
                          / p->price[i];
    }
    if (moved == 0)
        return 0;
    if (o->fill_close) {
        for (i = 0; i < n; i++)
            k->fresh[i] = k->trade[i] && k->has_bar[i];
        rc = bal_portfolio_fill_close(p, &e_post, k->target, k->fresh, k->rate,
                                      o->fixed_fee, now, triggers, err);
        if (rc < 0)
            return rc;
        for (i = 0; i < n; i++)
            if (k->trade[i] && !k->has_bar[i])
                bal_portfolio_order(p, i, k->target[i] * e_post / p->price[i],
                                    now, e_post, triggers);
    } else {
        for (i = 0; i < n; i++)
            if (k->trade[i])
                bal_portfolio_order(p, i, k->target[i] * e / p->price[i],
                                    now, e, triggers);
    }
    for (i = 0; i < n; i++)
        k->target_last[i] = k->target[i];
    return 1;
}

static int record_row(bal_result *res, const bal_engine_options *o,
                      struct work *k, int64_t now, double *peak,
                      bal_error *err)
{
    bal_portfolio *p = &res->book;
    size_t row = res->n_rows, i, n = o->n_assets;
    double e = bal_portfolio_equity(p), gross = 0, net = 0;
    int rc;

    actual_weights(k->w, p, e);
    for (i = 0; i < n; i++) {
        gross += fabs(k->w[i]);
        net += k->w[i];
        k->wsum[i] += k->w[i];
        if (o->curves_all) {
            rc = push_weight(res, now, i, k->target_last[i], k->w[i], err);
            if (rc < 0)
                return rc;
        }
    }
    if (e > *peak)
        *peak = e;
    res->time[row] = now;
    res->equity[row] = e;
    res->cash[row] = p->cash;
    res->gross[row] = gross;
    res->net[row] = net;
    res->drawdown[row] = *peak > 0 ? e / *peak - 1 : 0;
    res->dd_mult[row] = 1;
    res->n_rows++;
    return BAL_OK;
}

static int alloc_result(bal_result *res, size_t n, size_t steps,
                        bal_error *err)
{
    res->n_assets = n;
    res->time = calloc(steps ? steps : 1, sizeof(*res->time));
    res->equity = calloc(steps ? steps : 1, sizeof(double));
    res->cash = calloc(steps ? steps : 1, sizeof(double));
    res->gross = calloc(steps ? steps : 1, sizeof(double));
    res->net = calloc(steps ? steps : 1, sizeof(double));
    res->drawdown = calloc(steps ? steps : 1, sizeof(double));
    res->dd_mult = calloc(steps ? steps : 1, sizeof(double));
    res->assets = calloc(n, sizeof(*res->assets));
    res->final_corr = calloc(n * n, sizeof(double));
    if (!res->time || !res->equity || !res->cash || !res->gross || !res->net
        || !res->drawdown || !res->dd_mult || !res->assets
        || !res->final_corr)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    return BAL_OK;
}

/* Per-asset table, correlations and exposure figures after the loop. */
static void summarise(bal_result *res, const bal_engine_options *o,
                      struct work *k, const bal_rolling *r)
{
    const bal_portfolio *p = &res->book;
    size_t i, j, n = o->n_assets;
    double e, var, rows = (double)res->n_rows, in_market = 0;

    for (i = 0; i < res->n_rows; i++) {
        res->avg_gross += res->gross[i] / rows;
        if (res->gross[i] > res->max_gross)
            res->max_gross = res->gross[i];
        in_market += res->gross[i] > 0;
    }
    res->time_in_market = rows > 0 ? in_market / rows : 0;
    fill_stats(k, r, n);
    for (i = 0; i < n * n; i++)
        res->final_corr[i] = k->corr[i];
    e = bal_portfolio_equity(p);
    actual_weights(k->w, p, e);
    var = bal_sizer_variance(k->w, n, k->vol_ann, k->corr);
    for (i = 0; i < n; i++) {
        bal_asset_result *a = &res->assets[i];
        double sw = 0, mean;

        a->avg_weight = rows > 0 ? k->wsum[i] / rows : 0;
        a->final_weight = k->w[i];
        a->bars_per_year = k->bpy[i];
        a->pnl = p->units[i] != 0 ? p->units[i] * p->price[i] : 0;
        for (j = 0; j < n; j++) {
            double rho = k->corr[i * n + j];

            if (k->w[j] != 0 && !isnan(rho))
                sw += rho * k->vol_ann[i] * k->vol_ann[j] * k->w[j];
        }
        a->risk_contribution = var > 0 ? k->w[i] * sw / var : NAN;
        if (k->rv_n[i] > 1) {
            mean = k->rv_sum[i] / (double)k->rv_n[i];
            a->realised_vol = sqrt((k->rv_sq[i] - (double)k->rv_n[i] * mean
                                    * mean) / (double)(k->rv_n[i] - 1)
                                   * k->bpy[i]);
        } else {
            a->realised_vol = NAN;
        }
    }
    for (i = 0; i < p->n_trades; i++) {
        const bal_trade *t = &p->trades[i];
        bal_asset_result *a = &res->assets[t->asset];

        a->pnl -= t->units * t->price + t->cost;
        a->costs += t->cost;
        a->trades++;
    }
}

static int date_only_inputs(bal_series *const *series, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++)
        for (j = 0; j < series[i]->n; j++)
            if (series[i]->time[j] % 86400 != 0)
                return 0;
    return 1;
}

int bal_engine_run(bal_result *res, const bal_engine_options *o,
                   bal_series *const *series,
                   const bal_engine_streams *streams, bal_error *err)
{
    bal_timeline tl;
    bal_rolling *roll = NULL;
    struct work k;
    size_t n = o->n_assets, t, i, last, t_last = 0;
    int have_t0 = 0, rc;
    unsigned need = needs(o);
    double peak = 0;

    memset(res, 0, sizeof(*res));
    memset(&tl, 0, sizeof(tl));
    if (!work_alloc(&k, n)) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    if (o->intersection) {
        rc = bal_timeline_intersect(series, n, err);
        if (rc < 0)
            goto done;
    }
    res->date_only = date_only_inputs(series, n);
    rc = bal_timeline_build(&tl, (const bal_series *const *)series, n, err);
    if (rc < 0)
        goto done;
    rc = bal_rolling_new(&roll, n, &o->rolling, err);
    if (rc < 0)
        goto done;
    rc = alloc_result(res, n, tl.n_steps, err);
    if (rc < 0)
        goto done;
    rc = bal_portfolio_init(&res->book, n, o->capital, err);
    if (rc < 0)
        goto done;
    res->n_steps = tl.n_steps;
    for (i = 0; i < n; i++) {
        k.bpy[i] = o->bars_per_year && !isnan(o->bars_per_year[i])
                       ? o->bars_per_year[i]
                       : bal_engine_bars_per_year(series[i], o->crypto[i],
                                                  o->equity[i]);
        k.target_last[i] = 0;
    }
    /* last = the final step inside [start, end]; no rebalance there */
    last = o->has_end ? bal_timeline_lower_bound(&tl, o->end + 1)
                      : tl.n_steps;
    if (last == 0 || (o->has_start && tl.time[last - 1] < o->start)) {
        rc = bal_error_set(err, BAL_EINVAL,
                           "no timeline step inside data.start..data.end");
        goto done;
    }
    last--;

    for (t = 0; t <= last; t++) {
        const int32_t *bars = &tl.bar[t * n];
        int64_t now = tl.time[t];
        unsigned triggers = 0;
        int traded = 0;
        double e;

        /* 1. orders fill at the open of each asset's own next bar */
        for (i = 0; i < n; i++) {
            const bal_series *s = series[i];
            int32_t b = bars[i];

            k.has_bar[i] = b >= 0;
            if (b < 0)
                continue;
            k.close[i] = s->close[b];
            k.high[i] = s->high ? s->high[b] : NAN;
            k.low[i] = s->low ? s->low[b] : NAN;
            if (have_t0 && !isnan(res->book.order[i])) {
                double px = s->open ? s->open[b] : s->close[b];
                double rate = o->cost_rate[i];

                if (o->slippage_atr > 0)
                    rate += o->slippage_atr * bal_rolling_atr(roll, i) / px;
                rc = bal_portfolio_fill_order(&res->book, i, px, rate,
                                              o->fixed_fee, now, err);
                if (rc < 0)
                    goto done;
            }
        }
        /* 2. the close: marks and statistics up to and including t */
        for (i = 0; i < n; i++) {
            if (!k.has_bar[i])
                continue;
            if (have_t0 && !isnan(res->book.price[i])) {
                double rt = o->rolling.simple_returns
                                ? k.close[i] / res->book.price[i] - 1
                                : log(k.close[i] / res->book.price[i]);

                k.rv_sum[i] += rt;
                k.rv_sq[i] += rt * rt;
                k.rv_n[i]++;
            }
            res->book.price[i] = k.close[i];
        }
        bal_rolling_step(roll, k.has_bar, k.high, k.low, k.close);
        if (streams) {
            rc = write_streams(streams, roll, o, &k, now, res->date_only,
                               err);
            if (rc < 0)
                goto done;
        }
        if (o->has_start && now < o->start)
            continue;                   /* warm-up only */
        /* 3. warm-up and t0 (SPEC §12) */
        for (i = 0; i < n; i++) {
            k.was_warm[i] = k.warm[i];
            k.warm[i] = !isnan(res->book.price[i])
                        && bal_rolling_warm(roll, i, need);
        }
        if (!have_t0) {
            size_t n_warm = 0;

            for (i = 0; i < n; i++)
                n_warm += k.warm[i];
            if (n_warm == 0 || (!o->late_zero && n_warm < n))
                continue;
            have_t0 = 1;
            res->t0 = t;
            triggers = BAL_TRIG_INITIAL;
        }
        e = bal_portfolio_equity(&res->book);
        if (e <= 0 && !res->ruined) {
            bal_portfolio_liquidate(&res->book);
            res->book.cash = 0;
            res->ruined = 1;
        }
        /* 4. the decision at the close of t */
        if (!triggers && !res->ruined && t < last) {
            if (bal_schedule_due(&o->rebalance, t, res->t0, now,
                                 tl.time[t + 1]))
                triggers |= BAL_TRIG_SCHEDULE;
            if (bal_portfolio_pending(&res->book) == 0) {
                actual_weights(k.w, &res->book, e);
                triggers |= bal_drift_triggers(&o->rebalance, k.w,
                                               k.target_last, n);
            }
            if (o->late_zero)
                for (i = 0; i < n; i++)
                    if (k.warm[i] && !k.was_warm[i])
                        triggers |= BAL_TRIG_UNIVERSE;
            if (t - t_last < o->rebalance.cooldown)
                triggers = 0;
        }
        if (triggers) {
            rc = rebalance(res, o, &k, roll, now, triggers, err);
            if (rc < 0)
                goto done;
            if (rc > 0 && !(triggers & BAL_TRIG_INITIAL)) {
                unsigned b;

                res->rebalances++;
                for (b = 0; b < BAL_TRIG_COUNT; b++)
                    res->by_trigger[b] += (triggers >> b) & 1u;
            }
            if (rc > 0)
                t_last = t;
            traded = rc > 0;
        }
        rc = record_row(res, o, &k, now, &peak, err);
        if (rc < 0)
            goto done;
        if (traded && !o->curves_all) {
            for (i = 0; i < n; i++) {
                rc = push_weight(res, now, i, k.target_last[i], k.w[i], err);
                if (rc < 0)
                    goto done;
            }
        }
    }
    if (!have_t0) {
        rc = bal_error_set(err, BAL_EINVAL,
                           "the assets never all finish their warm-up "
                           "(%zu timeline steps); shorten the windows or "
                           "add data", tl.n_steps);
        goto done;
    }
    rc = bal_metrics_compute(&res->metrics, res->equity, res->time,
                             res->n_rows, &o->metrics, err);
    if (rc < 0 && res->n_rows < 2) {
        /* one row: no returns; report the curve without metrics */
        memset(&res->metrics, 0, sizeof(res->metrics));
        rc = BAL_OK;
    }
    if (rc < 0)
        goto done;
    if (res->metrics.n_returns > 0)
        res->turnover = res->metrics.periods_per_year
                        / (double)res->metrics.n_returns
                        * res->book.turnover_sum;
    summarise(res, o, &k, roll);
    rc = BAL_OK;
done:
    bal_rolling_free(roll);
    bal_timeline_release(&tl);
    work_free(&k);
    return rc;
}

void bal_result_release(bal_result *r)
{
    if (!r)
        return;
    free(r->time);
    free(r->equity);
    free(r->cash);
    free(r->gross);
    free(r->net);
    free(r->drawdown);
    free(r->dd_mult);
    free(r->weights);
    free(r->assets);
    free(r->final_corr);
    bal_portfolio_release(&r->book);
    memset(r, 0, sizeof(*r));
}

/* ---- config -> options --------------------------------------------- */

static int unsupported(bal_error *err, const char *path, const char *what)
{
    return bal_error_set(err, BAL_ECONFIG, "%s: %s is not implemented in "
                         "this version", path, what);
}

/* Every option this version cannot honour is an error, so no config runs
 * with a feature silently switched off. */
static int check_supported(const bal_config *c, bal_error *err)
{
    size_t i, k;

    if (c->sizing.method > BAL_METHOD_INVERSE_VOL)
        return unsupported(err, "sizing.method", "this method (use fixed, "
                           "equal or inverse_vol)");
    if (c->direction.mode != BAL_DIR_LONG)
        return unsupported(err, "direction.mode", "a mode other than long");
    if (c->sizing.drawdown.enabled)
        return unsupported(err, "sizing.drawdown", "the drawdown governor");
    if (c->sizing.regime_scale.trending != 1 || c->sizing.regime_scale.ranging
        != 1 || c->sizing.regime_scale.shock != 1)
        return unsupported(err, "sizing.regime_scale", "regime scaling");
    if (!isnan(c->sizing.cluster_risk_cap))
        return unsupported(err, "sizing.cluster_risk_cap", "a cluster cap");
    for (k = 0; k < BAL_N_CLASSES; k++)
        if (!isnan(c->sizing.class_caps[k]))
            return unsupported(err, "sizing.class_caps", "class caps");
    if (c->engine.shrinkage_ledoit_wolf || c->engine.shrinkage != 0)
        return unsupported(err, "engine.shrinkage", "shrinkage");
    if (c->engine.stress_blend != 0)
        return unsupported(err, "engine.stress_blend", "stress blending");
    if (!isnan(c->rebalance.vol_shift))
        return unsupported(err, "rebalance.vol_shift", "this trigger");
    if (!isnan(c->rebalance.corr_shift))
        return unsupported(err, "rebalance.corr_shift", "this trigger");
    if (!isnan(c->rebalance.target_shift))
        return unsupported(err, "rebalance.target_shift", "this trigger");
    if (c->rebalance.regime_change)
        return unsupported(err, "rebalance.regime_change", "this trigger");
    if (!isnan(c->rebalance.drawdown_step))
        return unsupported(err, "rebalance.drawdown_step", "this trigger");
    if (c->execution.cash_rate != 0)
        return unsupported(err, "execution.cash_rate", "interest on cash");
    if (c->execution.borrow_rate != 0)
        return unsupported(err, "execution.borrow_rate", "borrow costs");
    if (c->data.benchmark)
        return unsupported(err, "data.benchmark", "a benchmark");
    for (i = 0; i < c->n_assets; i++) {
        const bal_asset_config *a = &c->assets[i];
        char path[64];

        if (strcmp(a->quote, c->account_currency)) {
            snprintf(path, sizeof(path), "data.assets[%zu].quote", i);
            return unsupported(err, path, "currency conversion");
        }
        if (!isnan(a->lot_size)) {
            snprintf(path, sizeof(path), "data.assets[%zu].lot_size", i);
            return unsupported(err, path, "lot rounding");
        }
    }
    return BAL_OK;
}

void bal_engine_setup_release(bal_engine_setup *s)
{
    if (!s)
        return;
    free(s->symbols);
    free(s->bars_per_year);
    free(s->cost_rate);
    free(s->targets);
    free(s->crypto);
    free(s->equity);
    memset(s, 0, sizeof(*s));
}

int bal_engine_setup_init(bal_engine_setup *s, const bal_config *c,
                          bal_error *err)
{
    bal_engine_options *o = &s->opt;
    size_t i, n = c->n_assets;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = check_supported(c, err);
    if (rc < 0)
        return rc;
    s->symbols = calloc(n, sizeof(*s->symbols));
    s->bars_per_year = calloc(n, sizeof(double));
    s->cost_rate = calloc(n, sizeof(double));
    s->targets = calloc(n, sizeof(double));
    s->crypto = calloc(n, sizeof(int));
    s->equity = calloc(n, sizeof(int));
    if (!s->symbols || !s->bars_per_year || !s->cost_rate || !s->targets
        || !s->crypto || !s->equity)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        const bal_asset_config *a = &c->assets[i];
        double bps = a->cost_bps;

        if (isnan(bps))
            bps = c->execution.class_cost_bps[a->asset_class];
        if (isnan(bps))
            bps = c->execution.cost_bps;
        s->symbols[i] = a->symbol;
        s->bars_per_year[i] = a->bars_per_year;
        s->cost_rate[i] = (bps + c->execution.spread_bps / 2) / 1e4;
        s->crypto[i] = a->asset_class == BAL_CLASS_CRYPTO;
        s->equity[i] = a->asset_class == BAL_CLASS_EQUITY;
        s->targets[i] = c->sizing.targets && !isnan(c->sizing.targets[i])
                            ? c->sizing.targets[i] : 0;
    }
    o->n_assets = n;
    o->symbols = s->symbols;
    o->bars_per_year = s->bars_per_year;
    o->crypto = s->crypto;
    o->equity = s->equity;
    o->cost_rate = s->cost_rate;
    o->fixed_fee = c->execution.fixed_fee;
    o->slippage_atr = c->execution.slippage_atr;
    o->fill_close = c->execution.fill == BAL_FILL_CLOSE;
    o->capital = c->capital;
    o->intersection = c->data.calendar == BAL_CAL_INTERSECTION;
    o->has_start = c->data.has_start;
    o->start = c->data.start;
    o->has_end = c->data.has_end;
    o->end = c->data.end;
    o->late_zero = c->data.late_assets == BAL_LATE_ZERO;
    o->rolling.atr_window = c->engine.atr_window;
    o->rolling.vol_window = c->engine.vol_window;
    o->rolling.corr_window = c->engine.corr_window;
    o->rolling.simple_returns = c->engine.returns == BAL_RET_SIMPLE;
    o->rolling.vol_ewma = c->engine.vol == BAL_EST_EWMA;
    o->rolling.corr_ewma = c->engine.corr == BAL_EST_EWMA;
    o->rolling.ewma_lambda = c->engine.ewma_lambda;
    o->sizer.method = c->sizing.method == BAL_METHOD_FIXED ? BAL_SIZE_FIXED
                      : c->sizing.method == BAL_METHOD_EQUAL
                          ? BAL_SIZE_EQUAL : BAL_SIZE_INVERSE_VOL;
    o->sizer.targets = s->targets;
    o->sizer.max_weight = c->sizing.max_weight;
    o->sizer.target_vol = c->sizing.target_vol;
    o->sizer.max_gross = c->sizing.max_gross;
    o->rebalance.schedule = (int)c->rebalance.schedule;
    o->rebalance.every = c->rebalance.schedule_steps;
    o->rebalance.drift = c->rebalance.drift;
    o->rebalance.drift_rel = c->rebalance.drift_rel;
    o->rebalance.cooldown = c->rebalance.cooldown;
    o->min_trade = c->rebalance.min_trade;
    o->metrics.periods_per_year = c->periods_per_year;
    o->metrics.risk_free = c->risk_free;
    o->metrics.mar = c->mar;
    o->curves_all = c->output.curves == BAL_CURVES_ALL;
    return BAL_OK;
}
