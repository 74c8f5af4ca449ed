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
    size_t n, n_series;
    unsigned char *has_bar, *warm, *was_warm, *trade, *fresh;
    double *high, *low, *close;
    double *vol_ann, *corr, *target, *target_last, *w, *rate, *sizer_work;
    double *bpy, *rv_sum, *rv_sq, *wsum;
    size_t *rv_n;
    double *local;          /* n: last close in the quote currency */
    double *lastc;          /* n_series: last close of every series */
    double *dir;            /* n: direction at the decision */
    double *closes;         /* n x dir_cap ring buffers (trend) */
    size_t dir_cap, *dir_n;
    size_t *sig_next;       /* n: next signal index */
    double *sig_value;      /* n: signal in force */
    double *sigma_last, *fresh_target;
    double *shadow_units;
    double shadow_cash;
    double *stress_buf;     /* n x n stress correlations for the blend */
    double *rs;             /* n simple returns of this step */
    bal_cov_psd *psd;
    bal_cov_panel *panel;   /* Ledoit-Wolf only */
    bal_cov_stress *stress;
    bal_alloc_work *alloc;
    double *cov, *alloc_b, *atr_frac;
    size_t *cluster;        /* 2n union-find parents (cluster_risk_cap) */
    size_t *fx_next;        /* per FX-only series: its next bar */
    double *pc;             /* pair correlations of this step (npairs) */
    double *pc_last;        /* ... at the last rebalance (corr_shift) */
    size_t npairs;
    int pc_fresh;           /* pc holds this step's values */
    size_t min_obs;         /* returns a stress correlation needs */
    size_t psd_repairs;
    double delta;
    double mult_last;       /* governor multiplier at the last rebalance */
    int regime_last;        /* portfolio regime at the last rebalance */
    int regime_now;         /* portfolio regime at this step */
};

static void work_free(struct work *k)
{
    void *p[] = { k->has_bar, k->warm, k->was_warm, k->trade, k->fresh,
                  k->high, k->low, k->close, k->vol_ann, k->corr, k->target,
                  k->target_last, k->w, k->rate, k->sizer_work, k->bpy,
                  k->rv_sum, k->rv_sq, k->wsum, k->rv_n, k->local, k->lastc,
                  k->dir, k->closes, k->dir_n, k->sig_next, k->sig_value,
                  k->sigma_last, k->fresh_target,
                  k->shadow_units, k->stress_buf, k->rs, k->cov,
                  k->alloc_b, k->atr_frac, k->cluster, k->pc,
                  k->pc_last, k->fx_next };
    size_t i;

    for (i = 0; i < sizeof(p) / sizeof(p[0]); i++)
        free(p[i]);
    bal_cov_psd_free(k->psd);
    bal_cov_panel_free(k->panel);
    bal_cov_stress_free(k->stress);
    bal_alloc_work_free(k->alloc);
}

static int work_alloc(struct work *k, size_t n, size_t n_series,
                      size_t dir_cap)
{
    size_t i;

    memset(k, 0, sizeof(*k));
    k->n = n;
    k->n_series = n_series;
    k->dir_cap = dir_cap;
    k->has_bar = calloc(n_series, 1);
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
    k->local = calloc(n, sizeof(double));
    k->lastc = calloc(n_series, sizeof(double));
    k->dir = calloc(n, sizeof(double));
    k->closes = calloc(n * (dir_cap ? dir_cap : 1), sizeof(double));
    k->dir_n = calloc(n, sizeof(size_t));
    k->sig_next = calloc(n, sizeof(size_t));
    k->sig_value = calloc(n, sizeof(double));
    k->sigma_last = calloc(n, sizeof(double));
    k->fresh_target = calloc(n, sizeof(double));
    k->shadow_units = calloc(n, sizeof(double));
    k->stress_buf = calloc(n * n, sizeof(double));
    k->rs = calloc(n, sizeof(double));
    k->cov = calloc(n * n, sizeof(double));
    k->alloc_b = calloc(n, sizeof(double));
    k->atr_frac = calloc(n, sizeof(double));
    k->cluster = calloc(2 * n, sizeof(size_t));
    k->npairs = n * (n - 1) / 2;
    k->fx_next = calloc(n_series - n + 1, sizeof(size_t));
    k->pc = calloc(k->npairs + 1, sizeof(double));
    k->pc_last = calloc(k->npairs + 1, sizeof(double));
    if (!k->stress_buf || !k->rs || !k->cov || !k->alloc_b || !k->atr_frac
        || !k->cluster || !k->pc || !k->pc_last || !k->fx_next
        || bal_alloc_work_new(&k->alloc, n, NULL) < 0)
        return 0;
    if (!(k->has_bar && k->warm && k->was_warm && k->trade && k->fresh
          && k->high && k->low && k->close && k->vol_ann && k->corr
          && k->target && k->target_last && k->w && k->rate
          && k->sizer_work && k->bpy && k->rv_sum && k->rv_sq && k->wsum
          && k->rv_n && k->local && k->lastc && k->dir && k->closes
          && k->dir_n && k->sig_next && k->sig_value && k->sigma_last
          && k->fresh_target && k->shadow_units))
        return 0;
    for (i = 0; i < n_series; i++)
        k->lastc[i] = NAN;
    for (i = 0; i < n; i++) {
        k->local[i] = NAN;
        k->sigma_last[i] = NAN;
    }
    for (i = 0; i < k->npairs; i++)
        k->pc_last[i] = NAN;
    k->mult_last = 1;
    k->regime_last = BAL_REGIME_NONE;
    k->regime_now = BAL_REGIME_NONE;
    return 1;
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

    int given = o->sizer.method == BAL_SIZE_GIVEN;
    int am = o->alloc.method;
    int cov_method = (given && (am == BAL_ALLOC_INVERSE_VOL
                                || am == BAL_ALLOC_ERC || am == BAL_ALLOC_HRP
                                || am == BAL_ALLOC_MIN_VARIANCE))
                     || !isnan(o->cluster_risk_cap);

    if (o->sizer.method == BAL_SIZE_INVERSE_VOL || !isnan(o->sizer.target_vol)
        || !isnan(o->rebalance.vol_shift) || cov_method)
        need |= BAL_ROLLING_NEED_VOL;
    if ((!isnan(o->sizer.target_vol) || !isnan(o->rebalance.corr_shift)
         || (cov_method && am != BAL_ALLOC_INVERSE_VOL))
        && o->n_assets > 1)
        need |= BAL_ROLLING_NEED_CORR;
    if (o->slippage_atr > 0 || (given && am == BAL_ALLOC_INVERSE_ATR))
        need |= BAL_ROLLING_NEED_ATR;
    return need;
}

/* Bars of its own an asset needs before its trend direction is defined. */
static size_t trend_bars(const bal_engine_options *o)
{
    if (o->direction != BAL_DIRECTION_TREND)
        return 0;
    return o->slow ? o->slow : o->lookback + 1;
}

/* Records asset i's close in its ring buffer of recent closes. */
static void push_close(struct work *k, size_t i, double c)
{
    if (!k->dir_cap)
        return;
    k->closes[i * k->dir_cap + k->dir_n[i] % k->dir_cap] = c;
    k->dir_n[i]++;
}

/* The close `back` bars before asset i's latest (0 = latest). */
static double close_back(const struct work *k, size_t i, size_t back)
{
    return k->closes[i * k->dir_cap + (k->dir_n[i] - 1 - back) % k->dir_cap];
}

static double mean_closes(const struct work *k, size_t i, size_t m)
{
    double sum = 0;
    size_t j;

    for (j = 0; j < m; j++)
        sum += close_back(k, i, j);
    return sum / (double)m;
}

static double sign_of(double x)
{
    return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/* d_i for the decision at `now` (SPEC §4.1); signals up to `now` only. */
static void directions(struct work *k, const bal_engine_options *o,
                       int64_t now)
{
    size_t i;

    for (i = 0; i < o->n_assets; i++) {
        switch (o->direction) {
        case BAL_DIRECTION_TREND:
            if (k->dir_n[i] < trend_bars(o))
                k->dir[i] = 0;
            else if (o->slow)
                k->dir[i] = sign_of(mean_closes(k, i, o->fast)
                                    - mean_closes(k, i, o->slow));
            else
                k->dir[i] = sign_of(close_back(k, i, 0)
                                    - close_back(k, i, o->lookback));
            break;
        case BAL_DIRECTION_SIGNALS: {
            const bal_signals *sg = o->signals;

            while (k->sig_next[i] < sg->count[i]
                   && sg->time[i][k->sig_next[i]] <= now)
                k->sig_value[i] = sg->value[i][k->sig_next[i]++];
            k->dir[i] = k->sig_value[i];
            break;
        }
        default:
            k->dir[i] = 1;
        }
    }
}

/* The account-currency value of one unit of quote currency for asset i,
 * from the last closes of its conversion series (1 without conversion). */
static double fx_rate(const struct work *k, const bal_engine_options *o,
                      size_t i)
{
    double r = 1;

    if (!o->fx_leg1)
        return 1;
    if (o->fx_leg1[i] >= 0)
        r *= o->fx_inv1[i] ? 1 / k->lastc[o->fx_leg1[i]]
                           : k->lastc[o->fx_leg1[i]];
    if (o->fx_leg2[i] >= 0)
        r *= o->fx_inv2[i] ? 1 / k->lastc[o->fx_leg2[i]]
                           : k->lastc[o->fx_leg2[i]];
    return r;
}

/* Rounds units toward zero to a whole number of lots. */
static double round_lots(const bal_engine_options *o, size_t i, double u)
{
    double lot;

    if (!o->lot_size || isnan(o->lot_size[i]))
        return u;
    lot = o->lot_size[i];
    return trunc(u / lot) * lot;
}

static int fail_io(bal_error *err)
{
    return bal_error_set(err, BAL_EIO, "cannot write a series file");
}

/* --series rows for one step: ATR and per-bar volatility of each asset
 * with a bar, correlation of each pair with both bars. */
static int write_streams(const bal_engine_streams *st, const bal_rolling *r,
                         const bal_regime *rg, const bal_engine_options *o,
                         const struct work *k, int64_t now, int date_only,
                         bal_error *err)
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
        if (st->regime && bal_regime_warm(rg, i)
            && fprintf(st->regime, "%s,%s,%s\n", tbuf, o->symbols[i],
                       bal_regime_name(bal_regime_asset(rg, i))) < 0)
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

/* Height at which the dendrogram is cut into risk clusters: distance
 * sqrt(0.5 (1 - rho)) = 0.5 links assets whose correlation is >= 0.5. */
#define CLUSTER_CUT 0.5
/* Water-filling rounds for the cluster risk cap; each round scales the
 * worst cluster to the cap to first order, so a few rounds suffice. */
#define CLUSTER_ROUNDS 200

static size_t find_root(size_t *parent, size_t i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

/* Caps every cluster's share of the risk w'Sw at o->cluster_risk_cap by
 * scaling its weights down and spreading the freed weight over the other
 * clusters pro rata (SPEC §4.3), on the allocation b >= 0 (sum kept). */
static int cap_cluster_risk(double *b, struct work *k,
                            const bal_engine_options *o, bal_error *err)
{
    size_t n = o->n_assets, i, j, round, m, *root = k->cluster;
    const bal_alloc_merge *mg;
    const size_t *order;
    double cap = o->cluster_risk_cap;
    int rc;

    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            k->cov[i * n + j] = i == j ? 0
                                : sqrt(fmax(0, 0.5 * (1 - k->corr[i * n
                                                                  + j])));
    rc = bal_alloc_linkage(k->cov, n, o->alloc.linkage, k->alloc, err);
    if (rc < 0)
        return rc;
    m = bal_alloc_tree(k->alloc, &mg, &order);
    /* union-find over ids 0..2n-2: merges under the cut join clusters */
    for (i = 0; i < 2 * n; i++)
        root[i] = i;
    for (i = 0; i + 1 < m; i++) {
        size_t id = n + i;

        if (mg[i].distance <= CLUSTER_CUT) {
            root[find_root(root, mg[i].left)] = id;
            root[find_root(root, mg[i].right)] = id;
        }
    }
    for (round = 0; round < CLUSTER_ROUNDS; round++) {
        double total = 0, worst = 0, sum_in = 0, sum_out = 0, f;
        size_t worst_root = 0;

        total = bal_sizer_risk(k->rs, b, n, k->vol_ann, k->corr);
        if (!(total > 0))
            return BAL_OK;
        for (i = 0; i < n; i++) {
            double share = 0;
            size_t r = find_root(root, i);

            for (j = 0; j < n; j++)
                if (find_root(root, j) == r)
                    share += k->rs[j];
            share /= total;
            if (share > worst) {
                worst = share;
                worst_root = r;
            }
        }
        if (worst <= cap * (1 + 1e-9))
            return BAL_OK;
        for (i = 0; i < n; i++) {
            if (find_root(root, i) == worst_root)
                sum_in += b[i];
            else
                sum_out += b[i];
        }
        if (!(sum_out > 0))
            return BAL_OK;              /* one cluster: nothing to do */
        /* risk scales with the square of the weights, to first order */
        f = sqrt(cap / worst);
        for (i = 0; i < n; i++) {
            if (find_root(root, i) == worst_root)
                b[i] *= f;
            else
                b[i] *= 1 + sum_in * (1 - f) / sum_out;
        }
    }
    return BAL_OK;
}

/* Target weights from the statistics up to now: direction x allocation
 * x overlays (SPEC §4), times the governor's multiplier. */
static int compute_targets(double *out, struct work *k,
                           const bal_engine_options *o, const bal_rolling *r,
                           int64_t now, double mult, int executed,
                           bal_error *err)
{
    bal_sizer_options so = o->sizer;

    fill_stats(k, r, o->n_assets);
    if (o->n_assets > 1) {
        const double *stress = NULL;
        int repaired = 0, rc;

        if (o->cov.stress_blend > 0) {
            bal_cov_stress_matrix(k->stress_buf, k->stress, 1, k->min_obs);
            stress = k->stress_buf;
        }
        rc = bal_cov_sizing_corr(k->corr, &k->delta, &repaired, k->psd,
                                 k->panel, stress, &o->cov, err);
        if (rc < 0)
            return rc;
        k->psd_repairs += executed && repaired != 0;
    }
    if (so.method == BAL_SIZE_GIVEN) {
        size_t i;
        int rc;

        bal_cov_from_corr(k->cov, o->n_assets, k->corr, k->vol_ann);
        for (i = 0; i < o->n_assets; i++)
            k->atr_frac[i] = bal_rolling_atr(r, i) / k->local[i];
        rc = bal_alloc_weights(k->alloc_b, &o->alloc, o->n_assets, k->cov,
                               k->warm, k->atr_frac, k->alloc, err);
        if (rc < 0)
            return rc;
        so.targets = k->alloc_b;
    }
    if (!isnan(o->cluster_risk_cap) && o->n_assets > 1) {
        int rc;

        if (so.method != BAL_SIZE_GIVEN && so.method != BAL_SIZE_FIXED) {
            /* the method's own allocation, then the cap on it */
            so.multiplier = 1;
            so.target_vol = NAN;
            so.direction = NULL;
            so.max_gross = 1e300;
            rc = bal_sizer_targets(k->alloc_b, &so, o->n_assets, k->vol_ann,
                                   k->corr, k->warm, k->sizer_work, err);
            if (rc < 0)
                return rc;
            so = o->sizer;
            so.method = BAL_SIZE_GIVEN;
        } else if (so.method == BAL_SIZE_FIXED) {
            memcpy(k->alloc_b, o->sizer.targets,
                   o->n_assets * sizeof(double));
            so.method = BAL_SIZE_GIVEN;
        }
        rc = cap_cluster_risk(k->alloc_b, k, o, err);
        if (rc < 0)
            return rc;
        so.targets = k->alloc_b;
    }
    directions(k, o, now);
    so.direction = k->dir;
    so.multiplier = mult;
    return bal_sizer_targets(out, &so, o->n_assets, k->vol_ann, k->corr,
                             k->warm, k->sizer_work, err);
}

/* Remembers what the shift triggers compare against. */
static void remember_state(struct work *k, const bal_rolling *r,
                           const bal_engine_options *o, double mult)
{
    size_t i;

    for (i = 0; i < o->n_assets; i++)
        k->sigma_last[i] = bal_rolling_vol(r, i);
    if (!isnan(o->rebalance.corr_shift)) {
        if (!k->pc_fresh) {
            bal_rolling_corr_all(r, k->pc);
            k->pc_fresh = 1;
        }
        memcpy(k->pc_last, k->pc, k->npairs * sizeof(double));
    }
    k->mult_last = mult;
    k->regime_last = k->regime_now;
}

/* Executes a rebalance to k->target at the close of step t. Returns 1 when
 * something traded or was ordered, 0 when min_trade skipped everything. */
static int rebalance(bal_result *res, const bal_engine_options *o,
                     struct work *k, const bal_rolling *r, int64_t now,
                     unsigned triggers, bal_error *err)
{
    bal_portfolio *p = &res->book;
    size_t i, n = o->n_assets, moved = 0;
    double e = bal_portfolio_equity(p), e_post;
    int rc;

    actual_weights(k->w, p, e);
    for (i = 0; i < n; i++) {
        double dw = fabs(k->target[i] - k->w[i]);

        /* a halt goes flat whatever min_trade says */
        k->trade[i] = dw > 0 && (!(dw < o->min_trade)
                                 || (triggers & BAL_TRIG_HALT));
        moved += k->trade[i];
        /* proportional cost; slippage_atr x ATR per unit as a rate */
        k->rate[i] = o->cost_rate[i];
        if (o->slippage_atr > 0)
            k->rate[i] += o->slippage_atr * bal_rolling_atr(r, i)
                          / k->local[i];
    }
    if (moved == 0)
        return 0;
    /* a newer decision replaces every unfilled order (SPEC §5): assets
     * it does not trade keep their holdings, with no order left over */
    for (i = 0; i < n; i++)
        if (!k->trade[i])
            p->order[i] = NAN;
    if (o->fill_close && !o->lot_size) {
        for (i = 0; i < n; i++)
            k->fresh[i] = k->trade[i] && k->has_bar[i];
        rc = bal_portfolio_fill_close(p, &e_post, k->target, k->fresh,
                                      k->rate, o->fixed_fee, now, triggers,
                                      err);
        if (rc < 0)
            return rc;
        for (i = 0; i < n; i++)
            if (k->trade[i] && !k->has_bar[i])
                bal_portfolio_order(p, i, k->target[i] * e_post / p->price[i],
                                    now, e_post, triggers);
    } else {
        double e_size = e;

        if (o->fill_close) {
            /* lots at the close: size on the exact post-trade equity of
             * SPEC §5, round toward zero, the remainder stays in cash */
            for (i = 0; i < n; i++)
                k->fresh[i] = k->trade[i] && k->has_bar[i];
            rc = bal_portfolio_post_equity(p, &e_size, k->target, k->fresh,
                                           k->rate, o->fixed_fee, err);
            if (rc < 0)
                return rc;
        }
        for (i = 0; i < n; i++) {
            if (!k->trade[i])
                continue;
            bal_portfolio_order(p, i, round_lots(o, i, k->target[i] * e_size
                                                           / p->price[i]),
                                now, e, triggers);
            /* with lots, a close fill is an order filled at once */
            if (o->fill_close && k->has_bar[i]) {
                rc = bal_portfolio_fill_order(p, i, p->price[i], k->rate[i],
                                              o->fixed_fee, now, err);
                if (rc < 0)
                    return rc;
            }
        }
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
    res->regime = calloc(steps ? steps : 1, sizeof(int));
    res->assets = calloc(n, sizeof(*res->assets));
    res->final_corr = calloc(n * n, sizeof(double));
    res->calm_corr = calloc(n * n, sizeof(double));
    res->stress_corr = calloc(n * n, sizeof(double));
    if (!res->time || !res->equity || !res->cash || !res->gross || !res->net
        || !res->drawdown || !res->dd_mult || !res->regime || !res->assets
        || !res->final_corr || !res->calm_corr || !res->stress_corr)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    return BAL_OK;
}

/* Per-asset table, correlations and exposure figures after the loop. */
static void summarise(bal_result *res, const bal_engine_options *o,
                      struct work *k, const bal_rolling *r)
{
    const bal_portfolio *p = &res->book;
    size_t i, n = o->n_assets;
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
    bal_cov_stress_matrix(res->calm_corr, k->stress, 0, k->min_obs);
    bal_cov_stress_matrix(res->stress_corr, k->stress, 1, k->min_obs);
    res->n_stress_pairs = bal_cov_stress_top(res->stress_i, res->stress_j,
                                             res->stress_diff,
                                             BAL_COV_STRESS_PAIRS, k->stress,
                                             k->min_obs);
    res->stress_steps = bal_cov_stress_steps(k->stress, 1);
    res->psd_repairs = k->psd_repairs;
    res->shrinkage = k->delta;
    if (o->sizer.method == BAL_SIZE_GIVEN && o->alloc.method == BAL_ALLOC_HRP) {
        const bal_alloc_merge *mg;
        const size_t *order;
        size_t m = bal_alloc_tree(k->alloc, &mg, &order);

        res->merges = m > 1 ? malloc((m - 1) * sizeof(*mg)) : NULL;
        res->leaf_order = m > 0 ? malloc(m * sizeof(*order)) : NULL;
        if ((m <= 1 || res->merges) && (m == 0 || res->leaf_order)) {
            if (m > 1)
                memcpy(res->merges, mg, (m - 1) * sizeof(*mg));
            if (m > 0)
                memcpy(res->leaf_order, order, m * sizeof(*order));
            res->n_leaves = m;
        }
    }
    e = bal_portfolio_equity(p);
    actual_weights(k->w, p, e);
    var = bal_sizer_variance(k->w, n, k->vol_ann, k->corr);
    bal_sizer_risk(k->rs, k->w, n, k->vol_ann, k->corr);
    for (i = 0; i < n; i++) {
        bal_asset_result *a = &res->assets[i];
        double mean;

        a->avg_weight = rows > 0 ? k->wsum[i] / rows : 0;
        a->final_weight = k->w[i];
        a->bars_per_year = k->bpy[i];
        a->pnl = p->units[i] != 0 ? p->units[i] * p->price[i] : 0;
        a->risk_contribution = var > 0 ? k->rs[i] / var : NAN;
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

static void metrics_undefined(bal_metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->periods_per_year = NAN;
    m->total_return = m->cagr = m->cagr_calendar = NAN;
    m->volatility = m->sharpe = m->sortino = NAN;
    m->max_drawdown = m->calmar = m->ulcer_index = NAN;
    m->var_95 = m->cvar_95 = m->skew = m->excess_kurtosis = NAN;
    m->best_period = m->worst_period = m->hit_rate = NAN;
    m->recovery_factor = NAN;
    m->max_drawdown_duration_days = m->longest_underwater_days = NAN;
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

/* Triggers at the close of step t > t0 (SPEC §5), before cooldown. */
static unsigned find_triggers(bal_result *res, const bal_engine_options *o,
                              struct work *k, const bal_rolling *r,
                              const bal_timeline *tl, size_t t, double e,
                              double mult, double gov_mult, bal_error *err,
                              int *rc)
{
    const bal_rebalance_options *ro = &o->rebalance;
    size_t i, n = o->n_assets;
    unsigned trig = 0;

    *rc = BAL_OK;
    if (bal_schedule_due(ro, t, res->t0, tl->time[t], tl->time[t + 1]))
        trig |= BAL_TRIG_SCHEDULE;
    if (bal_portfolio_pending(&res->book) == 0) {
        actual_weights(k->w, &res->book, e);
        trig |= bal_drift_triggers(ro, k->w, k->target_last, n);
    }
    if (o->late_zero)
        for (i = 0; i < n; i++)
            if (k->warm[i] && !k->was_warm[i])
                trig |= BAL_TRIG_UNIVERSE;
    if (!isnan(ro->vol_shift)) {
        for (i = 0; i < n; i++)
            k->fresh_target[i] = bal_rolling_vol(r, i);
        if (bal_max_rel_change(k->fresh_target, k->sigma_last, n)
            > ro->vol_shift)
            trig |= BAL_TRIG_VOL_SHIFT;
    }
    if (!isnan(ro->corr_shift)) {
        if (!k->pc_fresh) {
            bal_rolling_corr_all(r, k->pc);
            k->pc_fresh = 1;
        }
        if (bal_max_abs_change(k->pc, k->pc_last, k->npairs)
            > ro->corr_shift)
            trig |= BAL_TRIG_CORR_SHIFT;
    }
    if (!isnan(ro->target_shift) && (t - res->t0) % ro->target_check == 0) {
        *rc = compute_targets(k->fresh_target, k, o, r, tl->time[t], mult,
                              0, err);
        if (*rc < 0)
            return 0;
        if (bal_max_abs_change(k->fresh_target, k->target_last, n)
            > ro->target_shift)
            trig |= BAL_TRIG_TARGET_SHIFT;
    }
    if (!isnan(ro->drawdown_step) && fabs(gov_mult - k->mult_last)
        > ro->drawdown_step)
        trig |= BAL_TRIG_DRAWDOWN_STEP;
    if (ro->regime_change && k->regime_now != k->regime_last)
        trig |= BAL_TRIG_REGIME_CHANGE;
    return trig;
}

static double shadow_equity(const struct work *k, const bal_portfolio *p)
{
    double e = k->shadow_cash;
    size_t i;

    for (i = 0; i < p->n; i++)
        if (k->shadow_units[i] != 0)
            e += k->shadow_units[i] * p->price[i];
    return e;
}

/* The governor's multiplier for this step; on a halt the shadow book
 * takes the last pre-halt targets at the current marks. */
static double govern(bal_governor *g, struct work *k,
                     const bal_portfolio *p, double e, unsigned *trig)
{
    double m;
    int event;
    size_t i;

    m = bal_governor_step(g, e, shadow_equity(k, p), &event);
    if (event > 0) {
        k->shadow_cash = e;
        for (i = 0; i < p->n; i++) {
            k->shadow_units[i] = 0;
            if (k->target_last[i] == 0 || !isfinite(p->price[i]))
                continue;               /* no position, or no price yet */
            k->shadow_units[i] = k->target_last[i] * e / p->price[i];
            k->shadow_cash -= k->target_last[i] * e;
        }
        *trig |= BAL_TRIG_HALT;
    } else if (event < 0) {
        *trig |= BAL_TRIG_RESUME;
    }
    return m;
}

/* Asset i has the correlations it needs with every asset that has data:
 * a pair with an asset still without a bar does not hold it back (that
 * asset has no weight), so late_assets "zero" can start before every
 * asset exists (SPEC §12). */
static int corr_warm(const bal_rolling *r, const bal_engine_options *o,
                     size_t i, unsigned need)
{
    size_t j;

    if (!(need & BAL_ROLLING_NEED_CORR))
        return 1;
    for (j = 0; j < o->n_assets; j++)
        if (j != i && bal_rolling_bars(r, j) > 0
            && bal_rolling_pair_count(r, i, j) < o->rolling.corr_window)
            return 0;
    return 1;
}

/* Stress / calm statistics of this step (SPEC §3), and the panel of
 * all-bar steps for Ledoit-Wolf. */
static void track_stress(struct work *k, const bal_engine_options *o,
                         const bal_rolling *r, int shock)
{
    size_t i, j, n = o->n_assets, all = 1;
    double x, y;

    for (i = 0; i < n; i++) {
        double rt = bal_rolling_ret(r, i);

        all &= k->has_bar[i];
        k->rs[i] = k->has_bar[i] && !isnan(rt)
                       ? (o->rolling.simple_returns ? rt : expm1(rt)) : NAN;
    }
    bal_cov_stress_begin(k->stress, k->rs, shock);
    for (i = 0; i < n; i++) {
        if (!k->has_bar[i])
            continue;
        for (j = i + 1; j < n; j++)
            if (k->has_bar[j] && bal_rolling_pair_last(r, i, j, &x, &y))
                bal_cov_stress_pair(k->stress, i, j, x, y);
    }
    if (k->panel && all)
        bal_cov_panel_push_closes(k->panel, k->close);
}

/* The portfolio regime at this step: risk weights from the current
 * holdings (equal before the first allocation), annualised vols and the
 * average defined pairwise correlation (only read when corr_spike is on). */
static int portfolio_regime(const bal_regime *rg, struct work *k,
                            const bal_engine_options *o,
                            const bal_rolling *r, const bal_portfolio *p,
                            int allocated)
{
    size_t i, n = o->n_assets;
    double avg = NAN, e;
    int all_vols = 1;

    for (i = 0; i < n; i++) {
        k->vol_ann[i] = bal_rolling_vol(r, i) * sqrt(k->bpy[i]);
        all_vols &= !isnan(k->vol_ann[i]);
    }
    if (!isnan(o->regime.corr_spike)) {
        size_t j, defined = 0;
        double sum = 0;

        bal_rolling_corr_all(r, k->pc);
        k->pc_fresh = 1;
        for (j = 0; j < k->npairs; j++)
            if (!isnan(k->pc[j])) {
                sum += k->pc[j];
                defined++;
            }
        if (defined)
            avg = sum / (double)defined;
    }
    if (allocated) {
        e = bal_portfolio_equity(p);
        actual_weights(k->w, p, e);
    }
    /* before every volatility is defined, risk weights use equal sigmas */
    return bal_regime_portfolio(rg, allocated ? k->w : NULL,
                                all_vols ? k->vol_ann : NULL, avg);
}

int bal_engine_run(bal_result *res, const bal_engine_options *o,
                   bal_series *const *series,
                   const bal_engine_streams *streams, bal_error *err)
{
    bal_timeline tl;
    bal_rolling *roll = NULL;
    bal_regime *reg = NULL;
    bal_governor gov;
    struct work k;
    size_t n = o->n_assets, t, i, last, t_last = 0;
    size_t n_series = o->n_series ? o->n_series : n;
    size_t tb = trend_bars(o);
    int have_t0 = 0, rc;
    unsigned need = needs(o);
    double peak = 0, mult = 1, size_mult = 1;

    memset(res, 0, sizeof(*res));
    memset(&tl, 0, sizeof(tl));
    if (!work_alloc(&k, n, n_series, tb)) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    if (o->governor)
        bal_governor_init(&gov, &o->gov);
    if (o->intersection) {
        rc = bal_timeline_intersect(series, n, err);
        if (rc < 0)
            goto done;
    }
    res->date_only = date_only_inputs(series, n_series);
    /* the clock is the traded assets' (SPEC §2); FX-only series are read
     * at their last close at or before each step */
    rc = bal_timeline_build(&tl, (const bal_series *const *)series, n, err);
    if (rc < 0)
        goto done;
    rc = bal_rolling_new(&roll, n, &o->rolling, err);
    if (rc < 0)
        goto done;
    rc = bal_regime_new(&reg, n, &o->regime, err);
    if (rc < 0)
        goto done;
    rc = bal_cov_psd_new(&k.psd, n, err);
    if (rc == BAL_OK)
        rc = bal_cov_stress_new(&k.stress, n, tl.n_steps ? tl.n_steps : 1,
                                o->stress_quantile, err);
    if (rc == BAL_OK && o->cov.ledoit_wolf)
        rc = bal_cov_panel_new(&k.panel, n, o->rolling.corr_window,
                               o->rolling.simple_returns, err);
    if (rc < 0)
        goto done;
    k.min_obs = o->rolling.corr_window;
    if (o->regime_used && !isnan(o->regime.shock_atr))
        for (i = 0; i < n; i++)
            if (!series[i]->high) {
                rc = bal_error_set(err, BAL_EINVAL, "%s has no high/low "
                                   "prices, which regime.shock_atr needs "
                                   "(set it to null)", o->symbols[i]);
                goto done;
            }
    rc = alloc_result(res, n, tl.n_steps, err);
    if (rc < 0)
        goto done;
    rc = bal_portfolio_init(&res->book, n, o->capital, err);
    if (rc < 0)
        goto done;
    res->n_steps = tl.n_steps;
    for (i = 0; i < n; i++)
        k.bpy[i] = o->bars_per_year && !isnan(o->bars_per_year[i])
                       ? o->bars_per_year[i]
                       : bal_engine_bars_per_year(series[i], o->crypto[i],
                                                  o->equity[i]);
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

        /* 1. orders fill at the open of each asset's own next bar, at the
         *    last known FX rate */
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
                double local = s->open ? s->open[b] : s->close[b];
                double rate = o->cost_rate[i];

                if (o->slippage_atr > 0)
                    rate += o->slippage_atr * bal_rolling_atr(roll, i)
                            / local;
                rc = bal_portfolio_fill_order(&res->book, i,
                                              local * fx_rate(&k, o, i),
                                              rate, o->fixed_fee, now, err);
                if (rc < 0)
                    goto done;
            }
        }
        /* 2. the close: marks and statistics up to and including t */
        for (i = 0; i < n; i++)
            if (bars[i] >= 0)
                k.lastc[i] = series[i]->close[bars[i]];
        for (i = n; i < n_series; i++) {
            const bal_series *fx = series[i];
            size_t *next = &k.fx_next[i - n];

            while (*next < fx->n && fx->time[*next] <= now)
                k.lastc[i] = fx->close[(*next)++];
        }
        for (i = 0; i < n; i++) {
            if (k.has_bar[i]) {
                if (have_t0 && !isnan(k.local[i])) {
                    double rt = o->rolling.simple_returns
                                    ? k.close[i] / k.local[i] - 1
                                    : log(k.close[i] / k.local[i]);

                    k.rv_sum[i] += rt;
                    k.rv_sq[i] += rt * rt;
                    k.rv_n[i]++;
                }
                k.local[i] = k.close[i];
                push_close(&k, i, k.close[i]);
            }
            if (!isnan(k.local[i]))
                res->book.price[i] = k.local[i] * fx_rate(&k, o, i);
        }
        bal_rolling_step(roll, k.has_bar, k.high, k.low, k.close);
        k.pc_fresh = 0;                 /* the correlations moved */
        bal_regime_step(reg, k.has_bar, k.high, k.low, k.close);
        k.regime_now = portfolio_regime(reg, &k, o, roll, &res->book,
                                        have_t0);
        track_stress(&k, o, roll, k.regime_now == BAL_REGIME_SHOCK);
        if (streams) {
            rc = write_streams(streams, roll, reg, o, &k, now,
                               res->date_only, err);
            if (rc < 0)
                goto done;
        }
        if (o->has_start && now < o->start)
            continue;                   /* warm-up only */
        /* 3. warm-up and t0 (SPEC §12) */
        for (i = 0; i < n; i++) {
            k.was_warm[i] = k.warm[i];
            /* once warm, always warm: every statistic stays defined */
            k.warm[i] = k.warm[i]
                        || (!isnan(res->book.price[i])
                            && bal_rolling_warm(roll, i,
                                                need & ~BAL_ROLLING_NEED_CORR)
                            && corr_warm(roll, o, i, need)
                            && k.dir_n[i] >= tb
                            && (!o->regime_used || bal_regime_warm(reg, i)));
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
        /* the governor's peak starts at E_0, after the first fills */
        if (o->governor && !res->ruined && !(triggers & BAL_TRIG_INITIAL))
            mult = govern(&gov, &k, &res->book, e, &triggers);
        size_mult = mult;
        if (k.regime_now != BAL_REGIME_NONE)
            size_mult *= o->regime_scale[k.regime_now];
        /* 4. the decision at the close of t */
        if (!(triggers & BAL_TRIG_INITIAL) && !res->ruined && t < last) {
            triggers |= find_triggers(res, o, &k, roll, &tl, t, e,
                                      size_mult, mult, err, &rc);
            if (rc < 0)
                goto done;
            if (t - t_last < o->rebalance.cooldown)
                triggers &= BAL_TRIG_HALT | BAL_TRIG_RESUME;
        }
        if (triggers && !res->ruined && (t < last
                                         || (triggers & BAL_TRIG_INITIAL))) {
            rc = compute_targets(k.target, &k, o, roll, now, size_mult, 1,
                                 err);
            if (rc < 0)
                goto done;
            rc = rebalance(res, o, &k, roll, now, triggers, err);
            if (rc < 0)
                goto done;
            if (rc > 0 && !(triggers & BAL_TRIG_INITIAL)) {
                unsigned b;

                res->rebalances++;
                for (b = 0; b < BAL_TRIG_COUNT; b++)
                    res->by_trigger[b] += (triggers >> b) & 1u;
            }
            if (rc > 0) {
                t_last = t;
                remember_state(&k, roll, o, mult);
            }
            traded = rc > 0;
        }
        rc = record_row(res, o, &k, now, &peak, err);
        if (rc < 0)
            goto done;
        res->dd_mult[res->n_rows - 1] = mult;
        if (o->governor && res->n_rows == 1)
            gov.peak = res->equity[0];
        res->regime[res->n_rows - 1] = k.regime_now;
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
        /* one row: no returns, so every metric is undefined (null) */
        metrics_undefined(&res->metrics);
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
    bal_regime_free(reg);
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
    free(r->regime);
    free(r->weights);
    free(r->assets);
    free(r->final_corr);
    free(r->calm_corr);
    free(r->stress_corr);
    free(r->merges);
    free(r->leaf_order);
    bal_portfolio_release(&r->book);
    memset(r, 0, sizeof(*r));
}

void bal_engine_options_init(bal_engine_options *o)
{
    memset(o, 0, sizeof(*o));
    o->fill_close = 1;
    o->capital = 1e6;
    o->rolling = (bal_rolling_options)BAL_ROLLING_OPTIONS_INIT;
    o->sizer = (bal_sizer_options)BAL_SIZER_OPTIONS_INIT;
    o->rebalance.schedule = BAL_SCHED_MONTHLY;
    o->rebalance.drift = NAN;
    o->rebalance.drift_rel = NAN;
    o->rebalance.vol_shift = NAN;
    o->rebalance.corr_shift = NAN;
    o->rebalance.target_shift = NAN;
    o->rebalance.target_check = 1;
    o->rebalance.drawdown_step = NAN;
    o->metrics = (bal_metrics_options)BAL_METRICS_OPTIONS_INIT;
    o->regime = (bal_regime_options)BAL_REGIME_OPTIONS_INIT;
    o->regime_scale[0] = o->regime_scale[1] = o->regime_scale[2] = 1;
    o->cov = (bal_cov_options)BAL_COV_OPTIONS_INIT;
    o->stress_quantile = 0.1;
    o->alloc = (bal_alloc_options)BAL_ALLOC_OPTIONS_INIT;
    o->cluster_risk_cap = NAN;
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
    if (c->execution.cash_rate != 0)
        return unsupported(err, "execution.cash_rate", "interest on cash");
    if (c->execution.borrow_rate != 0)
        return unsupported(err, "execution.borrow_rate", "borrow costs");
    if (c->data.benchmark)
        return unsupported(err, "data.benchmark", "a benchmark");
    return BAL_OK;
}

/* Index of the series named `sym` among the assets and data.fx, or -1. */
static int series_index(const bal_config *c, const char *sym)
{
    size_t i;

    for (i = 0; i < c->n_assets; i++)
        if (!strcmp(c->assets[i].symbol, sym))
            return (int)i;
    for (i = 0; i < c->data.n_fx; i++)
        if (!strcmp(c->data.fx[i].symbol, sym))
            return (int)(c->n_assets + i);
    return -1;
}

/* One conversion leg from currency `from` to `to`: a series FROMTO
 * (multiply) or TOFROM (divide). 0 when found. */
static int find_leg(const bal_config *c, const char *from, const char *to,
                    int *idx, int *inv)
{
    char sym[16];

    snprintf(sym, sizeof(sym), "%s%s", from, to);
    *idx = series_index(c, sym);
    *inv = 0;
    if (*idx >= 0)
        return 0;
    snprintf(sym, sizeof(sym), "%s%s", to, from);
    *idx = series_index(c, sym);
    *inv = 1;
    return *idx >= 0 ? 0 : -1;
}

/* SPEC §5 currencies: direct or inverse, at most one hop via USD. */
static int resolve_fx(bal_engine_setup *s, const bal_config *c, size_t i,
                      bal_error *err)
{
    const char *q = c->assets[i].quote, *acc = c->account_currency;

    s->fx_leg1[i] = s->fx_leg2[i] = -1;
    s->fx_inv1[i] = s->fx_inv2[i] = 0;
    if (!strcmp(q, acc))
        return BAL_OK;
    if (find_leg(c, q, acc, &s->fx_leg1[i], &s->fx_inv1[i]) == 0)
        return BAL_OK;
    if (strcmp(q, "USD") && strcmp(acc, "USD")
        && find_leg(c, q, "USD", &s->fx_leg1[i], &s->fx_inv1[i]) == 0
        && find_leg(c, "USD", acc, &s->fx_leg2[i], &s->fx_inv2[i]) == 0)
        return BAL_OK;
    return bal_error_set(err, BAL_ECONFIG, "data.assets[%zu].quote: no "
                         "conversion from %s to %s for %s (add %s%s or a "
                         "path via USD to data.assets or data.fx)", i, q,
                         acc, c->assets[i].symbol, q, acc);
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
    free(s->lot_size);
    free(s->asset_class);
    free(s->fx_leg1);
    free(s->fx_leg2);
    free(s->fx_inv1);
    free(s->fx_inv2);
    free(s->fx_paths);
    bal_signals_release(&s->signals);
    memset(s, 0, sizeof(*s));
}

int bal_engine_setup_init(bal_engine_setup *s, const bal_config *c,
                          bal_error *err)
{
    bal_engine_options *o = &s->opt;
    size_t i, n = c->n_assets;
    int rc;

    memset(s, 0, sizeof(*s));
    bal_engine_options_init(o);
    rc = check_supported(c, err);
    if (rc < 0)
        return rc;
    s->symbols = calloc(n, sizeof(*s->symbols));
    s->bars_per_year = calloc(n, sizeof(double));
    s->cost_rate = calloc(n, sizeof(double));
    s->targets = calloc(n, sizeof(double));
    s->crypto = calloc(n, sizeof(int));
    s->equity = calloc(n, sizeof(int));
    s->lot_size = calloc(n, sizeof(double));
    s->asset_class = calloc(n, sizeof(int));
    s->fx_leg1 = calloc(n, sizeof(int));
    s->fx_leg2 = calloc(n, sizeof(int));
    s->fx_inv1 = calloc(n, sizeof(int));
    s->fx_inv2 = calloc(n, sizeof(int));
    s->fx_paths = calloc(c->data.n_fx + 1, sizeof(*s->fx_paths));
    if (!s->symbols || !s->bars_per_year || !s->cost_rate || !s->targets
        || !s->crypto || !s->equity || !s->lot_size || !s->asset_class
        || !s->fx_leg1 || !s->fx_leg2 || !s->fx_inv1 || !s->fx_inv2
        || !s->fx_paths)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    s->n_fx_files = c->data.n_fx;
    for (i = 0; i < c->data.n_fx; i++)
        s->fx_paths[i] = c->data.fx[i].path;
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
        s->lot_size[i] = a->lot_size;
        s->asset_class[i] = (int)a->asset_class;
        rc = resolve_fx(s, c, i, err);
        if (rc < 0)
            return rc;
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
    switch (c->sizing.method) {
    case BAL_METHOD_FIXED:
        o->sizer.method = BAL_SIZE_FIXED;
        break;
    case BAL_METHOD_EQUAL:
        o->sizer.method = BAL_SIZE_EQUAL;
        break;
    case BAL_METHOD_INVERSE_VOL:
        o->sizer.method = BAL_SIZE_INVERSE_VOL;
        break;
    default:
        o->sizer.method = BAL_SIZE_GIVEN;
        o->alloc = (bal_alloc_options)BAL_ALLOC_OPTIONS_INIT;
        o->alloc.method = c->sizing.method == BAL_METHOD_INVERSE_ATR
                              ? BAL_ALLOC_INVERSE_ATR
                          : c->sizing.method == BAL_METHOD_ERC
                              ? BAL_ALLOC_ERC
                          : c->sizing.method == BAL_METHOD_HRP
                              ? BAL_ALLOC_HRP : BAL_ALLOC_MIN_VARIANCE;
        o->alloc.linkage = (int)c->sizing.linkage;
        o->alloc.hrp_ldp = c->sizing.hrp_distance == BAL_HRP_LDP;
    }
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
    o->n_series = n + c->data.n_fx;
    o->fx_leg1 = s->fx_leg1;
    o->fx_leg2 = s->fx_leg2;
    o->fx_inv1 = s->fx_inv1;
    o->fx_inv2 = s->fx_inv2;
    for (i = 0; i < n; i++)
        if (!isnan(s->lot_size[i]))
            o->lot_size = s->lot_size;
    o->sizer.asset_class = s->asset_class;
    for (i = 0; i < BAL_N_CLASSES && i < BAL_SIZER_CLASSES; i++)
        o->sizer.class_caps[i] = c->sizing.class_caps[i];
    o->rebalance.vol_shift = c->rebalance.vol_shift;
    o->rebalance.corr_shift = c->rebalance.corr_shift;
    o->rebalance.target_shift = c->rebalance.target_shift;
    o->rebalance.target_check = c->rebalance.target_check;
    o->rebalance.regime_change = c->rebalance.regime_change;
    o->rebalance.drawdown_step = c->rebalance.drawdown_step;
    o->direction = c->direction.mode == BAL_DIR_TREND ? BAL_DIRECTION_TREND
                   : c->direction.mode == BAL_DIR_SIGNALS
                       ? BAL_DIRECTION_SIGNALS : BAL_DIRECTION_LONG;
    o->lookback = c->direction.lookback;
    o->fast = c->direction.fast;
    o->slow = c->direction.slow;
    o->signals = &s->signals;
    o->regime.short_window = c->regime.short_window;
    o->regime.long_window = c->regime.long_window;
    o->regime.er_window = c->regime.er_window;
    o->regime.atr_window = c->engine.atr_window;
    o->regime.shock_ratio = c->regime.shock_ratio;
    o->regime.shock_atr = c->regime.shock_atr;
    o->regime.er_threshold = c->regime.er_threshold;
    o->regime.corr_spike = c->regime.corr_spike;
    o->regime.shock_share = c->regime.shock_share;
    o->regime.simple_returns = c->engine.returns == BAL_RET_SIMPLE;
    o->regime_scale[BAL_REGIME_TRENDING] = c->sizing.regime_scale.trending;
    o->regime_scale[BAL_REGIME_RANGING] = c->sizing.regime_scale.ranging;
    o->regime_scale[BAL_REGIME_SHOCK] = c->sizing.regime_scale.shock;
    o->regime_used = c->rebalance.regime_change
                     || c->sizing.regime_scale.trending != 1
                     || c->sizing.regime_scale.ranging != 1
                     || c->sizing.regime_scale.shock != 1
                     || c->engine.stress_blend > 0;
    o->cov.ledoit_wolf = c->engine.shrinkage_ledoit_wolf;
    o->cov.shrinkage = c->engine.shrinkage_ledoit_wolf ? 0
                                                       : c->engine.shrinkage;
    o->cov.target = c->engine.shrinkage_target == BAL_SHRINK_CONSTANT_CORR
                        ? BAL_COV_TARGET_CONSTANT_CORR
                        : BAL_COV_TARGET_DIAGONAL;
    o->cov.psd_floor = c->engine.psd_floor;
    o->cov.stress_blend = c->engine.stress_blend;
    o->stress_quantile = c->engine.stress_quantile;
    o->cluster_risk_cap = c->sizing.cluster_risk_cap;
    o->alloc.linkage = (int)c->sizing.linkage;
    if (c->sizing.drawdown.enabled) {
        o->governor = 1;
        o->gov.start = c->sizing.drawdown.start;
        o->gov.max = c->sizing.drawdown.max;
        o->gov.floor = c->sizing.drawdown.floor;
        o->gov.recovery_rate = c->sizing.drawdown.recovery_rate;
        o->gov.halt = c->sizing.drawdown.halt;
        o->gov.resume = c->sizing.drawdown.resume;
    }
    return BAL_OK;
}
