/* Market regimes: see include/ballast/regime.h and SPEC §3, §12. */
#include "ballast/regime.h"
#include "ballast/rolling.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* The running sum of |C_k - C_{k-1}| is recomputed from its ring buffer
 * once per window, and early (at most EARLY_MAX times per window) when it
 * falls below CANCEL_SHARE of its peak since the last recompute: its
 * rounding error is a few ulps of that peak, so the relative error stays
 * below about 1e4 ulps (2e-12). */
#define CANCEL_SHARE 1e-4
#define EARLY_MAX 4

struct asset {
    bal_rolling_window vs, vl;  /* returns: short and long windows */
    bal_rolling_wilder atr;
    double *closes;             /* ring of er_window + 1 closes */
    double *moves;              /* ring of er_window |C_k - C_{k-1}| */
    size_t chead, mhead;        /* next slot of each ring */
    size_t bars;                /* bars seen */
    size_t nonzero;             /* moves in the ring that are != 0 */
    size_t since, early;        /* pushes / early recomputes since the last
                                   recompute of msum */
    double msum;                /* running sum of the moves ring */
    double peak;                /* largest msum since the last recompute */
    double prev;                /* previous close */
    double er, ratio;           /* diagnostics, NaN until warm */
    int warm;
    int label;
};

struct bal_regime {
    size_t n;
    bal_regime_options opt;
    struct asset *a;
    double *mem;                /* every ring buffer, one block */
};

const char *bal_regime_name(int label)
{
    switch (label) {
    case BAL_REGIME_TRENDING:
        return "trending";
    case BAL_REGIME_RANGING:
        return "ranging";
    case BAL_REGIME_SHOCK:
        return "shock";
    default:
        return NULL;
    }
}

static int check_options(const bal_regime_options *o, bal_error *err)
{
    if (o->short_window < 2)
        return bal_error_set(err, BAL_EINVAL,
                             "regime short_window must be at least 2, "
                             "got %zu", o->short_window);
    if (o->long_window <= o->short_window)
        return bal_error_set(err, BAL_EINVAL,
                             "regime long_window (%zu) must exceed "
                             "short_window (%zu)", o->long_window,
                             o->short_window);
    if (o->er_window < 1)
        return bal_error_set(err, BAL_EINVAL,
                             "regime er_window must be at least 1");
    if (o->atr_window < 1)
        return bal_error_set(err, BAL_EINVAL,
                             "regime atr_window must be at least 1");
    if (!isnan(o->shock_ratio) && !(o->shock_ratio > 0.0))
        return bal_error_set(err, BAL_EINVAL,
                             "regime shock_ratio must be > 0 or NaN, "
                             "got %g", o->shock_ratio);
    if (!isnan(o->shock_atr) && !(o->shock_atr > 0.0))
        return bal_error_set(err, BAL_EINVAL,
                             "regime shock_atr must be > 0 or NaN, got %g",
                             o->shock_atr);
    if (!(o->er_threshold >= 0.0 && o->er_threshold <= 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "regime er_threshold must lie in [0, 1], "
                             "got %g", o->er_threshold);
    if (!isnan(o->corr_spike)
        && !(o->corr_spike >= -1.0 && o->corr_spike <= 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "regime corr_spike must lie in [-1, 1] or be "
                             "NaN, got %g", o->corr_spike);
    if (!(o->shock_share >= 0.0 && o->shock_share <= 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "regime shock_share must lie in [0, 1], "
                             "got %g", o->shock_share);
    return BAL_OK;
}

int bal_regime_new(bal_regime **out, size_t n, const bal_regime_options *opt,
                   bal_error *err)
{
    static const bal_regime_options defaults = BAL_REGIME_OPTIONS_INIT;
    bal_regime *r = NULL;
    size_t per, i;
    double *p;
    int rc;

    *out = NULL;
    if (!opt)
        opt = &defaults;
    if (n == 0)
        return bal_error_set(err, BAL_EINVAL,
                             "regime needs at least one asset");
    rc = check_options(opt, err);
    if (rc)
        return rc;
    /* short + long + (er + 1) + er doubles per asset; every term is at
     * most SIZE_MAX / 4, or the sum could wrap. */
    if (opt->long_window > SIZE_MAX / 4 || opt->er_window > SIZE_MAX / 4)
        return bal_error_set(err, BAL_ENOMEM, "regime windows too large");
    per = opt->short_window + opt->long_window + 2 * opt->er_window + 1;
    if (n > SIZE_MAX / sizeof(struct asset)
        || per > SIZE_MAX / sizeof(double) / n)
        return bal_error_set(err, BAL_ENOMEM, "regime windows too large");
    r = calloc(1, sizeof(*r));
    if (r) {
        r->a = calloc(n, sizeof(*r->a));
        r->mem = malloc(n * per * sizeof(*r->mem));
    }
    if (!r || !r->a || !r->mem) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    r->n = n;
    r->opt = *opt;
    p = r->mem;
    for (i = 0; i < n; i++) {
        struct asset *a = &r->a[i];

        bal_rolling_window_init(&a->vs, p, opt->short_window);
        p += opt->short_window;
        bal_rolling_window_init(&a->vl, p, opt->long_window);
        p += opt->long_window;
        bal_rolling_wilder_init(&a->atr, opt->atr_window);
        a->closes = p;
        p += opt->er_window + 1;
        a->moves = p;
        p += opt->er_window;
        a->prev = NAN;
        a->er = NAN;
        a->ratio = NAN;
        a->label = BAL_REGIME_NONE;
    }
    *out = r;
    r = NULL;
    rc = BAL_OK;
done:
    bal_regime_free(r);
    return rc;
}

void bal_regime_free(bal_regime *r)
{
    if (!r)
        return;
    free(r->a);
    free(r->mem);
    free(r);
}

static void recompute_msum(struct asset *a, size_t m)
{
    double s = 0.0;
    size_t k;

    for (k = 0; k < m; k++)
        s += a->moves[k];
    a->msum = s;
    a->peak = s;
    a->since = 0;
    a->early = 0;
}

/* Pushes close c, bar index a->bars, into the ER rings; returns
 * |C_t - C_{t-n}| once C_{t-n} is in, else NaN. a->prev is C_{t-1}. */
static double push_er(struct asset *a, size_t m, double c)
{
    size_t b = a->bars;

    if (b >= 1) {
        double mv = fabs(c - a->prev);
        size_t in;

        if (b - 1 >= m) {       /* the ring is full: drop its oldest */
            double old = a->moves[a->mhead];

            a->msum -= old;
            if (old != 0.0)
                a->nonzero--;
        }
        a->moves[a->mhead] = mv;
        a->mhead = a->mhead + 1 == m ? 0 : a->mhead + 1;
        a->msum += mv;
        if (mv != 0.0)
            a->nonzero++;
        a->since++;
        if (a->msum > a->peak)
            a->peak = a->msum;
        in = b < m ? b : m;     /* moves now in the ring (slots 0..in-1
                                   while it fills) */
        if (a->since >= m) {
            recompute_msum(a, in);
        } else if (a->msum < CANCEL_SHARE * a->peak
                   && a->early < EARLY_MAX) {
            size_t e = a->early + 1;

            recompute_msum(a, in);
            a->early = e;
        }
    }
    a->closes[a->chead] = c;
    a->chead = a->chead == m ? 0 : a->chead + 1;
    /* With m + 1 slots, the oldest close C_{t-m} now sits at chead. */
    return b >= m ? fabs(c - a->closes[a->chead]) : NAN;
}

static void step_asset(bal_regime *r, struct asset *a, double h, double l,
                       double c)
{
    const bal_regime_options *o = &r->opt;
    size_t m = o->er_window;
    size_t b = a->bars;         /* index of this bar */
    double atr_prev = bal_rolling_wilder_atr(&a->atr);
    double num, move, er, ratio = NAN;
    int ratio_on = !isnan(o->shock_ratio);
    int atr_on = !isnan(o->shock_atr);
    int shock;

    BAL_ASSERT(isfinite(c) && c > 0.0);
    bal_rolling_wilder_push(&a->atr, h, l, c);
    if (b >= 1) {
        double ret = o->simple_returns ? c / a->prev - 1.0 : log(c / a->prev);

        bal_rolling_window_push(&a->vs, ret);
        bal_rolling_window_push(&a->vl, ret);
    }
    num = push_er(a, m, c);
    move = b >= 1 ? fabs(c - a->prev) : NAN;
    a->prev = c;
    a->bars = b + 1;
    if (!a->warm) {
        if (b < m || (ratio_on && b < o->long_window)
            || (atr_on && isnan(atr_prev)))
            return;
        a->warm = 1;
    }
    if (a->nonzero > 0 && !(a->msum > 0.0))     /* rounding guard */
        recompute_msum(a, m);
    if (a->nonzero == 0)
        er = 0.0;
    else
        er = fmin(num / a->msum, 1.0);  /* <= 1 but for rounding */
    if (ratio_on) {
        double sl = bal_rolling_window_sd(&a->vl);

        ratio = sl > 0.0 ? bal_rolling_window_sd(&a->vs) / sl : NAN;
    }
    shock = (ratio_on && ratio > o->shock_ratio)
        || (atr_on && !isnan(atr_prev) && move > o->shock_atr * atr_prev);
    a->er = er;
    a->ratio = ratio;
    if (shock)
        a->label = BAL_REGIME_SHOCK;
    else if (er > o->er_threshold)
        a->label = BAL_REGIME_TRENDING;
    else
        a->label = BAL_REGIME_RANGING;
}

void bal_regime_step(bal_regime *r, const unsigned char *has_bar,
                     const double *high, const double *low,
                     const double *close)
{
    size_t i;

    BAL_ASSERT(r != NULL && has_bar != NULL && close != NULL);
    BAL_ASSERT((high == NULL) == (low == NULL));
    for (i = 0; i < r->n; i++) {
        if (!has_bar[i])
            continue;
        step_asset(r, &r->a[i], high ? high[i] : NAN, low ? low[i] : NAN,
                   close[i]);
    }
}

int bal_regime_asset(const bal_regime *r, size_t i)
{
    BAL_ASSERT(r != NULL && i < r->n);
    return r->a[i].label;
}

int bal_regime_warm(const bal_regime *r, size_t i)
{
    BAL_ASSERT(r != NULL && i < r->n);
    return r->a[i].warm;
}

double bal_regime_er(const bal_regime *r, size_t i)
{
    BAL_ASSERT(r != NULL && i < r->n);
    return r->a[i].er;
}

double bal_regime_vol_ratio(const bal_regime *r, size_t i)
{
    BAL_ASSERT(r != NULL && i < r->n);
    return r->a[i].ratio;
}

int bal_regime_portfolio(const bal_regime *r, const double *w,
                         const double *sigma, double avg_corr)
{
    const bal_regime_options *o;
    double sum[3] = { 0.0, 0.0, 0.0 };  /* by label: trending ranging shock */
    double total, share;
    size_t i;

    BAL_ASSERT(r != NULL);
    o = &r->opt;
    for (i = 0; i < r->n; i++) {
        int label = r->a[i].label;
        double wi = w ? fabs(w[i]) : 1.0;
        double si = sigma ? sigma[i] : 1.0;
        double rw = wi * si;

        if (label == BAL_REGIME_NONE || !isfinite(rw) || !(rw > 0.0))
            continue;
        sum[label] += rw;
    }
    total = sum[BAL_REGIME_TRENDING] + sum[BAL_REGIME_RANGING]
        + sum[BAL_REGIME_SHOCK];
    if (!(total > 0.0))
        return BAL_REGIME_NONE;
    share = sum[BAL_REGIME_SHOCK] / total;
    if (share > o->shock_share
        || (!isnan(o->corr_spike) && avg_corr > o->corr_spike))
        return BAL_REGIME_SHOCK;
    if (sum[BAL_REGIME_TRENDING] > sum[BAL_REGIME_RANGING])
        return BAL_REGIME_TRENDING;
    return BAL_REGIME_RANGING;
}
