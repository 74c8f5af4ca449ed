/* Rolling engine: see include/ballast/rolling.h and SPEC §3, §12. */
#include "ballast/rolling.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- Wilder ATR --------------------------------------------------------- */

void bal_rolling_wilder_init(bal_rolling_wilder *a, size_t n)
{
    BAL_ASSERT(a != NULL);
    BAL_ASSERT(n >= 1);
    a->n = n;
    a->bars = 0;
    a->ntr = 0;
    a->prev_close = NAN;
    a->sum = 0.0;
    a->tr = NAN;
    a->atr = NAN;
}

void bal_rolling_wilder_push(bal_rolling_wilder *a, double high, double low,
                             double close)
{
    double prev = a->prev_close;
    double hi, lo, tr;

    BAL_ASSERT(isfinite(close));
    a->prev_close = close;
    a->bars++;
    if (a->bars == 1)
        return;                 /* no previous close: TR undefined */
    if (!isfinite(high) || !isfinite(low)) {
        a->tr = NAN;            /* restart the seed */
        a->atr = NAN;
        a->ntr = 0;
        a->sum = 0.0;
        return;
    }
    hi = high > prev ? high : prev;
    lo = low < prev ? low : prev;
    tr = hi - lo;
    a->tr = tr;
    if (a->ntr < a->n) {
        a->sum += tr;
        a->ntr++;
        if (a->ntr == a->n)
            a->atr = a->sum / (double)a->n;
        return;
    }
    a->atr = ((double)(a->n - 1) * a->atr + tr) / (double)a->n;
}

double bal_rolling_wilder_atr(const bal_rolling_wilder *a)
{
    return a->atr;
}

double bal_rolling_wilder_tr(const bal_rolling_wilder *a)
{
    return a->tr;
}

/* ---- Rolling mean / variance ------------------------------------------- */

/* Early re-anchor. Right after a re-anchor the centred sum of squares is at
 * least half the anchored s2 (the anchor is the value nearest the mean).
 * When it falls below this fraction of s2 (a level shift or a volatility
 * collapse left the anchor far from the data), s2 - s1^2/n would lose more
 * than 4 of 16 digits, so the sums are recomputed at once instead of at the
 * end of the window. Allowed at most every ANCHOR_SPACING-th of a window,
 * which keeps a push amortised O(1) whatever the data. */
#define CANCEL_FRACTION 1e-4
#define ANCHOR_SPACING 4

/* The value of x[0], x[stride], ... (n of them) nearest their mean: an
 * anchor inside the data and within about one sd of the mean, so the
 * shifted sums lose no digits and equal values stay exact. */
static double nearest_to_mean(const double *x, size_t n, size_t stride)
{
    double sum = 0.0;
    double mean, best, dist;
    size_t i;

    for (i = 0; i < n; i++)
        sum += x[i * stride];
    mean = sum / (double)n;
    best = x[0];
    dist = fabs(x[0] - mean);
    for (i = 1; i < n; i++) {
        double d = fabs(x[i * stride] - mean);
        if (d < dist) {
            dist = d;
            best = x[i * stride];
        }
    }
    return best;
}

/* Pushes before an early re-anchor may happen, >= 1. */
static size_t early_gap(size_t w)
{
    size_t g = w / ANCHOR_SPACING;

    return g > 0 ? g : 1;
}

/* 1 when the centred sum of squares s2 - s1^2/n has lost too many digits. */
static int cancelled(double s1, double s2, double n)
{
    double centred = s2 - s1 * s1 / n;

    return centred < CANCEL_FRACTION * s2;
}

void bal_rolling_window_init(bal_rolling_window *v, double *buf, size_t w)
{
    BAL_ASSERT(v != NULL && buf != NULL);
    BAL_ASSERT(w >= 2);
    v->buf = buf;
    v->w = w;
    v->n = 0;
    v->head = 0;
    v->since = 0;
    v->run = 0;
    v->last = NAN;
    v->k = 0.0;
    v->s1 = 0.0;
    v->s2 = 0.0;
}

static void window_reanchor(bal_rolling_window *v)
{
    double k = nearest_to_mean(v->buf, v->n, 1);
    double s1 = 0.0, s2 = 0.0;
    size_t i;

    for (i = 0; i < v->n; i++) {
        double d = v->buf[i] - k;
        s1 += d;
        s2 += d * d;
    }
    v->k = k;
    v->s1 = s1;
    v->s2 = s2;
    v->since = 0;
}

void bal_rolling_window_push(bal_rolling_window *v, double x)
{
    double d;

    BAL_ASSERT(isfinite(x));
    if (v->n == 0)
        v->k = x;
    if (v->n == v->w) {
        double od = v->buf[v->head] - v->k;
        v->s1 -= od;
        v->s2 -= od * od;
    } else {
        v->n++;
    }
    d = x - v->k;
    v->s1 += d;
    v->s2 += d * d;
    v->buf[v->head] = x;
    v->head = v->head + 1 == v->w ? 0 : v->head + 1;
    v->run = (v->run > 0 && x == v->last) ? v->run + 1 : 1;
    v->last = x;
    v->since++;
    if (v->since >= v->w
        || (v->since >= early_gap(v->w)
            && cancelled(v->s1, v->s2, (double)v->n)))
        window_reanchor(v);
}

double bal_rolling_window_mean(const bal_rolling_window *v)
{
    if (v->n < v->w)
        return NAN;
    if (v->run >= v->w)
        return v->last;
    return v->k + v->s1 / (double)v->n;
}

double bal_rolling_window_var(const bal_rolling_window *v)
{
    double nn = (double)v->n;
    double var;

    if (v->n < v->w)
        return NAN;
    if (v->run >= v->w)
        return 0.0;             /* w equal values, whatever the rounding */
    var = (v->s2 - v->s1 * v->s1 / nn) / (nn - 1.0);
    return var > 0.0 ? var : 0.0;
}

double bal_rolling_window_sd(const bal_rolling_window *v)
{
    return sqrt(bal_rolling_window_var(v));
}

/* ---- Rolling correlation ----------------------------------------------- */

void bal_rolling_cov_init(bal_rolling_cov *c, double *buf, size_t w)
{
    BAL_ASSERT(c != NULL && buf != NULL);
    BAL_ASSERT(w >= 2);
    c->buf = buf;
    c->stride = 2;
    c->w = w;
    c->n = 0;
    c->head = 0;
    c->since = 0;
    c->runx = 0;
    c->runy = 0;
    c->lastx = NAN;
    c->lasty = NAN;
    c->kx = 0.0;
    c->ky = 0.0;
    c->sx = 0.0;
    c->sy = 0.0;
    c->sxx = 0.0;
    c->syy = 0.0;
    c->sxy = 0.0;
}

/* The window values of x (or y) nearest the window mean, both in one
 * pass over the strided buffer after one pass for the means. */
static void nearest_pair_to_mean(const bal_rolling_cov *c, double *kx,
                                 double *ky)
{
    const double *b = c->buf;
    size_t i, st = c->stride;
    double mx = 0.0, my = 0.0, dx, dy;

    for (i = 0; i < c->n; i++) {
        mx += b[i * st];
        my += b[i * st + 1];
    }
    mx /= (double)c->n;
    my /= (double)c->n;
    *kx = b[0];
    *ky = b[1];
    dx = fabs(b[0] - mx);
    dy = fabs(b[1] - my);
    for (i = 1; i < c->n; i++) {
        double ex = fabs(b[i * st] - mx), ey = fabs(b[i * st + 1] - my);

        if (ex < dx) {
            dx = ex;
            *kx = b[i * st];
        }
        if (ey < dy) {
            dy = ey;
            *ky = b[i * st + 1];
        }
    }
}

static void cov_reanchor(bal_rolling_cov *c)
{
    double kx, ky;
    double sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0;
    size_t i;

    nearest_pair_to_mean(c, &kx, &ky);
    for (i = 0; i < c->n; i++) {
        double dx = c->buf[c->stride * i] - kx;
        double dy = c->buf[c->stride * i + 1] - ky;
        sx += dx;
        sy += dy;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    c->kx = kx;
    c->ky = ky;
    c->sx = sx;
    c->sy = sy;
    c->sxx = sxx;
    c->syy = syy;
    c->sxy = sxy;
    c->since = 0;
}

void bal_rolling_cov_push(bal_rolling_cov *c, double x, double y)
{
    double *slot;
    double dx, dy;

    BAL_ASSERT(isfinite(x) && isfinite(y));
    if (c->n == 0) {
        c->kx = x;
        c->ky = y;
    }
    slot = c->buf + c->stride * c->head;
    if (c->n == c->w) {
        double ox = slot[0] - c->kx;
        double oy = slot[1] - c->ky;
        c->sx -= ox;
        c->sy -= oy;
        c->sxx -= ox * ox;
        c->syy -= oy * oy;
        c->sxy -= ox * oy;
    } else {
        c->n++;
    }
    dx = x - c->kx;
    dy = y - c->ky;
    c->sx += dx;
    c->sy += dy;
    c->sxx += dx * dx;
    c->syy += dy * dy;
    c->sxy += dx * dy;
    slot[0] = x;
    slot[1] = y;
    c->head = c->head + 1 == c->w ? 0 : c->head + 1;
    c->runx = (c->runx > 0 && x == c->lastx) ? c->runx + 1 : 1;
    c->runy = (c->runy > 0 && y == c->lasty) ? c->runy + 1 : 1;
    c->lastx = x;
    c->lasty = y;
    c->since++;
    if (c->since >= c->w
        || (c->since >= early_gap(c->w)
            && (cancelled(c->sx, c->sxx, (double)c->n)
                || cancelled(c->sy, c->syy, (double)c->n))))
        cov_reanchor(c);
}

/* sxy / sqrt(sxx syy) clamped to [-1, 1]; NaN if a variance is not > 0. */
static double corr_of(double sxx, double syy, double sxy)
{
    double rho;

    if (!(sxx > 0.0) || !(syy > 0.0))
        return NAN;
    rho = sxy / (sqrt(sxx) * sqrt(syy));
    if (rho > 1.0)
        rho = 1.0;
    if (rho < -1.0)
        rho = -1.0;
    return rho;
}

double bal_rolling_cov_corr(const bal_rolling_cov *c)
{
    double nn = (double)c->n;
    double vx, vy, cxy;

    if (c->n < c->w || c->runx >= c->w || c->runy >= c->w)
        return NAN;
    vx = c->sxx - c->sx * c->sx / nn;
    vy = c->syy - c->sy * c->sy / nn;
    cxy = c->sxy - c->sx * c->sy / nn;
    return corr_of(vx, vy, cxy);
}

/* ---- EWMA --------------------------------------------------------------- */

void bal_rolling_ewvar_init(bal_rolling_ewvar *e, double lambda, size_t w)
{
    BAL_ASSERT(e != NULL);
    BAL_ASSERT(lambda > 0.0 && lambda < 1.0);
    BAL_ASSERT(w >= 1);
    e->lambda = lambda;
    e->w = w;
    e->n = 0;
    e->s = 0.0;
}

void bal_rolling_ewvar_push(bal_rolling_ewvar *e, double x)
{
    BAL_ASSERT(isfinite(x));
    if (e->n == 0)
        e->s = x * x;
    else
        e->s = e->lambda * e->s + (1.0 - e->lambda) * (x * x);
    e->n++;
}

double bal_rolling_ewvar_var(const bal_rolling_ewvar *e)
{
    return e->n < e->w ? NAN : e->s;
}

double bal_rolling_ewvar_sd(const bal_rolling_ewvar *e)
{
    return sqrt(bal_rolling_ewvar_var(e));
}

void bal_rolling_ewcorr_init(bal_rolling_ewcorr *e, double lambda, size_t w)
{
    BAL_ASSERT(e != NULL);
    BAL_ASSERT(lambda > 0.0 && lambda < 1.0);
    BAL_ASSERT(w >= 1);
    e->lambda = lambda;
    e->w = w;
    e->n = 0;
    e->sxx = 0.0;
    e->syy = 0.0;
    e->sxy = 0.0;
}

void bal_rolling_ewcorr_push(bal_rolling_ewcorr *e, double x, double y)
{
    double l = e->lambda;
    double m = 1.0 - e->lambda;

    BAL_ASSERT(isfinite(x) && isfinite(y));
    if (e->n == 0) {
        e->sxx = x * x;
        e->syy = y * y;
        e->sxy = x * y;
    } else {
        e->sxx = l * e->sxx + m * (x * x);
        e->syy = l * e->syy + m * (y * y);
        e->sxy = l * e->sxy + m * (x * y);
    }
    e->n++;
}

double bal_rolling_ewcorr_corr(const bal_rolling_ewcorr *e)
{
    if (e->n < e->w)
        return NAN;
    return corr_of(e->sxx, e->syy, e->sxy);
}

/* ---- The engine ---------------------------------------------------------- */

/* Per-asset state. */
struct asset {
    size_t bars;
    double close;               /* latest close, NaN before the first bar */
    double prev;                /* close before the latest bar (this step) */
    double ret;                 /* return at the latest bar */
    bal_rolling_wilder atr;
    bal_rolling_window vol;     /* used unless vol_ewma */
    bal_rolling_ewvar ewvol;    /* used with vol_ewma */
};

/* Per-pair state, i < j. */
struct pair {
    size_t count;               /* synchronous returns pushed */
    size_t last;                /* step of the latest push */
    double li, lj;              /* the latest synchronous returns */
    double ci, cj;              /* closes at the last common step, or NaN */
    bal_rolling_cov cov;        /* used unless corr_ewma */
    bal_rolling_ewcorr ew;      /* used with corr_ewma */
};

struct bal_rolling {
    size_t n;
    size_t steps;               /* bal_rolling_step calls */
    size_t npairs;
    bal_rolling_options opt;
    struct asset *assets;
    struct pair *pairs;
    size_t *active;             /* scratch: assets with a bar this step */
    double *store;              /* every ring buffer */
};

/* a * b into *out; 0 on overflow. */
static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

/* Index of the pair (i, j), i != j, in the upper triangle, row-major. */
static size_t pair_index(const bal_rolling *r, size_t i, size_t j)
{
    size_t t;

    if (i > j) {
        t = i;
        i = j;
        j = t;
    }
    return i * (2 * r->n - i - 1) / 2 + (j - i - 1);
}

static int check_options(const bal_rolling_options *o, bal_error *err)
{
    size_t vmin = o->vol_ewma ? 1 : 2;
    size_t cmin = o->corr_ewma ? 1 : 2;

    if (o->atr_window < 1)
        return bal_error_set(err, BAL_EINVAL,
                             "atr_window must be at least 1, got %zu",
                             o->atr_window);
    if (o->vol_window < vmin)
        return bal_error_set(err, BAL_EINVAL,
                             "vol_window must be at least %zu, got %zu",
                             vmin, o->vol_window);
    if (o->corr_window < cmin)
        return bal_error_set(err, BAL_EINVAL,
                             "corr_window must be at least %zu, got %zu",
                             cmin, o->corr_window);
    if ((o->vol_ewma || o->corr_ewma)
        && !(o->ewma_lambda > 0.0 && o->ewma_lambda < 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "ewma_lambda must lie in (0, 1), got %g",
                             o->ewma_lambda);
    return BAL_OK;
}

/* Doubles of ring buffer per asset and per pair, total into *out; 0 when
 * a size overflows. */
static int store_size(size_t n, const bal_rolling_options *o, size_t npairs,
                      size_t *out)
{
    size_t per_asset = o->vol_ewma ? 0 : o->vol_window;
    size_t per_pair = 0;
    size_t a, p, bytes;

    if (!o->corr_ewma && !mul_ok(2, o->corr_window, &per_pair))
        return 0;
    if (!mul_ok(n, per_asset, &a) || !mul_ok(npairs, per_pair, &p))
        return 0;
    if (a > SIZE_MAX - p)
        return 0;
    if (!mul_ok(a + p, sizeof(double), &bytes))
        return 0;
    if (!mul_ok(npairs, sizeof(struct pair), &bytes))
        return 0;
    if (!mul_ok(n, sizeof(struct asset), &bytes))
        return 0;
    *out = a + p;
    return 1;
}

int bal_rolling_new(bal_rolling **out, size_t n_assets,
                    const bal_rolling_options *opt, bal_error *err)
{
    static const bal_rolling_options defaults = BAL_ROLLING_OPTIONS_INIT;
    bal_rolling *r = NULL;
    size_t npairs = 0, nstore = 0, i, j;
    double *buf;
    int rc;

    BAL_ASSERT(out != NULL);
    *out = NULL;
    if (!opt)
        opt = &defaults;
    if (n_assets == 0)
        return bal_error_set(err, BAL_EINVAL, "no assets");
    rc = check_options(opt, err);
    if (rc < 0)
        return rc;
    if (!mul_ok(n_assets, n_assets - 1, &npairs)
        || !store_size(n_assets, opt, npairs / 2, &nstore))
        return bal_error_set(err, BAL_ENOMEM,
                             "rolling state for %zu assets is too large",
                             n_assets);
    npairs /= 2;

    r = calloc(1, sizeof(*r));
    if (!r) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    r->n = n_assets;
    r->npairs = npairs;
    r->opt = *opt;
    r->assets = calloc(n_assets, sizeof(*r->assets));
    r->active = calloc(n_assets, sizeof(*r->active));
    if (npairs > 0)
        r->pairs = calloc(npairs, sizeof(*r->pairs));
    if (nstore > 0)
        r->store = calloc(nstore, sizeof(*r->store));
    if (!r->assets || !r->active || (npairs > 0 && !r->pairs)
        || (nstore > 0 && !r->store)) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }

    buf = r->store;
    for (i = 0; i < n_assets; i++) {
        struct asset *a = &r->assets[i];

        a->close = NAN;
        a->prev = NAN;
        a->ret = NAN;
        bal_rolling_wilder_init(&a->atr, opt->atr_window);
        if (opt->vol_ewma) {
            bal_rolling_ewvar_init(&a->ewvol, opt->ewma_lambda,
                                   opt->vol_window);
        } else {
            bal_rolling_window_init(&a->vol, buf, opt->vol_window);
            buf += opt->vol_window;
        }
    }
    for (j = 0; j < npairs; j++) {
        struct pair *p = &r->pairs[j];

        p->ci = NAN;
        p->cj = NAN;
        if (opt->corr_ewma) {
            bal_rolling_ewcorr_init(&p->ew, opt->ewma_lambda,
                                    opt->corr_window);
        } else {
            /* slot k of pair j at buf[(k * npairs + j) * 2]: one step's
             * pushes of all pairs land in one contiguous row */
            bal_rolling_cov_init(&p->cov, buf + 2 * j, opt->corr_window);
            p->cov.stride = 2 * npairs;
        }
    }
    *out = r;
    r = NULL;                   /* ownership moved to the caller */
    rc = BAL_OK;
done:
    bal_rolling_free(r);
    return rc;
}

void bal_rolling_free(bal_rolling *r)
{
    if (!r)
        return;
    free(r->assets);
    free(r->pairs);
    free(r->active);
    free(r->store);
    free(r);
}

/* Return from close p to close c; for neighbouring prices c - p is exact,
 * so this keeps full relative precision for tiny moves. */
static double ret_of(double c, double p, int simple)
{
    double x = (c - p) / p;

    return simple ? x : log1p(x);
}

void bal_rolling_step(bal_rolling *r, const unsigned char *has_bar,
                      const double *high, const double *low,
                      const double *close)
{
    int simple = r->opt.simple_returns;
    size_t na = 0, a, b, i;

    BAL_ASSERT(has_bar != NULL && close != NULL);
    BAL_ASSERT((high == NULL) == (low == NULL));
    r->steps++;
    for (i = 0; i < r->n; i++) {
        struct asset *as = &r->assets[i];
        double c, h, l;

        if (!has_bar[i])
            continue;
        c = close[i];
        BAL_ASSERT(isfinite(c) && c > 0.0);
        h = high ? high[i] : NAN;
        l = low ? low[i] : NAN;
        as->prev = as->close;
        if (as->bars > 0) {
            as->ret = ret_of(c, as->prev, simple);
            if (r->opt.vol_ewma)
                bal_rolling_ewvar_push(&as->ewvol, as->ret);
            else
                bal_rolling_window_push(&as->vol, as->ret);
        }
        bal_rolling_wilder_push(&as->atr, h, l, c);
        as->close = c;
        as->bars++;
        r->active[na++] = i;
    }

    for (a = 0; a < na; a++) {
        size_t ii = r->active[a];
        const struct asset *ai = &r->assets[ii];
        /* Row ii of the triangle: pair (ii, jj) is at row + jj - ii - 1. */
        size_t row = ii * (2 * r->n - ii - 1) / 2;

        for (b = a + 1; b < na; b++) {
            size_t jj = r->active[b];
            const struct asset *aj = &r->assets[jj];
            struct pair *p = &r->pairs[row + (jj - ii - 1)];
            double ri, rj;

            if (!isnan(p->ci)) {
                /* The pair's last common step was the asset's previous
                 * bar: the synchronous return is the asset's own. */
                ri = p->ci == ai->prev ? ai->ret
                                       : ret_of(ai->close, p->ci, simple);
                rj = p->cj == aj->prev ? aj->ret
                                       : ret_of(aj->close, p->cj, simple);
                if (r->opt.corr_ewma)
                    bal_rolling_ewcorr_push(&p->ew, ri, rj);
                else
                    bal_rolling_cov_push(&p->cov, ri, rj);
                p->count++;
                p->li = ri;
                p->lj = rj;
                p->last = r->steps;
            }
            p->ci = ai->close;
            p->cj = aj->close;
        }
    }
}

double bal_rolling_atr(const bal_rolling *r, size_t i)
{
    BAL_ASSERT(i < r->n);
    return bal_rolling_wilder_atr(&r->assets[i].atr);
}

double bal_rolling_vol(const bal_rolling *r, size_t i)
{
    BAL_ASSERT(i < r->n);
    if (r->opt.vol_ewma)
        return bal_rolling_ewvar_sd(&r->assets[i].ewvol);
    return bal_rolling_window_sd(&r->assets[i].vol);
}

double bal_rolling_ret(const bal_rolling *r, size_t i)
{
    BAL_ASSERT(i < r->n);
    return r->assets[i].ret;
}

double bal_rolling_corr(const bal_rolling *r, size_t i, size_t j)
{
    const struct pair *p;

    BAL_ASSERT(i < r->n && j < r->n && i != j);
    p = &r->pairs[pair_index(r, i, j)];
    if (r->opt.corr_ewma)
        return bal_rolling_ewcorr_corr(&p->ew);
    return bal_rolling_cov_corr(&p->cov);
}

size_t bal_rolling_bars(const bal_rolling *r, size_t i)
{
    BAL_ASSERT(i < r->n);
    return r->assets[i].bars;
}

size_t bal_rolling_pair_count(const bal_rolling *r, size_t i, size_t j)
{
    BAL_ASSERT(i < r->n && j < r->n && i != j);
    return r->pairs[pair_index(r, i, j)].count;
}

int bal_rolling_warm(const bal_rolling *r, size_t i, unsigned need)
{
    const struct asset *as;
    size_t j;

    BAL_ASSERT(i < r->n);
    as = &r->assets[i];
    if ((need & BAL_ROLLING_NEED_VOL)
        && (as->bars == 0 || as->bars - 1 < r->opt.vol_window))
        return 0;
    if ((need & BAL_ROLLING_NEED_ATR) && isnan(as->atr.atr))
        return 0;
    if (need & BAL_ROLLING_NEED_CORR) {
        for (j = 0; j < r->n; j++) {
            if (j != i
                && r->pairs[pair_index(r, i, j)].count < r->opt.corr_window)
                return 0;
        }
    }
    return 1;
}

int bal_rolling_pair_last(const bal_rolling *r, size_t i, size_t j,
                          double *x_out, double *y_out)
{
    const struct pair *p;

    BAL_ASSERT(i < r->n && j < r->n && i != j);
    p = &r->pairs[pair_index(r, i, j)];
    if (p->count == 0 || p->last != r->steps)
        return 0;
    *x_out = i < j ? p->li : p->lj;
    *y_out = i < j ? p->lj : p->li;
    return 1;
}

void bal_rolling_corr_all(const bal_rolling *r, double *out)
{
    size_t j;

    for (j = 0; j < r->npairs; j++) {
        const struct pair *p = &r->pairs[j];

        out[j] = r->opt.corr_ewma ? bal_rolling_ewcorr_corr(&p->ew)
                                  : bal_rolling_cov_corr(&p->cov);
    }
}
