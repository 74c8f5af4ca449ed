#include "ballast/signals.h"

#include "ballast/numfmt.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? 28 + leap : dm[m - 1];
}

int bal_parse_iso_time(const char *s, size_t len, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0;

    if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo)
        || s[7] != '-' || digits(s + 8, 2, &d) || mo < 1 || mo > 12
        || d < 1 || d > days_in_month(y, mo))
        return -1;
    if (len > 10) {
        if ((s[10] != 'T' && s[10] != ' ') || len < 16
            || digits(s + 11, 2, &h) || s[13] != ':'
            || digits(s + 14, 2, &mi) || h > 23 || mi > 59)
            return -1;
        s += 16;
        len -= 16;
        if (len >= 3 && s[0] == ':') {
            if (digits(s + 1, 2, &se) || se > 59)
                return -1;
            s += 3;
            len -= 3;
        }
        if (len == 1 && s[0] == 'Z')
            len = 0;
        if (len != 0)
            return -1;
    }
    *out = bal_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400
           + h * 3600 + mi * 60 + se;
    return 0;
}

struct row_ctx {
    const char *path;
    const char *const *symbols;
    size_t n;
    size_t line, rec_line, col;
    int cols[3];                /* time, symbol, signal column indices */
    int header_done;
    char time_buf[64], sym_buf[64], val_buf[64];
    size_t time_len, sym_len, val_len;
    bal_signals *out;
    size_t *cap;
    int rc;
    bal_error *err;
};

static void keep(char *buf, size_t *len, const char *s, size_t n)
{
    *len = n < 63 ? n : 63;
    memcpy(buf, s, *len);
    buf[*len] = '\0';
}

static void on_field(void *data, size_t len, void *vctx)
{
    struct row_ctx *c = vctx;
    const char *s = data;
    int k;

    if (c->rc < 0)
        return;
    c->col++;
    if (!c->header_done) {
        static const char *const names[3] = { "time", "symbol", "signal" };

        for (k = 0; k < 3; k++)
            if (len == strlen(names[k]) && !strncmp(s, names[k], len))
                c->cols[k] = (int)c->col;
        return;
    }
    if ((int)c->col == c->cols[0])
        keep(c->time_buf, &c->time_len, s, len);
    else if ((int)c->col == c->cols[1])
        keep(c->sym_buf, &c->sym_len, s, len);
    else if ((int)c->col == c->cols[2])
        keep(c->val_buf, &c->val_len, s, len);
}

static int add_signal(struct row_ctx *c, size_t a, int64_t t, double v)
{
    bal_signals *o = c->out;
    size_t k = o->count[a];

    if (k > 0 && o->time[a][k - 1] == t) {
        o->value[a][k - 1] = v;         /* the last row wins */
        return 0;
    }
    if (k == c->cap[a]) {
        size_t cap = c->cap[a] ? 2 * c->cap[a] : 64;
        int64_t *nt = realloc(o->time[a], cap * sizeof(*nt));
        double *nv;

        if (!nt)
            return -1;
        o->time[a] = nt;
        nv = realloc(o->value[a], cap * sizeof(*nv));
        if (!nv)
            return -1;
        o->value[a] = nv;
        c->cap[a] = cap;
    }
    o->time[a][k] = t;
    o->value[a][k] = v;
    o->count[a] = k + 1;
    return 0;
}

static void on_row(int term, void *vctx)
{
    struct row_ctx *c = vctx;
    size_t a;
    int64_t t;
    double v;
    char *end;
    int k;

    (void)term;
    if (c->rc < 0)
        return;
    if (!c->header_done) {
        for (k = 0; k < 3; k++)
            if (!c->cols[k]) {
                c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->path,
                                         c->rec_line, 0, "no '%s' column "
                                         "(expected the header time,symbol,"
                                         "signal)", k == 0 ? "time"
                                         : k == 1 ? "symbol" : "signal");
                return;
            }
        c->header_done = 1;
        goto next;
    }
    if ((int)c->col < c->cols[0] || (int)c->col < c->cols[1]
        || (int)c->col < c->cols[2]) {
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->path, c->rec_line,
                                 c->col + 1, "short row");
        return;
    }
    if (bal_parse_iso_time(c->time_buf, c->time_len, &t) < 0) {
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->path, c->rec_line,
                                 (size_t)c->cols[0], "cannot parse '%s' as "
                                 "a time", c->time_buf);
        return;
    }
    for (a = 0; a < c->n; a++)
        if (!strcmp(c->symbols[a], c->sym_buf))
            break;
    if (a == c->n) {
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->path, c->rec_line,
                                 (size_t)c->cols[1], "unknown symbol '%s' "
                                 "(not in data.assets)", c->sym_buf);
        return;
    }
    errno = 0;
    v = strtod(c->val_buf, &end);
    if (c->val_len == 0 || *end != '\0' || errno || !(v >= -1 && v <= 1)) {
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->path, c->rec_line,
                                 (size_t)c->cols[2], "signal '%s' is not a "
                                 "number in [-1, 1]", c->val_buf);
        return;
    }
    if (c->out->count[a] && t < c->out->time[a][c->out->count[a] - 1]) {
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->path, c->rec_line,
                                 (size_t)c->cols[0], "signals for '%s' are "
                                 "not in time order", c->sym_buf);
        return;
    }
    if (add_signal(c, a, t, v) < 0)
        c->rc = bal_error_set(c->err, BAL_ENOMEM, "out of memory");
next:
    c->col = 0;
    c->time_len = c->sym_len = c->val_len = 0;
    c->time_buf[0] = c->sym_buf[0] = c->val_buf[0] = '\0';
}

int bal_signals_load(bal_signals *out, const char *path,
                     const char *const *symbols, size_t n, bal_error *err)
{
    struct csv_parser p;
    struct row_ctx c;
    char line[4096];
    FILE *f;
    size_t *cap = NULL;
    int rc = BAL_OK;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    out->n_assets = n;
    out->count = calloc(n, sizeof(*out->count));
    out->time = calloc(n, sizeof(*out->time));
    out->value = calloc(n, sizeof(*out->value));
    cap = calloc(n, sizeof(*cap));
    if (!out->count || !out->time || !out->value || !cap) {
        free(cap);
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    }
    f = fopen(path, "rb");
    if (!f) {
        free(cap);
        return bal_error_set(err, BAL_EIO, "cannot open '%s': %s", path,
                             strerror(errno));
    }
    if (csv_init(&p, CSV_APPEND_NULL) != 0) {
        fclose(f);
        free(cap);
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    }
    c.path = path;
    c.symbols = symbols;
    c.n = n;
    c.out = out;
    c.cap = cap;
    c.err = err;
    /* one physical line at a time, so errors can name it; a signals
     * file has no quoted newlines */
    while (c.rc == 0 && fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);

        c.line++;
        c.rec_line = c.line;
        if (c.line == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
            memmove(line, line + 3, len - 2);
            len -= 3;
        }
        if (c.line == 1 && strchr(line, ';') && !strchr(line, ','))
            csv_set_delim(&p, ';');
        if (csv_parse(&p, line, len, on_field, on_row, &c) != len)
            c.rc = bal_error_set_at(err, BAL_EPARSE, path, c.line, 0,
                                    "malformed CSV: %s",
                                    csv_strerror(csv_error(&p)));
        if (c.rc == 0 && len > 0 && line[len - 1] != '\n' && !feof(f))
            c.rc = bal_error_set_at(err, BAL_EPARSE, path, c.line, 0,
                                    "line longer than %zu bytes",
                                    sizeof(line) - 1);
    }
    if (c.rc == 0)
        csv_fini(&p, on_field, on_row, &c);
    if (c.rc == 0 && ferror(f))
        c.rc = bal_error_set(err, BAL_EIO, "cannot read '%s'", path);
    if (c.rc == 0 && !c.header_done)
        c.rc = bal_error_set_at(err, BAL_EPARSE, path, 0, 0, "empty file");
    rc = c.rc;
    csv_free(&p);
    fclose(f);
    free(cap);
    return rc;
}

void bal_signals_release(bal_signals *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; s->time && i < s->n_assets; i++) {
        free(s->time[i]);
        free(s->value[i]);
    }
    free(s->count);
    free(s->time);
    free(s->value);
    memset(s, 0, sizeof(*s));
}
