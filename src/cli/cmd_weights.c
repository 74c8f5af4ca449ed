/* ballast weights: the allocation of a covariance matrix or returns. */
#include "cli.h"

#include "ballast/alloc.h"
#include "ballast/numfmt.h"
#include "ballast/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char weights_usage[] =
    "usage: ballast weights --method M (--cov FILE | --returns FILE "
    "[--window N])\n"
    "                       [--linkage L] [--hrp-distance D] [--json]\n"
    "\n"
    "Long-only weights (sum 1) for a covariance matrix or a table of\n"
    "returns, printed as one `symbol,weight` line per symbol in input\n"
    "order (shortest round-trip numbers).\n"
    "\n"
    "  -m, --method M        equal, inverse_vol, erc, hrp or min_variance\n"
    "  -c, --cov FILE        covariance CSV: header `<ignored>,SYM1,SYM2,"
    "...`,\n"
    "                        then one row `SYMi,c_i1,c_i2,...` per symbol\n"
    "                        in the header's order\n"
    "  -r, --returns FILE    returns CSV: a time column and one column per\n"
    "                        symbol; uses their sample covariance (ddof 1)\n"
    "  -w, --window N        with --returns: only the last N rows (N >= 2)\n"
    "  -l, --linkage L       hrp: single (default), average, complete, "
    "ward\n"
    "  -d, --hrp-distance D  hrp: condensed (default, as PyPortfolioOpt) "
    "or\n"
    "                        ldp (Lopez de Prado 2016 listing)\n"
    "  -j, --json            print {\"method\": ..., \"weights\": "
    "{\"SYM\": w, ...}}\n"
    "  -h, --help            this help\n"
    "\n"
    "The matrix must be symmetric (to 1e-9 relative; the mean of the two\n"
    "entries is used) and positive semi-definite (smallest eigenvalue >=\n"
    "-1e-10 times the largest); otherwise, or for a malformed file, exit 3\n"
    "with FILE:LINE:COL. With inverse_vol, erc and hrp a symbol with zero\n"
    "variance gets 0; with min_variance riskless symbols share all the\n"
    "weight. Exit 2 for usage errors, 4 when a solver fails (e.g. erc when\n"
    "a long-only mix has zero variance).\n";

/* Relative asymmetry accepted in a covariance file (rounding of a matrix
 * written with ~10 significant digits), and the PSD tolerance. */
#define SYM_RTOL 1e-9
#define PSD_RTOL 1e-10

struct table {
    const char *path;
    char **sym;                 /* n symbols (point into text) */
    size_t n;
    double *v;                  /* rows x n values */
    size_t rows, cap;
    size_t *line;               /* file line of each row */
};

static void table_release(struct table *t)
{
    free(t->sym);
    free(t->v);
    free(t->line);
}

static char *slurp(const char *path, bal_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0, got;

    if (!f) {
        bal_error_set(err, BAL_EIO, "cannot open '%s': %s", path,
                      strerror(errno));
        return NULL;
    }
    do {
        if (cap - len < 65536) {
            char *nb = realloc(buf, cap + 65536 + 1);

            if (!nb) {
                free(buf);
                fclose(f);
                bal_error_set(err, BAL_ENOMEM, "out of memory");
                return NULL;
            }
            buf = nb;
            cap += 65536;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    if (ferror(f)) {
        free(buf);
        fclose(f);
        bal_error_set(err, BAL_EIO, "cannot read '%s'", path);
        return NULL;
    }
    fclose(f);
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        bal_error_set(err, BAL_EPARSE, "%s: not a text file", path);
        return NULL;
    }
    return buf;
}

/* Splits the line at s (NUL-terminated, no newline) into fields in place:
 * trims blanks and one pair of surrounding double quotes. Returns the
 * field count (at most max); *more is the column of the first field past
 * max, 0 if none. */
static size_t split(char *s, char **field, size_t *col, size_t max,
                    size_t *more)
{
    size_t k = 0, c = 1;
    char *p = s;

    *more = 0;
    for (;;) {
        char *end = strchr(p, ',');
        char *b = p, *e;

        if (end)
            *end = '\0';
        e = b + strlen(b);
        while (*b == ' ' || *b == '\t')
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (e - b >= 2 && *b == '"' && e[-1] == '"') {
            b++;
            *--e = '\0';
        }
        if (k < max) {
            field[k] = b;
            col[k] = c;
            k++;
        } else if (!*more) {
            *more = c;
        }
        if (!end)
            break;
        c += (size_t)(end - p) + 1;
        p = end + 1;
    }
    return k;
}

static int parse_number(double *out, const char *s)
{
    char *end;

    if (*s == '\0')
        return -1;
    errno = 0;
    *out = strtod(s, &end);
    if (*end != '\0' || !isfinite(*out))
        return -1;
    return 0;
}

/* Next non-blank line: NUL-terminates it, advances *pos, counts lines. */
static char *next_line(char **pos, size_t *lineno)
{
    while (**pos) {
        char *s = *pos, *nl = strchr(s, '\n');
        char *e;

        (*lineno)++;
        if (nl) {
            *nl = '\0';
            *pos = nl + 1;
        } else {
            *pos = s + strlen(s);
        }
        e = s + strlen(s);
        if (e > s && e[-1] == '\r')
            *--e = '\0';
        if (strspn(s, " \t") != strlen(s))
            return s;
    }
    return NULL;
}

/* Reads a header `<first>,SYM1,...,SYMn` and rows `<first>,x1,...,xn`.
 * With `named`, row i's first field must be SYMi and there must be
 * exactly n rows. */
static int read_table(struct table *t, char *text, int named,
                      bal_error *err)
{
    char *pos = text, *s, **field = NULL;
    size_t lineno = 0, *col = NULL, k, i, j, maxf, more;
    int rc = 0;

    if (!strncmp(pos, "\xEF\xBB\xBF", 3))
        pos += 3;
    s = next_line(&pos, &lineno);
    if (!s)
        return bal_error_set_at(err, BAL_EPARSE, t->path, 1, 0,
                                "empty file");
    maxf = strlen(s) + 1;       /* fields <= commas + 1 */
    field = malloc(maxf * sizeof(char *));
    col = malloc(maxf * sizeof(size_t));
    if (!field || !col) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    k = split(s, field, col, maxf, &more);
    if (k < 2) {
        rc = bal_error_set_at(err, BAL_EPARSE, t->path, lineno, 1,
                              "expected a header with at least one "
                              "symbol after the first column");
        goto done;
    }
    t->n = k - 1;
    t->sym = malloc(t->n * sizeof(char *));
    if (!t->sym) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < t->n; i++) {
        t->sym[i] = field[i + 1];
        if (!*t->sym[i]) {
            rc = bal_error_set_at(err, BAL_EPARSE, t->path, lineno,
                                  col[i + 1], "empty symbol name");
            goto done;
        }
        for (j = 0; j < i; j++)
            if (!strcmp(t->sym[j], t->sym[i])) {
                rc = bal_error_set_at(err, BAL_EPARSE, t->path, lineno,
                                      col[i + 1], "duplicate symbol '%s'",
                                      t->sym[i]);
                goto done;
            }
    }
    while ((s = next_line(&pos, &lineno)) != NULL) {
        size_t r = t->rows;

        if (named && r == t->n) {
            rc = bal_error_set_at(err, BAL_EPARSE, t->path, lineno, 1,
                                  "more rows than the %zu symbols of the "
                                  "header", t->n);
            goto done;
        }
        k = split(s, field, col, t->n + 1, &more);
        if (k < t->n + 1 || more) {
            rc = bal_error_set_at(err, BAL_EPARSE, t->path, lineno,
                                  more ? more : col[k - 1],
                                  "expected %zu fields, got %s%zu",
                                  t->n + 1, more ? "more than " : "",
                                  more ? t->n + 1 : k);
            goto done;
        }
        if (named && strcmp(field[0], t->sym[r])) {
            rc = bal_error_set_at(err, BAL_EPARSE, t->path, lineno, 1,
                                  "expected row '%s' (header order), got "
                                  "'%s'", t->sym[r], field[0]);
            goto done;
        }
        if (r == t->cap) {
            size_t nc = t->cap ? 2 * t->cap : 64;
            double *nv = realloc(t->v, nc * t->n * sizeof(double));
            size_t *nl;

            if (nv)
                t->v = nv;
            nl = nv ? realloc(t->line, nc * sizeof(size_t)) : NULL;
            if (!nl) {
                rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
                goto done;
            }
            t->line = nl;
            t->cap = nc;
        }
        for (j = 0; j < t->n; j++)
            if (parse_number(&t->v[r * t->n + j], field[j + 1]) < 0) {
                rc = bal_error_set_at(err, BAL_EPARSE, t->path, lineno,
                                      col[j + 1], "cannot parse '%.40s' "
                                      "as a number", field[j + 1]);
                goto done;
            }
        t->line[r] = lineno;
        t->rows++;
    }
    if (named && t->rows != t->n)
        rc = bal_error_set_at(err, BAL_EPARSE, t->path, lineno + 1, 0,
                              "expected %zu rows (one per symbol), got %zu",
                              t->n, t->rows);
done:
    free(field);
    free(col);
    return rc;
}

/* Checks a covariance read from a file: variances >= 0, symmetric to
 * SYM_RTOL (then averaged), positive semi-definite to PSD_RTOL. */
static int check_cov(struct table *t, bal_alloc_work *work, bal_error *err)
{
    size_t n = t->n, i, j;
    double *c = t->v, lo, hi;
    int rc;

    for (i = 0; i < n; i++)
        if (c[i * n + i] < 0)
            return bal_error_set_at(err, BAL_EPARSE, t->path, t->line[i],
                                    0, "variance of '%s' is negative (%g)",
                                    t->sym[i], c[i * n + i]);
    for (i = 0; i < n; i++)
        for (j = 0; j < i; j++) {
            double a = c[i * n + j], b = c[j * n + i];
            double scale = fmax(fmax(fabs(a), fabs(b)),
                                sqrt(c[i * n + i] * c[j * n + j]));

            if (fabs(a - b) > SYM_RTOL * scale)
                return bal_error_set_at(err, BAL_EPARSE, t->path,
                                        t->line[i], 0, "covariance is not "
                                        "symmetric: ('%s', '%s') is %g but "
                                        "('%s', '%s') is %g", t->sym[i],
                                        t->sym[j], a, t->sym[j], t->sym[i],
                                        b);
            c[i * n + j] = c[j * n + i] = 0.5 * (a + b);
        }
    rc = bal_alloc_eigen_range(&lo, &hi, n, c, work, err);
    if (rc < 0)
        return rc;
    if (lo < -PSD_RTOL * fmax(hi, 0))
        return bal_error_set_at(err, BAL_EPARSE, t->path, 0, 0,
                                "covariance is not positive semi-definite "
                                "(smallest eigenvalue %g, largest %g)", lo,
                                hi);
    return 0;
}

/* Sample covariance (ddof 1) of rows [first, rows) into cov (n x n);
 * mean is n doubles of scratch. */
static void sample_cov(double *cov, double *mean, const struct table *t,
                       size_t first)
{
    size_t n = t->n, r, i, j, m = t->rows - first;

    for (j = 0; j < n; j++) {
        double s = 0;

        for (r = first; r < t->rows; r++)
            s += t->v[r * n + j];
        mean[j] = s / (double)m;
    }
    for (i = 0; i < n; i++)
        for (j = i; j < n; j++) {
            double s = 0;

            for (r = first; r < t->rows; r++)
                s += (t->v[r * n + i] - mean[i])
                     * (t->v[r * n + j] - mean[j]);
            cov[i * n + j] = s / (double)(m - 1);
            cov[j * n + i] = cov[i * n + j];
        }
}

static int print_weights(const struct table *t, const double *w,
                         const char *method, int json)
{
    char buf[BAL_NUMFMT_LEN];
    size_t i;

    if (json) {
        cJSON *o = cJSON_CreateObject(), *ws;
        char *text = NULL;

        ws = o && cJSON_AddStringToObject(o, "method", method)
             ? cJSON_AddObjectToObject(o, "weights") : NULL;
        for (i = 0; ws && i < t->n; i++)
            if (!bal_json_add_number(ws, t->sym[i], w[i]))
                ws = NULL;
        text = ws ? cJSON_Print(o) : NULL;
        cJSON_Delete(o);
        if (!text) {
            cli_warn("out of memory");
            return BAL_EXIT_RUNTIME;
        }
        puts(text);
        free(text);
    } else {
        for (i = 0; i < t->n; i++)
            printf("%s,%s\n", t->sym[i], bal_numfmt(buf, w[i], ""));
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_warn("cannot write the weights: %s", strerror(errno));
        return BAL_EXIT_RUNTIME;
    }
    return BAL_EXIT_OK;
}

int cmd_weights(int argc, char **argv)
{
    static const struct option opts[] = {
        { "method", required_argument, NULL, 'm' },
        { "cov", required_argument, NULL, 'c' },
        { "returns", required_argument, NULL, 'r' },
        { "window", required_argument, NULL, 'w' },
        { "linkage", required_argument, NULL, 'l' },
        { "hrp-distance", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *method = NULL, *cov_path = NULL, *ret_path = NULL;
    const char *window_arg = NULL, *linkage = NULL, *distance = NULL;
    bal_alloc_options o = BAL_ALLOC_OPTIONS_INIT;
    bal_error err = BAL_ERROR_INIT;
    struct table t = { NULL, NULL, 0, NULL, 0, 0, NULL };
    bal_alloc_work *work = NULL;
    unsigned long window = 0;
    char *text = NULL;
    double *cov = NULL, *w = NULL;
    int c, json = 0, code = BAL_EXIT_OK, rc;

    while ((c = getopt_long(argc, argv, "m:c:r:w:l:d:jh", opts, NULL))
           != -1) {
        switch (c) {
        case 'm':
            method = optarg;
            break;
        case 'c':
            cov_path = optarg;
            break;
        case 'r':
            ret_path = optarg;
            break;
        case 'w':
            window_arg = optarg;
            break;
        case 'l':
            linkage = optarg;
            break;
        case 'd':
            distance = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(weights_usage, stdout);
            return BAL_EXIT_OK;
        default:
            return cli_usage_error("weights", NULL);
        }
    }
    if (optind < argc)
        return cli_usage_error("weights", "unexpected argument '%s'",
                               argv[optind]);
    if (!method)
        return cli_usage_error("weights", "--method is required");
    o.method = bal_alloc_method_parse(method);
    if (o.method == BAL_ALLOC_INVERSE_ATR)
        return cli_usage_error("weights", "--method: inverse_atr needs "
                               "price bars; use it in a config");
    if (o.method < 0)
        return cli_usage_error("weights", "--method: expected equal, "
                               "inverse_vol, erc, hrp or min_variance, got "
                               "'%s'", method);
    if (!cov_path == !ret_path)
        return cli_usage_error("weights", "give exactly one of --cov and "
                               "--returns");
    if (window_arg) {
        char *end;

        if (!ret_path)
            return cli_usage_error("weights", "--window applies to "
                                   "--returns only");
        errno = 0;
        window = strtoul(window_arg, &end, 10);
        if (*end || end == window_arg || errno || window < 2
            || window_arg[0] == '-')
            return cli_usage_error("weights", "--window: expected an "
                                   "integer >= 2, got '%s'", window_arg);
    }
    if ((linkage || distance) && o.method != BAL_ALLOC_HRP)
        return cli_usage_error("weights", "--%s applies to --method hrp "
                               "only", linkage ? "linkage"
                                               : "hrp-distance");
    if (linkage) {
        o.linkage = bal_alloc_linkage_parse(linkage);
        if (o.linkage < 0)
            return cli_usage_error("weights", "--linkage: expected single, "
                                   "average, complete or ward, got '%s'",
                                   linkage);
    }
    if (distance) {
        if (strcmp(distance, "condensed") && strcmp(distance, "ldp"))
            return cli_usage_error("weights", "--hrp-distance: expected "
                                   "condensed or ldp, got '%s'", distance);
        o.hrp_ldp = !strcmp(distance, "ldp");
    }

    t.path = cov_path ? cov_path : ret_path;
    text = slurp(t.path, &err);
    rc = text ? read_table(&t, text, cov_path != NULL, &err) : err.code;
    if (rc == 0)
        rc = bal_alloc_work_new(&work, t.n, &err);
    if (rc == 0 && ret_path) {
        size_t first = 0;

        if (window && t.rows < window)
            rc = bal_error_set(&err, BAL_EPARSE, "%s: --window %lu needs "
                               "%lu rows of returns, the file has %zu",
                               t.path, window, window, t.rows);
        else if (window)
            first = t.rows - window;
        else if (t.rows < 2)
            rc = bal_error_set(&err, BAL_EPARSE, "%s: need at least 2 rows "
                               "of returns, the file has %zu", t.path,
                               t.rows);
        cov = rc == 0 ? malloc(t.n * t.n * sizeof(double)) : NULL;
        w = rc == 0 ? malloc(t.n * sizeof(double)) : NULL;
        if (rc == 0 && (!cov || !w))
            rc = bal_error_set(&err, BAL_ENOMEM, "out of memory");
        if (rc == 0) {
            sample_cov(cov, w, &t, first);
            free(t.v);
            t.v = cov;
            cov = NULL;
            t.rows = t.n;
        }
    }
    if (rc == 0 && cov_path)
        rc = check_cov(&t, work, &err);
    if (rc == 0 && !w)
        w = malloc(t.n * sizeof(double));
    if (rc == 0 && !w)
        rc = bal_error_set(&err, BAL_ENOMEM, "out of memory");
    if (rc == 0)
        rc = bal_alloc_weights(w, &o, t.n, t.v, NULL, NULL, work, &err);
    if (rc == 0) {
        double sum = 0;
        size_t i;

        for (i = 0; i < t.n; i++)
            sum += w[i];
        /* weights must sum to 1: all-zero means no usable asset */
        if (!(sum > 0))
            rc = bal_error_set(&err, BAL_ENUMERIC, "no usable asset: every "
                               "variance is 0, so %s has no allocation",
                               method);
    }
    if (rc < 0) {
        code = cli_fail(&err);
        if (err.code == BAL_EIO)
            code = BAL_EXIT_DATA;       /* an unreadable input file */
    } else {
        code = print_weights(&t, w, method, json);
    }
    free(w);
    free(cov);
    bal_alloc_work_free(work);
    table_release(&t);
    free(text);
    return code;
}
