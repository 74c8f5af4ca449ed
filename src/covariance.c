/* Covariance for sizing and stress correlation (SPEC §3). Formulas and
 * their sources: tests/ref/covariance.md. */
#include "ballast/covariance.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* a * b into *out; 0 on overflow. */
static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

/* n x n doubles fit in size_t bytes. */
static int square_ok(size_t n, size_t *out)
{
    size_t nn, bytes;

    if (!mul_ok(n, n, &nn) || !mul_ok(nn, sizeof(double), &bytes))
        return 0;
    *out = nn;
    return 1;
}

/* Index of the pair (i, j), i != j, in the upper triangle, row-major (the
 * order of rolling.c). */
static size_t pair_index(size_t n, size_t i, size_t j)
{
    size_t t;

    if (i > j) {
        t = i;
        i = j;
        j = t;
    }
    return i * (2 * n - i - 1) / 2 + (j - i - 1);
}

/* ---- 1. Matrix helpers -------------------------------------------------- */

void bal_cov_corr_from_rolling(double *corr_out, const bal_rolling *r,
                               size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        corr_out[i * n + i] = 1.0;
        for (j = i + 1; j < n; j++) {
            double rho = bal_rolling_corr(r, i, j);

            corr_out[i * n + j] = rho;
            corr_out[j * n + i] = rho;
        }
    }
}

size_t bal_cov_sanitize(double *corr, size_t n)
{
    size_t i, j, replaced = 0;

    for (i = 0; i < n; i++) {
        corr[i * n + i] = 1.0;
        for (j = 0; j < n; j++) {
            if (j != i && isnan(corr[i * n + j])) {
                corr[i * n + j] = 0.0;
                replaced++;
            }
        }
    }
    return replaced;
}

void bal_cov_from_corr(double *cov_out, size_t n, const double *corr,
                       const double *vol_ann)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            double rho = corr[i * n + j];
            double c = isnan(rho) ? 0.0 : rho * vol_ann[i] * vol_ann[j];

            if (isnan(vol_ann[i]) || isnan(vol_ann[j]))
                c = NAN;
            cov_out[i * n + j] = c;
            cov_out[j * n + i] = c;
        }
        cov_out[i * n + i] = vol_ann[i] * vol_ann[i];
    }
}

int bal_cov_to_corr(double *corr_out, double *vol_out, size_t n,
                    const double *cov, bal_error *err)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            if (!isfinite(cov[i * n + j]))
                return bal_error_set(err, BAL_EINVAL,
                                     "covariance (%zu, %zu) is not finite",
                                     i, j);
            if (j > i && cov[i * n + j] != cov[j * n + i])
                return bal_error_set(err, BAL_EINVAL,
                                     "covariance is not symmetric at "
                                     "(%zu, %zu)", i, j);
        }
        if (!(cov[i * n + i] > 0.0))
            return bal_error_set(err, BAL_EINVAL,
                                 "variance of asset %zu is not positive",
                                 i);
    }
    for (i = 0; i < n; i++)
        vol_out[i] = sqrt(cov[i * n + i]);
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            double rho = cov[i * n + j] / (vol_out[i] * vol_out[j]);

            corr_out[i * n + j] = rho;
            corr_out[j * n + i] = rho;
        }
        corr_out[i * n + i] = 1.0;
    }
    return BAL_OK;
}

/* BAL_EINVAL naming the first NaN off-diagonal entry, else BAL_OK. */
static int check_no_nan(const double *corr, size_t n, bal_error *err)
{
    size_t i, j;

    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            if (j != i && isnan(corr[i * n + j]))
                return bal_error_set(err, BAL_EINVAL,
                                     "correlation (%zu, %zu) is NaN", i, j);
    return BAL_OK;
}

int bal_cov_shrink(double *corr, size_t n, int target, double delta,
                   bal_error *err)
{
    double rbar = 0.0;
    size_t i, j, npairs = n * (n - 1) / 2;
    int rc;

    if (!(delta >= 0.0 && delta <= 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "shrinkage intensity must lie in [0, 1], "
                             "got %g", delta);
    if (target != BAL_COV_TARGET_DIAGONAL
        && target != BAL_COV_TARGET_CONSTANT_CORR)
        return bal_error_set(err, BAL_EINVAL,
                             "unknown shrinkage target %d", target);
    rc = check_no_nan(corr, n, err);
    if (rc < 0 || delta == 0.0 || n < 2)
        return rc;
    if (target == BAL_COV_TARGET_CONSTANT_CORR) {
        for (i = 0; i < n; i++)
            for (j = i + 1; j < n; j++)
                rbar += corr[i * n + j];
        rbar /= (double)npairs;
    }
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            double c = (1.0 - delta) * corr[i * n + j] + delta * rbar;

            corr[i * n + j] = c;
            corr[j * n + i] = c;
        }
        corr[i * n + i] = 1.0;
    }
    return BAL_OK;
}

int bal_cov_blend(double *corr, size_t n, const double *stress,
                  double alpha, bal_error *err)
{
    size_t i, j;
    int rc;

    if (!(alpha >= 0.0 && alpha <= 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "stress_blend must lie in [0, 1], got %g",
                             alpha);
    rc = check_no_nan(corr, n, err);
    if (rc < 0 || alpha == 0.0)
        return rc;
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            double c = corr[i * n + j];
            double s = stress[i * n + j];

            if (isnan(s) || !(s > c))
                continue;
            c += alpha * (s - c);
            corr[i * n + j] = c;
            corr[j * n + i] = c;
        }
    }
    return BAL_OK;
}

/* ---- 2. PSD repair ------------------------------------------------------ */

struct bal_cov_psd {
    size_t n;
    gsl_matrix *a;              /* copy the solver destroys */
    gsl_matrix *evec;
    gsl_vector *eval;
    gsl_eigen_symmv_workspace *ws;
    double *p;                  /* n x n: the part above the floor */
    double min_eig;
};

int bal_cov_psd_new(bal_cov_psd **out, size_t n, bal_error *err)
{
    bal_cov_psd *w = NULL;
    size_t nn;
    int rc;

    BAL_ASSERT(out != NULL);
    *out = NULL;
    if (n == 0)
        return bal_error_set(err, BAL_EINVAL, "no assets");
    if (!square_ok(n, &nn))
        return bal_error_set(err, BAL_ENOMEM,
                             "eigen workspace for %zu assets is too large",
                             n);
    w = calloc(1, sizeof(*w));
    if (!w)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    w->n = n;
    w->min_eig = NAN;
    w->a = gsl_matrix_alloc(n, n);
    w->evec = gsl_matrix_alloc(n, n);
    w->eval = gsl_vector_alloc(n);
    w->ws = gsl_eigen_symmv_alloc(n);
    w->p = calloc(nn, sizeof(*w->p));
    if (!w->a || !w->evec || !w->eval || !w->ws || !w->p) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    *out = w;
    w = NULL;                   /* ownership moved to the caller */
    rc = BAL_OK;
done:
    bal_cov_psd_free(w);
    return rc;
}

void bal_cov_psd_free(bal_cov_psd *w)
{
    if (!w)
        return;
    if (w->a)
        gsl_matrix_free(w->a);
    if (w->evec)
        gsl_matrix_free(w->evec);
    if (w->eval)
        gsl_vector_free(w->eval);
    if (w->ws)
        gsl_eigen_symmv_free(w->ws);
    free(w->p);
    free(w);
}

static int check_corr(const double *corr, size_t n, bal_error *err)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        if (corr[i * n + i] != 1.0)
            return bal_error_set(err, BAL_EINVAL,
                                 "correlation diagonal (%zu, %zu) is %.17g, "
                                 "not 1", i, i, corr[i * n + i]);
        for (j = i + 1; j < n; j++) {
            if (!isfinite(corr[i * n + j]) || !isfinite(corr[j * n + i]))
                return bal_error_set(err, BAL_EINVAL,
                                     "correlation (%zu, %zu) is not "
                                     "finite", i, j);
            if (corr[i * n + j] != corr[j * n + i])
                return bal_error_set(err, BAL_EINVAL,
                                     "correlation is not symmetric at "
                                     "(%zu, %zu)", i, j);
        }
    }
    return BAL_OK;
}

int bal_cov_psd_repair(double *corr, int *repaired_out, bal_cov_psd *w,
                       double psd_floor, bal_error *err)
{
    size_t n, i, j, k;
    double f = psd_floor, lmin;
    int rc, st;

    BAL_ASSERT(corr != NULL && w != NULL);
    n = w->n;
    if (repaired_out)
        *repaired_out = 0;
    if (!(f >= 0.0 && f < 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "psd_floor must lie in [0, 1), got %g", f);
    rc = check_corr(corr, n, err);
    if (rc < 0)
        return rc;

    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            gsl_matrix_set(w->a, i, j, corr[i * n + j]);
    st = gsl_eigen_symmv(w->a, w->eval, w->evec, w->ws);
    if (st != GSL_SUCCESS)
        return bal_error_set(err, BAL_ENUMERIC,
                             "eigen-decomposition failed: %s",
                             gsl_strerror(st));
    lmin = gsl_vector_get(w->eval, 0);
    for (k = 1; k < n; k++)
        if (gsl_vector_get(w->eval, k) < lmin)
            lmin = gsl_vector_get(w->eval, k);
    w->min_eig = lmin;
    if (lmin >= f)
        return BAL_OK;

    /* P = sum_k max(lambda_k - f, 0) v_k v_k', upper triangle. */
    for (i = 0; i < n; i++) {
        for (j = i; j < n; j++) {
            double s = 0.0;

            for (k = 0; k < n; k++) {
                double c = gsl_vector_get(w->eval, k) - f;

                if (c > 0.0)
                    s += c * gsl_matrix_get(w->evec, i, k)
                         * gsl_matrix_get(w->evec, j, k);
            }
            w->p[i * n + j] = s;
        }
        /* P_ii >= 1 - f > 0 in exact arithmetic; guard the rounding. */
        if (!(w->p[i * n + i] > 0.0))
            return bal_error_set(err, BAL_ENUMERIC,
                                 "psd repair: row %zu vanished above the "
                                 "floor", i);
    }
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            double c = (1.0 - f) * w->p[i * n + j]
                       / sqrt(w->p[i * n + i] * w->p[j * n + j]);

            c = c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
            corr[i * n + j] = c;
            corr[j * n + i] = c;
        }
        corr[i * n + i] = 1.0;
    }
    if (repaired_out)
        *repaired_out = 1;
    return BAL_OK;
}

double bal_cov_psd_min_eig(const bal_cov_psd *w)
{
    return w->min_eig;
}

/* ---- 3. Synchronous-return panel and Ledoit-Wolf ------------------------ */

struct bal_cov_panel {
    size_t n, w;
    size_t rows, head;          /* rows held; next row slot to write */
    int simple;
    int have_close;             /* prev holds the last closes */
    double *ring;               /* w rows of n returns */
    double *prev;               /* n closes at the last push_closes */
    double *z;                  /* LW workspace: rows x n standardised */
    double *ok;                 /* LW workspace: 1 when sd > 0, else 0 */
    double *r;                  /* LW workspace: n x n sample correlation */
};

int bal_cov_panel_new(bal_cov_panel **out, size_t n_assets, size_t window,
                      int simple_returns, bal_error *err)
{
    bal_cov_panel *p = NULL;
    size_t nring, nn, bytes;
    int rc;

    BAL_ASSERT(out != NULL);
    *out = NULL;
    if (n_assets == 0)
        return bal_error_set(err, BAL_EINVAL, "no assets");
    if (window < 2)
        return bal_error_set(err, BAL_EINVAL,
                             "panel window must be at least 2, got %zu",
                             window);
    if (!mul_ok(n_assets, window, &nring)
        || !mul_ok(nring, sizeof(double), &bytes)
        || !square_ok(n_assets, &nn))
        return bal_error_set(err, BAL_ENOMEM,
                             "panel of %zu assets x %zu rows is too large",
                             n_assets, window);
    p = calloc(1, sizeof(*p));
    if (!p)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    p->n = n_assets;
    p->w = window;
    p->simple = simple_returns;
    p->ring = calloc(nring, sizeof(*p->ring));
    p->z = calloc(nring, sizeof(*p->z));
    p->prev = calloc(n_assets, sizeof(*p->prev));
    p->ok = calloc(n_assets, sizeof(*p->ok));
    p->r = calloc(nn, sizeof(*p->r));
    if (!p->ring || !p->z || !p->prev || !p->ok || !p->r) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    *out = p;
    p = NULL;                   /* ownership moved to the caller */
    rc = BAL_OK;
done:
    bal_cov_panel_free(p);
    return rc;
}

void bal_cov_panel_free(bal_cov_panel *p)
{
    if (!p)
        return;
    free(p->ring);
    free(p->z);
    free(p->prev);
    free(p->ok);
    free(p->r);
    free(p);
}

/* The slot of the next row, advancing the ring. */
static double *next_row(bal_cov_panel *p)
{
    double *row = p->ring + p->head * p->n;

    p->head = (p->head + 1) % p->w;
    if (p->rows < p->w)
        p->rows++;
    return row;
}

void bal_cov_panel_push(bal_cov_panel *p, const double *ret)
{
    double *row;
    size_t i;

    for (i = 0; i < p->n; i++)
        BAL_ASSERT(isfinite(ret[i]));
    row = next_row(p);
    memcpy(row, ret, p->n * sizeof(*row));
}

void bal_cov_panel_push_closes(bal_cov_panel *p, const double *close)
{
    double *row;
    size_t i;

    for (i = 0; i < p->n; i++)
        BAL_ASSERT(isfinite(close[i]) && close[i] > 0.0);
    if (p->have_close) {
        row = next_row(p);
        for (i = 0; i < p->n; i++) {
            /* As rolling.c: c - p is exact for neighbouring prices. */
            double x = (close[i] - p->prev[i]) / p->prev[i];

            row[i] = p->simple ? x : log1p(x);
        }
    }
    memcpy(p->prev, close, p->n * sizeof(*p->prev));
    p->have_close = 1;
}

size_t bal_cov_panel_rows(const bal_cov_panel *p)
{
    return p->rows;
}

const double *bal_cov_panel_row(const bal_cov_panel *p, size_t k)
{
    size_t slot;

    BAL_ASSERT(k < p->rows);
    /* The oldest row sits at head once the ring is full, else at 0. */
    slot = p->rows < p->w ? k : (p->head + k) % p->w;
    return p->ring + slot * p->n;
}

/* Standardises the panel into p->z (row t = oldest + t) and fills p->ok;
 * returns the number of assets with a positive variance. */
static size_t standardise(bal_cov_panel *p)
{
    size_t n = p->n, T = p->rows, i, t, nok = 0;

    for (i = 0; i < n; i++) {
        double k = bal_cov_panel_row(p, 0)[i], m = 0.0, v = 0.0, sd;

        /* Two passes on the data shifted by its first value: a constant
         * series gives exactly 0 deviations, hence variance 0. */
        for (t = 0; t < T; t++)
            m += bal_cov_panel_row(p, t)[i] - k;
        m /= (double)T;
        for (t = 0; t < T; t++) {
            double d = (bal_cov_panel_row(p, t)[i] - k) - m;

            p->z[t * n + i] = d;
            v += d * d;
        }
        v /= (double)T;
        p->ok[i] = v > 0.0 ? 1.0 : 0.0;
        if (!(v > 0.0)) {
            for (t = 0; t < T; t++)
                p->z[t * n + i] = 0.0;
            continue;
        }
        nok++;
        sd = sqrt(v);
        for (t = 0; t < T; t++)
            p->z[t * n + i] /= sd;
    }
    return nok;
}

int bal_cov_panel_ledoit_wolf(double *delta_out, bal_cov_panel *p,
                              int target, bal_error *err)
{
    size_t n = p->n, T = p->rows, i, j, t, npairs = 0;
    double rbar = 0.0, num = 0.0, gamma = 0.0, kappa, delta;
    int cc = target == BAL_COV_TARGET_CONSTANT_CORR;

    BAL_ASSERT(delta_out != NULL);
    if (target != BAL_COV_TARGET_DIAGONAL && !cc)
        return bal_error_set(err, BAL_EINVAL,
                             "unknown shrinkage target %d", target);
    if (T < 2) {
        *delta_out = 1.0;
        return BAL_OK;
    }
    standardise(p);

    /* Sample correlation r_ij = 1/T sum_t z_it z_jt. */
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            double s = 0.0;

            if (p->ok[i] == 0.0 || p->ok[j] == 0.0)
                continue;
            for (t = 0; t < T; t++)
                s += p->z[t * n + i] * p->z[t * n + j];
            s /= (double)T;
            p->r[i * n + j] = s;
            rbar += s;
            npairs++;
        }
    }
    if (npairs > 0)
        rbar /= (double)npairs;
    if (!cc)
        rbar = 0.0;             /* F = I: the target's rho is 0 */

    /* Sums over unordered pairs; each counts twice in sum_{i != j}. */
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            double r, pi = 0.0, thi = 0.0, thj = 0.0;

            if (p->ok[i] == 0.0 || p->ok[j] == 0.0)
                continue;
            r = p->r[i * n + j];
            for (t = 0; t < T; t++) {
                double zi = p->z[t * n + i], zj = p->z[t * n + j];
                double e = zi * zj - r;

                pi += e * e;
                thi += (zi * zi - 1.0) * e;
                thj += (zj * zj - 1.0) * e;
            }
            pi /= (double)T;
            thi /= (double)T;
            thj /= (double)T;
            num += 2.0 * pi - rbar * (thi + thj);
            gamma += 2.0 * (r - rbar) * (r - rbar);
        }
    }
    if (gamma > 0.0) {
        kappa = num / gamma;
        delta = kappa / (double)T;
        delta = delta < 0.0 ? 0.0 : delta > 1.0 ? 1.0 : delta;
    } else {
        delta = num > 0.0 ? 1.0 : 0.0;
    }
    *delta_out = delta;
    return BAL_OK;
}

/* ---- 4. Stress correlation ---------------------------------------------- */

/* Welford running moments of one pair's returns in one state. */
struct moments {
    size_t n;
    double mx, my;              /* means */
    double cxx, cyy, cxy;       /* sums of products of deviations */
};

struct spair {
    struct moments m[2];        /* [0] calm, [1] stress */
    size_t last;                /* step of the last push, 0 = none */
};

struct bal_cov_stress {
    size_t n, npairs;
    size_t cap;                 /* max_steps */
    size_t step;                /* begin calls so far */
    size_t nsteps[2];           /* calm, stress steps */
    int cur;                    /* class of the current step */
    double p;                   /* quantile */
    double q;                   /* threshold of the last ew step, or NaN */
    /* Expanding quantile: nobs ew returns split into lo (the j + 1
     * smallest, a max-heap at heap[0..nlo)) and hi (the rest, kept negated
     * as a max-heap at heap[cap - 1], heap[cap - 2], ..). */
    size_t nobs, nlo, nhi;
    double *heap;
    struct spair *pairs;
};

int bal_cov_stress_new(bal_cov_stress **out, size_t n_assets,
                       size_t max_steps, double quantile, bal_error *err)
{
    bal_cov_stress *s = NULL;
    size_t npairs = 0, bytes;
    int rc;

    BAL_ASSERT(out != NULL);
    *out = NULL;
    if (n_assets == 0)
        return bal_error_set(err, BAL_EINVAL, "no assets");
    if (max_steps == 0)
        return bal_error_set(err, BAL_EINVAL, "max_steps must be positive");
    if (!(quantile > 0.0 && quantile < 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "stress_quantile must lie in (0, 1), got %g",
                             quantile);
    if (!mul_ok(n_assets, n_assets - 1, &npairs)
        || !mul_ok(npairs / 2, sizeof(struct spair), &bytes)
        || !mul_ok(max_steps, sizeof(double), &bytes))
        return bal_error_set(err, BAL_ENOMEM,
                             "stress state for %zu assets x %zu steps is "
                             "too large", n_assets, max_steps);
    npairs /= 2;
    s = calloc(1, sizeof(*s));
    if (!s)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    s->n = n_assets;
    s->npairs = npairs;
    s->cap = max_steps;
    s->p = quantile;
    s->q = NAN;
    s->heap = calloc(max_steps, sizeof(*s->heap));
    if (npairs > 0)
        s->pairs = calloc(npairs, sizeof(*s->pairs));
    if (!s->heap || (npairs > 0 && !s->pairs)) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    *out = s;
    s = NULL;                   /* ownership moved to the caller */
    rc = BAL_OK;
done:
    bal_cov_stress_free(s);
    return rc;
}

void bal_cov_stress_free(bal_cov_stress *s)
{
    if (!s)
        return;
    free(s->heap);
    free(s->pairs);
    free(s);
}

/* Element k of heap `which` (0 = lo, 1 = hi). */
static double *heap_at(bal_cov_stress *s, int which, size_t k)
{
    return which ? &s->heap[s->cap - 1 - k] : &s->heap[k];
}

/* Pushes x onto max-heap `which` of size *len. */
static void heap_push(bal_cov_stress *s, int which, size_t *len, double x)
{
    size_t k = (*len)++;

    while (k > 0) {
        size_t up = (k - 1) / 2;
        double *pu = heap_at(s, which, up);

        if (!(*pu < x))
            break;
        *heap_at(s, which, k) = *pu;
        k = up;
    }
    *heap_at(s, which, k) = x;
}

/* Pops the top of max-heap `which` of size *len (> 0). */
static double heap_pop(bal_cov_stress *s, int which, size_t *len)
{
    double top = *heap_at(s, which, 0);
    double x = *heap_at(s, which, --(*len));
    size_t k = 0, n = *len;

    for (;;) {
        size_t c = 2 * k + 1;

        if (c >= n)
            break;
        if (c + 1 < n && *heap_at(s, which, c + 1) > *heap_at(s, which, c))
            c++;
        if (!(*heap_at(s, which, c) > x))
            break;
        *heap_at(s, which, k) = *heap_at(s, which, c);
        k = c;
    }
    if (n > 0)
        *heap_at(s, which, k) = x;
    return top;
}

/* Adds ew to the expanding sample and returns the type-7 quantile of the
 * sample (GSL's gsl_stats_quantile_from_sorted_data arithmetic). */
static double quantile_push(bal_cov_stress *s, double ew)
{
    double h, g, lo, hi;
    size_t j;

    if (s->nlo > 0 && ew <= *heap_at(s, 0, 0))
        heap_push(s, 0, &s->nlo, ew);
    else
        heap_push(s, 1, &s->nhi, -ew);
    s->nobs++;
    h = s->p * (double)(s->nobs - 1);
    j = (size_t)h;
    g = h - (double)j;
    /* lo must hold ranks 0..j. */
    while (s->nlo > j + 1)
        heap_push(s, 1, &s->nhi, -heap_pop(s, 0, &s->nlo));
    while (s->nlo < j + 1)
        heap_push(s, 0, &s->nlo, -heap_pop(s, 1, &s->nhi));
    lo = *heap_at(s, 0, 0);
    if (j == s->nobs - 1)
        return lo;
    hi = -*heap_at(s, 1, 0);
    return (1.0 - g) * lo + g * hi;
}

int bal_cov_stress_begin(bal_cov_stress *s, const double *ret_simple,
                         int shock)
{
    double sum = 0.0;
    size_t i, k = 0;
    int stress = shock != 0;

    BAL_ASSERT(s->step < s->cap);
    s->step++;
    for (i = 0; i < s->n; i++) {
        double x = ret_simple[i];

        if (isnan(x))
            continue;
        BAL_ASSERT(isfinite(x));
        sum += x;
        k++;
    }
    if (k > 0) {
        double ew = sum / (double)k;

        s->q = quantile_push(s, ew);
        if (ew <= s->q)
            stress = 1;
    }
    s->cur = stress;
    s->nsteps[stress]++;
    return stress;
}

void bal_cov_stress_pair(bal_cov_stress *s, size_t i, size_t j, double x,
                         double y)
{
    struct spair *sp;
    struct moments *m;
    double dx, dy, t;

    BAL_ASSERT(i < s->n && j < s->n && i != j);
    BAL_ASSERT(isfinite(x) && isfinite(y));
    BAL_ASSERT(s->step > 0);
    if (i > j) {
        t = x;
        x = y;
        y = t;
    }
    sp = &s->pairs[pair_index(s->n, i, j)];
    BAL_ASSERT(sp->last != s->step);
    sp->last = s->step;
    m = &sp->m[s->cur];
    m->n++;
    dx = x - m->mx;
    dy = y - m->my;
    m->mx += dx / (double)m->n;
    m->my += dy / (double)m->n;
    m->cxx += dx * (x - m->mx);
    m->cyy += dy * (y - m->my);
    m->cxy += dx * (y - m->my);
}

double bal_cov_stress_threshold(const bal_cov_stress *s)
{
    return s->q;
}

size_t bal_cov_stress_steps(const bal_cov_stress *s, int stress)
{
    return s->nsteps[stress != 0];
}

static const struct moments *moments_of(const bal_cov_stress *s, size_t i,
                                        size_t j, int stress)
{
    BAL_ASSERT(i < s->n && j < s->n && i != j);
    return &s->pairs[pair_index(s->n, i, j)].m[stress != 0];
}

size_t bal_cov_stress_count(const bal_cov_stress *s, size_t i, size_t j,
                            int stress)
{
    return moments_of(s, i, j, stress)->n;
}

double bal_cov_stress_corr(const bal_cov_stress *s, size_t i, size_t j,
                           int stress)
{
    const struct moments *m = moments_of(s, i, j, stress);
    double c;

    if (m->n < 2 || !(m->cxx > 0.0) || !(m->cyy > 0.0))
        return NAN;
    c = m->cxy / sqrt(m->cxx * m->cyy);
    return c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
}

/* rho of (i, j) in the state, NaN when undefined or under min_obs. */
static double corr_min(const bal_cov_stress *s, size_t i, size_t j,
                       int stress, size_t min_obs)
{
    if (bal_cov_stress_count(s, i, j, stress) < min_obs)
        return NAN;
    return bal_cov_stress_corr(s, i, j, stress);
}

void bal_cov_stress_matrix(double *corr_out, const bal_cov_stress *s,
                           int stress, size_t min_obs)
{
    size_t n = s->n, i, j;

    for (i = 0; i < n; i++) {
        corr_out[i * n + i] = 1.0;
        for (j = i + 1; j < n; j++) {
            double c = corr_min(s, i, j, stress, min_obs);

            corr_out[i * n + j] = c;
            corr_out[j * n + i] = c;
        }
    }
}

size_t bal_cov_stress_top(size_t *i_out, size_t *j_out, double *diff_out,
                          size_t k, const bal_cov_stress *s, size_t min_obs)
{
    size_t n = s->n, len = 0, i, j, a;

    if (k == 0)
        return 0;
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            double d = corr_min(s, i, j, 1, min_obs)
                       - corr_min(s, i, j, 0, min_obs);

            /* A later pair must beat the last kept one strictly, so equal
             * differences keep pair order. */
            if (isnan(d) || (len == k && !(d > diff_out[k - 1])))
                continue;
            a = len < k ? len++ : k - 1;
            for (; a > 0 && diff_out[a - 1] < d; a--) {
                i_out[a] = i_out[a - 1];
                j_out[a] = j_out[a - 1];
                diff_out[a] = diff_out[a - 1];
            }
            i_out[a] = i;
            j_out[a] = j;
            diff_out[a] = d;
        }
    }
    return len;
}

/* ---- 5. The sizing correlation ------------------------------------------ */

int bal_cov_sizing_corr(double *corr, double *delta_out, int *repaired_out,
                        bal_cov_psd *w, bal_cov_panel *panel,
                        const double *stress_corr,
                        const bal_cov_options *opt, bal_error *err)
{
    static const bal_cov_options defaults = BAL_COV_OPTIONS_INIT;
    size_t n;
    double delta;
    int rc;

    BAL_ASSERT(corr != NULL && w != NULL);
    if (!opt)
        opt = &defaults;
    n = w->n;
    if (repaired_out)
        *repaired_out = 0;
    if (opt->ledoit_wolf && !panel)
        return bal_error_set(err, BAL_EINVAL,
                             "ledoit_wolf shrinkage needs a return panel");
    if (!(opt->psd_floor >= 0.0 && opt->psd_floor < 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "psd_floor must lie in [0, 1), got %g",
                             opt->psd_floor);
    if (!(opt->stress_blend >= 0.0 && opt->stress_blend <= 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "stress_blend must lie in [0, 1], got %g",
                             opt->stress_blend);
    if (opt->target != BAL_COV_TARGET_DIAGONAL
        && opt->target != BAL_COV_TARGET_CONSTANT_CORR)
        return bal_error_set(err, BAL_EINVAL,
                             "unknown shrinkage target %d", opt->target);
    if (opt->ledoit_wolf) {
        BAL_ASSERT(panel->n == n);
        rc = bal_cov_panel_ledoit_wolf(&delta, panel, opt->target, err);
        if (rc < 0)
            return rc;
    } else {
        delta = opt->shrinkage;
    }
    if (!(delta >= 0.0 && delta <= 1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "shrinkage intensity must lie in [0, 1], "
                             "got %g", delta);
    bal_cov_sanitize(corr, n);
    rc = bal_cov_shrink(corr, n, opt->target, delta, err);
    if (rc < 0)
        return rc;
    if (opt->stress_blend > 0.0 && stress_corr) {
        rc = bal_cov_blend(corr, n, stress_corr, opt->stress_blend, err);
        if (rc < 0)
            return rc;
    }
    if (delta_out)
        *delta_out = delta;
    return bal_cov_psd_repair(corr, repaired_out, w, opt->psd_floor, err);
}
