#include "ballast/rebalance.h"

#include "ballast/numfmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const trigger_names[BAL_TRIG_COUNT] = {
    "initial", "schedule", "drift", "drift_rel", "universe", "vol_shift",
    "corr_shift", "target_shift", "regime_change", "drawdown_step", "halt",
    "resume"
};

const char *bal_trigger_name(unsigned k)
{
    return k < BAL_TRIG_COUNT ? trigger_names[k] : "?";
}

char *bal_trigger_join(char *buf, size_t len, unsigned bits)
{
    size_t used = 0;
    unsigned k;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (k = 0; k < BAL_TRIG_COUNT; k++) {
        int w;

        if (!(bits & (1u << k)))
            continue;
        w = snprintf(buf + used, len - used, "%s%s", used ? "+" : "",
                     trigger_names[k]);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    return buf;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t bal_week_key(int64_t t)
{
    /* 1970-01-01 was a Thursday: day + 3 counts from Monday 1969-12-29. */
    return floor_div(floor_div(t, 86400) + 3, 7);
}

int64_t bal_month_key(int64_t t)
{
    int y;
    unsigned m, d;

    bal_civil_from_days(floor_div(t, 86400), &y, &m, &d);
    return (int64_t)y * 12 + (int64_t)m - 1;
}

int bal_schedule_due(const bal_rebalance_options *opt, size_t t, size_t t0,
                     int64_t now, int64_t next)
{
    switch (opt->schedule) {
    case BAL_SCHED_DAILY:
        return 1;
    case BAL_SCHED_WEEKLY:
        return bal_week_key(next) != bal_week_key(now);
    case BAL_SCHED_MONTHLY:
        return bal_month_key(next) != bal_month_key(now);
    case BAL_SCHED_STEPS:
        return t > t0 && opt->every > 0 && (t - t0) % opt->every == 0;
    default:
        return 0;
    }
}

unsigned bal_drift_triggers(const bal_rebalance_options *opt,
                            const double *w, const double *target, size_t n)
{
    double max_abs = 0, max_rel = 0;
    size_t i;
    unsigned bits = 0;

    for (i = 0; i < n; i++) {
        double dev = fabs(w[i] - target[i]);

        if (dev > max_abs)
            max_abs = dev;
        if (target[i] != 0 && dev / fabs(target[i]) > max_rel)
            max_rel = dev / fabs(target[i]);
    }
    if (!isnan(opt->drift) && max_abs > opt->drift)
        bits |= BAL_TRIG_DRIFT;
    if (!isnan(opt->drift_rel) && max_rel > opt->drift_rel)
        bits |= BAL_TRIG_DRIFT_REL;
    return bits;
}

double bal_max_rel_change(const double *now, const double *last, size_t n)
{
    double m = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        double d;

        if (!isfinite(now[i]) || !isfinite(last[i]) || !(last[i] > 0))
            continue;
        d = fabs(now[i] / last[i] - 1);
        if (d > m)
            m = d;
    }
    return m;
}

double bal_max_abs_change(const double *now, const double *last, size_t n)
{
    double m = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        double d;

        if (!isfinite(now[i]) || !isfinite(last[i]))
            continue;
        d = fabs(now[i] - last[i]);
        if (d > m)
            m = d;
    }
    return m;
}
