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

double bal_sizer_risk(double *rc_out, const double *w, size_t n,
                      const double *vol_ann, const double *corr)
{
    double total = 0;
    size_t i, j;

    for (i = 0; i < n; i++) {
        double sw = 0;

        for (j = 0; j < n; j++) {
            double rho = corr ? corr[i * n + j] : (i == j);

            if (w[j] != 0 && !isnan(rho))
                sw += rho * vol_ann[i] * vol_ann[j] * w[j];
        }
        rc_out[i] = w[i] * sw;
        total += rc_out[i];
    }
    return total;
}

static double class_sum(const double *w, size_t n, const int *asset_class,
                        int c)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (asset_class[i] == c)
            sum += fabs(w[i]);
    return sum;
}

void bal_sizer_cap(double *w, size_t n, double cap, const int *asset_class,
                   const double *class_caps, unsigned char *capped)
{
    size_t i, round;
    int c;

    memset(capped, 0, n);
    /* Each round caps at least one more asset or class, so n + classes
     * rounds suffice. */
    for (round = 0; round <= n + BAL_SIZER_CLASSES; round++) {
        double excess = 0, free_sum = 0;

        for (i = 0; i < n; i++) {
            if (!capped[i] && w[i] > cap) {
                excess += w[i] - cap;
                w[i] = cap;
                capped[i] = 1;
            }
        }
        for (c = 0; asset_class && class_caps && c < BAL_SIZER_CLASSES;
             c++) {
            double sum, f;

            if (isnan(class_caps[c]))
                continue;
            sum = class_sum(w, n, asset_class, c);
            if (!(sum > class_caps[c]))
                continue;
            f = class_caps[c] / sum;
            for (i = 0; i < n; i++) {
                if (asset_class[i] != c)
                    continue;
                w[i] *= f;
                capped[i] = 1;
            }
            excess += sum - class_caps[c];
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
    case BAL_SIZE_GIVEN:
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

/* Final class limit: a class whose sum of |w| exceeds its cap is scaled
 * down to it, nothing redistributed. */
static void clip_classes(double *w, size_t n, const bal_sizer_options *opt)
{
    size_t i;
    int c;

    if (!opt->asset_class)
        return;
    for (c = 0; c < BAL_SIZER_CLASSES; c++) {
        double sum;

        if (isnan(opt->class_caps[c]))
            continue;
        sum = class_sum(w, n, opt->asset_class, c);
        if (!(sum > opt->class_caps[c]))
            continue;
        for (i = 0; i < n; i++)
            if (opt->asset_class[i] == c)
                w[i] *= opt->class_caps[c] / sum;
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
    bal_sizer_cap(w_out, n, opt->max_weight, opt->asset_class,
                  opt->class_caps, capped);
    for (i = 0; i < n; i++) {
        if (opt->direction)
            w_out[i] *= opt->direction[i];
        gross += fabs(w_out[i]);
    }
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
    scale *= opt->multiplier;
    if (gross * scale > opt->max_gross)     /* a multiplier above 1 */
        scale = opt->max_gross / gross;
    for (i = 0; i < n; i++) {
        w_out[i] *= scale;
        if (w_out[i] > opt->max_weight)
            w_out[i] = opt->max_weight;
        else if (w_out[i] < -opt->max_weight)
            w_out[i] = -opt->max_weight;
    }
    clip_classes(w_out, n, opt);
    return BAL_OK;
}

void bal_governor_init(bal_governor *g, const bal_governor_options *opt)
{
    g->opt = *opt;
    g->peak = 0;
    g->mult = 1;
    g->dd = 0;
    g->halted = 0;
}

double bal_governor_target(const bal_governor_options *opt, double dd)
{
    if (dd <= opt->start)
        return 1;
    if (dd >= opt->max)
        return opt->floor;
    return 1 - (1 - opt->floor) * (dd - opt->start)
                   / (opt->max - opt->start);
}

double bal_governor_step(bal_governor *g, double equity, double shadow,
                         int *event)
{
    double target;

    *event = 0;
    if (equity > g->peak)
        g->peak = equity;
    if (g->halted) {
        /* drawdown of the shadow book against the pre-halt peak */
        g->dd = g->peak > 0 ? 1 - shadow / g->peak : 0;
        if (!(g->dd <= g->opt.resume))  /* NaN: stay halted */
            return g->mult = 0;
        g->halted = 0;
        g->peak = equity;               /* the peak resets on resume */
        g->dd = 0;
        *event = -1;
        target = 1;
    } else {
        g->dd = g->peak > 0 ? 1 - equity / g->peak : 0;
        if (!isnan(g->opt.halt) && g->dd >= g->opt.halt) {
            g->halted = 1;
            *event = 1;
            return g->mult = 0;
        }
        target = bal_governor_target(&g->opt, g->dd);
    }
    if (target > g->mult && !isnan(g->opt.recovery_rate)
        && target > g->mult + g->opt.recovery_rate)
        target = g->mult + g->opt.recovery_rate;
    return g->mult = target;
}
