/* Allocation methods: see include/ballast/alloc.h and SPEC §4, §12. */
#include "ballast/alloc.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ERC: full Newton steps once the Newton decrement is below this (inside
 * the quadratic-convergence region (3 - sqrt 5) / 2 of a self-concordant
 * function); damped steps 1 / (1 + lambda) above it. */
#define ERC_FULL_STEP 0.25
/* Weights are O(1) and sum to 1: values within this of 0 are 0. */
#define WEIGHT_EPS 1e-14
/* A direction of the null space counts as carrying the budget vector 1
 * when |P_N 1|^2 exceeds this fraction of |1|^2. */
#define NULL_RTOL 1e-10
/* Stage 2 of MIN_VARIANCE: a step shorter than this (in weight units) is
 * no step. */
#define STEP_EPS 1e-12
/* ERC: a Newton step is halved at most this often to keep z > 0 (the
 * damped step already does in exact arithmetic). */
#define ERC_MAX_HALVINGS 64

enum { N_MAT = 4, N_VEC = 8 };

struct bal_alloc_work {
    size_t cap;
    double *mat[N_MAT];         /* cap * cap each */
    double *vec[N_VEC];         /* cap each */
    size_t *idx;                /* usable assets (input indices) */
    size_t *pos;                /* input index -> position in idx */
    size_t *cid, *csz, *list, *list2, *order;
    unsigned char *fl, *fl2;
    bal_alloc_merge *merges;
    size_t tree_m;              /* leaves of the stored tree, 0 = none */
    gsl_eigen_symmv_workspace *eig;
};

static void release(bal_alloc_work *w)
{
    size_t k;

    for (k = 0; k < N_MAT; k++) {
        free(w->mat[k]);
        w->mat[k] = NULL;
    }
    for (k = 0; k < N_VEC; k++) {
        free(w->vec[k]);
        w->vec[k] = NULL;
    }
    free(w->idx);
    free(w->pos);
    free(w->cid);
    free(w->csz);
    free(w->list);
    free(w->list2);
    free(w->order);
    free(w->fl);
    free(w->fl2);
    free(w->merges);
    if (w->eig)
        gsl_eigen_symmv_free(w->eig);
    w->idx = w->pos = w->cid = w->csz = w->list = w->list2 = NULL;
    w->order = NULL;
    w->fl = w->fl2 = NULL;
    w->merges = NULL;
    w->eig = NULL;
    w->cap = 0;
    w->tree_m = 0;
}

/* Makes room for n assets; nothing happens when there is room already. */
static int reserve(bal_alloc_work *w, size_t n, bal_error *err)
{
    size_t k, nn;
    int ok = 1;

    if (n <= w->cap)
        return 0;
    release(w);
    if (n > SIZE_MAX / n || n * n > SIZE_MAX / sizeof(double))
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    nn = n * n;
    for (k = 0; k < N_MAT; k++) {
        w->mat[k] = malloc(nn * sizeof(double));
        ok = ok && w->mat[k];
    }
    for (k = 0; k < N_VEC; k++) {
        w->vec[k] = malloc(n * sizeof(double));
        ok = ok && w->vec[k];
    }
    w->idx = malloc(n * sizeof(size_t));
    w->pos = malloc(n * sizeof(size_t));
    w->cid = malloc(n * sizeof(size_t));
    w->csz = malloc(n * sizeof(size_t));
    w->list = malloc(n * sizeof(size_t));
    w->list2 = malloc(n * sizeof(size_t));
    w->order = malloc(n * sizeof(size_t));
    w->fl = malloc(n);
    w->fl2 = malloc(n);
    w->merges = malloc(n * sizeof(bal_alloc_merge));
    w->eig = gsl_eigen_symmv_alloc(n);
    if (!ok || !w->idx || !w->pos || !w->cid || !w->csz || !w->list
        || !w->list2 || !w->order || !w->fl || !w->fl2 || !w->merges
        || !w->eig) {
        release(w);
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    }
    w->cap = n;
    return 0;
}

int bal_alloc_work_new(bal_alloc_work **out, size_t n, bal_error *err)
{
    bal_alloc_work *w;
    int rc;

    *out = NULL;
    if (n == 0)
        return bal_error_set(err, BAL_EINVAL,
                             "allocation workspace needs at least 1 asset");
    w = calloc(1, sizeof(*w));
    if (!w)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    rc = reserve(w, n, err);
    if (rc < 0) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void bal_alloc_work_free(bal_alloc_work *w)
{
    if (!w)
        return;
    release(w);
    free(w);
}

/* ------------------------------------------------------------------ */
/* Small dense helpers (row-major k x k matrices).                     */

/* Eigen-decomposition of the k x k symmetric `a` (destroyed): values in
 * eval, orthonormal vectors in the columns of evec. */
static int eigen(double *a, size_t k, double *eval, double *evec,
                 bal_alloc_work *w, bal_error *err)
{
    gsl_matrix_view A = gsl_matrix_view_array(a, k, k);
    gsl_vector_view E = gsl_vector_view_array(eval, k);
    gsl_matrix_view V = gsl_matrix_view_array(evec, k, k);
    int st = gsl_eigen_symmv(&A.matrix, &E.vector, &V.matrix, w->eig);

    if (st)
        return bal_error_set(err, BAL_ENUMERIC,
                             "eigen-decomposition failed: %s",
                             gsl_strerror(st));
    return 0;
}

static double max_of(const double *x, size_t k)
{
    double m = -INFINITY;
    size_t i;

    for (i = 0; i < k; i++)
        if (x[i] > m)
            m = x[i];
    return m;
}

/* The active assets into w->idx (count in *m_out); with cov, checks that
 * the active block is finite with a non-negative diagonal and copies its
 * symmetric part for the assets kept into mat[0] (m x m). Zero-variance
 * assets are kept only when keep_zero is set. */
static int gather(bal_alloc_work *w, size_t *m_out, size_t n,
                  const double *cov, const unsigned char *active,
                  int keep_zero, bal_error *err)
{
    size_t i, j, m = 0;
    double *s = w->mat[0];

    for (i = 0; i < n; i++) {
        if (active && !active[i])
            continue;
        if (cov) {
            for (j = 0; j < n; j++) {
                if (active && !active[j])
                    continue;
                if (!isfinite(cov[i * n + j]))
                    return bal_error_set(err, BAL_EINVAL,
                                         "covariance entry (%zu, %zu) is "
                                         "not finite", i + 1, j + 1);
            }
            if (cov[i * n + i] < 0)
                return bal_error_set(err, BAL_EINVAL,
                                     "variance of asset %zu is negative "
                                     "(%g)", i + 1, cov[i * n + i]);
            if (cov[i * n + i] == 0 && !keep_zero)
                continue;
        }
        w->pos[i] = m;
        w->idx[m++] = i;
    }
    if (cov) {
        for (i = 0; i < m; i++)
            for (j = 0; j < m; j++) {
                size_t a = w->idx[i], b = w->idx[j];

                s[i * m + j] = 0.5 * (cov[a * n + b] + cov[b * n + a]);
            }
    }
    *m_out = m;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Inverse volatility / ATR.                                           */

static void inverse_of(double *x, const double *v, size_t m)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < m; i++)
        sum += 1 / v[i];
    for (i = 0; i < m; i++)
        x[i] = 1 / v[i] / sum;
}

/* ------------------------------------------------------------------ */
/* ERC: damped Newton on z'Rz/2 - sum log z (Spinu 2013).              */

/* max_i |RC_i / sum RC - 1/m| for w = z / sd normalised, RC on S. */
static double erc_deviation(const double *z, const double *sd,
                            const double *s, size_t m, double *wv)
{
    double sum = 0, tot = 0, dev = 0;
    size_t i, j;

    for (i = 0; i < m; i++) {
        wv[i] = z[i] / sd[i];
        sum += wv[i];
    }
    for (i = 0; i < m; i++)
        wv[i] /= sum;
    for (i = 0; i < m; i++) {
        double sw = 0;

        for (j = 0; j < m; j++)
            sw += s[i * m + j] * wv[j];
        tot += wv[i] * sw;
    }
    if (!(tot > 0))
        return INFINITY;
    for (i = 0; i < m; i++) {
        double sw = 0, d;

        for (j = 0; j < m; j++)
            sw += s[i * m + j] * wv[j];
        d = fabs(wv[i] * sw / tot - 1.0 / (double)m);
        if (d > dev)
            dev = d;
    }
    return dev;
}

static int erc(double *x, bal_alloc_work *w, size_t m, double tol,
               size_t max_iter, bal_error *err)
{
    const double *s = w->mat[0];
    double *r = w->mat[1], *h = w->mat[2];
    double *sd = w->vec[0], *z = w->vec[1], *g = w->vec[2];
    double *u = w->vec[3], *zn = w->vec[4];
    double tot = 0, dev = INFINITY;
    size_t i, j, it;

    for (i = 0; i < m; i++)
        sd[i] = sqrt(s[i * m + i]);
    for (i = 0; i < m; i++)
        for (j = 0; j < m; j++) {
            r[i * m + j] = i == j ? 1.0 : s[i * m + j] / (sd[i] * sd[j]);
            tot += r[i * m + j];
        }
    /* The solution for R = rho 11' + (1 - rho) I, scaled to R's mean
     * row sum: exact for equicorrelation. */
    for (i = 0; i < m; i++)
        z[i] = tot > 0 ? 1 / sqrt(tot / (double)m) : 1.0;
    for (it = 0;; it++) {
        gsl_matrix_view H;
        gsl_vector_view G, U;
        double lam2 = 0, step;
        int st, tries;

        dev = erc_deviation(z, sd, s, m, x);
        if (dev <= tol)
            return 0;
        if (it >= max_iter)
            break;
        for (i = 0; i < m; i++) {
            double rz = 0;

            for (j = 0; j < m; j++) {
                rz += r[i * m + j] * z[j];
                h[i * m + j] = r[i * m + j];
            }
            g[i] = rz - 1 / z[i];
            h[i * m + i] += 1 / (z[i] * z[i]);
        }
        H = gsl_matrix_view_array(h, m, m);
        G = gsl_vector_view_array(g, m);
        U = gsl_vector_view_array(u, m);
        st = gsl_linalg_cholesky_decomp1(&H.matrix);
        if (st == 0)
            st = gsl_linalg_cholesky_solve(&H.matrix, &G.vector, &U.vector);
        if (st)
            return bal_error_set(err, BAL_ENUMERIC,
                                 "erc: the covariance matrix is not "
                                 "positive semi-definite (%s)",
                                 gsl_strerror(st));
        for (i = 0; i < m; i++)
            lam2 += g[i] * u[i];
        step = lam2 > ERC_FULL_STEP * ERC_FULL_STEP
               ? 1 / (1 + sqrt(lam2)) : 1.0;
        for (tries = 0; tries < ERC_MAX_HALVINGS; tries++) {
            int pos = 1;

            for (i = 0; i < m; i++) {
                zn[i] = z[i] - step * u[i];
                pos = pos && zn[i] > 0 && isfinite(zn[i]);
            }
            if (pos)
                break;
            step *= 0.5;
        }
        if (tries == ERC_MAX_HALVINGS)
            break;
        memcpy(z, zn, m * sizeof(double));
    }
    return bal_error_set(err, BAL_ENUMERIC,
                         "erc did not converge in %zu iterations (largest "
                         "risk-contribution error %g); a long-only "
                         "portfolio with zero variance may exist",
                         max_iter, dev);
}

/* ------------------------------------------------------------------ */
/* Linkage and HRP.                                                    */

static double lance_williams(int linkage, double dsv, double dtv,
                             double dst, double ns, double nt, double nv)
{
    double x;

    switch (linkage) {
    case BAL_ALLOC_LINK_SINGLE:
        return dsv < dtv ? dsv : dtv;
    case BAL_ALLOC_LINK_COMPLETE:
        return dsv > dtv ? dsv : dtv;
    case BAL_ALLOC_LINK_AVERAGE:
        return (ns * dsv + nt * dtv) / (ns + nt);
    default:
        x = ((nv + ns) * dsv * dsv + (nv + nt) * dtv * dtv
             - nv * dst * dst) / (ns + nt + nv);
        return x > 0 ? sqrt(x) : 0.0;
    }
}

/* Clusters the m x m distances d (destroyed) of the leaves leaf[0..m-1];
 * merge k gets id base + k. Fills w->merges, w->order, w->tree_m. */
static void cluster(bal_alloc_work *w, double *d, size_t m,
                    const size_t *leaf, size_t base, int linkage)
{
    size_t *cid = w->cid, *csz = w->csz, *stack = w->list2;
    unsigned char *alive = w->fl2;
    size_t k, p, q, r, top, t;

    for (p = 0; p < m; p++) {
        cid[p] = leaf[p];
        csz[p] = 1;
        alive[p] = 1;
    }
    for (k = 0; k + 1 < m; k++) {
        size_t bp = 0, bq = 0, blo = SIZE_MAX, bhi = SIZE_MAX;
        double bd = INFINITY;
        bal_alloc_merge *mg = &w->merges[k];

        for (p = 0; p < m; p++) {
            if (!alive[p])
                continue;
            for (q = p + 1; q < m; q++) {
                double dpq = d[p * m + q];
                size_t lo, hi;

                if (!alive[q])
                    continue;
                lo = cid[p] < cid[q] ? cid[p] : cid[q];
                hi = cid[p] < cid[q] ? cid[q] : cid[p];
                if (dpq < bd || (dpq == bd && (lo < blo
                                               || (lo == blo && hi < bhi)))) {
                    bd = dpq;
                    bp = p;
                    bq = q;
                    blo = lo;
                    bhi = hi;
                }
            }
        }
        mg->left = blo;
        mg->right = bhi;
        mg->distance = bd;
        mg->size = csz[bp] + csz[bq];
        for (r = 0; r < m; r++) {
            double x;

            if (!alive[r] || r == bp || r == bq)
                continue;
            x = lance_williams(linkage, d[bp * m + r], d[bq * m + r], bd,
                               (double)csz[bp], (double)csz[bq],
                               (double)csz[r]);
            d[bp * m + r] = x;
            d[r * m + bp] = x;
        }
        cid[bp] = base + k;
        csz[bp] += csz[bq];
        alive[bq] = 0;
    }
    /* Leaves in pre-order, left child first. */
    t = 0;
    if (m == 1) {
        w->order[t++] = leaf[0];
    } else if (m > 1) {
        top = 0;
        stack[top++] = base + m - 2;
        while (top > 0) {
            size_t id = stack[--top];

            if (id < base) {
                w->order[t++] = id;
                continue;
            }
            stack[top++] = w->merges[id - base].right;
            stack[top++] = w->merges[id - base].left;
        }
    }
    w->tree_m = m;
}

static int check_linkage(int linkage, bal_error *err)
{
    if (linkage < BAL_ALLOC_LINK_SINGLE || linkage > BAL_ALLOC_LINK_WARD)
        return bal_error_set(err, BAL_EINVAL, "unknown linkage %d",
                             linkage);
    return 0;
}

int bal_alloc_linkage(const double *dist, size_t n, int linkage,
                      bal_alloc_work *work, bal_error *err)
{
    double *d;
    size_t i, j;
    int rc;

    work->tree_m = 0;
    rc = check_linkage(linkage, err);
    if (rc < 0)
        return rc;
    if (n == 0)
        return bal_error_set(err, BAL_EINVAL, "linkage needs at least 1 "
                             "point");
    rc = reserve(work, n, err);
    if (rc < 0)
        return rc;
    d = work->mat[1];
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            double x = i == j ? 0.0
                       : 0.5 * (dist[i * n + j] + dist[j * n + i]);

            if (!isfinite(x))
                return bal_error_set(err, BAL_EINVAL, "distance (%zu, %zu) "
                                     "is not finite", i + 1, j + 1);
            d[i * n + j] = x;
        }
    for (i = 0; i < n; i++)
        work->list[i] = i;
    cluster(work, d, n, work->list, n, linkage);
    return 0;
}

size_t bal_alloc_tree(const bal_alloc_work *work,
                      const bal_alloc_merge **merges, const size_t **order)
{
    if (work->tree_m == 0) {
        *merges = NULL;
        *order = NULL;
        return 0;
    }
    *merges = work->merges;
    *order = work->order;
    return work->tree_m;
}

/* Variance of the inverse-variance portfolio of the k assets at sub-matrix
 * positions p[0..k-1]. */
static double cluster_var(const double *s, size_t m, const size_t *p,
                          size_t k)
{
    double isum = 0, v = 0;
    size_t a, b;

    for (a = 0; a < k; a++)
        isum += 1 / s[p[a] * m + p[a]];
    for (a = 0; a < k; a++) {
        double wa = 1 / s[p[a] * m + p[a]] / isum;

        for (b = 0; b < k; b++)
            v += wa * s[p[a] * m + p[b]] / s[p[b] * m + p[b]] / isum;
    }
    return v;
}

static void bisect(double *wt, const size_t *p, size_t lo, size_t hi,
                   const double *s, size_t m)
{
    size_t mid, t;
    double vl, vr, alpha;

    if (hi - lo < 2)
        return;
    mid = lo + (hi - lo) / 2;
    vl = cluster_var(s, m, p + lo, mid - lo);
    vr = cluster_var(s, m, p + mid, hi - mid);
    alpha = vl + vr > 0 ? 1 - vl / (vl + vr) : 0.5;
    for (t = lo; t < mid; t++)
        wt[t] *= alpha;
    for (t = mid; t < hi; t++)
        wt[t] *= 1 - alpha;
    bisect(wt, p, lo, mid, s, m);
    bisect(wt, p, mid, hi, s, m);
}

static void hrp(double *x, bal_alloc_work *w, size_t m, size_t n,
                int linkage, int ldp)
{
    const double *s = w->mat[0];
    double *d = w->mat[1], *e = w->mat[2], *sd = w->vec[0];
    double *wt = w->vec[1];
    size_t *p = w->list;
    size_t i, j, k;

    for (i = 0; i < m; i++)
        sd[i] = sqrt(s[i * m + i]);
    for (i = 0; i < m; i++)
        for (j = 0; j < m; j++) {
            double rho = s[i * m + j] / (sd[i] * sd[j]);

            rho = rho > 1 ? 1 : rho < -1 ? -1 : rho;
            d[i * m + j] = i == j ? 0.0 : sqrt(0.5 * (1 - rho));
        }
    if (ldp) {
        for (i = 0; i < m; i++)
            for (j = 0; j < m; j++) {
                double ss = 0;

                for (k = 0; k < m; k++) {
                    double t = d[i * m + k] - d[j * m + k];

                    ss += t * t;
                }
                e[i * m + j] = sqrt(ss);
            }
        d = e;
    }
    cluster(w, d, m, w->idx, n, linkage);
    for (i = 0; i < m; i++) {
        p[i] = w->pos[w->order[i]];
        wt[i] = 1.0;
    }
    bisect(wt, p, 0, m, s, m);
    for (i = 0; i < m; i++)
        x[p[i]] = wt[i];
}

/* ------------------------------------------------------------------ */
/* Minimum variance: primal active set, then the minimum-norm optimum.  */

/* Minimiser of x'A x on sum x = 1 over the k assets list[0..k-1] of the
 * m x m matrix a, minimum-norm when A_FF is singular; written into p at
 * those positions. */
static int eqp(double *p, const double *a, size_t m, const size_t *list,
               size_t k, bal_alloc_work *w, bal_error *err)
{
    double *b = w->mat[1], *q = w->mat[2], *ev = w->vec[3];
    double *c = w->vec[4], *y = w->vec[5];
    double lmax, tol, n2 = 0, sum = 0;
    size_t i, j, l;
    int rc;

    for (i = 0; i < k; i++)
        for (j = 0; j < k; j++)
            b[i * k + j] = a[list[i] * m + list[j]];
    rc = eigen(b, k, ev, q, w, err);
    if (rc < 0)
        return rc;
    lmax = max_of(ev, k);
    tol = lmax > 0 ? BAL_ALLOC_RANK_RTOL * lmax : 0;
    for (l = 0; l < k; l++) {
        c[l] = 0;
        for (i = 0; i < k; i++)
            c[l] += q[i * k + l];
        if (ev[l] <= tol)
            n2 += c[l] * c[l];
    }
    for (i = 0; i < k; i++)
        y[i] = 0;
    if (n2 > NULL_RTOL * (double)k) {
        /* 1 has a part in the null space: zero variance is reachable;
         * the least-norm such point is P_N 1 / |P_N 1|^2. */
        for (l = 0; l < k; l++)
            if (ev[l] <= tol)
                for (i = 0; i < k; i++)
                    y[i] += c[l] * q[i * k + l] / n2;
    } else {
        for (l = 0; l < k; l++)
            if (ev[l] > tol)
                for (i = 0; i < k; i++)
                    y[i] += c[l] / ev[l] * q[i * k + l];
        for (i = 0; i < k; i++)
            sum += y[i];
        if (!(sum > 0))
            return bal_error_set(err, BAL_ENUMERIC, "min_variance: "
                                 "singular equality-constrained problem");
        for (i = 0; i < k; i++)
            y[i] /= sum;
    }
    for (i = 0; i < k; i++)
        p[list[i]] = y[i];
    return 0;
}

/* KKT multipliers lambda_j = (A x)_j - x'A x into lam; returns x'A x. */
static double multipliers(double *lam, const double *a, const double *x,
                          size_t m)
{
    double mu = 0;
    size_t i, j;

    for (i = 0; i < m; i++) {
        lam[i] = 0;
        for (j = 0; j < m; j++)
            lam[i] += a[i * m + j] * x[j];
        mu += x[i] * lam[i];
    }
    for (i = 0; i < m; i++)
        lam[i] -= mu;
    return mu;
}

/* Stage 1: an optimal x (m) of min x'A x, sum x = 1, x >= 0. */
static int minvar_stage1(double *x, const double *a, size_t m,
                         size_t max_iter, size_t *iters, bal_alloc_work *w,
                         bal_error *err)
{
    unsigned char *fr = w->fl;
    double *p = w->vec[1], *lam = w->vec[2];
    size_t *list = w->list;
    size_t i, k0 = 0;

    for (i = 0; i < m; i++) {
        fr[i] = 0;
        x[i] = 0;
        if (a[i * m + i] < a[k0 * m + k0])
            k0 = i;
    }
    fr[k0] = 1;
    x[k0] = 1;
    for (;;) {
        size_t k = 0, blk = SIZE_MAX, jmin = SIZE_MAX;
        double alpha = 1, lmin = -BAL_ALLOC_KKT_RTOL;
        int rc;

        if (++*iters > max_iter)
            return bal_error_set(err, BAL_ENUMERIC, "min_variance did not "
                                 "converge in %zu active-set changes",
                                 max_iter);
        for (i = 0; i < m; i++)
            if (fr[i])
                list[k++] = i;
        rc = eqp(p, a, m, list, k, w, err);
        if (rc < 0)
            return rc;
        for (i = 0; i < k; i++) {
            size_t j = list[i];

            if (p[j] < 0 && p[j] > -WEIGHT_EPS)
                p[j] = 0;
            if (p[j] < 0) {
                double t = x[j] / (x[j] - p[j]);

                if (t < alpha) {
                    alpha = t;
                    blk = j;
                }
            }
        }
        if (blk == SIZE_MAX) {
            for (i = 0; i < k; i++)
                x[list[i]] = p[list[i]];
            multipliers(lam, a, x, m);
            for (i = 0; i < m; i++)
                if (!fr[i] && lam[i] < lmin) {
                    lmin = lam[i];
                    jmin = i;
                }
            if (jmin == SIZE_MAX)
                return 0;
            fr[jmin] = 1;
            continue;
        }
        for (i = 0; i < k; i++) {
            size_t j = list[i];

            x[j] += alpha * (p[j] - x[j]);
            if (j == blk || x[j] <= 0) {
                x[j] = 0;
                fr[j] = 0;
            }
        }
    }
}

/* Stage 2: x (optimal, m) becomes the least-norm point of the optimal set
 * {x >= 0, sum x = 1, A x = A x*}. The set's directions are the null
 * space of A_SS orthogonal to 1, S = the assets with a zero multiplier;
 * with an orthonormal basis N0 (s x d) of them, minimise
 * |x* + N0 z|^2 / 2 subject to x* + N0 z >= 0 by a primal active-set
 * method in z (textbook, Nocedal & Wright §16.5, identity Hessian). */
static int minvar_stage2(double *x, const double *a, size_t m,
                         size_t max_iter, size_t *iters, bal_alloc_work *w,
                         bal_error *err)
{
    unsigned char *inw = w->fl;
    double *b = w->mat[1], *q = w->mat[2], *n0 = w->mat[3];
    double *lam = w->vec[2], *ev = w->vec[3], *c = w->vec[4];
    double *z = w->vec[5], *pz = w->vec[6], *g = w->vec[7];
    size_t *list = w->list, *wl = w->list2, *nl = w->cid;
    size_t i, j, l, s = 0, k0 = 0, d, nw = 0;
    double lmax, tol, cn2 = 0;
    int rc;

    multipliers(lam, a, x, m);
    for (i = 0; i < m; i++)
        if (x[i] > 0 || lam[i] <= BAL_ALLOC_KKT_RTOL)
            list[s++] = i;
    if (s < 2)
        return 0;
    for (i = 0; i < s; i++)
        for (j = 0; j < s; j++)
            b[i * s + j] = a[list[i] * m + list[j]];
    rc = eigen(b, s, ev, q, w, err);
    if (rc < 0)
        return rc;
    lmax = max_of(ev, s);
    tol = lmax > 0 ? BAL_ALLOC_RANK_RTOL * lmax : 0;
    for (l = 0; l < s; l++) {
        if (ev[l] > tol)
            continue;
        nl[k0] = l;
        c[k0] = 0;
        for (i = 0; i < s; i++)
            c[k0] += q[i * s + l];
        cn2 += c[k0] * c[k0];
        k0++;
    }
    if (k0 == 0)
        return 0;
    if (cn2 <= NULL_RTOL * (double)s) {
        d = k0;
        for (i = 0; i < s; i++)
            for (l = 0; l < d; l++)
                n0[i * d + l] = q[i * s + nl[l]];
    } else {
        /* Householder H = I - 2 v v' / v'v with H c = -/+|c| e1: its
         * columns 2..k0 span the part of the null space orthogonal to 1. */
        double cn = sqrt(cn2), vv;

        d = k0 - 1;
        if (d == 0)
            return 0;
        c[0] += c[0] >= 0 ? cn : -cn;
        vv = 0;
        for (l = 0; l < k0; l++)
            vv += c[l] * c[l];
        for (i = 0; i < s; i++)
            for (l = 1; l < k0; l++) {
                double v = 0;
                size_t t;

                /* (Q_N H)_{i,l} = Q_N[i][l] - 2 (Q_N c)_i c_l / vv */
                for (t = 0; t < k0; t++)
                    v += q[i * s + nl[t]] * c[t];
                n0[i * d + l - 1] = q[i * s + nl[l]] - 2 * v * c[l] / vv;
            }
    }
    /* c2 = N0' x*, z = 0, empty working set. */
    for (l = 0; l < d; l++) {
        c[l] = 0;
        for (i = 0; i < s; i++)
            c[l] += n0[i * d + l] * x[list[i]];
        z[l] = 0;
    }
    for (i = 0; i < s; i++)
        inw[i] = 0;
    for (;;) {
        double pmax = 0, amin = 1;
        size_t blk = SIZE_MAX;

        if (++*iters > max_iter)
            return bal_error_set(err, BAL_ENUMERIC, "min_variance did not "
                                 "converge in %zu active-set changes",
                                 max_iter);
        for (l = 0; l < d; l++)
            g[l] = z[l] + c[l];
        /* p = -g + A_W' nu with (A_W A_W') nu = A_W g. */
        for (i = 0; i < nw; i++) {
            for (j = 0; j < nw; j++) {
                double v = 0;

                for (l = 0; l < d; l++)
                    v += n0[wl[i] * d + l] * n0[wl[j] * d + l];
                b[i * nw + j] = v;
            }
            ev[i] = 0;
            for (l = 0; l < d; l++)
                ev[i] += n0[wl[i] * d + l] * g[l];
        }
        if (nw > 0) {
            gsl_matrix_view M = gsl_matrix_view_array(b, nw, nw);
            gsl_vector_view V = gsl_vector_view_array(ev, nw);
            int st = gsl_linalg_cholesky_decomp1(&M.matrix);

            if (st == 0)
                st = gsl_linalg_cholesky_svx(&M.matrix, &V.vector);
            if (st)
                return bal_error_set(err, BAL_ENUMERIC, "min_variance: "
                                     "dependent constraints (%s)",
                                     gsl_strerror(st));
        }
        for (l = 0; l < d; l++) {
            pz[l] = -g[l];
            for (i = 0; i < nw; i++)
                pz[l] += n0[wl[i] * d + l] * ev[i];
            if (fabs(pz[l]) > pmax)
                pmax = fabs(pz[l]);
        }
        if (pmax <= STEP_EPS) {
            size_t imin = SIZE_MAX;
            double numin = -BAL_ALLOC_KKT_RTOL;

            for (i = 0; i < nw; i++)
                if (ev[i] < numin) {
                    numin = ev[i];
                    imin = i;
                }
            if (imin == SIZE_MAX)
                break;
            inw[wl[imin]] = 0;
            wl[imin] = wl[--nw];
            continue;
        }
        for (i = 0; i < s; i++) {
            double ap = 0, cur = x[list[i]];

            if (inw[i])
                continue;
            for (l = 0; l < d; l++) {
                ap += n0[i * d + l] * pz[l];
                cur += n0[i * d + l] * z[l];
            }
            if (ap < 0) {
                double t = (cur > 0 ? cur : 0) / -ap;

                if (t < amin) {
                    amin = t;
                    blk = i;
                }
            }
        }
        for (l = 0; l < d; l++)
            z[l] += amin * pz[l];
        if (blk != SIZE_MAX) {
            inw[blk] = 1;
            wl[nw++] = blk;
        }
    }
    for (i = 0; i < s; i++) {
        double v = x[list[i]];

        for (l = 0; l < d; l++)
            v += n0[i * d + l] * z[l];
        g[i] = v;
    }
    for (i = 0; i < s; i++)
        x[list[i]] = g[i];
    return 0;
}

static int min_variance(double *x, bal_alloc_work *w, size_t m,
                        size_t max_iter, bal_error *err)
{
    double *a = w->mat[0];
    double smax = 0, sum = 0;
    size_t i, iters = 0;
    int rc;

    for (i = 0; i < m; i++)
        if (a[i * m + i] > smax)
            smax = a[i * m + i];
    if (smax == 0) {            /* all riskless: least norm = equal */
        for (i = 0; i < m; i++)
            x[i] = 1.0 / (double)m;
        return 0;
    }
    for (i = 0; i < m * m; i++)
        a[i] /= smax;
    rc = minvar_stage1(x, a, m, max_iter, &iters, w, err);
    if (rc == 0)
        rc = minvar_stage2(x, a, m, max_iter, &iters, w, err);
    if (rc < 0)
        return rc;
    for (i = 0; i < m; i++) {
        if (x[i] < WEIGHT_EPS)
            x[i] = 0;
        sum += x[i];
    }
    for (i = 0; i < m; i++)
        x[i] /= sum;
    return 0;
}

/* ------------------------------------------------------------------ */

static int check_options(const bal_alloc_options *opt, bal_error *err)
{
    if (opt->method < BAL_ALLOC_EQUAL || opt->method > BAL_ALLOC_MIN_VARIANCE)
        return bal_error_set(err, BAL_EINVAL, "unknown allocation method %d",
                             opt->method);
    if (opt->method == BAL_ALLOC_HRP) {
        int rc = check_linkage(opt->linkage, err);

        if (rc < 0)
            return rc;
        if (opt->hrp_ldp != 0 && opt->hrp_ldp != 1)
            return bal_error_set(err, BAL_EINVAL, "hrp_ldp must be 0 or 1, "
                                 "got %d", opt->hrp_ldp);
    }
    if (opt->method == BAL_ALLOC_ERC && !(opt->erc_tol > 0))
        return bal_error_set(err, BAL_EINVAL, "erc_tol must be > 0, got %g",
                             opt->erc_tol);
    if ((opt->method == BAL_ALLOC_ERC
         || opt->method == BAL_ALLOC_MIN_VARIANCE) && opt->max_iter == 0)
        return bal_error_set(err, BAL_EINVAL, "max_iter must be > 0");
    return 0;
}

int bal_alloc_weights(double *w_out, const bal_alloc_options *opt, size_t n,
                      const double *cov, const unsigned char *active,
                      const double *atr_frac, bal_alloc_work *work,
                      bal_error *err)
{
    int method, rc;
    size_t i, m = 0;
    double *x;

    BAL_ASSERT(opt && work && w_out);
    work->tree_m = 0;
    rc = check_options(opt, err);
    if (rc < 0)
        return rc;
    method = opt->method;
    if (n == 0)
        return bal_error_set(err, BAL_EINVAL, "no assets to allocate");
    if (!cov && method != BAL_ALLOC_EQUAL && method != BAL_ALLOC_INVERSE_ATR)
        return bal_error_set(err, BAL_EINVAL, "method %s needs a "
                             "covariance matrix",
                             bal_alloc_method_name(method));
    if (!atr_frac && method == BAL_ALLOC_INVERSE_ATR)
        return bal_error_set(err, BAL_EINVAL, "method inverse_atr needs "
                             "ATR values");
    rc = reserve(work, n, err);
    if (rc < 0)
        return rc;
    if (method == BAL_ALLOC_EQUAL || method == BAL_ALLOC_INVERSE_ATR) {
        for (i = 0; i < n; i++) {
            if (active && !active[i])
                continue;
            if (method == BAL_ALLOC_INVERSE_ATR) {
                if (!isfinite(atr_frac[i]) || atr_frac[i] < 0)
                    return bal_error_set(err, BAL_EINVAL, "ATR of asset %zu "
                                         "is %g", i + 1, atr_frac[i]);
                if (atr_frac[i] == 0)
                    continue;
            }
            work->pos[i] = m;
            work->idx[m++] = i;
        }
    } else {
        rc = gather(work, &m, n, cov, active,
                    method == BAL_ALLOC_MIN_VARIANCE, err);
        if (rc < 0)
            return rc;
    }
    /* The result goes to a vector the method does not use for its own
     * state (MIN_VARIANCE leaves vec[0] free, the others vec[6]). */
    x = work->vec[method == BAL_ALLOC_MIN_VARIANCE ? 0 : 6];
    if (m == 0)
        method = -1;            /* nothing usable: all weights 0 */
    switch (method) {
    case -1:
        break;
    case BAL_ALLOC_EQUAL:
        for (i = 0; i < m; i++)
            x[i] = 1.0 / (double)m;
        break;
    case BAL_ALLOC_INVERSE_ATR:
        for (i = 0; i < m; i++)
            work->vec[0][i] = atr_frac[work->idx[i]];
        inverse_of(x, work->vec[0], m);
        break;
    case BAL_ALLOC_INVERSE_VOL:
        for (i = 0; i < m; i++)
            work->vec[0][i] = sqrt(work->mat[0][i * m + i]);
        inverse_of(x, work->vec[0], m);
        break;
    case BAL_ALLOC_ERC:
        rc = erc(x, work, m, opt->erc_tol, opt->max_iter, err);
        break;
    case BAL_ALLOC_HRP:
        hrp(x, work, m, n, opt->linkage, opt->hrp_ldp);
        break;
    case BAL_ALLOC_MIN_VARIANCE:
        rc = min_variance(x, work, m, opt->max_iter, err);
        break;
    }
    if (rc < 0)
        return rc;
    for (i = 0; i < n; i++)
        w_out[i] = 0;
    for (i = 0; i < m; i++)
        w_out[work->idx[i]] = x[i];
    return 0;
}

int bal_alloc_eigen_range(double *min_out, double *max_out, size_t n,
                          const double *cov, bal_alloc_work *work,
                          bal_error *err)
{
    double *a, *ev;
    size_t i, j;
    int rc;

    work->tree_m = 0;
    if (n == 0)
        return bal_error_set(err, BAL_EINVAL, "empty matrix");
    rc = reserve(work, n, err);
    if (rc < 0)
        return rc;
    a = work->mat[1];
    ev = work->vec[0];
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            if (!isfinite(cov[i * n + j]))
                return bal_error_set(err, BAL_EINVAL, "matrix entry (%zu, "
                                     "%zu) is not finite", i + 1, j + 1);
            a[i * n + j] = 0.5 * (cov[i * n + j] + cov[j * n + i]);
        }
    rc = eigen(a, n, ev, work->mat[2], work, err);
    if (rc < 0)
        return rc;
    *min_out = ev[0];
    *max_out = ev[0];
    for (i = 1; i < n; i++) {
        if (ev[i] < *min_out)
            *min_out = ev[i];
        if (ev[i] > *max_out)
            *max_out = ev[i];
    }
    return 0;
}

static const char *const method_names[] = {
    "equal", "inverse_vol", "inverse_atr", "erc", "hrp", "min_variance"
};
static const char *const linkage_names[] = {
    "single", "average", "complete", "ward"
};

int bal_alloc_method_parse(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(method_names) / sizeof(*method_names); i++)
        if (strcmp(name, method_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *bal_alloc_method_name(int method)
{
    if (method < 0 || (size_t)method >= sizeof(method_names)
                                         / sizeof(*method_names))
        return NULL;
    return method_names[method];
}

int bal_alloc_linkage_parse(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(linkage_names) / sizeof(*linkage_names); i++)
        if (strcmp(name, linkage_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *bal_alloc_linkage_name(int linkage)
{
    if (linkage < 0 || (size_t)linkage >= sizeof(linkage_names)
                                           / sizeof(*linkage_names))
        return NULL;
    return linkage_names[linkage];
}
