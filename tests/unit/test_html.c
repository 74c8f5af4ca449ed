#include "ballast/engine.h"
#include "ballast/html.h"
#include "ballast/numfmt.h"
#include "ballast/report.h"
#include "helpers.h"

#include <ctype.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* Renders to memory; the page is NUL-terminated. */
static char *render(const bal_report_input *in, const bal_result *res,
                    size_t *len_out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bal_error err = BAL_ERROR_INIT;
    int rc;

    cr_assert_not_null(f);
    rc = bal_report_html(f, in, res, &err);
    cr_assert_eq(rc, 0, "bal_report_html: %d %s", rc, err.msg);
    cr_assert_eq(fclose(f), 0);
    if (len_out)
        *len_out = len;
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0, step = strlen(needle);

    for (hay = strstr(hay, needle); hay; hay = strstr(hay + step, needle))
        k++;
    return k;
}

/* The text between `from` (first occurrence) and the next `to`, as a new
 * string. */
static char *between(const char *page, const char *from, const char *to)
{
    const char *a = strstr(page, from), *b;
    char *out;

    cr_assert_not_null(a, "'%s' not in the page", from);
    a += strlen(from);
    b = strstr(a, to);
    cr_assert_not_null(b, "no '%s' after '%s'", to, from);
    out = malloc((size_t)(b - a) + 1);
    cr_assert_not_null(out);
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return out;
}

/* Parses "x,y x,y ..." into ys (room for cap); returns the count. */
static size_t polyline_ys(const char *points, double *ys, size_t cap)
{
    size_t m = 0;
    const char *s = points;

    while (*s) {
        char *end;
        double x = strtod(s, &end), y;

        cr_assert(end != s && *end == ',', "bad point at '%.20s'", s);
        y = strtod(end + 1, &end);
        cr_assert(m < cap);
        (void)x;
        ys[m++] = y;
        s = end;
        while (*s == ' ')
            s++;
    }
    return m;
}

static size_t distinct(const double *v, size_t n)
{
    size_t i, j, k = 0;

    for (i = 0; i < n; i++) {
        for (j = 0; j < i && v[j] != v[i]; j++)
            ;
        k += j == i;
    }
    return k;
}

/* A result built by hand: n assets, rows daily rows from 2021-03-01, flat
 * equity 1e6 unless the caller changes it, weights every `every` rows,
 * correlation matrices with the given off-diagonal value. Released with
 * bal_result_release. */
static void hand_result(bal_result *r, size_t n, size_t rows, size_t every,
                        double rho)
{
    int64_t t0 = bal_days_from_civil(2021, 3, 1) * 86400;
    size_t i, j, t, w = 0;

    memset(r, 0, sizeof(*r));
    r->n_assets = n;
    r->n_rows = rows;
    r->n_steps = rows;
    r->date_only = 1;
    r->time = calloc(rows, sizeof(*r->time));
    r->equity = calloc(rows, sizeof(double));
    r->cash = calloc(rows, sizeof(double));
    r->gross = calloc(rows, sizeof(double));
    r->net = calloc(rows, sizeof(double));
    r->drawdown = calloc(rows, sizeof(double));
    r->dd_mult = calloc(rows, sizeof(double));
    r->regime = calloc(rows, sizeof(int));
    r->cap_weights = (rows / every + 1) * n;
    r->weights = calloc(r->cap_weights, sizeof(*r->weights));
    r->assets = calloc(n, sizeof(*r->assets));
    r->final_corr = calloc(n * n, sizeof(double));
    r->calm_corr = calloc(n * n, sizeof(double));
    r->stress_corr = calloc(n * n, sizeof(double));
    r->book.n = n;
    r->book.cap_trades = rows / every + 1;
    r->book.trades = calloc(r->book.cap_trades, sizeof(bal_trade));
    cr_assert(r->time && r->equity && r->cash && r->gross && r->net
              && r->drawdown && r->dd_mult && r->regime && r->weights
              && r->assets && r->final_corr && r->calm_corr
              && r->stress_corr && r->book.trades);
    for (t = 0; t < rows; t++) {
        r->time[t] = t0 + (int64_t)t * 86400;
        r->equity[t] = 1e6;
        r->gross[t] = 0.95;
        r->net[t] = 0.95;
        r->dd_mult[t] = 1;
        r->regime[t] = t < 10 ? -1 : (int)(t / 7 % 3);
        if (t % every == 0) {
            for (i = 0; i < n; i++) {
                bal_weight_row *row = &r->weights[w++];

                row->time = r->time[t];
                row->asset = i;
                row->target = 0.9 / (double)n;
                row->actual = 0.9 / (double)n;
            }
            r->book.trades[r->book.n_trades].time = r->time[t];
            r->book.trades[r->book.n_trades].decided = r->time[t];
            r->book.trades[r->book.n_trades].triggers =
                t == 0 ? BAL_TRIG_INITIAL : BAL_TRIG_SCHEDULE;
            r->book.n_trades++;
            if (t > 0) {
                r->rebalances++;
                r->by_trigger[1]++;
            }
        }
    }
    r->n_weights = w;
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            double v = i == j ? 1 : rho;

            r->final_corr[i * n + j] = v;
            r->calm_corr[i * n + j] = v;
            r->stress_corr[i * n + j] = i == j ? 1 : NAN;
        }
    r->metrics.n_returns = rows - 1;
    r->metrics.periods_per_year = 365;
}

/* Report input for n assets with the given symbols and files. */
static bal_report_input hand_input(const char *const *syms,
                                   const char *const *files)
{
    bal_report_input in;

    memset(&in, 0, sizeof(in));
    in.version = "9.8.7";
    in.symbols = syms;
    in.files = files;
    in.calendar = "union";
    return in;
}

static const char *const odd_syms[3] = { "A<&>", "B\"q'", "C" };
static const char *const odd_files[3] = { "dir/<f>.csv", "b&b.csv",
                                          "c.csv" };

/* ---- structure ---------------------------------------------------------- */

Test(html, page_is_well_formed_and_self_contained)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, odd_files);
    cJSON *cfg = cJSON_CreateObject();
    char *page, *lower, *title;
    const char *s;
    size_t len, i;
    int depth = 0;

    cJSON_AddStringToObject(cfg, "name", "x<y>&z");
    in.config = cfg;
    hand_result(&res, 3, 200, 20, 0.4);
    page = render(&in, &res, &len);
    cr_assert_eq(strlen(page), len, "no NUL byte inside the page");
    cr_assert(strncmp(page, "<!DOCTYPE html>\n", 16) == 0);
    cr_assert_eq(count(page, "<html"), 1);
    cr_assert_eq(count(page, "</html>"), 1);
    cr_assert(strcmp(page + len - 8, "</html>\n") == 0, "ends the page");
    cr_assert_eq(count(page, "<head>"), 1);
    cr_assert_eq(count(page, "<body>"), 1);
    cr_assert_eq(count(page, "</body>"), 1);
    cr_assert_eq(count(page, "<title>"), 1);
    cr_assert_eq(count(page, "</title>"), 1);
    title = between(page, "<title>", "</title>");
    cr_assert_str_eq(title, "ballast \xe2\x80\x94 x&lt;y&gt;&amp;z");
    /* <svg> and </svg> alternate: balanced, never nested */
    cr_assert_gt(count(page, "<svg"), 5);
    for (s = page; (s = strstr(s, "svg")) != NULL; s += 3) {
        if (s > page && s[-1] == '<')
            depth++;
        else if (s > page + 1 && s[-1] == '/' && s[-2] == '<')
            depth--;
        cr_assert(depth == 0 || depth == 1, "svg nesting %d", depth);
    }
    cr_assert_eq(depth, 0);
    cr_assert_eq(count(page, "<svg"), count(page, "</svg>"));
    cr_assert_eq(count(page, "<table"), count(page, "</table>"));
    /* nothing external, nothing executable */
    lower = strdup(page);
    cr_assert_not_null(lower);
    for (i = 0; lower[i]; i++)
        lower[i] = (char)tolower((unsigned char)lower[i]);
    cr_assert_null(strstr(lower, "http"));
    cr_assert_null(strstr(lower, "<script"));
    cr_assert_null(strstr(lower, "<link"));
    cr_assert_null(strstr(lower, "<img"));
    cr_assert_null(strstr(lower, "url("));
    cr_assert_null(strstr(lower, "@import"));
    cr_assert_null(strstr(lower, "javascript:"));
    for (s = strstr(lower, " on"); s; s = strstr(s + 1, " on")) {
        const char *c = s + 3;

        while (*c >= 'a' && *c <= 'z')
            c++;
        cr_assert(c == s + 3 || *c != '=', "event handler at '%.20s'", s);
    }
    free(lower);
    free(title);
    free(page);
    cJSON_Delete(cfg);
    bal_result_release(&res);
}

Test(html, every_user_string_is_escaped)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, odd_files);
    const char *hashes[3] = { "0123456789abcdef", "<h>", NULL };
    char *page;

    in.hashes = hashes;
    hand_result(&res, 3, 120, 10, 0.3);
    res.n_stress_pairs = 1;
    res.stress_i[0] = 0;
    res.stress_j[0] = 1;
    res.stress_diff[0] = 0.25;
    page = render(&in, &res, NULL);
    cr_assert_null(strstr(page, "A<&>"));
    cr_assert_null(strstr(page, "B\"q'"));
    cr_assert_null(strstr(page, "<f>"));
    cr_assert_null(strstr(page, "b&b"));
    cr_assert_null(strstr(page, "<h>"));
    /* legend, heat map axes (twice each), rolling rows, tables */
    cr_assert_geq(count(page, "A&lt;&amp;&gt;"), 6);
    cr_assert_geq(count(page, "B&quot;q&#39;"), 6);
    cr_assert_eq(count(page, "dir/&lt;f&gt;.csv"), 1);
    cr_assert_eq(count(page, "b&amp;b.csv"), 1);
    cr_assert_eq(count(page, "&lt;h&gt;"), 1);
    cr_assert_eq(count(page, "A&lt;&amp;&gt;|B&quot;q&#39;"), 1,
                 "the stress pair table (no series: no rolling rows)");
    /* every '&' starts an entity */
    {
        const char *s;

        for (s = strchr(page, '&'); s; s = strchr(s + 1, '&'))
            cr_assert(strncmp(s, "&amp;", 5) == 0
                      || strncmp(s, "&lt;", 4) == 0
                      || strncmp(s, "&gt;", 4) == 0
                      || strncmp(s, "&quot;", 6) == 0
                      || strncmp(s, "&#39;", 5) == 0,
                      "raw '&' at '%.12s'", s);
    }
    free(page);
    bal_result_release(&res);
}

/* ---- metrics ------------------------------------------------------------ */

static void assert_row(const char *page, const char *label, const char *want)
{
    char needle[256];

    snprintf(needle, sizeof(needle), "<tr><th>%s</th><td>%s</td></tr>",
             label, want);
    cr_assert_not_null(strstr(page, needle), "missing %s", needle);
}

/* Each value rounded by hand: 0.123456 -> 12.3456 % -> "12.35%";
 * -0.0451249 -> -4.51249 % -> "-4.51%"; 1.23456 -> "1.235"; ... */
Test(html, metrics_are_formatted_for_people)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, odd_files);
    bal_metrics *m;
    char *page;

    hand_result(&res, 3, 50, 10, 0.3);
    m = &res.metrics;
    res.equity[49] = 1234567.891;
    m->total_return = 0.123456;
    m->cagr = -0.0451249;
    m->cagr_calendar = 0.00004;     /* 0.004 % -> "0.00%", never "-0" */
    m->volatility = 0.18765;        /* 18.765 % -> "18.77%" (18.765000..) */
    m->sharpe = 1.23456;
    m->sortino = -2.34567;
    m->calmar = NAN;
    m->max_drawdown = 0.2089;
    m->max_drawdown_duration = 37;
    m->max_drawdown_duration_days = 51.04;
    m->longest_underwater = 1234;
    m->longest_underwater_days = 1790.96;
    m->ulcer_index = 0.0456;
    m->var_95 = -0.0123456;
    m->cvar_95 = -0.0234567;
    m->skew = -0.0004;              /* rounds to 0: "0.000", not "-0.000" */
    m->excess_kurtosis = 3.98765;
    m->best_period = 0.0612;
    m->worst_period = -0.0537;
    m->hit_rate = NAN;
    m->recovery_factor = 0.5909;
    m->periods_per_year = 8766;
    res.turnover = 2.5;
    res.book.total_costs = 12345.678;
    res.rebalances = 17;
    page = render(&in, &res, NULL);
    assert_row(page, "Final equity", "1,234,567.89");
    assert_row(page, "Total return", "12.35%");
    assert_row(page, "CAGR", "-4.51%");
    assert_row(page, "CAGR (calendar)", "0.00%");
    assert_row(page, "Sharpe", "1.235");
    assert_row(page, "Sortino", "-2.346");
    assert_row(page, "Calmar", "\xe2\x80\x93");
    assert_row(page, "Hit rate", "\xe2\x80\x93");
    assert_row(page, "Max drawdown", "20.89%");
    assert_row(page, "Max drawdown duration", "37 steps (51.0 d)");
    assert_row(page, "Longest underwater", "1234 steps (1,791.0 d)");
    assert_row(page, "Ulcer index", "4.56%");
    assert_row(page, "VaR 95 (per step)", "-1.23%");
    assert_row(page, "CVaR 95 (per step)", "-2.35%");
    assert_row(page, "Skew", "0.000");
    assert_row(page, "Excess kurtosis", "3.988");
    assert_row(page, "Best / worst step", "6.12% / -5.37%");
    assert_row(page, "Recovery factor", "0.591");
    assert_row(page, "Periods per year", "8,766");
    assert_row(page, "Turnover (annual)", "250.00%");
    assert_row(page, "Total costs", "12,345.68");
    assert_row(page, "Rebalances", "17");
    assert_row(page, "Trades", "5");
    cr_assert_null(strstr(page, ">-0.00"), "no negative zero anywhere");
    free(page);
    bal_result_release(&res);
}

Test(html, per_asset_table_rows)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, odd_files);
    char *page;

    hand_result(&res, 3, 50, 10, 0.3);
    res.assets[1].avg_weight = 0.31234;
    res.assets[1].final_weight = 0.29876;
    res.assets[1].pnl = -4567.891;
    res.assets[1].costs = 12.3456;
    res.assets[1].risk_contribution = 0.4;
    res.assets[1].realised_vol = 0.123;
    res.assets[1].trades = 42;
    res.assets[1].bars_per_year = 365.25;
    page = render(&in, &res, NULL);
    cr_assert_not_null(strstr(page, "B&quot;q&#39;</td><td>31.23%</td>"
                                    "<td>29.88%</td><td>-4,567.89</td>"
                                    "<td>12.35</td><td>40.00%</td>"
                                    "<td>12.30%</td><td>42</td>"
                                    "<td>365.25</td></tr>"));
    free(page);
    bal_result_release(&res);
}

/* ---- heat maps ---------------------------------------------------------- */

/* The cells of heat map `id` (its colour bar left out). */
static char *heat_cells(const char *page, const char *id)
{
    char from[64], *svg, *cells;

    snprintf(from, sizeof(from), "id=\"heat-%s\"", id);
    svg = between(page, from, "</svg>");
    cells = between(svg, "<g class=\"hv\"", "</g>");
    free(svg);
    return cells;
}

static void check_heat(size_t n)
{
    bal_result res;
    const char *syms[7] = { "S0", "S1", "S2", "S3", "S4", "S5", "S6" };
    bal_report_input in = hand_input(syms, NULL);
    char *page, *heat;

    hand_result(&res, n, 60, 10, 0.5);
    page = render(&in, &res, NULL);
    heat = heat_cells(page, "final");
    cr_assert_eq(count(heat, "<rect class=\"cell\""), n * n);
    /* value text in every cell: n ones on the diagonal, 0.50 elsewhere */
    cr_assert_eq(count(heat, ">1.00</text>"), n);
    cr_assert_eq(count(heat, ">0.50</text>"), n * n - n);
    /* colours, blue (33,102,172) at -1, white at 0, red (178,24,43) at +1,
     * linear per channel: +1 -> #b2182b; +0.5 -> 255 + (c - 255) / 2 =
     * (216.5, 139.5, 149) rounded half away -> #d98c95 */
    cr_assert_eq(count(heat, "fill=\"#b2182b\""), n);
    cr_assert_eq(count(heat, "fill=\"#d98c95\""), n * n - n);
    free(heat);
    heat = heat_cells(page, "stress");
    cr_assert_eq(count(heat, "<rect class=\"cell\""), n * n);
    cr_assert_eq(count(heat, ">\xe2\x80\x93</text>"), n * n - n,
                 "undefined cells show a dash");
    free(heat);
    free(page);
    bal_result_release(&res);
}

Test(html, heat_map_has_n_squared_cells)
{
    check_heat(1);
    check_heat(3);
    check_heat(7);
}

Test(html, heat_colours_span_blue_white_red)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, NULL);
    char *page, *heat;

    hand_result(&res, 3, 60, 10, 0.5);
    res.final_corr[0 * 3 + 1] = res.final_corr[1 * 3 + 0] = -1;
    res.final_corr[0 * 3 + 2] = res.final_corr[2 * 3 + 0] = 0;
    res.final_corr[1 * 3 + 2] = res.final_corr[2 * 3 + 1] = -0.25;
    page = render(&in, &res, NULL);
    heat = heat_cells(page, "final");
    cr_assert_eq(count(heat, "fill=\"#2166ac\""), 2, "-1 is pure blue");
    cr_assert_eq(count(heat, "fill=\"#ffffff\""), 2, "0 is white");
    /* -0.25: 255 - 222/4 = 199.5, 255 - 153/4 = 216.75, 255 - 83/4 =
     * 234.25 -> (200, 217, 234) = #c8d9ea */
    cr_assert_eq(count(heat, "fill=\"#c8d9ea\""), 2);
    cr_assert_eq(count(heat, ">-1.00</text>"), 2);
    cr_assert_eq(count(heat, ">-0.25</text>"), 2);
    cr_assert_eq(count(heat, ">0.00</text>"), 2);
    free(heat);
    free(page);
    bal_result_release(&res);
}

/* ---- downsampling ------------------------------------------------------- */

Test(html, downsample_keeps_extremes_and_endpoints)
{
    const size_t n = 100003, cap = 2000;
    double *y = malloc(n * sizeof(*y));
    size_t *idx = malloc(cap * sizeof(*idx));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    size_t m, k, imin, imax;
    int has_min = 0, has_max = 0;

    cr_assert(y && idx && rng);
    gsl_rng_set(rng, 20240611);
    y[0] = 2.385;
    for (k = 1; k < n; k++)
        y[k] = y[k - 1] + gsl_ran_gaussian(rng, 0.731);
    y[777] = NAN;                       /* never picked */
    imin = gsl_stats_min_index(y + 778, 1, n - 778) + 778;
    imax = gsl_stats_max_index(y + 778, 1, n - 778) + 778;
    for (k = 0; k < 777; k++) {         /* the independent arg-extremes */
        if (y[k] < y[imin])
            imin = k;
        if (y[k] > y[imax])
            imax = k;
    }
    m = bal_html_downsample(idx, y, n, cap);
    cr_assert_leq(m, cap);
    cr_assert_gt(m, cap / 2);
    cr_assert_eq(idx[0], 0);
    cr_assert_eq(idx[m - 1], n - 1);
    for (k = 0; k < m; k++) {
        if (k)
            cr_assert_gt(idx[k], idx[k - 1]);
        cr_assert_neq(idx[k], 777);
        has_min |= idx[k] == imin;
        has_max |= idx[k] == imax;
    }
    cr_assert(has_min && has_max, "global min %zu / max %zu kept", imin,
              imax);
    /* short curves are kept whole */
    m = bal_html_downsample(idx, y, 5, cap);
    cr_assert_eq(m, 5);
    for (k = 0; k < 5; k++)
        cr_assert_eq(idx[k], k);
    /* the smallest budget: first, last, one bucket's min and max */
    m = bal_html_downsample(idx, y, 1000, 4);
    cr_assert_leq(m, 4);
    cr_assert_eq(idx[0], 0);
    cr_assert_eq(idx[m - 1], 999);
    free(y);
    free(idx);
    gsl_rng_free(rng);
}

/* One dip to 50 and one spike to 150 in 50,000 flat rows: both must reach
 * the polyline (3 distinct y levels), and so must the drawdown levels
 * 0, -1/2 (at the dip) and 100/150 - 1 = -1/3 (after the spike). */
Test(html, spikes_survive_downsampling)
{
    const size_t rows = 50000;
    bal_result res;
    bal_report_input in = hand_input(odd_syms, NULL);
    double *ys = malloc(BAL_HTML_MAX_POINTS * 2 * sizeof(*ys)), peak = 0;
    char *page, *pts;
    size_t m, t;

    cr_assert_not_null(ys);
    hand_result(&res, 3, rows, 5000, 0.2);
    for (t = 0; t < rows; t++) {
        res.equity[t] = t == 12345 ? 50 : t == 31337 ? 150 : 100;
        if (t == 0 || res.equity[t] > peak)
            peak = res.equity[t];
        res.drawdown[t] = res.equity[t] / peak - 1;
    }
    page = render(&in, &res, NULL);
    pts = between(page, "<polyline class=\"equity\" points=\"", "\"");
    m = polyline_ys(pts, ys, BAL_HTML_MAX_POINTS * 2);
    cr_assert_leq(m, BAL_HTML_MAX_POINTS);
    cr_assert_eq(distinct(ys, m), 3);
    free(pts);
    pts = between(page, "<polyline class=\"ddl\" points=\"", "\"");
    m = polyline_ys(pts, ys, BAL_HTML_MAX_POINTS * 2);
    cr_assert_leq(m, BAL_HTML_MAX_POINTS);
    cr_assert_eq(distinct(ys, m), 3);
    free(pts);
    free(page);
    free(ys);
    bal_result_release(&res);
}

/* ---- determinism and errors --------------------------------------------- */

Test(html, same_result_gives_same_bytes)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, odd_files);
    char *a, *b;
    size_t la, lb;

    hand_result(&res, 3, 400, 21, -0.3);
    a = render(&in, &res, &la);
    b = render(&in, &res, &lb);
    cr_assert_eq(la, lb);
    cr_assert(memcmp(a, b, la) == 0);
    free(a);
    free(b);
    bal_result_release(&res);
}

Test(html, write_failure_is_eio)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, odd_files);
    bal_error err = BAL_ERROR_INIT;
    FILE *f = fopen("/dev/full", "w");
    char *big;

    if (!f)
        cr_skip_test("no /dev/full");
    hand_result(&res, 3, 100, 10, 0.3);
    cr_assert_eq(bal_report_html(f, &in, &res, &err), BAL_EIO);
    cr_assert_eq(err.code, BAL_EIO);
    cr_assert_str_eq(err.msg, "cannot write the HTML report");
    fclose(f);
    /* a buffer larger than the page: only the final flush can fail */
    big = malloc(1u << 22);
    f = fopen("/dev/full", "w");
    cr_assert(big && f);
    cr_assert_eq(setvbuf(f, big, _IOFBF, 1u << 22), 0);
    err.code = BAL_OK;
    cr_assert_eq(bal_report_html(f, &in, &res, &err), BAL_EIO);
    cr_assert_eq(err.code, BAL_EIO);
    fclose(f);
    free(big);
    bal_result_release(&res);
}

Test(html, empty_result_is_einval)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, odd_files);
    bal_error err = BAL_ERROR_INIT;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    memset(&res, 0, sizeof(res));
    res.n_assets = 3;
    cr_assert_eq(bal_report_html(f, &in, &res, &err), BAL_EINVAL);
    cr_assert_str_eq(err.msg, "no equity rows to report");
    fclose(f);
    free(buf);
}

/* Without config, series or weights the page still renders and says what
 * it could not show. */
Test(html, missing_inputs_are_explained)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, NULL);
    char *page;

    hand_result(&res, 3, 30, 10, 0.3);
    res.n_weights = 0;
    res.rebalances = 0;
    res.by_trigger[1] = 0;
    page = render(&in, &res, NULL);
    cr_assert_not_null(strstr(page, "<title>ballast report</title>"));
    cr_assert_not_null(strstr(page, "No weights were recorded."));
    cr_assert_not_null(strstr(page, "No rebalance after the initial"));
    cr_assert_not_null(strstr(page, "Not available: the price series"));
    free(page);
    bal_result_release(&res);
}

Test(html, negative_targets_draw_one_line_per_asset)
{
    bal_result res;
    bal_report_input in = hand_input(odd_syms, NULL);
    char *page;

    hand_result(&res, 3, 100, 10, 0.3);
    res.weights[4].target = -0.2;
    page = render(&in, &res, NULL);
    cr_assert_eq(count(page, "<path class=\"wl\""), 3);
    cr_assert_not_null(strstr(page, "some are negative"));
    free(page);
    bal_result_release(&res);
}

/* ---- a real run --------------------------------------------------------- */

#define RUN_ASSETS 3
#define RUN_DAYS 300
#define RUN_WINDOW 30

static const char *const run_syms[RUN_ASSETS] = { "AAA", "BBB", "CCC" };
static double run_zero[RUN_ASSETS];
static double run_nan[RUN_ASSETS] = { NAN, NAN, NAN };
static int run_zeros[RUN_ASSETS];
static double run_w[RUN_ASSETS] = { 0.45, 0.35, 0.2 };

/* Weekday bars with correlated random log returns (a common factor). */
static void run_market(bal_series *s, bal_series **p)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int64_t t0 = bal_days_from_civil(2022, 1, 3) * 86400;
    double px[RUN_ASSETS] = { 10.7, 47.3, 103.9 };
    int64_t *time = calloc(RUN_DAYS, sizeof(*time));
    double *c[RUN_ASSETS];
    size_t i, d;
    bal_error err = BAL_ERROR_INIT;

    gsl_rng_set(rng, 4242);
    for (i = 0; i < RUN_ASSETS; i++)
        c[i] = calloc(RUN_DAYS, sizeof(double));
    for (d = 0; d < RUN_DAYS; d++) {
        double common = gsl_ran_gaussian(rng, 0.008);

        time[d] = t0 + (int64_t)(d / 5 * 7 + d % 5) * 86400;
        for (i = 0; i < RUN_ASSETS; i++) {
            px[i] *= exp(common * (double)(i + 1) / 2
                         + gsl_ran_gaussian(rng, 0.006 + 0.003 * (double)i));
            c[i][d] = px[i];
        }
    }
    for (i = 0; i < RUN_ASSETS; i++) {
        memset(&s[i], 0, sizeof(s[i]));
        cr_assert_eq(bal_series_from_arrays(&s[i], time, c[i], c[i], c[i],
                                            c[i], RUN_DAYS, &err), 0, "%s",
                     err.msg);
        p[i] = &s[i];
        free(c[i]);
    }
    free(time);
    gsl_rng_free(rng);
}

static void run_engine(bal_result *res, bal_series **p)
{
    bal_engine_options o;
    bal_error err = BAL_ERROR_INIT;

    bal_engine_options_init(&o);
    o.n_assets = RUN_ASSETS;
    o.symbols = run_syms;
    o.bars_per_year = run_nan;
    o.crypto = run_zeros;
    o.equity = run_zeros;
    o.cost_rate = run_zero;
    o.intersection = 1;
    o.rolling.corr_window = RUN_WINDOW;
    o.sizer.method = BAL_SIZE_FIXED;
    o.sizer.targets = run_w;
    cr_assert_eq(bal_engine_run(res, &o, p, NULL, &err), 0, "%s", err.msg);
}

/* The colour the page gives a correlation (closed form, see above). */
static void colour_of(char buf[8], double v)
{
    static const int blue[3] = { 33, 102, 172 }, red[3] = { 178, 24, 43 };
    const int *e = v < 0 ? blue : red;
    int k, ch[3];

    for (k = 0; k < 3; k++)
        ch[k] = (int)lround(255 + (e[k] - 255) * fabs(v));
    snprintf(buf, 8, "#%02x%02x%02x", (unsigned)ch[0], (unsigned)ch[1],
             (unsigned)ch[2]);
}

/* The last fill="#xxxxxx" of the rolling row labelled `label`. */
static void last_rolling_fill(const char *page, const char *label,
                              char out[8])
{
    char needle[64], *line;
    const char *last;

    snprintf(needle, sizeof(needle), ">%s</text>\n", label);
    line = between(page, needle, "\n");
    last = strrchr(line, '#');
    cr_assert_not_null(last);
    memcpy(out, last, 7);
    out[7] = '\0';
    free(line);
}

/* The rolling view at the last row equals the engine's final correlation
 * and GSL's Pearson correlation of the last RUN_WINDOW log returns (all
 * dates are common after the intersection). */
Test(html, engine_run_renders_every_section)
{
    bal_series s[RUN_ASSETS], *p[RUN_ASSETS];
    bal_result res;
    bal_report_input in = hand_input(run_syms, NULL);
    cJSON *cfg = cJSON_CreateObject(), *eng;
    char *page, *bars, got[8], want[8], label[16];
    double ra[RUN_WINDOW], rb[RUN_WINDOW];
    size_t i, j, k;

    run_market(s, p);
    run_engine(&res, p);
    cJSON_AddStringToObject(cfg, "name", "synthetic");
    eng = cJSON_AddObjectToObject(cfg, "engine");
    cJSON_AddItemToObject(eng, "corr_window", cJSON_CreateRaw("30"));
    cJSON_AddStringToObject(eng, "returns", "log");
    in.config = cfg;
    in.series = p;
    page = render(&in, &res, NULL);
    cr_assert_not_null(strstr(page, "<title>ballast \xe2\x80\x94 synthetic"
                                    "</title>"));
    cr_assert_not_null(strstr(page, "<polyline class=\"equity\""));
    cr_assert_not_null(strstr(page, "<polyline class=\"ddl\""));
    cr_assert_not_null(strstr(page, "id=\"rolling\""));
    cr_assert_not_null(strstr(page, "last 30 synchronous log returns"));
    cr_assert_not_null(strstr(page, ">mean of 3 pairs</text>"));
    /* rebalance bar chart: the schedule count, and its marks */
    bars = between(page, "aria-label=\"rebalances by trigger\"", "</svg>");
    {
        char want_count[32];

        cr_assert_gt(res.by_trigger[1], 5);
        snprintf(want_count, sizeof(want_count), ">%zu</text>",
                 res.by_trigger[1]);
        cr_assert_not_null(strstr(bars, ">schedule</text>"));
        cr_assert_not_null(strstr(bars, want_count));
    }
    free(bars);
    cr_assert_not_null(strstr(page, "rebalance: schedule"));
    /* the stacked target layers: one filled path per asset */
    cr_assert_not_null(strstr(page, "stacked"));
    for (i = 0; i < RUN_ASSETS; i++) {
        for (j = i + 1; j < RUN_ASSETS; j++) {
            size_t n = s[i].n;

            for (k = 0; k < RUN_WINDOW; k++) {
                ra[k] = log(s[i].close[n - RUN_WINDOW + k]
                            / s[i].close[n - RUN_WINDOW + k - 1]);
                rb[k] = log(s[j].close[n - RUN_WINDOW + k]
                            / s[j].close[n - RUN_WINDOW + k - 1]);
            }
            assert_rel(res.final_corr[i * RUN_ASSETS + j],
                       gsl_stats_correlation(ra, 1, rb, 1, RUN_WINDOW),
                       1e-9);
            colour_of(want, gsl_stats_correlation(ra, 1, rb, 1,
                                                  RUN_WINDOW));
            snprintf(label, sizeof(label), "%s|%s", run_syms[i],
                     run_syms[j]);
            last_rolling_fill(page, label, got);
            cr_assert_str_eq(got, want, "%s", label);
        }
    }
    free(page);
    /* a window longer than the data: the view says so */
    cJSON_ReplaceItemInObject(eng, "corr_window", cJSON_CreateRaw("300"));
    page = render(&in, &res, NULL);
    cr_assert_null(strstr(page, "id=\"rolling\""));
    cr_assert_not_null(strstr(page, "the window of 300 returns is longer "
                                    "than the data"));
    free(page);
    cJSON_Delete(cfg);
    bal_result_release(&res);
    for (i = 0; i < RUN_ASSETS; i++)
        bal_series_release(&s[i]);
}

Test(html, engine_run_is_deterministic)
{
    bal_series s[RUN_ASSETS], *p[RUN_ASSETS];
    bal_result r1, r2;
    bal_report_input in = hand_input(run_syms, NULL);
    char *a, *b;
    size_t la, lb, i;

    run_market(s, p);
    run_engine(&r1, p);
    run_engine(&r2, p);
    in.series = p;
    a = render(&in, &r1, &la);
    b = render(&in, &r2, &lb);
    cr_assert_eq(la, lb);
    cr_assert(memcmp(a, b, la) == 0);
    free(a);
    free(b);
    bal_result_release(&r1);
    bal_result_release(&r2);
    for (i = 0; i < RUN_ASSETS; i++)
        bal_series_release(&s[i]);
}

/* ---- size --------------------------------------------------------------- */

/* 87,600 hourly steps x 50 assets with 120 rebalances, series for the
 * rolling view: the page stays under 2 MB and every line under the
 * point budget. */
Test(html, large_run_stays_under_two_megabytes, .timeout = 120)
{
    const size_t n = 50, rows = 87600, every = 730, distinct_px = 5;
    bal_result res;
    const char **syms = calloc(n, sizeof(*syms));
    char (*names)[8] = calloc(n, sizeof(*names));
    bal_series *ser = calloc(n, sizeof(*ser));
    bal_series **ptrs = calloc(n, sizeof(*ptrs));
    double *closes = malloc(distinct_px * rows * sizeof(double));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    bal_report_input in;
    char *page, *s;
    size_t len, i, t;
    double e = 1e6;

    cr_assert(syms && names && ser && ptrs && closes && rng);
    gsl_rng_set(rng, 99);
    hand_result(&res, n, rows, every, 0.37);
    res.date_only = 0;
    for (t = 0; t < rows; t++) {
        res.time[t] = res.time[0] + (int64_t)t * 3600;
        e *= exp(gsl_ran_gaussian(rng, 0.002));
        res.equity[t] = e;
    }
    for (i = 0; i < res.n_weights; i++)
        res.weights[i].time = res.time[i / n * every];
    for (i = 0; i < res.book.n_trades; i++)
        res.book.trades[i].decided = res.book.trades[i].time =
            res.time[i * every];
    for (i = 0; i < distinct_px; i++) {
        double px = 100;

        for (t = 0; t < rows; t++) {
            px *= exp(gsl_ran_gaussian(rng, 0.003));
            closes[i * rows + t] = px;
        }
    }
    for (i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "X%02zu", i);
        syms[i] = names[i];
        ser[i].n = rows;
        ser[i].time = res.time;
        ser[i].close = closes + (i % distinct_px) * rows;
        ptrs[i] = &ser[i];
    }
    for (i = 0; i < 10; i++) {
        res.stress_i[i] = i;
        res.stress_j[i] = i + 7;
    }
    res.n_stress_pairs = 10;
    in = hand_input(syms, NULL);
    in.series = ptrs;
    page = render(&in, &res, &len);
    cr_assert_lt(len, 2000000, "page of %zu bytes", len);
    for (s = strstr(page, "<polyline"); s; s = strstr(s + 1, "<polyline")) {
        const char *end = strstr(s, "/>");
        size_t pts = 0;
        const char *c;

        for (c = s; c < end; c++)
            pts += *c == ',';
        cr_assert_leq(pts, BAL_HTML_MAX_POINTS);
    }
    free(page);
    bal_result_release(&res);
    free(syms);
    free(names);
    free(ser);
    free(ptrs);
    free(closes);
    gsl_rng_free(rng);
}
