#include "ballast/html.h"

#include "ballast/numfmt.h"
#include "ballast/rebalance.h"
#include "ballast/regime.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* UTF-8 en dash: what an undefined value looks like. */
#define DASH "\xe2\x80\x93"
#define FIX_LEN 64

/* Page geometry (SVG user units = CSS px at full width). */
#define PAGE_W 1120.0
#define PLOT_L 86.0             /* room for the y labels */
#define PLOT_R 1104.0
#define PLOT_T 14.0

/* Size limits that keep a 50-asset, 87,600-step page under ~2 MB. */
#define WEIGHT_POINTS 120000    /* all weight layers together */
#define WEIGHT_COLS_MAX 400     /* sampled rebalances per layer */
#define WEIGHT_COLS_MIN 50
#define HEAT_MAX_ASSETS 100     /* larger matrices: see report.json */
#define HEAT_TEXT_MAX 60        /* values printed in cells up to this n */
#define ROLL_COLS 120           /* time columns of the rolling view */
#define ROLL_ROWS 12            /* pairs shown besides the mean */
#define ROLL_MEAN_MAX_PAIRS 2000 /* the mean row needs every pair */
#define ROLL_SCAN 64            /* walk at most 64 (w + 1) bars back */
#define ROLL_DEFAULT_WINDOW 60  /* SPEC §11 engine.corr_window */
#define ROLL_CACHE_MAX 8192     /* cached values per asset and column */
#define LABEL_CHARS 24          /* symbol characters a label makes room for */

/* Fixed palettes: assets cycle through the first, triggers and regimes
 * have their own colours. */
static const char *const palette[] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a"
};
#define PALETTE_N (sizeof(palette) / sizeof(palette[0]))

static const char *const trigger_colour[BAL_TRIG_COUNT] = {
    "#555555", "#1f77b4", "#ff7f0e", "#e6a700", "#2ca02c", "#9467bd",
    "#17becf", "#8c564b", "#e377c2", "#d62728", "#000000", "#7f7f7f"
};

static const char *const css =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif;color:#222;background:#fff;"
    "margin:0 auto;max-width:1140px;padding:16px 20px 40px}\n"
    "h1{font-size:23px;margin:4px 0}\n"
    "h2{font-size:17px;margin:30px 0 8px;padding-bottom:4px;"
    "border-bottom:1px solid #ddd}\n"
    "h3{font-size:14px;margin:10px 0 4px}\n"
    ".sub,.note{color:#666}.note{font-size:12.5px;margin:4px 0}\n"
    ".ruined{background:#fde8e8;border:1px solid #d88;padding:6px 10px}\n"
    "table{border-collapse:collapse;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:3px 10px;border-bottom:1px solid #eee;"
    "text-align:right;white-space:nowrap}\n"
    "th:first-child,td:first-child{text-align:left}\n"
    "thead th{border-bottom:1px solid #bbb;font-weight:600}\n"
    ".metrics{display:flex;flex-wrap:wrap;gap:10px 36px;"
    "align-items:flex-start}\n"
    ".metrics th{font-weight:normal;color:#555}\n"
    ".metrics td{font-weight:600}\n"
    ".wide{overflow-x:auto}\n"
    ".heats{display:flex;flex-wrap:wrap;gap:10px 30px}\n"
    "svg{display:block;max-width:100%;height:auto}\n"
    "svg text{font-size:11px;fill:#444}\n"
    ".yl,.xe{text-anchor:end}.xm,.hv text{text-anchor:middle}\n"
    ".hv text{dominant-baseline:central;fill:#222;font-size:inherit}\n"
    ".hv .w{fill:#fff}\n"
    ".grid{stroke:#e6e6e6;fill:none}.axis{stroke:#999;fill:none}\n"
    ".equity{fill:none;stroke:#1f5fa8;stroke-width:1.4}\n"
    ".dd{fill:#d62728;fill-opacity:.22;stroke:none}\n"
    ".ddl{fill:none;stroke:#b22222;stroke-width:1}\n"
    ".gross{fill:none;stroke:#333;stroke-width:1.2}\n"
    ".mult{fill:none;stroke:#d62728;stroke-width:1.2;"
    "stroke-dasharray:4 3}\n"
    ".wl{fill:none;stroke-width:1.3}\n"
    ".legend{display:flex;flex-wrap:wrap;gap:3px 14px;font-size:12.5px;"
    "margin:6px 0 0}\n"
    ".sw{display:inline-block;width:11px;height:11px;margin-right:5px;"
    "vertical-align:-1px;border-radius:2px}\n";

/* ---- writing ----------------------------------------------------------- */

struct page {
    FILE *f;
    const bal_report_input *in;
    const bal_result *res;
    size_t n;
    int date_only;
    size_t *idx;                /* BAL_HTML_MAX_POINTS downsample indices */
};

static void put(const struct page *p, const char *s)
{
    fputs(s, p->f);
}

/* Writes s with the five HTML-special characters escaped. */
static void esc(const struct page *p, const char *s)
{
    const char *run = s;

    if (!s)
        return;
    for (; *s; s++) {
        const char *rep;

        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        fwrite(run, 1, (size_t)(s - run), p->f);
        fputs(rep, p->f);
        run = s + 1;
    }
    fputs(run, p->f);
}

static const double pow10_tab[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };

static char *fixed(char buf[FIX_LEN], double x, int dec, int group);

/* Mantissa with 3 decimals and a decimal exponent, for magnitudes too
 * large for the integer path. */
static char *sci(char buf[FIX_LEN], double x)
{
    double a = fabs(x), m;
    int e = (int)floor(log10(a));
    size_t len;

    m = a / pow(10.0, e);
    if (m >= 9.9995) {
        m /= 10;
        e++;
    }
    buf[0] = '\0';
    if (x < 0)
        strcpy(buf, "-");
    len = strlen(buf);
    fixed(buf + len, m, 3, 0);
    len = strlen(buf);
    snprintf(buf + len, FIX_LEN - len, "e%d", e);
    return buf;
}

/* x rounded to dec (0..6) decimals, half away from zero, by integer
 * arithmetic: '.' as the decimal point whatever the locale, ',' between
 * thousands when group is set, never "-0". Non-finite: an en dash. */
static char *fixed(char buf[FIX_LEN], double x, int dec, int group)
{
    char digits[24];
    unsigned long long v, sc, ip, fp;
    double scaled;
    size_t nd = 0, pos = 0;
    int k;

    if (!isfinite(x)) {
        strcpy(buf, DASH);
        return buf;
    }
    if (dec < 0)
        dec = 0;
    if (dec > 6)
        dec = 6;
    scaled = fabs(x) * pow10_tab[dec];
    if (scaled >= 9e15)
        return sci(buf, x);
    v = (unsigned long long)llround(scaled);
    sc = (unsigned long long)pow10_tab[dec];
    ip = v / sc;
    fp = v % sc;
    do {
        digits[nd++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    if (x < 0 && v != 0)
        buf[pos++] = '-';
    while (nd) {
        buf[pos++] = digits[--nd];
        if (group && nd && nd % 3 == 0)
            buf[pos++] = ',';
    }
    if (dec) {
        buf[pos++] = '.';
        for (k = dec; k-- > 0;) {
            buf[pos + (size_t)k] = (char)('0' + fp % 10);
            fp /= 10;
        }
        pos += (size_t)dec;
    }
    buf[pos] = '\0';
    return buf;
}

/* A coordinate: one decimal, clamped so garbage cannot blow up the page. */
static char *cf(char buf[FIX_LEN], double x)
{
    if (!isfinite(x))
        x = 0;
    if (x > 1e6)
        x = 1e6;
    if (x < -1e6)
        x = -1e6;
    return fixed(buf, x, 1, 0);
}

/* x as a percentage with dec decimals: "12.35%". */
static char *pct(char buf[FIX_LEN], double x, int dec)
{
    fixed(buf, 100 * x, dec, 1);
    if (isfinite(x))
        strcat(buf, "%");
    return buf;
}

/* Up to 2 decimals, trailing zeros dropped: 8766, 365.25, 252.5. */
static char *trimmed(char buf[FIX_LEN], double x)
{
    size_t len;

    fixed(buf, x, 2, 1);
    if (!isfinite(x) || !strchr(buf, '.') || strchr(buf, 'e'))
        return buf;
    len = strlen(buf);
    while (buf[len - 1] == '0')
        buf[--len] = '\0';
    if (buf[len - 1] == '.')
        buf[--len] = '\0';
    return buf;
}

static const char *symbol(const struct page *p, size_t i)
{
    const char *s = p->in->symbols[i];

    return s ? s : "?";
}

static char *tfmt(const struct page *p, char buf[BAL_NUMFMT_LEN], int64_t t)
{
    return bal_timefmt(buf, t, p->date_only);
}

/* ---- downsampling ------------------------------------------------------ */

size_t bal_html_downsample(size_t *idx_out, const double *y, size_t n,
                           size_t max_points)
{
    size_t buckets, b, m = 0;

    BAL_ASSERT(max_points >= 4);
    if (n <= max_points) {
        for (b = 0; b < n; b++)
            idx_out[b] = b;
        return n;
    }
    buckets = (max_points - 2) / 2;
    idx_out[m++] = 0;
    for (b = 0; b < buckets; b++) {
        size_t lo = b * n / buckets, hi = (b + 1) * n / buckets, k;
        size_t kmin = SIZE_MAX, kmax = SIZE_MAX, first, second;

        for (k = lo; k < hi; k++) {
            if (isnan(y[k]))
                continue;
            if (kmin == SIZE_MAX || y[k] < y[kmin])
                kmin = k;
            if (kmax == SIZE_MAX || y[k] > y[kmax])
                kmax = k;
        }
        if (kmin == SIZE_MAX)
            continue;
        first = kmin < kmax ? kmin : kmax;
        second = kmin < kmax ? kmax : kmin;
        if (first > idx_out[m - 1])
            idx_out[m++] = first;
        if (second > idx_out[m - 1])
            idx_out[m++] = second;
    }
    if (idx_out[m - 1] < n - 1)
        idx_out[m++] = n - 1;
    return m;
}

/* ---- charts ------------------------------------------------------------ */

enum axis_kind { AXIS_NUM, AXIS_PCT };

typedef struct chart {
    double left, top, width, height;    /* plot area */
    int64_t t_lo, t_hi;
    double v_lo, v_hi, step;
    int kind;
} chart;

static double chart_x(const chart *c, int64_t t)
{
    if (c->t_hi <= c->t_lo)
        return c->left + c->width / 2;
    return c->left + c->width * ((double)(t - c->t_lo)
                                 / (double)(c->t_hi - c->t_lo));
}

static double chart_y(const chart *c, double v)
{
    return c->top + c->height * (c->v_hi - v) / (c->v_hi - c->v_lo);
}

/* Widens [lo, hi] to multiples of a 1-2-5 step giving about 5 intervals. */
static void nice_range(chart *c, double lo, double hi)
{
    double span, raw, mag, norm, step;

    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi <= lo) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.01 : 1;

        lo -= pad;
        hi += pad;
    }
    span = hi - lo;
    raw = span / 5;
    mag = pow(10.0, floor(log10(raw)));
    norm = raw / mag;
    step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    c->v_lo = floor(lo / step) * step;
    c->v_hi = ceil(hi / step) * step;
    if (c->v_hi <= c->v_lo)
        c->v_hi = c->v_lo + step;
    c->step = step;
}

static char *axis_label(char buf[FIX_LEN], const chart *c, double v)
{
    double s = c->kind == AXIS_PCT ? c->step * 100 : c->step;
    int dec = (int)ceil(-log10(s) - 1e-9);

    if (fabs(v) < c->step * 1e-9)
        v = 0;
    if (c->kind == AXIS_PCT)
        return pct(buf, v, dec < 0 ? 0 : dec);
    return fixed(buf, v, dec < 0 ? 0 : dec, 1);
}

/* Opens an SVG of height svg_h with the plot area, grid, y labels and
 * five time labels (first and last row times at the ends) at
 * x_label_y. */
static void chart_open(const struct page *p, chart *c, double svg_h,
                       double plot_h, double x_label_y, const char *aria)
{
    const bal_result *res = p->res;
    char b1[FIX_LEN], b2[FIX_LEN], b3[FIX_LEN], b4[FIX_LEN];
    char tb[BAL_NUMFMT_LEN];
    double v;
    size_t k, ticks;

    c->left = PLOT_L;
    c->top = PLOT_T;
    c->width = PLOT_R - PLOT_L;
    c->height = plot_h;
    c->t_lo = res->time[0];
    c->t_hi = res->time[res->n_rows - 1];
    fprintf(p->f, "<svg viewBox=\"0 0 %s %s\" width=\"%s\" height=\"%s\" "
            "role=\"img\" aria-label=\"%s\">\n", cf(b1, PAGE_W),
            cf(b2, svg_h), cf(b3, PAGE_W), cf(b4, svg_h), aria);
    ticks = (size_t)floor((c->v_hi - c->v_lo) / c->step + 0.5);
    put(p, "<path class=\"grid\" d=\"");
    for (k = 0; k <= ticks; k++) {
        v = c->v_lo + (double)k * c->step;
        fprintf(p->f, "M%s %sH%s", cf(b1, c->left), cf(b2, chart_y(c, v)),
                cf(b3, c->left + c->width));
    }
    put(p, "\"/>\n");
    for (k = 0; k <= ticks; k++) {
        v = c->v_lo + (double)k * c->step;
        fprintf(p->f, "<text class=\"yl\" x=\"%s\" y=\"%s\">%s</text>\n",
                cf(b1, c->left - 6), cf(b2, chart_y(c, v) + 4),
                axis_label(b3, c, v));
    }
    fprintf(p->f, "<path class=\"axis\" d=\"M%s %sV%sH%s\"/>\n",
            cf(b1, c->left), cf(b2, c->top), cf(b3, c->top + c->height),
            cf(b4, c->left + c->width));
    for (k = 0; k <= 4; k++) {
        int64_t t = c->t_lo + (int64_t)((double)(c->t_hi - c->t_lo)
                                        * (double)k / 4);
        const char *cls = k == 0 ? "" : k == 4 ? " class=\"xe\""
                                               : " class=\"xm\"";

        /* the ends exact; between them the date alone once the span is
         * long enough for the time of day not to matter */
        int date = p->date_only
                   || (k > 0 && k < 4 && c->t_hi - c->t_lo >= 20 * 86400);

        if (k == 4)
            t = c->t_hi;
        if (k > 0 && k < 4 && res->n_rows < 5)
            continue;
        fprintf(p->f, "<text%s x=\"%s\" y=\"%s\">%s</text>\n", cls,
                cf(b1, chart_x(c, t)), cf(b2, x_label_y),
                bal_timefmt(tb, t, date));
    }
}

/* A line through the downsampled rows: a polyline of the finite points. */
static void chart_line(const struct page *p, const chart *c,
                       const double *v, const char *cls)
{
    const bal_result *res = p->res;
    char b1[FIX_LEN], b2[FIX_LEN];
    size_t m, k;
    int first = 1;

    m = bal_html_downsample(p->idx, v, res->n_rows, BAL_HTML_MAX_POINTS);
    fprintf(p->f, "<polyline class=\"%s\" points=\"", cls);
    for (k = 0; k < m; k++) {
        size_t r = p->idx[k];

        if (!isfinite(v[r]))
            continue;
        fprintf(p->f, "%s%s,%s", first ? "" : " ",
                cf(b1, chart_x(c, res->time[r])), cf(b2, chart_y(c, v[r])));
        first = 0;
    }
    put(p, "\"/>\n");
}

static void minmax(const double *v, size_t n, double *lo, double *hi)
{
    size_t i;

    *lo = INFINITY;
    *hi = -INFINITY;
    for (i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        if (v[i] < *lo)
            *lo = v[i];
        if (v[i] > *hi)
            *hi = v[i];
    }
}

/* ---- header, metrics ---------------------------------------------------- */

static const cJSON *config_item(const struct page *p, const char *a,
                                const char *b)
{
    const cJSON *it;

    if (!p->in->config)
        return NULL;
    it = cJSON_GetObjectItemCaseSensitive(p->in->config, a);
    if (it && b)
        it = cJSON_GetObjectItemCaseSensitive(it, b);
    return it;
}

static const char *config_name(const struct page *p)
{
    const cJSON *it = config_item(p, "name", NULL);

    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void write_head(const struct page *p)
{
    const bal_result *res = p->res;
    const char *name = config_name(p);
    char t0[BAL_NUMFMT_LEN], t1[BAL_NUMFMT_LEN];

    put(p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
           "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
           "content=\"width=device-width, initial-scale=1\">\n<title>");
    if (name) {
        put(p, "ballast \xe2\x80\x94 ");
        esc(p, name);
    } else {
        put(p, "ballast report");
    }
    put(p, "</title>\n<style>\n");
    put(p, css);
    put(p, "</style>\n</head>\n<body>\n<h1>");
    esc(p, name ? name : "ballast report");
    fprintf(p->f, "</h1>\n<p class=\"sub\">%s to %s \xc2\xb7 %zu steps "
            "\xc2\xb7 %zu asset%s", tfmt(p, t0, res->time[0]),
            tfmt(p, t1, res->time[res->n_rows - 1]), res->n_rows, p->n,
            p->n == 1 ? "" : "s");
    if (p->in->calendar) {
        put(p, " \xc2\xb7 calendar ");
        esc(p, p->in->calendar);
    }
    if (p->in->version) {
        put(p, " \xc2\xb7 ballast ");
        esc(p, p->in->version);
    }
    put(p, "</p>\n");
    if (res->ruined)
        put(p, "<p class=\"ruined\">Ruined: the equity reached 0 and the "
               "run stopped trading.</p>\n");
}

static void metric_row(const struct page *p, const char *label,
                       const char *value)
{
    fprintf(p->f, "<tr><th>%s</th><td>%s</td></tr>\n", label, value);
}

static char *duration(char buf[FIX_LEN], size_t steps, double days)
{
    char d[FIX_LEN];

    snprintf(buf, FIX_LEN, "%zu steps (%s d)", steps, fixed(d, days, 1, 1));
    return buf;
}

static void write_metrics(const struct page *p)
{
    const bal_result *res = p->res;
    const bal_metrics *m = &res->metrics;
    char b[FIX_LEN];

    put(p, "<h2>Metrics</h2>\n<div class=\"metrics\">\n"
           "<table class=\"m\"><tbody>\n");
    metric_row(p, "Final equity",
               fixed(b, res->equity[res->n_rows - 1], 2, 1));
    metric_row(p, "Total return", pct(b, m->total_return, 2));
    metric_row(p, "CAGR", pct(b, m->cagr, 2));
    metric_row(p, "CAGR (calendar)", pct(b, m->cagr_calendar, 2));
    metric_row(p, "Volatility", pct(b, m->volatility, 2));
    metric_row(p, "Sharpe", fixed(b, m->sharpe, 3, 1));
    metric_row(p, "Sortino", fixed(b, m->sortino, 3, 1));
    metric_row(p, "Calmar", fixed(b, m->calmar, 3, 1));
    metric_row(p, "Periods per year", trimmed(b, m->periods_per_year));
    put(p, "</tbody></table>\n<table class=\"m\"><tbody>\n");
    metric_row(p, "Max drawdown", pct(b, m->max_drawdown, 2));
    metric_row(p, "Max drawdown duration",
               duration(b, m->max_drawdown_duration,
                        m->max_drawdown_duration_days));
    metric_row(p, "Longest underwater",
               duration(b, m->longest_underwater,
                        m->longest_underwater_days));
    metric_row(p, "Ulcer index", pct(b, m->ulcer_index, 2));
    metric_row(p, "VaR 95 (per step)", pct(b, m->var_95, 2));
    metric_row(p, "CVaR 95 (per step)", pct(b, m->cvar_95, 2));
    metric_row(p, "Skew", fixed(b, m->skew, 3, 1));
    metric_row(p, "Excess kurtosis", fixed(b, m->excess_kurtosis, 3, 1));
    {
        char b2[FIX_LEN], both[2 * FIX_LEN + 4];

        snprintf(both, sizeof(both), "%s / %s", pct(b, m->best_period, 2),
                 pct(b2, m->worst_period, 2));
        metric_row(p, "Best / worst step", both);
    }
    put(p, "</tbody></table>\n<table class=\"m\"><tbody>\n");
    metric_row(p, "Turnover (annual)", pct(b, res->turnover, 2));
    metric_row(p, "Total costs", fixed(b, res->book.total_costs, 2, 1));
    snprintf(b, sizeof(b), "%zu", res->rebalances);
    metric_row(p, "Rebalances", b);
    snprintf(b, sizeof(b), "%zu", res->book.n_trades);
    metric_row(p, "Trades", b);
    metric_row(p, "Hit rate", pct(b, m->hit_rate, 2));
    metric_row(p, "Recovery factor", fixed(b, m->recovery_factor, 3, 1));
    metric_row(p, "Average gross", pct(b, res->avg_gross, 2));
    metric_row(p, "Max gross", pct(b, res->max_gross, 2));
    metric_row(p, "Time in market", pct(b, res->time_in_market, 2));
    put(p, "</tbody></table>\n</div>\n");
}

/* ---- equity, underwater, exposure -------------------------------------- */

/* The trigger a rebalance mark is coloured by: its lowest bit other than
 * "initial" (0 for the initial allocation alone). */
static unsigned primary_trigger(unsigned bits)
{
    unsigned k;

    for (k = 1; k < BAL_TRIG_COUNT; k++)
        if (bits & (1u << k))
            return k;
    return 0;
}

/* Ticks rising from y_base at each decision time that traded, one path
 * per trigger, the most frequent first so rarer ones stay visible on top;
 * at most one tick per 0.1 px and trigger. Returns the mask of triggers
 * drawn. */
static unsigned write_marks(const struct page *p, const chart *c,
                            double y_base)
{
    const bal_portfolio *book = &p->res->book;
    char b1[FIX_LEN], b2[FIX_LEN];
    size_t trades[BAL_TRIG_COUNT] = { 0 }, i;
    unsigned mask = 0, k, done = 0, round;

    for (i = 0; i < book->n_trades; i++)
        trades[primary_trigger(book->trades[i].triggers)]++;
    for (k = 0; k < BAL_TRIG_COUNT; k++)
        mask |= trades[k] ? 1u << k : 0;
    for (round = 0; round < BAL_TRIG_COUNT; round++) {
        long long last_x = LLONG_MIN;
        int64_t last_t = INT64_MIN;
        unsigned j;
        int any = 0;

        for (k = BAL_TRIG_COUNT, j = 0; j < BAL_TRIG_COUNT; j++)
            if ((mask & ~done & (1u << j))
                && (k == BAL_TRIG_COUNT || trades[j] > trades[k]))
                k = j;
        if (k == BAL_TRIG_COUNT)
            break;
        done |= 1u << k;
        for (i = 0; i < book->n_trades; i++) {
            const bal_trade *tr = &book->trades[i];
            double x;
            long long xi;

            if (primary_trigger(tr->triggers) != k || tr->decided == last_t)
                continue;
            last_t = tr->decided;
            x = chart_x(c, tr->decided);
            xi = llround(x * 10);
            if (xi == last_x)
                continue;
            last_x = xi;
            if (!any)
                fprintf(p->f, "<path fill=\"none\" stroke=\"%s\" d=\"",
                        trigger_colour[k]);
            fprintf(p->f, "M%s %sv-9", cf(b1, x), cf(b2, y_base));
            any = 1;
        }
        if (any)
            put(p, "\"/>\n");
    }
    return mask;
}

static const char *regime_colour(int label)
{
    switch (label) {
    case BAL_REGIME_TRENDING:
        return "#7fbf7b";
    case BAL_REGIME_RANGING:
        return "#c8c8c8";
    case BAL_REGIME_SHOCK:
        return "#d6604d";
    default:
        return NULL;
    }
}

static void regime_run(const struct page *p, int label, double x0, double x1,
                       double y, double h)
{
    char b1[FIX_LEN], b2[FIX_LEN], b3[FIX_LEN], b4[FIX_LEN];

    if (label < 0 || x1 <= x0)
        return;
    fprintf(p->f, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" "
            "fill=\"%s\"/>\n", cf(b1, x0), cf(b2, y), cf(b3, x1 - x0),
            cf(b4, h), regime_colour(label));
}

/* The portfolio regime as a strip, one label per pixel column: shock if
 * any row in the column is in shock, else the majority (ties: ranging);
 * a column without rows continues the one before. */
static void write_regimes(const struct page *p, const chart *c, double y,
                          double h)
{
    const bal_result *res = p->res;
    size_t r, col, cur = SIZE_MAX, cnt[3] = { 0, 0, 0 };
    size_t cols = (size_t)c->width;
    int run = -1;
    double run_x = c->left;

    for (r = 0; r <= res->n_rows; r++) {
        col = SIZE_MAX;
        if (r < res->n_rows) {
            double x = floor(chart_x(c, res->time[r]) - c->left);

            col = x < 0 ? 0 : (size_t)x;
            if (col >= cols)
                col = cols - 1;
        }
        if (col != cur && cur != SIZE_MAX) {
            int lab = cnt[2] ? BAL_REGIME_SHOCK
                      : cnt[0] > cnt[1] ? BAL_REGIME_TRENDING
                      : cnt[1] ? BAL_REGIME_RANGING : -1;

            if (lab != run) {
                regime_run(p, run, run_x, c->left + (double)cur, y, h);
                run = lab;
                run_x = c->left + (double)cur;
            }
        }
        if (r == res->n_rows)
            break;
        if (col != cur) {
            cur = col;
            cnt[0] = cnt[1] = cnt[2] = 0;
        }
        if (res->regime[r] >= 0 && res->regime[r] <= 2)
            cnt[res->regime[r]]++;
    }
    regime_run(p, run, run_x, c->left + c->width, y, h);
}

static void legend_item(const struct page *p, const char *colour,
                        const char *label)
{
    fprintf(p->f, "<span><span class=\"sw\" style=\"background:%s\">"
            "</span>", colour);
    esc(p, label);
    put(p, "</span>\n");
}

static void write_equity(const struct page *p)
{
    const bal_result *res = p->res;
    chart c;
    double lo, hi;
    unsigned mask, k;
    size_t r;
    int regimes = 0;

    for (r = 0; r < res->n_rows && res->regime; r++)
        regimes |= res->regime[r] >= 0 && res->regime[r] <= 2;
    put(p, "<h2>Equity</h2>\n");
    minmax(res->equity, res->n_rows, &lo, &hi);
    c.kind = AXIS_NUM;
    nice_range(&c, lo, hi);
    chart_open(p, &c, 352, 300, 344, "equity curve");
    mask = write_marks(p, &c, c.top + c.height);
    if (regimes)
        write_regimes(p, &c, c.top + c.height + 5, 9);
    chart_line(p, &c, res->equity, "equity");
    put(p, "</svg>\n<div class=\"legend\">\n");
    legend_item(p, "#1f5fa8", "equity");
    for (k = 0; k < BAL_TRIG_COUNT; k++) {
        char label[64];

        if (!(mask & (1u << k)))
            continue;
        snprintf(label, sizeof(label), "rebalance: %s", bal_trigger_name(k));
        legend_item(p, trigger_colour[k], label);
    }
    for (k = 0; regimes && k < 3; k++) {
        char label[64];

        snprintf(label, sizeof(label), "regime: %s",
                 bal_regime_name((int)k));
        legend_item(p, regime_colour((int)k), label);
    }
    put(p, "</div>\n<p class=\"note\">Ticks along the bottom mark the "
           "decisions that traded, coloured by their first trigger besides "
           "\xe2\x80\x9cinitial\xe2\x80\x9d");
    if (regimes)
        put(p, "; the strip below shows the portfolio regime");
    put(p, ".</p>\n");
}

static void write_underwater(const struct page *p)
{
    const bal_result *res = p->res;
    char b1[FIX_LEN], b2[FIX_LEN];
    chart c;
    double lo, hi;
    size_t m, k;

    put(p, "<h2>Underwater (drawdown)</h2>\n");
    minmax(res->drawdown, res->n_rows, &lo, &hi);
    c.kind = AXIS_PCT;
    nice_range(&c, lo < 0 ? lo : -0.01, 0);
    chart_open(p, &c, 238, 200, 230, "drawdown curve");
    m = bal_html_downsample(p->idx, res->drawdown, res->n_rows,
                            BAL_HTML_MAX_POINTS);
    fprintf(p->f, "<polygon class=\"dd\" points=\"%s,%s",
            cf(b1, chart_x(&c, res->time[0])), cf(b2, chart_y(&c, 0)));
    for (k = 0; k < m; k++) {
        size_t r = p->idx[k];

        if (isfinite(res->drawdown[r]))
            fprintf(p->f, " %s,%s", cf(b1, chart_x(&c, res->time[r])),
                    cf(b2, chart_y(&c, res->drawdown[r])));
    }
    fprintf(p->f, " %s,%s\"/>\n",
            cf(b1, chart_x(&c, res->time[res->n_rows - 1])),
            cf(b2, chart_y(&c, 0)));
    chart_line(p, &c, res->drawdown, "ddl");
    put(p, "</svg>\n");
}

static void write_exposure(const struct page *p)
{
    const bal_result *res = p->res;
    chart c;
    double lo, hi, mlo = 1, mhi = 1;

    put(p, "<h2>Exposure</h2>\n");
    minmax(res->gross, res->n_rows, &lo, &hi);
    if (res->dd_mult)
        minmax(res->dd_mult, res->n_rows, &mlo, &mhi);
    if (!isfinite(hi) || hi < 1)
        hi = 1;
    c.kind = AXIS_PCT;
    nice_range(&c, 0, hi);
    chart_open(p, &c, 208, 170, 200, "gross exposure");
    chart_line(p, &c, res->gross, "gross");
    if (isfinite(mlo) && (mlo != 1 || mhi != 1))
        chart_line(p, &c, res->dd_mult, "mult");
    put(p, "</svg>\n<div class=\"legend\">\n");
    legend_item(p, "#333", "gross exposure \xce\xa3|w|");
    if (isfinite(mlo) && (mlo != 1 || mhi != 1))
        legend_item(p, "#d62728", "drawdown multiplier");
    put(p, "</div>\n");
}

/* ---- weights ----------------------------------------------------------- */

static int write_weights(const struct page *p)
{
    const bal_result *res = p->res;
    const bal_weight_row *wr = res->weights;
    size_t n = p->n, groups = 0, cols, cols_max, r, s, g, i;
    double *cur = NULL, *w = NULL, lo = 0, hi = 0, top = 0, x_end;
    int64_t *gt = NULL;
    char b1[FIX_LEN], b2[FIX_LEN];
    chart c;
    int stacked = 1, rc;

    put(p, "<h2>Target weights</h2>\n");
    for (r = 0; r < res->n_weights; r++)
        groups += r == 0 || wr[r].time != wr[r - 1].time;
    if (groups == 0 || n == 0) {
        put(p, "<p class=\"note\">No weights were recorded.</p>\n");
        return 0;
    }
    cols_max = WEIGHT_POINTS / (2 * n);
    if (cols_max > WEIGHT_COLS_MAX)
        cols_max = WEIGHT_COLS_MAX;
    if (cols_max < WEIGHT_COLS_MIN)
        cols_max = WEIGHT_COLS_MIN;
    cols = groups < cols_max ? groups : cols_max;
    cur = calloc(n, sizeof(*cur));
    w = calloc(cols * n, sizeof(*w));
    gt = calloc(cols, sizeof(*gt));
    if (!cur || !w || !gt) {
        rc = BAL_ENOMEM;
        goto done;
    }
    /* sampled group s is group s (G - 1) / (cols - 1): first and last
     * included, evenly spread; assets absent from a group keep their
     * previous target */
    for (r = 0, g = 0, s = 0; r < res->n_weights && s < cols; r++) {
        size_t want = cols == 1 ? 0 : s * (groups - 1) / (cols - 1);

        if (wr[r].asset < n)
            cur[wr[r].asset] = isfinite(wr[r].target) ? wr[r].target : 0;
        if (r + 1 < res->n_weights && wr[r + 1].time == wr[r].time)
            continue;
        if (g == want) {
            memcpy(w + s * n, cur, n * sizeof(*cur));
            gt[s++] = wr[r].time;
        }
        g++;
    }
    cols = s;
    for (s = 0; s < cols; s++) {
        double sum = 0;

        for (i = 0; i < n; i++) {
            double v = w[s * n + i];

            stacked &= v >= 0;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
        }
        top = sum > top ? sum : top;
    }
    if (stacked) {      /* cumulative sums: layer i's top edge */
        for (s = 0; s < cols; s++)
            for (i = 1; i < n; i++)
                w[s * n + i] += w[s * n + i - 1];
        lo = 0;
        hi = top;
    }
    c.kind = AXIS_PCT;
    nice_range(&c, lo, hi > lo ? hi : lo + 0.01);
    chart_open(p, &c, 318, 280, 310, "target weights");
    x_end = chart_x(&c, res->time[res->n_rows - 1]);
    for (i = n; i-- > 0;) {
        if (stacked)
            fprintf(p->f, "<path fill=\"%s\" d=\"M%s %s",
                    palette[i % PALETTE_N], cf(b1, chart_x(&c, gt[0])),
                    cf(b2, chart_y(&c, 0)));
        else
            fprintf(p->f, "<path class=\"wl\" stroke=\"%s\" d=\"M%s %s",
                    palette[i % PALETTE_N], cf(b1, chart_x(&c, gt[0])),
                    cf(b2, chart_y(&c, w[i])));
        for (s = 0; s < cols; s++) {
            if (s > 0)
                fprintf(p->f, "H%s", cf(b1, chart_x(&c, gt[s])));
            fprintf(p->f, "V%s", cf(b1, chart_y(&c, w[s * n + i])));
        }
        fprintf(p->f, "H%s", cf(b1, x_end));
        if (stacked)
            fprintf(p->f, "V%sZ", cf(b1, chart_y(&c, 0)));
        put(p, "\"/>\n");
    }
    put(p, "</svg>\n<div class=\"legend\">\n");
    for (i = 0; i < n; i++)
        legend_item(p, palette[i % PALETTE_N], symbol(p, i));
    fprintf(p->f, "</div>\n<p class=\"note\">Targets set at each recorded "
            "decision and held until the next (%zu of %zu shown)%s.</p>\n",
            cols, groups, stacked ? ", stacked"
            : "; some are negative, so each asset is a line");
    rc = 0;
done:
    free(cur);
    free(w);
    free(gt);
    return rc;
}

/* ---- rebalances by trigger --------------------------------------------- */

static void write_triggers(const struct page *p)
{
    const bal_result *res = p->res;
    char b1[FIX_LEN], b2[FIX_LEN], b3[FIX_LEN];
    size_t k, rows = 0, top = 1, row = 0;
    double bar_w = 640, left = 140;

    put(p, "<h2>Rebalances by trigger</h2>\n");
    for (k = 0; k < BAL_TRIG_COUNT; k++) {
        rows += res->by_trigger[k] > 0;
        top = res->by_trigger[k] > top ? res->by_trigger[k] : top;
    }
    if (rows == 0) {
        put(p, "<p class=\"note\">No rebalance after the initial "
               "allocation.</p>\n");
        return;
    }
    fprintf(p->f, "<svg viewBox=\"0 0 900 %s\" width=\"900\" height=\"%s\" "
            "role=\"img\" aria-label=\"rebalances by trigger\">\n",
            cf(b1, (double)rows * 24 + 8), cf(b2, (double)rows * 24 + 8));
    for (k = 0; k < BAL_TRIG_COUNT; k++) {
        double y = 4 + (double)row * 24;
        double len = bar_w * (double)res->by_trigger[k] / (double)top;

        if (res->by_trigger[k] == 0)
            continue;
        row++;
        fprintf(p->f, "<text class=\"yl\" x=\"%s\" y=\"%s\">%s</text>\n",
                cf(b1, left - 8), cf(b2, y + 14), bal_trigger_name(
                    (unsigned)k));
        fprintf(p->f, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"18\" "
                "fill=\"%s\"/>\n", cf(b1, left), cf(b2, y),
                cf(b3, len < 1 ? 1 : len), trigger_colour[k]);
        fprintf(p->f, "<text x=\"%s\" y=\"%s\">%zu</text>\n",
                cf(b1, left + (len < 1 ? 1 : len) + 6), cf(b2, y + 14),
                res->by_trigger[k]);
    }
    fprintf(p->f, "</svg>\n<p class=\"note\">%zu rebalances after the "
            "initial allocation; one that several triggers fired counts "
            "under each.</p>\n", res->rebalances);
}

/* ---- correlation heat maps --------------------------------------------- */

/* Blue (-1) through white (0) to red (+1); grey for NaN. */
static char *heat_colour(char buf[8], double v)
{
    static const int blue[3] = { 33, 102, 172 }, red[3] = { 178, 24, 43 };
    const int *end;
    double t;
    int ch[3], k;

    if (!isfinite(v)) {
        strcpy(buf, "#d9d9d9");
        return buf;
    }
    t = fabs(v) > 1 ? 1 : fabs(v);
    end = v < 0 ? blue : red;
    for (k = 0; k < 3; k++)
        ch[k] = (int)lround(255 + (end[k] - 255) * t);
    snprintf(buf, 8, "#%02x%02x%02x", (unsigned)ch[0] & 0xffu,
             (unsigned)ch[1] & 0xffu, (unsigned)ch[2] & 0xffu);
    return buf;
}

/* Width a column of labels needs, from the longest (capped) label. */
static double label_width(size_t chars)
{
    if (chars > LABEL_CHARS)
        chars = LABEL_CHARS;
    return 6.6 * (double)chars + 12;
}

static size_t longest_symbol(const struct page *p)
{
    size_t i, len, best = 1;

    for (i = 0; i < p->n; i++) {
        len = strlen(symbol(p, i));
        best = len > best ? len : best;
    }
    return best;
}

/* A vertical -1..+1 colour bar at (x, y), height h. */
static void colour_bar(const struct page *p, double x, double y, double h)
{
    char b1[FIX_LEN], b2[FIX_LEN], b3[FIX_LEN], col[8];
    const int steps = 21;
    int k;

    for (k = 0; k < steps; k++) {
        double v = 1 - 2 * (double)k / (steps - 1);

        fprintf(p->f, "<rect x=\"%s\" y=\"%s\" width=\"12\" height=\"%s\" "
                "fill=\"%s\"/>\n", cf(b1, x), cf(b2, y + h * k / steps),
                cf(b3, h / steps + 0.3), heat_colour(col, v));
    }
    fprintf(p->f, "<text x=\"%s\" y=\"%s\">+1</text>\n", cf(b1, x + 16),
            cf(b2, y + 9));
    fprintf(p->f, "<text x=\"%s\" y=\"%s\">0</text>\n", cf(b1, x + 16),
            cf(b2, y + h / 2 + 4));
    fprintf(p->f, "<text x=\"%s\" y=\"%s\">-1</text>\n", cf(b1, x + 16),
            cf(b2, y + h));
}

static void write_heat(const struct page *p, const char *id,
                       const char *title, const double *m)
{
    char b1[FIX_LEN], b2[FIX_LEN], b3[FIX_LEN], b4[FIX_LEN], col[8];
    size_t n = p->n, i, j;
    double cs = floor(640.0 / (double)n), lw, x0, y0, side;

    cs = cs < 14 ? 14 : cs > 48 ? 48 : cs;
    lw = label_width(longest_symbol(p));
    x0 = lw;
    y0 = lw;
    side = cs * (double)n;
    fprintf(p->f, "<div>\n<h3>%s</h3>\n<svg id=\"heat-%s\" viewBox=\"0 0 "
            "%s %s\" width=\"%s\" height=\"%s\" role=\"img\" "
            "aria-label=\"%s\">\n", title, id, cf(b1, x0 + side + 50),
            cf(b2, y0 + side + 8), cf(b3, x0 + side + 50),
            cf(b4, y0 + side + 8), title);
    for (i = 0; i < n; i++) {
        double mid = (double)i * cs + cs / 2;

        fprintf(p->f, "<text class=\"yl\" x=\"%s\" y=\"%s\">",
                cf(b1, x0 - 5), cf(b2, y0 + mid + 4));
        esc(p, symbol(p, i));
        fprintf(p->f, "</text>\n<text transform=\"translate(%s %s) "
                "rotate(-90)\">", cf(b1, x0 + mid + 4), cf(b2, y0 - 5));
        esc(p, symbol(p, i));
        put(p, "</text>\n");
    }
    fprintf(p->f, "<g class=\"hv\" font-size=\"%s\">\n",
            cf(b1, cs * 0.27));
    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            double v = m ? m[i * n + j] : NAN;
            double x = x0 + (double)j * cs, y = y0 + (double)i * cs;

            fprintf(p->f, "<rect class=\"cell\" x=\"%s\" y=\"%s\" "
                    "width=\"%s\" height=\"%s\" fill=\"%s\"/>",
                    cf(b1, x), cf(b2, y), cf(b3, cs), cf(b4, cs),
                    heat_colour(col, v));
            if (n <= HEAT_TEXT_MAX)
                fprintf(p->f, "<text%s x=\"%s\" y=\"%s\">%s</text>",
                        isfinite(v) && fabs(v) > 0.55 ? " class=\"w\"" : "",
                        cf(b1, x + cs / 2), cf(b2, y + cs / 2),
                        fixed(b3, v, 2, 0));
            put(p, "\n");
        }
    }
    put(p, "</g>\n");
    colour_bar(p, x0 + side + 12, y0, side < 120 ? 120 : side);
    put(p, "</svg>\n</div>\n");
}

/* ---- rolling correlation over time ------------------------------------- */

struct roll {
    size_t w;           /* returns per window */
    int simple;         /* simple instead of log returns */
    size_t cache;       /* cached values per asset */
    size_t *pos;        /* per asset: bars at or before the column time */
    double *val;        /* per asset: values of its last `cache` bars,
                           newest first (log closes, or closes) */
    double *xa, *xb;    /* w + 1 synchronous values of the pair */
};

static double roll_value(const struct roll *ro, const bal_series *s,
                         size_t i, size_t bar)
{
    size_t back = ro->pos[i] - 1 - bar;

    if (back < ro->cache)
        return ro->val[i * ro->cache + back];
    return ro->simple ? s->close[bar] : log(s->close[bar]);
}

/* Bars of s with a time <= t. */
static size_t bars_until(const bal_series *s, int64_t t)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->time[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Pearson correlation of the pair's last w synchronous returns up to the
 * column time (SPEC §3): walk both series back from pos, keeping the
 * timestamps both have. NaN when fewer than w + 1 common timestamps lie
 * within ROLL_SCAN (w + 1) bars of either series, or a variance is 0. */
static double roll_pair(const struct roll *ro, const bal_series *si,
                        const bal_series *sj, size_t i, size_t j)
{
    size_t need = ro->w + 1, a = ro->pos[i], b = ro->pos[j], m = 0, k;
    size_t scan = need > SIZE_MAX / ROLL_SCAN ? SIZE_MAX : need * ROLL_SCAN;
    size_t lim_a = a > scan ? a - scan : 0, lim_b = b > scan ? b - scan : 0;
    double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0, r;

    while (m < need && a > lim_a && b > lim_b) {
        int64_t ta = si->time[a - 1], tb = sj->time[b - 1];

        if (ta == tb) {
            ro->xa[m] = roll_value(ro, si, i, a - 1);
            ro->xb[m] = roll_value(ro, sj, j, b - 1);
            m++;
            a--;
            b--;
        } else if (ta > tb) {
            a--;
        } else {
            b--;
        }
    }
    if (m < need)
        return NAN;
    for (k = 0; k < ro->w; k++) {   /* newest first: x[k] is after x[k+1] */
        ro->xa[k] = ro->simple ? ro->xa[k] / ro->xa[k + 1] - 1
                               : ro->xa[k] - ro->xa[k + 1];
        ro->xb[k] = ro->simple ? ro->xb[k] / ro->xb[k + 1] - 1
                               : ro->xb[k] - ro->xb[k + 1];
        ma += ro->xa[k];
        mb += ro->xb[k];
    }
    ma /= (double)ro->w;
    mb /= (double)ro->w;
    for (k = 0; k < ro->w; k++) {
        double da = ro->xa[k] - ma, db = ro->xb[k] - mb;

        saa += da * da;
        sbb += db * db;
        sab += da * db;
    }
    if (!(saa > 0) || !(sbb > 0))
        return NAN;
    r = sab / sqrt(saa * sbb);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* Index of pair (i, j), i < j, in row-major upper-triangle order. */
static size_t pair_index(size_t n, size_t i, size_t j)
{
    return i * n - i * (i + 1) / 2 + (j - i - 1);
}

/* Which pairs get a row (see html.h); writes up to ROLL_ROWS to pi, pj. */
static size_t roll_pick(const struct page *p, size_t *pi, size_t *pj)
{
    const bal_result *res = p->res;
    size_t n = p->n, n_pairs = n * (n - 1) / 2, rows = 0, i, j, k;

    if (n_pairs <= ROLL_ROWS) {
        for (i = 0; i < n; i++)
            for (j = i + 1; j < n; j++) {
                pi[rows] = i;
                pj[rows++] = j;
            }
        return rows;
    }
    if (res->n_stress_pairs > 0) {
        for (k = 0; k < res->n_stress_pairs && rows < ROLL_ROWS; k++) {
            pi[rows] = res->stress_i[k];
            pj[rows++] = res->stress_j[k];
        }
        return rows;
    }
    /* the largest |final correlation| (NaN last), earliest pair on ties */
    while (rows < ROLL_ROWS) {
        size_t bi = SIZE_MAX, bj = SIZE_MAX;
        double best = -1;

        for (i = 0; i < n; i++) {
            for (j = i + 1; j < n; j++) {
                double v = res->final_corr ? fabs(res->final_corr[i * n + j])
                                           : NAN;
                int taken = 0;

                for (k = 0; k < rows; k++)
                    taken |= pi[k] == i && pj[k] == j;
                if (taken)
                    continue;
                if (!isfinite(v))
                    v = -0.5;
                if (v > best) {
                    best = v;
                    bi = i;
                    bj = j;
                }
            }
        }
        if (bi == SIZE_MAX)
            break;
        pi[rows] = bi;
        pj[rows++] = bj;
    }
    return rows;
}

static size_t config_window(const struct page *p)
{
    const cJSON *it = config_item(p, "engine", "corr_window");
    double v = NAN;

    if (cJSON_IsNumber(it))
        v = it->valuedouble;
    else if (cJSON_IsRaw(it) && it->valuestring) {
        char *end;
        unsigned long u = strtoul(it->valuestring, &end, 10);

        if (end != it->valuestring && *end == '\0')
            v = (double)u;
    }
    if (!(v >= 2) || v > 1e7)
        return ROLL_DEFAULT_WINDOW;
    return (size_t)v;
}

static int config_simple(const struct page *p)
{
    const cJSON *it = config_item(p, "engine", "returns");

    return cJSON_IsString(it) && strcmp(it->valuestring, "simple") == 0;
}

static int config_ewma(const struct page *p)
{
    const cJSON *it = config_item(p, "engine", "corr");

    return cJSON_IsString(it) && strcmp(it->valuestring, "ewma") == 0;
}

/* Fills vals (rows x cols, row 0 the mean when `mean`) at the equity rows
 * col_row. */
static int roll_compute(const struct page *p, struct roll *ro,
                        const size_t *col_row, size_t cols, const size_t *pi,
                        const size_t *pj, size_t picked, int mean,
                        double *vals)
{
    const bal_result *res = p->res;
    bal_series *const *ser = p->in->series;
    size_t n = p->n, n_pairs = n * (n - 1) / 2, c, i, j, k;
    double *all = NULL;

    ro->pos = calloc(n, sizeof(*ro->pos));
    ro->val = calloc(n * ro->cache, sizeof(*ro->val));
    ro->xa = calloc(ro->w + 1, sizeof(*ro->xa));
    ro->xb = calloc(ro->w + 1, sizeof(*ro->xb));
    if (mean)
        all = calloc(n_pairs, sizeof(*all));
    if (!ro->pos || !ro->val || !ro->xa || !ro->xb || (mean && !all)) {
        free(all);
        return BAL_ENOMEM;
    }
    for (c = 0; c < cols; c++) {
        int64_t t = res->time[col_row[c]];

        for (i = 0; i < n; i++) {
            const bal_series *s = ser[i];

            ro->pos[i] = bars_until(s, t);
            for (k = 0; k < ro->cache && k < ro->pos[i]; k++) {
                double x = s->close[ro->pos[i] - 1 - k];

                ro->val[i * ro->cache + k] = ro->simple ? x : log(x);
            }
        }
        if (mean) {
            double sum = 0;
            size_t defined = 0;

            for (i = 0; i < n; i++)
                for (j = i + 1; j < n; j++) {
                    double v = roll_pair(ro, ser[i], ser[j], i, j);

                    all[pair_index(n, i, j)] = v;
                    if (isfinite(v)) {
                        sum += v;
                        defined++;
                    }
                }
            vals[c] = defined ? sum / (double)defined : NAN;
        }
        for (k = 0; k < picked; k++) {
            size_t a = pi[k] < pj[k] ? pi[k] : pj[k];
            size_t b = pi[k] < pj[k] ? pj[k] : pi[k];

            vals[(k + !!mean) * cols + c] =
                mean ? all[pair_index(n, a, b)]
                     : roll_pair(ro, ser[a], ser[b], a, b);
        }
    }
    free(all);
    return 0;
}

static void write_roll_svg(const struct page *p, const size_t *col_row,
                           size_t cols, const size_t *pi, const size_t *pj,
                           size_t picked, int mean, const double *vals)
{
    const bal_result *res = p->res;
    char b1[FIX_LEN], b2[FIX_LEN], b3[FIX_LEN], b4[FIX_LEN], col[8];
    char tb[BAL_NUMFMT_LEN];
    size_t rows = picked + !!mean, r, c;
    double left = 2 * label_width(longest_symbol(p)) + 8, right = PLOT_R;
    double mean_w = 6.6 * 20 + 12;     /* "mean of NNNN pairs" */
    double rh = 18, cw, top = 6, h;

    if (mean && left < mean_w)
        left = mean_w;
    if (left > 400)
        left = 400;
    cw = (right - 60 - left) / (double)cols;
    h = top + rh * (double)rows + 26;
    if (h < 140)
        h = 140;
    fprintf(p->f, "<svg id=\"rolling\" viewBox=\"0 0 %s %s\" width=\"%s\" "
            "height=\"%s\" role=\"img\" aria-label=\"rolling "
            "correlation\">\n", cf(b1, PAGE_W), cf(b2, h), cf(b3, PAGE_W),
            cf(b4, h));
    for (r = 0; r < rows; r++) {
        double y = top + rh * (double)r;

        fprintf(p->f, "<text class=\"yl\" x=\"%s\" y=\"%s\">",
                cf(b1, left - 6), cf(b2, y + 13));
        if (mean && r == 0) {
            fprintf(p->f, "mean of %zu pairs", p->n * (p->n - 1) / 2);
        } else {
            size_t k = r - !!mean;

            esc(p, symbol(p, pi[k]));
            put(p, "|");
            esc(p, symbol(p, pj[k]));
        }
        put(p, "</text>\n");
        for (c = 0; c < cols; c++) {
            double x0 = left + cw * (double)c;

            fprintf(p->f, "<rect x=\"%s\" y=\"%s\" width=\"%s\" "
                    "height=\"%s\" fill=\"%s\"/>", cf(b1, x0), cf(b2, y),
                    cf(b3, cw + 0.3), cf(b4, rh - 2),
                    heat_colour(col, vals[r * cols + c]));
        }
        put(p, "\n");
    }
    fprintf(p->f, "<text x=\"%s\" y=\"%s\">%s</text>\n", cf(b1, left),
            cf(b2, top + rh * (double)rows + 14),
            tfmt(p, tb, res->time[col_row[0]]));
    fprintf(p->f, "<text class=\"xe\" x=\"%s\" y=\"%s\">%s</text>\n",
            cf(b1, left + cw * (double)cols),
            cf(b2, top + rh * (double)rows + 14),
            tfmt(p, tb, res->time[col_row[cols - 1]]));
    colour_bar(p, right - 40, top, 120);
    put(p, "</svg>\n");
}

static int write_rolling(const struct page *p)
{
    const bal_result *res = p->res;
    size_t n = p->n, n_pairs = n * (n - 1) / 2, cols, c, picked, longest;
    size_t pi[ROLL_ROWS], pj[ROLL_ROWS], *col_row = NULL;
    double *vals = NULL;
    struct roll ro;
    int mean, rc;

    put(p, "<h3>Rolling correlation over time</h3>\n");
    if (n < 2 || !p->in->series) {
        put(p, n < 2 ? "<p class=\"note\">Needs two assets.</p>\n"
                     : "<p class=\"note\">Not available: the price "
                       "series were not given to the report.</p>\n");
        return 0;
    }
    memset(&ro, 0, sizeof(ro));
    ro.w = config_window(p);
    ro.simple = config_simple(p);
    for (c = 0, longest = 0; c < n; c++)
        if (p->in->series[c]->n > longest)
            longest = p->in->series[c]->n;
    if (ro.w >= longest) {
        fprintf(p->f, "<p class=\"note\">Not available: the window of %zu "
                "returns is longer than the data.</p>\n", ro.w);
        return 0;
    }
    ro.cache = 2 * (ro.w + 1);
    if (ro.cache > ROLL_CACHE_MAX)
        ro.cache = ROLL_CACHE_MAX;
    mean = n >= 3 && n_pairs <= ROLL_MEAN_MAX_PAIRS;
    picked = roll_pick(p, pi, pj);
    cols = res->n_rows < ROLL_COLS ? res->n_rows : ROLL_COLS;
    col_row = calloc(cols, sizeof(*col_row));
    vals = calloc((picked + 1) * cols, sizeof(*vals));
    if (!col_row || !vals) {
        rc = BAL_ENOMEM;
        goto done;
    }
    for (c = 0; c < cols; c++)      /* the last row of each of cols parts */
        col_row[c] = (c + 1) * res->n_rows / cols - 1;
    rc = roll_compute(p, &ro, col_row, cols, pi, pj, picked, mean, vals);
    if (rc < 0)
        goto done;
    write_roll_svg(p, col_row, cols, pi, pj, picked, mean, vals);
    fprintf(p->f, "<p class=\"note\">Pearson correlation of the last %zu "
            "synchronous %s returns of each pair at %zu evenly spaced "
            "rows%s%s; rows: %s.</p>\n", ro.w,
            ro.simple ? "simple" : "log", cols,
            config_ewma(p) ? " (rolling, although the engine used EWMA)"
                           : "",
            mean ? "" : n >= 3 ? " (mean omitted: too many pairs)" : "",
            n_pairs <= ROLL_ROWS ? "every pair"
            : res->n_stress_pairs ? "the stress pairs"
                                  : "the largest |final correlation|");
done:
    free(ro.pos);
    free(ro.val);
    free(ro.xa);
    free(ro.xb);
    free(col_row);
    free(vals);
    return rc;
}

static int write_correlations(const struct page *p)
{
    const bal_result *res = p->res;

    put(p, "<h2>Correlations</h2>\n");
    if (p->n > HEAT_MAX_ASSETS) {
        fprintf(p->f, "<p class=\"note\">%zu assets: too many for heat "
                "maps; the matrices are in report.json.</p>\n", p->n);
    } else {
        put(p, "<div class=\"heats\">\n");
        write_heat(p, "final", "Final correlation", res->final_corr);
        write_heat(p, "stress", "Stress correlation", res->stress_corr);
        put(p, "</div>\n");
        fprintf(p->f, "<p class=\"note\">Final: the last rolling "
                "correlation of each pair. Stress: measured only over the "
                "%zu steps classified as stress (shock regime or a low "
                "equal-weight return). Grey: undefined.</p>\n",
                res->stress_steps);
    }
    return write_rolling(p);
}

/* ---- tables ------------------------------------------------------------ */

static void write_stress_pairs(const struct page *p)
{
    const bal_result *res = p->res;
    char b1[FIX_LEN], b2[FIX_LEN], b3[FIX_LEN];
    size_t k, n = p->n;

    if (res->n_stress_pairs == 0 || !res->calm_corr || !res->stress_corr)
        return;
    put(p, "<h3>Stress pairs</h3>\n<table><thead><tr><th>pair</th>"
           "<th>calm</th><th>stress</th><th>stress \xe2\x88\x92 calm</th>"
           "</tr></thead><tbody>\n");
    for (k = 0; k < res->n_stress_pairs; k++) {
        size_t i = res->stress_i[k], j = res->stress_j[k];

        put(p, "<tr><td>");
        esc(p, symbol(p, i));
        put(p, "|");
        esc(p, symbol(p, j));
        fprintf(p->f, "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                fixed(b1, res->calm_corr[i * n + j], 3, 0),
                fixed(b2, res->stress_corr[i * n + j], 3, 0),
                fixed(b3, res->stress_diff[k], 3, 0));
    }
    put(p, "</tbody></table>\n");
}

static void write_assets(const struct page *p)
{
    const bal_result *res = p->res;
    char b[8][FIX_LEN];
    size_t i;

    put(p, "<h2>Assets</h2>\n<div class=\"wide\"><table><thead><tr>"
           "<th>symbol</th><th>avg weight</th><th>final weight</th>"
           "<th>P&amp;L</th><th>costs</th><th>risk contribution</th>"
           "<th>realised vol</th><th>trades</th><th>bars/year</th>"
           "</tr></thead><tbody>\n");
    for (i = 0; i < p->n; i++) {
        const bal_asset_result *a = &res->assets[i];

        fprintf(p->f, "<tr><td><span class=\"sw\" style=\"background:%s\">"
                "</span>", palette[i % PALETTE_N]);
        esc(p, symbol(p, i));
        fprintf(p->f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                "<td>%s</td><td>%s</td><td>%zu</td><td>%s</td></tr>\n",
                pct(b[0], a->avg_weight, 2), pct(b[1], a->final_weight, 2),
                fixed(b[2], a->pnl, 2, 1), fixed(b[3], a->costs, 2, 1),
                pct(b[4], a->risk_contribution, 2),
                pct(b[5], a->realised_vol, 2), a->trades,
                trimmed(b[6], a->bars_per_year));
    }
    put(p, "</tbody></table></div>\n");
}

static void write_episodes(const struct page *p)
{
    const bal_metrics *m = &p->res->metrics;
    char b1[FIX_LEN], b2[FIX_LEN], t1[BAL_NUMFMT_LEN], t2[BAL_NUMFMT_LEN];
    char t3[BAL_NUMFMT_LEN];
    size_t k;

    if (m->n_episodes == 0)
        return;
    put(p, "<h2>Deepest drawdowns</h2>\n<div class=\"wide\"><table><thead>"
           "<tr><th>#</th><th>depth</th><th>peak</th><th>trough</th>"
           "<th>recovered</th><th>length</th><th>to recover</th></tr>"
           "</thead><tbody>\n");
    for (k = 0; k < m->n_episodes && k < BAL_METRICS_MAX_EPISODES; k++) {
        const bal_drawdown_episode *e = &m->episodes[k];

        fprintf(p->f, "<tr><td>%zu</td><td>%s</td><td>%s</td><td>%s</td>"
                "<td>%s</td><td>%s</td><td>%zu steps</td></tr>\n", k + 1,
                pct(b1, e->depth, 2), tfmt(p, t1, e->peak_time),
                tfmt(p, t2, e->trough_time),
                e->recovered ? tfmt(p, t3, e->end_time) : "not yet",
                duration(b2, e->length, e->length_days), e->to_recover);
    }
    put(p, "</tbody></table></div>\n");
}

static void write_data(const struct page *p)
{
    const bal_report_input *in = p->in;
    char t1[BAL_NUMFMT_LEN], t2[BAL_NUMFMT_LEN];
    size_t i;

    put(p, "<h2>Data</h2>\n<div class=\"wide\"><table><thead><tr>"
           "<th>symbol</th><th>file</th><th>bars</th><th>first</th>"
           "<th>last</th><th>defects</th><th>hash</th></tr></thead>"
           "<tbody>\n");
    for (i = 0; i < p->n; i++) {
        const bal_series *s = in->series ? in->series[i] : NULL;

        put(p, "<tr><td>");
        esc(p, symbol(p, i));
        put(p, "</td><td>");
        esc(p, in->files ? in->files[i] : NULL);
        put(p, "</td>");
        if (s) {
            const bal_defects *d = &s->defects;
            size_t total = d->duplicates + d->unsorted + d->high_low
                           + d->open_close_outside + d->non_positive
                           + d->missing + d->spikes + d->gaps
                           + d->time_mismatch;

            fprintf(p->f, "<td>%zu</td><td>%s</td><td>%s</td><td>%zu</td>",
                    s->n, s->n ? tfmt(p, t1, s->time[0]) : DASH,
                    s->n ? tfmt(p, t2, s->time[s->n - 1]) : DASH, total);
        } else {
            put(p, "<td>" DASH "</td><td>" DASH "</td><td>" DASH "</td><td>"
                   DASH "</td>");
        }
        put(p, "<td>");
        esc(p, in->hashes && in->hashes[i] ? in->hashes[i] : DASH);
        put(p, "</td></tr>\n");
    }
    put(p, "</tbody></table></div>\n");
}

/* ---- the page ---------------------------------------------------------- */

int bal_report_html(FILE *out, const bal_report_input *in,
                    const bal_result *res, bal_error *err)
{
    struct page p;
    int rc;

    BAL_ASSERT(out && in && res && in->symbols);
    if (res->n_rows == 0)
        return bal_error_set(err, BAL_EINVAL, "no equity rows to report");
    memset(&p, 0, sizeof(p));
    p.f = out;
    p.in = in;
    p.res = res;
    p.n = res->n_assets;
    p.date_only = res->date_only;
    p.idx = malloc(BAL_HTML_MAX_POINTS * sizeof(*p.idx));
    if (!p.idx)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    write_head(&p);
    write_metrics(&p);
    write_equity(&p);
    write_underwater(&p);
    write_exposure(&p);
    rc = write_weights(&p);
    if (rc == 0)
        write_triggers(&p);
    if (rc == 0)
        rc = write_correlations(&p);
    if (rc == 0) {
        write_stress_pairs(&p);
        write_assets(&p);
        write_episodes(&p);
        write_data(&p);
        put(&p, "<p class=\"note\">Written by ballast");
        if (in->version) {
            put(&p, " ");
            esc(&p, in->version);
        }
        put(&p, ". Times are UTC.</p>\n</body>\n</html>\n");
    }
    free(p.idx);
    if (rc < 0)
        return bal_error_set(err, rc, "out of memory");
    if (fflush(out) != 0 || ferror(out))
        return bal_error_set(err, BAL_EIO, "cannot write the HTML report");
    return 0;
}
