#ifndef BAL_METRICS_H
#define BAL_METRICS_H
#include <stdint.h>
#include "ballast/error.h"              /* brings <stddef.h> */

/* Performance metrics of one equity curve E_0..E_n (SPEC section 6).
 *
 * Conventions (all written into the report):
 *   r_t = E_t / E_{t-1} - 1, t = 1..n (computed as (E_t - E_{t-1}) / E_{t-1},
 *   the same number with less rounding); A = periods_per_year;
 *   per-period rates from annual ones: x_p = (1 + x)^(1/A) - 1.
 *
 * Ruin: once the equity reaches 0 it must stay 0 (a later positive value
 * is rejected). A return from 0 to 0 counts as 0, so a ruined curve keeps
 * its n returns and every metric stays defined: total_return = cagr =
 * cagr_calendar = -1, max_drawdown = 1 (an unrecovered episode ending at
 * step n), calmar = recovery_factor = -1, and the return statistics see
 * the -1 step followed by zeros. */

#define BAL_METRICS_MAX_EPISODES 10

/* Options; start from BAL_METRICS_OPTIONS_INIT. */
typedef struct bal_metrics_options {
    /* 0 = auto: round(n * 365.25 * 86400 / (t_n - t_0)), half away from
     * zero, and at least 1. Otherwise must be finite and > 0. */
    double periods_per_year;
    double risk_free;   /* annual, > -1; converted per period */
    double mar;         /* annual minimum acceptable return, > -1 */
} bal_metrics_options;
#define BAL_METRICS_OPTIONS_INIT { 0.0, 0.0, 0.0 }

/* One drawdown episode: the curve falls below the running peak at step
 * peak + 1 and is first back at or above it at step end. Indices are
 * steps into the curve (0..n). */
typedef struct bal_drawdown_episode {
    size_t peak;        /* last step at the running peak before the fall */
    size_t trough;      /* first step of the episode's lowest equity */
    size_t end;         /* first step back at or above the peak; n if
                         * unrecovered */
    int recovered;      /* 1 if the equity got back to the peak */
    double depth;       /* 1 - E_trough / E_peak, > 0 */
    size_t length;      /* end - peak, steps */
    size_t to_recover;  /* end - trough, steps */
    double length_days;     /* (time[end] - time[peak]) / 86400 */
    double to_recover_days; /* (time[end] - time[trough]) / 86400 */
    int64_t peak_time, trough_time, end_time; /* UTC seconds */
} bal_drawdown_episode;

/* Every value that is undefined for the curve is NaN (null in JSON). */
typedef struct bal_metrics {
    size_t n_returns;           /* n = n_points - 1 */
    double periods_per_year;    /* the A used */
    double total_return;        /* E_n / E_0 - 1 */
    double cagr;                /* (E_n / E_0)^(A/n) - 1 */
    double cagr_calendar;       /* (E_n / E_0)^(365.25/days) - 1,
                                 * days = (t_n - t_0) / 86400 */
    double volatility;          /* sd(r, ddof 1) sqrt(A); NaN if n < 2 */
    double sharpe;              /* mean(r - rf_p) / sd(r - rf_p) sqrt(A);
                                 * NaN if n < 2 or the sd is 0 */
    double sortino;             /* mean(r - mar_p) sqrt(A) /
                                 * sqrt(sum min(r - mar_p, 0)^2 / n);
                                 * NaN if no return is below mar_p */
    double max_drawdown;        /* -min dd_t, >= 0 */
    double calmar;              /* cagr / max_drawdown; NaN if mdd = 0 */
    double ulcer_index;         /* sqrt(sum_{t=1..n} dd_t^2 / n) */
    double var_95;              /* type-7 5% quantile of r */
    double cvar_95;             /* mean of the r <= var_95 */
    double skew;                /* m3 / m2^1.5 (1/n moments); NaN if
                                 * m2 = 0 */
    double excess_kurtosis;     /* m4 / m2^2 - 3; NaN if m2 = 0 */
    double best_period;         /* max r */
    double worst_period;        /* min r */
    double hit_rate;            /* #(r > 0) / #(r != 0); NaN if all 0 */
    double recovery_factor;     /* total_return / max_drawdown; NaN if
                                 * mdd = 0 */
    size_t max_drawdown_duration;   /* length of the deepest episode */
    size_t longest_underwater;      /* length of the longest episode */
    double max_drawdown_duration_days;  /* length_days of the deepest */
    double longest_underwater_days;     /* length_days of the longest */
    /* The deepest episodes, deepest first; equal depths in time order.
     * The deepest and longest episodes above are the earliest among
     * equals. Without drawdown all four durations are 0. */
    bal_drawdown_episode episodes[BAL_METRICS_MAX_EPISODES];
    size_t n_episodes;
} bal_metrics;

/* Computes every metric of the curve equity[0..n_points-1] observed at
 * the UTC times time[0..n_points-1] (seconds). opt may be NULL (defaults).
 * Allocates O(n) scratch memory internally and frees it; *out is written
 * only on success. Returns 0, BAL_ENOMEM, or BAL_EINVAL when n_points < 2,
 * a time is not strictly after the one before, an equity value is NaN,
 * infinite or negative, E_0 is 0, the equity rises again after reaching 0,
 * or an option is out of range (see bal_metrics_options). */
int bal_metrics_compute(bal_metrics *out, const double *equity,
                        const int64_t *time, size_t n_points,
                        const bal_metrics_options *opt, bal_error *err);

/* dd_t = E_t / max_{s<=t} E_s - 1 for every point (E_0 counts as a peak);
 * out has n_points entries and may not overlap equity. A NaN equity gives
 * a NaN entry and does not move the peak; where the running peak is not
 * positive (input bal_metrics_compute rejects) the entry is NaN. */
void bal_metrics_drawdown(double *out, const double *equity,
                          size_t n_points);

/* Type-7 quantile of x[0..n-1] at probability p (Hyndman and Fan 1996; R's
 * default quantile): with h = (n - 1) p and j = floor(h), the sorted value
 * x_(j) interpolated linearly towards x_(j+1) by h - j. work (n doubles,
 * not overlapping x) receives the sorted copy; x is not changed. Returns
 * NaN if n is 0, p is outside [0, 1] or NaN, or any x is NaN. */
double bal_quantile7(const double *x, size_t n, double p, double *work);

#endif /* BAL_METRICS_H */
