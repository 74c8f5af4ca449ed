#include "ballast/sizer.h"

#include <math.h>
#include <string.h>

double bal_sizer_variance(const double *w, size_t n, const double *vol_ann,
                          const double *corr)
{
    double var = 0;
    size_t i, j;

    for (i = 0; i < n; i++) {
        double wi = w[i] * vol_ann[i];

        if (w[i] == 0)
            continue;
        var += wi * wi;
        if (!corr)
            continue;
        for (j = i + 1; j < n; j++) {
            double rho = corr[i * n + j];

            if (w[j] == 0 || isnan(rho))
                continue;
            var += 2 * rho * wi * w[j] * vol_ann[j];
        }
    }
    return var;
}

void bal_sizer_cap(double *w, size_t n, double cap, unsigned char *capped)
{
    size_t i, round;

    memset(capped, 0, n);
    /* Each round caps at least one more asset, so n rounds suffice. */
    for (round = 0; round <= n; round++) {
        double excess = 0, free_sum = 0;

        for (i = 0; i < n; i++) {
            if (!capped[i] && w[i] > cap) {
                excess += w[i] - cap;
                w[i] = cap;
                capped[i] = 1;
            }
        }
        if (excess <= 0)
            return;
        for (i = 0; i < n; i++)
            if (!capped[i] && w[i] > 0)
                free_sum += w[i];
        if (free_sum <= 0)
            return;                     /* nowhere to put it: cash */
        for (i = 0; i < n; i++)
            if (!capped[i] && w[i] > 0)
                w[i] += excess * w[i] / free_sum;
    }
}

static int allocate(double *w, const bal_sizer_options *opt, size_t n,
                    const double *vol_ann, const unsigned char *active,
                    bal_error *err)
{
    double sum = 0;
    size_t i, n_active = 0;

    for (i = 0; i < n; i++) {
        w[i] = 0;
        n_active += active[i] != 0;
    }
    switch (opt->method) {
    case BAL_SIZE_FIXED:
        for (i = 0; i < n; i++)
            if (active[i])
                w[i] = opt->targets[i];
        return BAL_OK;
    case BAL_SIZE_EQUAL:
        for (i = 0; i < n; i++)
            if (active[i])
                w[i] = 1.0 / (double)n_active;
        return BAL_OK;
    case BAL_SIZE_INVERSE_VOL:
        for (i = 0; i < n; i++) {
            if (!active[i])
                continue;
            if (isnan(vol_ann[i]))
                return bal_error_set(err, BAL_EINVAL,
                                     "inverse_vol: volatility of asset %zu "
                                     "is undefined", i);
            if (vol_ann[i] > 0) {
                w[i] = 1.0 / vol_ann[i];
                sum += w[i];
            }
        }
        for (i = 0; i < n; i++)
            w[i] = sum > 0 ? w[i] / sum : 0;
        return BAL_OK;
    default:
        return bal_error_set(err, BAL_EINVAL, "unknown sizing method %d",
                             opt->method);
    }
}

int bal_sizer_targets(double *w_out, const bal_sizer_options *opt, size_t n,
                      const double *vol_ann, const double *corr,
                      const unsigned char *active, double *work,
                      bal_error *err)
{
    unsigned char *capped = (unsigned char *)work;
    double gross = 0, scale, var;
    size_t i;
    int rc;

    rc = allocate(w_out, opt, n, vol_ann, active, err);
    if (rc < 0)
        return rc;
    if (opt->max_weight < 1)
        bal_sizer_cap(w_out, n, opt->max_weight, capped);
    for (i = 0; i < n; i++)
        gross += fabs(w_out[i]);
    if (gross == 0)
        return BAL_OK;
    scale = opt->max_gross / gross;
    if (!isnan(opt->target_vol)) {
        for (i = 0; i < n; i++)
            if (w_out[i] != 0 && isnan(vol_ann[i]))
                return bal_error_set(err, BAL_EINVAL,
                                     "target_vol: volatility of asset %zu "
                                     "is undefined", i);
        var = bal_sizer_variance(w_out, n, vol_ann, corr);
        if (var > 0 && opt->target_vol / sqrt(var) < scale)
            scale = opt->target_vol / sqrt(var);
    } else if (scale > 1) {
        scale = 1;
    }
    for (i = 0; i < n; i++) {
        w_out[i] *= scale;
        if (w_out[i] > opt->max_weight)
            w_out[i] = opt->max_weight;
        else if (w_out[i] < -opt->max_weight)
            w_out[i] = -opt->max_weight;
    }
    return BAL_OK;
}
