/* Performance metrics of an equity curve (SPEC section 6). */
#include "ballast/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort_double.h>
#include <gsl/gsl_statistics_double.h>

#define SECONDS_PER_DAY 86400.0
#define DAYS_PER_YEAR 365.25    /* Julian year, SPEC section 6 */
#define VAR_LEVEL 0.05          /* var_95 / cvar_95: the 5% tail */

/* Seconds from a to b for b > a, exact even where b - a overflows int64:
 * the unsigned difference is taken modulo 2^64 and b - a < 2^64. */
static double seconds_between(int64_t a, int64_t b)
{
    uint64_t d = (uint64_t)b - (uint64_t)a;

    return (double)d;
}

/* x annual -> (1 + x)^(1/A) - 1 per period, without the cancellation of
 * pow(1 + x, 1 / A) - 1 for small x. */
static double per_period(double x, double a)
{
    return expm1(log1p(x) / a);
}

static int check_options(const bal_metrics_options *opt, bal_error *err)
{
    double a = opt->periods_per_year;

    if (!isfinite(a) || a < 0.0)
        return bal_error_set(err, BAL_EINVAL,
                             "periods_per_year must be finite and >= 0 "
                             "(0 = auto), got %g", a);
    if (!isfinite(opt->risk_free) || !(opt->risk_free > -1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "risk_free must be finite and > -1, got %g",
                             opt->risk_free);
    if (!isfinite(opt->mar) || !(opt->mar > -1.0))
        return bal_error_set(err, BAL_EINVAL,
                             "mar must be finite and > -1, got %g", opt->mar);
    return BAL_OK;
}

static int check_curve(const double *equity, const int64_t *time,
                       size_t n_points, bal_error *err)
{
    size_t i;

    if (n_points < 2)
        return bal_error_set(err, BAL_EINVAL,
                             "need at least 2 equity points, got %zu",
                             n_points);
    for (i = 0; i < n_points; i++) {
        double e = equity[i];

        if (!isfinite(e))
            return bal_error_set(err, BAL_EINVAL,
                                 "equity[%zu] is not finite", i);
        if (e < 0.0)
            return bal_error_set(err, BAL_EINVAL,
                                 "equity[%zu] is negative (%g)", i, e);
        if (i == 0) {
            if (e == 0.0)
                return bal_error_set(err, BAL_EINVAL,
                                     "initial equity is 0");
            continue;
        }
        if (equity[i - 1] == 0.0 && e > 0.0)
            return bal_error_set(err, BAL_EINVAL,
                                 "equity[%zu] rises from 0 after ruin", i);
        if (time[i] <= time[i - 1])
            return bal_error_set(err, BAL_EINVAL,
                                 "time[%zu] (%" PRId64 ") is not after "
                                 "time[%zu] (%" PRId64 ")",
                                 i, time[i], i - 1, time[i - 1]);
    }
    return BAL_OK;
}

/* Inserts ep into the top list (deepest first); episodes arrive in time
 * order, so equal depths stay in time order. */
static void keep_episode(bal_metrics *m, const bal_drawdown_episode *ep)
{
    size_t k = m->n_episodes;

    if (k == BAL_METRICS_MAX_EPISODES) {
        if (!(ep->depth > m->episodes[k - 1].depth))
            return;
        k--;
    } else {
        m->n_episodes++;
    }
    while (k > 0 && m->episodes[k - 1].depth < ep->depth) {
        m->episodes[k] = m->episodes[k - 1];
        k--;
    }
    m->episodes[k] = *ep;
}

static void close_episode(bal_metrics *m, bal_drawdown_episode *longest,
                          const int64_t *time, size_t peak, double peak_v,
                          size_t trough, double trough_v, size_t end,
                          int recovered)
{
    bal_drawdown_episode ep;

    memset(&ep, 0, sizeof(ep));
    ep.peak = peak;
    ep.trough = trough;
    ep.end = end;
    ep.recovered = recovered;
    ep.depth = -(trough_v / peak_v - 1.0);  /* = -dd at the trough */
    ep.length = end - peak;
    ep.to_recover = end - trough;
    ep.length_days = seconds_between(time[peak], time[end]) / SECONDS_PER_DAY;
    ep.to_recover_days =
        seconds_between(time[trough], time[end]) / SECONDS_PER_DAY;
    ep.peak_time = time[peak];
    ep.trough_time = time[trough];
    ep.end_time = time[end];
    if (ep.length > longest->length)
        *longest = ep;
    keep_episode(m, &ep);
}

/* Drawdown statistics and episodes: max_drawdown, ulcer_index, durations,
 * the episode list. The dd formula matches bal_metrics_drawdown. */
static void drawdowns(bal_metrics *m, const double *equity,
                      const int64_t *time, size_t n)
{
    bal_drawdown_episode longest;
    double peak_v = equity[0];
    double trough_v = 0.0;
    double min_dd = 0.0;
    double sum_dd2 = 0.0;
    size_t peak = 0;
    size_t trough = 0;
    int under = 0;
    size_t t;

    memset(&longest, 0, sizeof(longest));
    for (t = 1; t <= n; t++) {
        double e = equity[t];
        double dd;

        if (e >= peak_v) {
            if (under)
                close_episode(m, &longest, time, peak, peak_v, trough,
                              trough_v, t, 1);
            under = 0;
            peak_v = e;
            peak = t;
        } else if (!under || e < trough_v) {
            under = 1;
            trough = t;
            trough_v = e;
        }
        dd = e / peak_v - 1.0;
        if (dd < min_dd)
            min_dd = dd;
        sum_dd2 += dd * dd;
    }
    if (under)
        close_episode(m, &longest, time, peak, peak_v, trough, trough_v, n,
                      0);

    m->max_drawdown = min_dd < 0.0 ? -min_dd : 0.0;
    m->ulcer_index = sqrt(sum_dd2 / (double)n);
    if (m->n_episodes > 0) {
        m->max_drawdown_duration = m->episodes[0].length;
        m->max_drawdown_duration_days = m->episodes[0].length_days;
        m->longest_underwater = longest.length;
        m->longest_underwater_days = longest.length_days;
    }
}

/* Moments, extremes, hit rate, VaR and CVaR of r[0..n-1]; work (n doubles)
 * is left sorted. */
static void return_stats(bal_metrics *m, const double *r, size_t n,
                         double *work)
{
    double mean = gsl_stats_mean(r, 1, n);
    double m2 = 0.0, m3 = 0.0, m4 = 0.0;
    double tail = 0.0;
    size_t n_pos = 0, n_nonzero = 0, n_tail = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        double d = r[i] - mean;
        double d2 = d * d;

        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
        if (r[i] != 0.0)
            n_nonzero++;
        if (r[i] > 0.0)
            n_pos++;
    }
    m2 /= (double)n;
    m3 /= (double)n;
    m4 /= (double)n;
    m->skew = m2 > 0.0 ? m3 / (m2 * sqrt(m2)) : NAN;
    m->excess_kurtosis = m2 > 0.0 ? m4 / (m2 * m2) - 3.0 : NAN;
    m->hit_rate = n_nonzero > 0 ? (double)n_pos / (double)n_nonzero : NAN;
    gsl_stats_minmax(&m->worst_period, &m->best_period, r, 1, n);

    m->var_95 = bal_quantile7(r, n, VAR_LEVEL, work);
    for (i = 0; i < n && work[i] <= m->var_95; i++) {
        tail += work[i];
        n_tail++;
    }
    /* work[0] = min r <= var_95, so n_tail >= 1 */
    m->cvar_95 = tail / (double)n_tail;
}

/* volatility, sharpe, sortino of r[0..n-1] with per-period rf and mar. */
static void ratio_stats(bal_metrics *m, const double *r, size_t n,
                        double a, double rf_p, double mar_p, double *work)
{
    double root_a = sqrt(a);
    double sum_d = 0.0, sum_down2 = 0.0;
    double mean_x, sd_x, downside;
    size_t i;

    m->volatility = n > 1 ? gsl_stats_sd(r, 1, n) * root_a : NAN;

    for (i = 0; i < n; i++)
        work[i] = r[i] - rf_p;
    mean_x = gsl_stats_mean(work, 1, n);
    sd_x = n > 1 ? gsl_stats_sd_m(work, 1, n, mean_x) : NAN;
    m->sharpe = sd_x > 0.0 ? mean_x / sd_x * root_a : NAN;

    for (i = 0; i < n; i++) {
        double d = r[i] - mar_p;

        sum_d += d;
        if (d < 0.0)
            sum_down2 += d * d;
    }
    downside = sqrt(sum_down2 / (double)n);
    m->sortino = downside > 0.0
                     ? sum_d / (double)n * root_a / downside
                     : NAN;
}

int bal_metrics_compute(bal_metrics *out, const double *equity,
                        const int64_t *time, size_t n_points,
                        const bal_metrics_options *opt, bal_error *err)
{
    static const bal_metrics_options defaults = BAL_METRICS_OPTIONS_INIT;
    bal_metrics m;
    double *buf = NULL;
    double *r, *work;
    double a, span, growth_log;
    size_t n, t;
    int rc;

    BAL_ASSERT(out != NULL);
    BAL_ASSERT(n_points == 0 || (equity != NULL && time != NULL));
    if (opt == NULL)
        opt = &defaults;
    rc = check_options(opt, err);
    if (rc < 0)
        return rc;
    rc = check_curve(equity, time, n_points, err);
    if (rc < 0)
        return rc;

    n = n_points - 1;
    buf = malloc(2 * n * sizeof(*buf));
    if (buf == NULL)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    r = buf;
    work = buf + n;

    memset(&m, 0, sizeof(m));
    span = seconds_between(time[0], time[n]);
    a = opt->periods_per_year;
    if (a == 0.0) {
        a = round((double)n * DAYS_PER_YEAR * SECONDS_PER_DAY / span);
        if (a < 1.0)
            a = 1.0;        /* fewer than half a period per year */
    }
    m.n_returns = n;
    m.periods_per_year = a;

    for (t = 1; t <= n; t++) {
        double prev = equity[t - 1];

        /* after ruin the equity stays 0: a 0 return, not 0/0 */
        r[t - 1] = prev > 0.0 ? (equity[t] - prev) / prev : 0.0;
    }

    m.total_return = (equity[n] - equity[0]) / equity[0];
    growth_log = log1p(m.total_return);     /* -inf when ruined */
    m.cagr = expm1(a / (double)n * growth_log);
    m.cagr_calendar =
        expm1(DAYS_PER_YEAR * SECONDS_PER_DAY / span * growth_log);

    ratio_stats(&m, r, n, a, per_period(opt->risk_free, a),
                per_period(opt->mar, a), work);
    return_stats(&m, r, n, work);
    drawdowns(&m, equity, time, n);

    m.calmar = m.max_drawdown > 0.0 ? m.cagr / m.max_drawdown : NAN;
    m.recovery_factor =
        m.max_drawdown > 0.0 ? m.total_return / m.max_drawdown : NAN;

    *out = m;
    free(buf);
    return BAL_OK;
}

void bal_metrics_drawdown(double *out, const double *equity, size_t n_points)
{
    double peak;
    size_t t;

    if (n_points == 0)
        return;
    peak = equity[0];
    for (t = 0; t < n_points; t++) {
        double e = equity[t];

        if (e > peak)
            peak = e;
        out[t] = peak > 0.0 ? e / peak - 1.0 : NAN;
    }
}

double bal_quantile7(const double *x, size_t n, double p, double *work)
{
    size_t i;

    if (n == 0 || !(p >= 0.0 && p <= 1.0))
        return NAN;
    for (i = 0; i < n; i++) {
        if (isnan(x[i]))
            return NAN;
        work[i] = x[i];
    }
    gsl_sort(work, 1, n);
    /* GSL's quantile_from_sorted_data: h = (n - 1) p, linear between the
     * order statistics floor(h) and floor(h) + 1: Hyndman-Fan type 7 */
    return gsl_stats_quantile_from_sorted_data(work, 1, n, p);
}
