/* Config loader: strict JSON syntax check, `--set` overrides applied to the
 * tree, then one validating walk that fills a bal_config (SPEC §8, §11). */
#include "ballast/config.h"
#include "ballast/numfmt.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_LEN 512            /* JSON path of the value being checked */
#define TEXT_LEN 400            /* one error text before the path prefix */
#define MAX_DEPTH 512           /* nesting limit, below cJSON's own 1000 */
#define RENDER_MAX 40           /* bytes of an offending value quoted */
#define RENDER_LEN 64           /* buffer for a rendered value */
#define SUGGEST_MAX 64          /* longest key compared for did-you-mean */
#define MAX_INT_JSON 9007199254740992.0 /* 2^53: doubles are exact below */
#define TZ_MAX_SECONDS (18 * 3600)      /* ISO 8601 / IANA offset range */
/* Targets written as decimals (0.1 + 0.2 + 0.7) may sum a few ulps above
 * 1; anything beyond this is a real over-allocation. */
#define TARGET_SUM_TOL 1e-9

_Static_assert(BAL_N_CLASSES == 5, "class_names[] lists five classes");

/* ------------------------------------------------------------------ */
/* Small string helpers (ASCII only: the C locale is not assumed).      */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);

    if (p)
        memcpy(p, s, n);
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int to_upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int casecmp_n(const char *a, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        int ca = to_upper((unsigned char)a[i]);
        int cb = to_upper((unsigned char)b[i]);

        if (ca != cb)
            return ca - cb;
        if (!ca)
            return 0;
    }
    return 0;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && casecmp_n(s + n - k, suffix, k) == 0;
}

/* a joined with b; b alone when it is absolute or a is "" or ".". */
static char *path_join(const char *a, const char *b)
{
    size_t na, nb;
    char *p;

    if (b[0] == '/' || !a || !a[0] || strcmp(a, ".") == 0)
        return xstrdup(b);
    if (strcmp(b, ".") == 0)
        return xstrdup(a);
    na = strlen(a);
    nb = strlen(b);
    p = malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    if (a[na - 1] != '/')
        p[na++] = '/';
    memcpy(p + na, b, nb + 1);
    return p;
}

/* The directory part of a file path: "" for "x.json", "/" for "/x". */
static char *path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return xstrdup("");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

static int oom(bal_error *err)
{
    return bal_error_set(err, BAL_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* Strict JSON syntax check (RFC 8259). cJSON accepts leading zeros, raw
 * control characters in strings and "1."; this pass rejects them and says
 * where, so that cJSON only ever sees valid JSON.                       */

struct jscan {
    const char *s;
    size_t n, pos;
    size_t at;                  /* offset of the error */
    const char *msg;            /* static text or buf */
    char buf[96];
};

static int js_fail(struct jscan *j, size_t at, const char *msg)
{
    j->at = at;
    j->msg = msg;
    return -1;
}

static void js_describe(const struct jscan *j, char *buf, size_t len)
{
    unsigned char c;

    if (j->pos >= j->n) {
        snprintf(buf, len, "end of input");
        return;
    }
    c = (unsigned char)j->s[j->pos];
    if (c == 0)
        snprintf(buf, len, "a NUL byte");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(buf, len, "'%c'", c);
    else
        snprintf(buf, len, "byte 0x%02x", c);
}

/* "expected WHAT, got X" at the current position. */
static int js_expected(struct jscan *j, const char *what)
{
    char got[24];

    if (j->pos + 1 < j->n && j->s[j->pos] == '/' &&
        (j->s[j->pos + 1] == '/' || j->s[j->pos + 1] == '*'))
        return js_fail(j, j->pos, "comments are not allowed in JSON");
    js_describe(j, got, sizeof(got));
    snprintf(j->buf, sizeof(j->buf), "expected %s, got %s", what, got);
    return js_fail(j, j->pos, j->buf);
}

static void js_ws(struct jscan *j)
{
    while (j->pos < j->n) {
        char c = j->s[j->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        int c = (unsigned char)s[i];

        v <<= 4;
        if (is_digit(c))
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;                      /* overlong */
    else if (c == 0xed)
        hi = 0x9f;                      /* surrogates */
    else if (c == 0xf0)
        lo = 0x90;                      /* overlong */
    else if (c == 0xf4)
        hi = 0x8f;                      /* above U+10FFFF */
    if (avail < len || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

static int js_escape(struct jscan *j)
{
    size_t at = j->pos;
    unsigned cp, lo;
    char e;

    if (j->pos + 1 >= j->n)
        return js_fail(j, at, "unterminated escape");
    e = j->s[j->pos + 1];
    if (strchr("\"\\/bfnrt", e) && e) {
        j->pos += 2;
        return 0;
    }
    if (e != 'u') {
        if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f)
            snprintf(j->buf, sizeof(j->buf), "invalid escape '\\%c'", e);
        else
            snprintf(j->buf, sizeof(j->buf), "invalid escape");
        return js_fail(j, at, j->buf);
    }
    if (j->pos + 6 > j->n || hex4(j->s + j->pos + 2, &cp) < 0)
        return js_fail(j, at, "invalid \\u escape");
    j->pos += 6;
    if (cp == 0)
        return js_fail(j, at, "\\u0000 is not supported");
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return js_fail(j, at, "unpaired surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (j->pos + 6 > j->n || j->s[j->pos] != '\\' ||
            j->s[j->pos + 1] != 'u' || hex4(j->s + j->pos + 2, &lo) < 0 ||
            lo < 0xdc00 || lo > 0xdfff)
            return js_fail(j, at, "unpaired surrogate in \\u escape");
        j->pos += 6;
    }
    return 0;
}

static int js_string(struct jscan *j)
{
    size_t start = j->pos++;

    for (;;) {
        unsigned char c;

        if (j->pos >= j->n)
            return js_fail(j, start, "unterminated string");
        c = (unsigned char)j->s[j->pos];
        if (c == '"') {
            j->pos++;
            return 0;
        }
        if (c < 0x20)
            return js_fail(j, j->pos, c == '\n'
                           ? "unescaped newline in string"
                           : "unescaped control character in string");
        if (c == '\\') {
            if (js_escape(j) < 0)
                return -1;
        } else {
            size_t len = utf8_seq((const unsigned char *)j->s + j->pos,
                                  j->n - j->pos);

            if (!len)
                return js_fail(j, j->pos, "invalid UTF-8 in string");
            j->pos += len;
        }
    }
}

static int js_digits(struct jscan *j)
{
    size_t start = j->pos;

    while (j->pos < j->n && is_digit((unsigned char)j->s[j->pos]))
        j->pos++;
    return j->pos > start ? 0 : -1;
}

static int js_number(struct jscan *j)
{
    size_t start = j->pos;

    if (j->s[j->pos] == '-')
        j->pos++;
    if (j->pos < j->n && j->s[j->pos] == '0') {
        j->pos++;
        if (j->pos < j->n && is_digit((unsigned char)j->s[j->pos]))
            return js_fail(j, start, "invalid number (leading zero)");
    } else if (js_digits(j) < 0) {
        return js_fail(j, start, "invalid number");
    }
    if (j->pos < j->n && j->s[j->pos] == '.') {
        j->pos++;
        if (js_digits(j) < 0)
            return js_fail(j, start, "invalid number");
    }
    if (j->pos < j->n && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
        j->pos++;
        if (j->pos < j->n && (j->s[j->pos] == '+' || j->s[j->pos] == '-'))
            j->pos++;
        if (js_digits(j) < 0)
            return js_fail(j, start, "invalid number");
    }
    return 0;
}

static int js_value(struct jscan *j, unsigned depth);

static int js_container(struct jscan *j, unsigned depth, int is_object)
{
    char close = is_object ? '}' : ']';

    if (depth >= MAX_DEPTH)
        return js_fail(j, j->pos, "nesting too deep");
    j->pos++;
    js_ws(j);
    if (j->pos < j->n && j->s[j->pos] == close) {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (is_object) {
            if (j->pos >= j->n || j->s[j->pos] != '"')
                return js_expected(j, "a string key");
            if (js_string(j) < 0)
                return -1;
            js_ws(j);
            if (j->pos >= j->n || j->s[j->pos] != ':')
                return js_expected(j, "':' after the key");
            j->pos++;
            js_ws(j);
        }
        if (js_value(j, depth + 1) < 0)
            return -1;
        js_ws(j);
        if (j->pos < j->n && j->s[j->pos] == ',') {
            size_t comma = j->pos++;

            js_ws(j);
            if (j->pos < j->n && j->s[j->pos] == close)
                return js_fail(j, comma, "trailing comma");
            continue;
        }
        if (j->pos < j->n && j->s[j->pos] == close) {
            j->pos++;
            return 0;
        }
        return js_expected(j, is_object ? "',' or '}'" : "',' or ']'");
    }
}

static int js_literal(struct jscan *j, const char *word)
{
    size_t len = strlen(word);

    if (j->n - j->pos < len || memcmp(j->s + j->pos, word, len) != 0)
        return js_fail(j, j->pos,
                       "invalid literal (expected true, false or null)");
    j->pos += len;
    return 0;
}

static int js_value(struct jscan *j, unsigned depth)
{
    char c;

    if (j->pos >= j->n)
        return js_expected(j, "a value");
    c = j->s[j->pos];
    switch (c) {
    case '{':
        return js_container(j, depth, 1);
    case '[':
        return js_container(j, depth, 0);
    case '"':
        return js_string(j);
    case 't':
        return js_literal(j, "true");
    case 'f':
        return js_literal(j, "false");
    case 'n':
        return js_literal(j, "null");
    default:
        if (c == '-' || is_digit((unsigned char)c))
            return js_number(j);
        return js_expected(j, "a value");
    }
}

static size_t bom_len(const char *s, size_t n)
{
    return n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

/* 0 when s[0..n) is one JSON text (a leading UTF-8 BOM allowed). */
static int js_check(struct jscan *j, const char *s, size_t n)
{
    memset(j, 0, sizeof(*j));
    j->s = s;
    j->n = n;
    j->pos = bom_len(s, n);
    js_ws(j);
    if (js_value(j, 0) < 0)
        return -1;
    js_ws(j);
    if (j->pos < j->n)
        return js_expected(j, "end of input");
    return 0;
}

/* 1-based line and column (in characters, a BOM not counted). */
static void line_col(const char *s, size_t n, size_t at, size_t *line,
                     size_t *col)
{
    size_t i, ln = 1, c = 1;

    for (i = bom_len(s, n); i < at; i++) {
        if (s[i] == '\n') {
            ln++;
            c = 1;
        } else if (((unsigned char)s[i] & 0xc0) != 0x80) {
            c++;
        }
    }
    *line = ln;
    *col = c;
}

/* Parses text[0..n) (NUL-terminated at n) into *out. */
static int parse_json(cJSON **out, const char *text, size_t n,
                      const char *name, bal_error *err)
{
    struct jscan j;
    size_t line, col;

    *out = NULL;
    if (js_check(&j, text, n) < 0) {
        line_col(text, n, j.at, &line, &col);
        return bal_error_set_at(err, BAL_ECONFIG, name, line, col,
                                "invalid JSON: %s", j.msg);
    }
    *out = cJSON_ParseWithOpts(text, NULL, 1);
    if (!*out)                  /* the text is valid JSON */
        return oom(err);
    return BAL_OK;
}

/* ------------------------------------------------------------------ */
/* Validation context: the JSON path being checked and where `--set`
 * values came from, so that an error names the assignment.            */

/* One applied assignment: its key as given, the JSON path it reached
 * ("data.assets[0].cost_bps" for "data.assets.EURUSD.cost_bps"), for each
 * segment end the matching lengths of norm and key, and the length of
 * norm at the first node the assignment wrote (it created the missing
 * objects on the way from there). */
struct set_origin {
    char *key;
    char *norm;
    size_t n_cut;
    size_t *norm_cut, *key_cut;
    size_t created;
};

struct ctx {
    bal_error *err;
    const char *name;
    char path[PATH_LEN];
    size_t plen;
    const struct set_origin *sets;
    size_t n_sets;
};

static size_t push_key(struct ctx *x, const char *key)
{
    size_t old = x->plen;
    int k = snprintf(x->path + old, PATH_LEN - old, "%s%s",
                     old ? "." : "", key);

    x->plen = k < 0 ? old : old + (size_t)k;
    if (x->plen >= PATH_LEN)
        x->plen = PATH_LEN - 1;
    return old;
}

static size_t push_index(struct ctx *x, size_t i)
{
    size_t old = x->plen;
    int k = snprintf(x->path + old, PATH_LEN - old, "[%zu]", i);

    x->plen = k < 0 ? old : old + (size_t)k;
    if (x->plen >= PATH_LEN)
        x->plen = PATH_LEN - 1;
    return old;
}

static void pop(struct ctx *x, size_t old)
{
    x->plen = old;
    x->path[old] = '\0';
}

static int at_boundary(char c)
{
    return c == '\0' || c == '.' || c == '[';
}

/* The last assignment that wrote the value at the current path: the path
 * is inside the assigned value, or is a node the assignment created on the
 * way. On a match *keylen and *tail tell how to print it. */
static const struct set_origin *find_origin(const struct ctx *x,
                                            size_t *keylen,
                                            const char **tail)
{
    size_t i, k;

    for (i = x->n_sets; i-- > 0;) {
        const struct set_origin *o = &x->sets[i];
        size_t nlen = strlen(o->norm);

        if (!o->norm[0])
            continue;
        if (nlen <= x->plen && memcmp(o->norm, x->path, nlen) == 0 &&
            at_boundary(x->path[nlen])) {
            *keylen = strlen(o->key);
            *tail = x->path + nlen;
            return o;
        }
        if (x->plen >= o->created && x->plen < nlen &&
            memcmp(o->norm, x->path, x->plen) == 0 &&
            at_boundary(o->norm[x->plen])) {
            for (k = 0; k < o->n_cut; k++) {
                if (o->norm_cut[k] == x->plen) {
                    *keylen = o->key_cut[k];
                    *tail = "";
                    return o;
                }
            }
        }
    }
    return NULL;
}

static int fail_v(struct ctx *x, const char *fmt, va_list ap)
    BAL_PRINTF(2, 0);
static int fail_v(struct ctx *x, const char *fmt, va_list ap)
{
    char text[TEXT_LEN];
    const struct set_origin *o;
    const char *tail = "";
    size_t keylen = 0;

    vsnprintf(text, sizeof(text), fmt, ap);
    o = find_origin(x, &keylen, &tail);
    if (o)
        return bal_error_set_at(x->err, BAL_ECONFIG, x->name, 0, 0,
                                "--set %.*s%s: %s", (int)keylen, o->key,
                                tail, text);
    if (!x->path[0])
        return bal_error_set_at(x->err, BAL_ECONFIG, x->name, 0, 0, "%s",
                                text);
    return bal_error_set_at(x->err, BAL_ECONFIG, x->name, 0, 0, "%s: %s",
                            x->path, text);
}

/* A config error about the value at the current path. */
static int fail(struct ctx *x, const char *fmt, ...) BAL_PRINTF(2, 3);
static int fail(struct ctx *x, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = fail_v(x, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail_key(struct ctx *x, const char *key, const char *msg)
{
    size_t old = push_key(x, key);
    int rc = fail(x, "%s", msg);

    pop(x, old);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Rendering an offending value: strings quoted, JSON otherwise,
 * truncated to about RENDER_MAX bytes.                                 */

/* Bytes of s to keep, at most n (< strlen(s)), so that no UTF-8
 * sequence is cut. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* A finite number for a message: whole numbers in plain digits ("60",
 * where bal_numfmt gives "6e+01"), others in shortest round-trip form. */
static char *show_num(char buf[BAL_NUMFMT_LEN], double v)
{
    if (v == floor(v) && fabs(v) < MAX_INT_JSON && !(v == 0 && signbit(v)))
        snprintf(buf, BAL_NUMFMT_LEN, "%.0f", v);
    else
        bal_numfmt(buf, v, "null");
    return buf;
}

static const char *render(const cJSON *v, char buf[RENDER_LEN])
{
    char num[BAL_NUMFMT_LEN];
    size_t o = 0, i, len;

    if (cJSON_IsString(v)) {
        const unsigned char *s = (const unsigned char *)v->valuestring;

        len = strlen(v->valuestring);
        buf[o++] = '"';
        for (i = 0; i < len;) {
            char piece[8];
            size_t take = 1, plen = 1;

            if (s[i] == '"' || s[i] == '\\') {
                piece[0] = '\\';
                piece[1] = (char)s[i];
                plen = 2;
            } else if (s[i] < 0x20) {
                plen = (size_t)snprintf(piece, sizeof(piece), "\\u%04x",
                                        s[i]);
            } else if (s[i] >= 0x80) {
                take = utf8_seq(s + i, len - i);    /* whole characters */
                if (!take)
                    take = 1;
                plen = take;
                memcpy(piece, s + i, take);
            } else {
                piece[0] = (char)s[i];
            }
            if (o + plen > RENDER_MAX)
                break;
            memcpy(buf + o, piece, plen);
            o += plen;
            i += take;
        }
        if (i < len) {
            memcpy(buf + o, "...", 3);
            o += 3;
        }
        buf[o++] = '"';
        buf[o] = '\0';
        return buf;
    }
    if (cJSON_IsNumber(v)) {
        if (isnan(v->valuedouble))
            return "nan";
        if (isinf(v->valuedouble))
            return v->valuedouble > 0 ? "inf" : "-inf";
        snprintf(buf, RENDER_LEN, "%s", show_num(num, v->valuedouble));
        return buf;
    }
    if (cJSON_IsTrue(v))
        return "true";
    if (cJSON_IsFalse(v))
        return "false";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        char *p = cJSON_PrintUnformatted(v);

        if (!p)
            return cJSON_IsArray(v) ? "an array" : "an object";
        len = strlen(p);
        if (len > RENDER_MAX) {
            len = utf8_cut(p, RENDER_MAX);
            snprintf(buf, RENDER_LEN, "%.*s...", (int)len, p);
        } else {
            snprintf(buf, RENDER_LEN, "%s", p);
        }
        cJSON_free(p);
        return buf;
    }
    return "an unknown value";
}

/* ------------------------------------------------------------------ */
/* Did-you-mean.                                                        */

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transposition); SIZE_MAX when either string is too long to compare. */
static size_t osa_distance(const char *a, const char *b)
{
    size_t row[3][SUGGEST_MAX + 1];
    size_t na = strlen(a), nb = strlen(b), i, j;
    size_t *prev2 = row[0], *prev = row[1], *cur = row[2];

    if (na > SUGGEST_MAX || nb > SUGGEST_MAX)
        return SIZE_MAX;
    for (j = 0; j <= nb; j++)
        prev[j] = j;
    for (i = 1; i <= na; i++) {
        size_t *t;

        cur[0] = i;
        for (j = 1; j <= nb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = prev[j - 1] + cost;

            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[nb];
}

/* The known word closest to `key`: equal ignoring case, else within
 * distance 2 (and less than the key's length, so "id" does not suggest
 * "fx"); NULL if none. Ties go to the first in `known`. */
static const char *suggest(const char *key, const char *const *known,
                           size_t n)
{
    const char *best = NULL;
    size_t i, bestd = 3, klen = strlen(key);

    for (i = 0; i < n; i++)
        if (strlen(known[i]) == klen && casecmp_n(key, known[i], klen) == 0)
            return known[i];
    for (i = 0; i < n; i++) {
        size_t d = osa_distance(key, known[i]);

        if (d <= 2 && d < klen && d < bestd) {
            best = known[i];
            bestd = d;
        }
    }
    return best;
}

static size_t list_len(const char *const *list)
{
    size_t n = 0;

    while (list[n])
        n++;
    return n;
}

static long list_find(const char *const *list, const char *s)
{
    long i;

    for (i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return i;
    return -1;
}

/* 1 if an earlier sibling of `item` has the same key. */
static int is_duplicate(const cJSON *obj, const cJSON *item)
{
    const cJSON *b;

    for (b = obj->child; b && b != item; b = b->next)
        if (strcmp(b->string, item->string) == 0)
            return 1;
    return 0;
}

/* Rejects duplicate keys and keys not in `known`, in document order. */
static int check_keys(struct ctx *x, const cJSON *obj,
                      const char *const *known)
{
    const cJSON *a;

    for (a = obj->child; a; a = a->next) {
        const char *s;
        size_t old;
        int rc;

        if (is_duplicate(obj, a))
            return fail_key(x, a->string, "duplicate key");
        if (list_find(known, a->string) >= 0)
            continue;
        s = suggest(a->string, known, list_len(known));
        old = push_key(x, a->string);
        rc = s ? fail(x, "unknown key (did you mean '%s'?)", s)
               : fail(x, "unknown key");
        pop(x, old);
        return rc;
    }
    return BAL_OK;
}

/* ------------------------------------------------------------------ */
/* Typed readers. Each reads obj[key] (absent: the default), checks it at
 * path.key and fails with "expected <what>, got <value>".             */

enum {
    F_NULL = 1 << 0,            /* null allowed: NaN / NULL / 0 */
    F_INT = 1 << 1,             /* a whole number */
    F_LO_OPEN = 1 << 2,         /* x > lo instead of x >= lo */
    F_HI_OPEN = 1 << 3          /* x < hi instead of x <= hi */
};

static const cJSON *item(const cJSON *obj, const char *key)
{
    return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static void describe(char *buf, size_t len, double lo, double hi,
                     unsigned f)
{
    const char *kind = (f & F_INT) ? "an integer" : "a number";
    char a[BAL_NUMFMT_LEN], b[BAL_NUMFMT_LEN];

    /* " or null" is left out on purpose: SPEC §8 spells the message for
     * the nullable target_vol "expected a number > 0, got ..." */
    if (isinf(lo) && isinf(hi))
        snprintf(buf, len, "%s", kind);
    else if (isinf(hi))
        snprintf(buf, len, "%s %s %s", kind, (f & F_LO_OPEN) ? ">" : ">=",
                 show_num(a, lo));
    else if (isinf(lo))
        snprintf(buf, len, "%s %s %s", kind, (f & F_HI_OPEN) ? "<" : "<=",
                 show_num(b, hi));
    else
        snprintf(buf, len, "%s in %c%s, %s%c", kind,
                 (f & F_LO_OPEN) ? '(' : '[', show_num(a, lo),
                 show_num(b, hi), (f & F_HI_OPEN) ? ')' : ']');
}

static int num_ok(double d, double lo, double hi, unsigned f)
{
    if (!isfinite(d))
        return 0;
    if ((f & F_LO_OPEN) ? !(d > lo) : !(d >= lo))
        return 0;
    if ((f & F_HI_OPEN) ? !(d < hi) : !(d <= hi))
        return 0;
    if ((f & F_INT) && (d != floor(d) || fabs(d) > MAX_INT_JSON ||
                        d > (double)SIZE_MAX))
        return 0;
    return 1;
}

/* Checks v (non-NULL) at the current path. */
static int check_num(struct ctx *x, const cJSON *v, double lo, double hi,
                     unsigned f, double *out)
{
    char what[96], got[RENDER_LEN];

    if ((f & F_NULL) && cJSON_IsNull(v)) {
        *out = NAN;
        return BAL_OK;
    }
    if (cJSON_IsNumber(v) && num_ok(v->valuedouble, lo, hi, f)) {
        *out = v->valuedouble;
        return BAL_OK;
    }
    describe(what, sizeof(what), lo, hi, f);
    return fail(x, "expected %s, got %s", what, render(v, got));
}

static int get_num(struct ctx *x, const cJSON *obj, const char *key,
                   double def, double lo, double hi, unsigned f, double *out)
{
    const cJSON *v = item(obj, key);
    size_t old;
    int rc;

    if (!v) {
        *out = def;
        return BAL_OK;
    }
    old = push_key(x, key);
    rc = check_num(x, v, lo, hi, f, out);
    pop(x, old);
    return rc;
}

/* A whole number >= lo into a size_t; null (with F_NULL) gives 0. */
static int get_size(struct ctx *x, const cJSON *obj, const char *key,
                    size_t def, size_t lo, unsigned f, size_t *out)
{
    double d;
    int rc = get_num(x, obj, key, (double)def, (double)lo, INFINITY,
                     f | F_INT, &d);

    if (rc == BAL_OK)
        *out = isnan(d) ? 0 : (size_t)d;
    return rc;
}

static int get_bool(struct ctx *x, const cJSON *obj, const char *key,
                    int def, int *out)
{
    const cJSON *v = item(obj, key);
    char got[RENDER_LEN];
    size_t old;
    int rc;

    if (!v) {
        *out = def;
        return BAL_OK;
    }
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return BAL_OK;
    }
    old = push_key(x, key);
    rc = fail(x, "expected true or false, got %s", render(v, got));
    pop(x, old);
    return rc;
}

static void join_names(char *buf, size_t len, const char *const *names)
{
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; names[i] && o < len; i++) {
        int k = snprintf(buf + o, len - o, "%s%s", i ? "|" : "", names[i]);

        if (k < 0)
            break;
        o += (size_t)k;
    }
}

/* One of `names` (NULL-terminated); *out = its index. */
static int check_enum(struct ctx *x, const cJSON *v,
                      const char *const *names, int *out)
{
    char what[160], got[RENDER_LEN];
    long i = cJSON_IsString(v) ? list_find(names, v->valuestring) : -1;

    if (i >= 0) {
        *out = (int)i;
        return BAL_OK;
    }
    join_names(what, sizeof(what), names);
    return fail(x, "expected one of %s, got %s", what, render(v, got));
}

static int get_enum(struct ctx *x, const cJSON *obj, const char *key,
                    const char *const *names, int def, int *out)
{
    const cJSON *v = item(obj, key);
    size_t old;
    int rc;

    if (!v) {
        *out = def;
        return BAL_OK;
    }
    old = push_key(x, key);
    rc = check_enum(x, v, names, out);
    pop(x, old);
    return rc;
}

/* A non-empty string (or null with F_NULL: *out = NULL), copied. */
static int get_str(struct ctx *x, const cJSON *obj, const char *key,
                   const char *def, unsigned f, char **out)
{
    const cJSON *v = item(obj, key);
    char got[RENDER_LEN];
    size_t old;
    int rc;

    *out = NULL;
    if (!v && !def)
        return BAL_OK;
    if (v && (f & F_NULL) && cJSON_IsNull(v))
        return BAL_OK;
    if (!v || (cJSON_IsString(v) && v->valuestring[0])) {
        *out = xstrdup(v ? v->valuestring : def);
        return *out ? BAL_OK : oom(x->err);
    }
    old = push_key(x, key);
    rc = fail(x, "expected a non-empty string%s, got %s",
              (f & F_NULL) ? " or null" : "", render(v, got));
    pop(x, old);
    return rc;
}

/* obj[key] as an object (NULL when absent, or null with F_NULL). */
static int get_object(struct ctx *x, const cJSON *obj, const char *key,
                      unsigned f, const cJSON **out)
{
    const cJSON *v = item(obj, key);
    char got[RENDER_LEN];
    size_t old;
    int rc;

    *out = NULL;
    if (!v || ((f & F_NULL) && cJSON_IsNull(v)))
        return BAL_OK;
    if (cJSON_IsObject(v)) {
        *out = v;
        return BAL_OK;
    }
    old = push_key(x, key);
    rc = fail(x, "expected an object%s, got %s",
              (f & F_NULL) ? " or null" : "", render(v, got));
    pop(x, old);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Names of the enumerations, in enum order.                            */

static const char *const class_names[] = {
    "forex", "crypto", "metal", "equity", "other", NULL
};
static const char *const calendar_names[] = {
    "union", "intersection", NULL
};
static const char *const method_names[] = {
    "fixed", "equal", "inverse_vol", "inverse_atr", "erc", "hrp",
    "min_variance", NULL
};
static const char *const returns_names[] = { "log", "simple", NULL };
static const char *const estimator_names[] = { "rolling", "ewma", NULL };
static const char *const shrink_target_names[] = {
    "diagonal", "constant_correlation", NULL
};
static const char *const linkage_names[] = {
    "single", "average", "complete", "ward", NULL
};
static const char *const hrp_distance_names[] = {
    "condensed", "ldp", NULL
};
static const char *const direction_names[] = {
    "long", "trend", "signals", NULL
};
static const char *const schedule_names[] = {
    "daily", "weekly", "monthly", "none", NULL
};
static const char *const fill_names[] = { "close", "next_open", NULL };
static const char *const curves_names[] = { "rebalances", "all", NULL };
static const char *const late_names[] = { "wait", "zero", NULL };
static const char *const dup_names[] = { "last", "first", "error", NULL };
static const char *const bad_bars_names[] = {
    "repair", "skip", "error", NULL
};
static const char *const price_names[] = { "close", "adj close", NULL };
static const char *const colmap_names[] = {
    "unix", "date", "time", "open", "high", "low", "close", "adj close",
    "volume", NULL
};

/* Known keys per object, in §11 order (also the order of to_json). */
static const char *const top_keys[] = {
    "name", "data", "capital", "account_currency", "periods_per_year",
    "risk_free", "mar", "engine", "regime", "direction", "sizing",
    "rebalance", "execution", "output", NULL
};
static const char *const data_keys[] = {
    "dir", "assets", "calendar", "start", "end", "late_assets",
    "duplicates", "bad_bars", "spike_k", "spike_repair", "fx", "benchmark",
    NULL
};
static const char *const asset_keys[] = {
    "symbol", "file", "class", "quote", "tz_offset", "date_format",
    "columns", "price_field", "bars_per_year", "lot_size", "cost_bps",
    "duplicates", "bad_bars", "spike_k", "spike_repair", NULL
};
static const char *const fx_keys[] = { "symbol", "file", NULL };
static const char *const engine_keys[] = {
    "atr_window", "vol_window", "corr_window", "returns", "corr", "vol",
    "ewma_lambda", "shrinkage", "shrinkage_target", "psd_floor",
    "stress_quantile", "stress_blend", NULL
};
static const char *const regime_keys[] = {
    "short_window", "long_window", "shock_ratio", "shock_atr", "er_window",
    "er_threshold", "corr_spike", "shock_share", NULL
};
static const char *const direction_keys[] = {
    "mode", "lookback", "fast", "slow", "signals", NULL
};
static const char *const sizing_keys[] = {
    "method", "targets", "linkage", "hrp_distance", "max_weight",
    "class_caps", "cluster_risk_cap", "target_vol", "max_gross",
    "regime_scale", "drawdown", NULL
};
static const char *const regime_scale_keys[] = {
    "trending", "ranging", "shock", NULL
};
static const char *const drawdown_keys[] = {
    "start", "max", "floor", "recovery_rate", "halt", "resume", NULL
};
static const char *const rebalance_keys[] = {
    "schedule", "drift", "drift_rel", "vol_shift", "corr_shift",
    "target_shift", "target_check", "regime_change", "drawdown_step",
    "cooldown", "min_trade", NULL
};
static const char *const execution_keys[] = {
    "fill", "cost_bps", "class_cost_bps", "spread_bps", "fixed_fee",
    "slippage_atr", "cash_rate", "borrow_rate", NULL
};
static const char *const output_keys[] = {
    "curves", "series", "html", NULL
};

const char *bal_config_class_name(enum bal_asset_class c)
{
    return (unsigned)c < BAL_N_CLASSES ? class_names[c] : "?";
}

/* ------------------------------------------------------------------ */
/* Symbols, classes, currencies, times.                                 */

/* Printable ASCII without spaces or , | " ' = [ ] \ (they would break
 * CSV outputs, "A|B" pair names and --set paths). */
static int symbol_ok(const char *s)
{
    if (!s[0])
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= 0x20 || c >= 0x7f || strchr(",|\"'=[]\\", c))
            return 0;
    }
    return 1;
}

static const char *const fx_codes[] = {
    "USD", "EUR", "JPY", "GBP", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK",
    "DKK", "PLN", "HUF", "CZK", "TRY", "ZAR", "MXN", "SGD", "HKD", "CNH",
    "CNY", "ILS", "RUB", "INR", "KRW", "THB", "BRL", NULL
};
static const char *const crypto_prefixes[] = {
    "BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "LTC", "BNB", "DOT", "AVAX",
    "LINK", "BCH", "TRX", "XLM", NULL
};
static const char *const crypto_suffixes[] = {
    "USDT", "USDC", "BUSD", NULL
};
static const char *const metal_prefixes[] = {
    "XAU", "XAG", "XPT", "XPD", NULL
};

static int starts_with_any_ci(const char *s, const char *const *list)
{
    size_t i;

    for (i = 0; list[i]; i++)
        if (casecmp_n(s, list[i], strlen(list[i])) == 0)
            return 1;
    return 0;
}

static int is_fx_code(const char *s)
{
    size_t i;

    for (i = 0; fx_codes[i]; i++)
        if (casecmp_n(s, fx_codes[i], 3) == 0)
            return 1;
    return 0;
}

/* 1 when sym is two groups of 3 letters, joined directly or by one of
 * / _ - . ; *quote_at = offset of the second group. */
static int pair_form(const char *sym, size_t *quote_at)
{
    size_t n = strlen(sym), q, i;

    if (n == 6)
        q = 3;
    else if (n == 7 && strchr("/_-.", sym[3]))
        q = 4;
    else
        return 0;
    for (i = 0; i < 3; i++)
        if (!is_alpha((unsigned char)sym[i]) ||
            !is_alpha((unsigned char)sym[q + i]))
            return 0;
    *quote_at = q;
    return 1;
}

static enum bal_asset_class infer_class(const char *sym)
{
    size_t q, i;

    if (starts_with_any_ci(sym, metal_prefixes))
        return BAL_CLASS_METAL;
    if (pair_form(sym, &q) && is_fx_code(sym) && is_fx_code(sym + q))
        return BAL_CLASS_FOREX;
    for (i = 0; crypto_suffixes[i]; i++)
        if (ends_with_ci(sym, crypto_suffixes[i]))
            return BAL_CLASS_CRYPTO;
    if (starts_with_any_ci(sym, crypto_prefixes))
        return BAL_CLASS_CRYPTO;
    return BAL_CLASS_OTHER;
}

/* 3 to 6 uppercase letters or digits. */
static int currency_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 3 || n > 6)
        return 0;
    for (i = 0; i < n; i++)
        if (!(s[i] >= 'A' && s[i] <= 'Z') && !is_digit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int get_currency(struct ctx *x, const cJSON *obj, const char *key,
                        const char *def, char out[8])
{
    const cJSON *v = item(obj, key);
    char got[RENDER_LEN];
    size_t old;
    int rc;

    if (!v || ((!def) && cJSON_IsNull(v))) {
        snprintf(out, 8, "%s", def ? def : "");
        return BAL_OK;
    }
    if (cJSON_IsString(v) && currency_ok(v->valuestring)) {
        snprintf(out, 8, "%s", v->valuestring);
        return BAL_OK;
    }
    old = push_key(x, key);
    rc = fail(x, "expected a currency code (3 to 6 uppercase letters or "
              "digits)%s, got %s", def ? "" : " or null", render(v, got));
    pop(x, old);
    return rc;
}

static int fixed_digits(const char *s, int n, int *out)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "+hh:mm" / "-hh:mm" -> seconds east of UTC, |offset| <= 18:00. */
static int parse_offset(const char *s, long *out)
{
    int hh, mm;
    long v;

    if ((s[0] != '+' && s[0] != '-') || fixed_digits(s + 1, 2, &hh) < 0 ||
        s[3] != ':' || fixed_digits(s + 4, 2, &mm) < 0 || s[6] || mm > 59)
        return -1;
    v = (long)hh * 3600 + (long)mm * 60;
    if (v > TZ_MAX_SECONDS)
        return -1;
    *out = s[0] == '-' ? -v : v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : dim[m - 1];
}

/* "YYYY-MM-DD" or "YYYY-MM-DD[T ]HH:MM[:SS][Z|+hh:mm|-hh:mm]" -> UTC. */
static int parse_iso(const char *s, int64_t *t, int *date_only)
{
    int y, mo, d, hh = 0, mi = 0, ss = 0;
    long off = 0;
    int64_t days;

    if (fixed_digits(s, 4, &y) < 0 || s[4] != '-' ||
        fixed_digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
        fixed_digits(s + 8, 2, &d) < 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    days = bal_days_from_civil(y, (unsigned)mo, (unsigned)d);
    s += 10;
    *date_only = !*s;
    if (*s) {
        if ((*s != 'T' && *s != ' ') || fixed_digits(s + 1, 2, &hh) < 0 ||
            s[3] != ':' || fixed_digits(s + 4, 2, &mi) < 0)
            return -1;
        s += 6;
        if (*s == ':') {
            if (fixed_digits(s + 1, 2, &ss) < 0)
                return -1;
            s += 3;
        }
        if (hh > 23 || mi > 59 || ss > 59)
            return -1;
        if (*s == 'Z')
            s++;
        else if (*s && parse_offset(s, &off) < 0)
            return -1;
        else if (*s)
            s += 6;
        if (*s)
            return -1;
    }
    *t = days * 86400 + hh * 3600 + mi * 60 + ss - off;
    return 0;
}

static int get_time(struct ctx *x, const cJSON *obj, const char *key,
                    int is_end, int *has, int64_t *t, int *date_only)
{
    const cJSON *v = item(obj, key);
    char got[RENDER_LEN];
    size_t old;
    int rc;

    *has = 0;
    *t = 0;
    *date_only = 0;
    if (!v || cJSON_IsNull(v))
        return BAL_OK;
    if (cJSON_IsString(v) && parse_iso(v->valuestring, t, date_only) == 0) {
        *has = 1;
        if (is_end && *date_only)
            *t += 86399;                /* inclusive end of that day */
        return BAL_OK;
    }
    old = push_key(x, key);
    rc = fail(x, "expected an ISO date or datetime "
              "(YYYY-MM-DD[THH:MM[:SS][Z]]) or null, got %s",
              render(v, got));
    pop(x, old);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Sections.                                                            */

static int parse_columns(struct ctx *x, const cJSON *a, bal_asset_columns *cm)
{
    const cJSON *obj;
    size_t i, j, old;
    int rc;

    for (i = 0; i < BAL_COLMAP_N; i++)
        cm->index[i] = -1;
    rc = get_object(x, a, "columns", F_NULL, &obj);
    if (rc || !obj)
        return rc;
    cm->set = 1;
    old = push_key(x, "columns");
    rc = check_keys(x, obj, colmap_names);
    for (i = 0; rc == BAL_OK && i < BAL_COLMAP_N; i++) {
        const cJSON *v = item(obj, colmap_names[i]);
        char got[RENDER_LEN];
        size_t o2;

        if (!v)
            continue;
        o2 = push_key(x, colmap_names[i]);
        if (cJSON_IsString(v) && v->valuestring[0]) {
            cm->name[i] = xstrdup(v->valuestring);
            if (!cm->name[i])
                rc = oom(x->err);
        } else if (cJSON_IsNumber(v) &&
                   num_ok(v->valuedouble, 0, 1e9, F_INT)) {
            cm->index[i] = (long)v->valuedouble;
        } else {
            rc = fail(x, "expected a column name or a 0-based index, got "
                      "%s", render(v, got));
        }
        for (j = 0; rc == BAL_OK && j < i; j++) {
            if ((cm->name[i] && cm->name[j] &&
                 strcmp(cm->name[i], cm->name[j]) == 0) ||
                (cm->index[i] >= 0 && cm->index[i] == cm->index[j]))
                rc = fail(x, "same column as '%s'", colmap_names[j]);
        }
        pop(x, o2);
    }
    if (rc == BAL_OK && (cm->name[BAL_COLMAP_TIME] ||
                         cm->index[BAL_COLMAP_TIME] >= 0) &&
        !cm->name[BAL_COLMAP_DATE] && cm->index[BAL_COLMAP_DATE] < 0)
        rc = fail_key(x, "time", "needs a 'date' column too (the time of "
                      "day is joined to the date)");
    pop(x, old);
    return rc;
}

/* strptime-style as loader.h reads it: %Y %m %d %H %I %M %S %p %z %f %%
 * and literal characters. */
static int date_format_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '%' && (!*++s || !strchr("YmdHIMSpzf%", *s)))
            return 0;
    return 1;
}

static int parse_tz(struct ctx *x, const cJSON *a, bal_asset_config *as)
{
    const cJSON *v = item(a, "tz_offset");
    char got[RENDER_LEN];
    size_t old;
    int rc;

    as->tz = BAL_TZ_NONE;
    as->tz_offset = 0;
    if (!v || cJSON_IsNull(v))
        return BAL_OK;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "fx_server") == 0) {
        as->tz = BAL_TZ_FX_SERVER;
        return BAL_OK;
    }
    if (cJSON_IsString(v) && parse_offset(v->valuestring,
                                          &as->tz_offset) == 0) {
        as->tz = BAL_TZ_FIXED;
        return BAL_OK;
    }
    old = push_key(x, "tz_offset");
    rc = fail(x, "expected \"+hh:mm\", \"-hh:mm\" (at most 18:00), "
              "\"fx_server\" or null, got %s", render(v, got));
    pop(x, old);
    return rc;
}

static int parse_asset(struct ctx *x, const cJSON *a, const bal_config *c,
                       bal_asset_config *as)
{
    char got[RENDER_LEN];
    const cJSON *v;
    size_t q;
    int rc, k;

    if (!cJSON_IsObject(a))
        return fail(x, "expected an object, got %s", render(a, got));
    rc = check_keys(x, a, asset_keys);
    if (rc)
        return rc;
    v = item(a, "symbol");
    if (!v)
        return fail_key(x, "symbol", "missing required key");
    if (!cJSON_IsString(v) || !symbol_ok(v->valuestring)) {
        size_t old = push_key(x, "symbol");

        rc = fail(x, "expected a non-empty symbol of printable ASCII "
                  "without spaces or any of ,|\"'=[]\\, got %s",
                  render(v, got));
        pop(x, old);
        return rc;
    }
    as->symbol = xstrdup(v->valuestring);
    if (!as->symbol)
        return oom(x->err);
    if (!item(a, "file"))
        return fail_key(x, "file", "missing required key");
    rc = get_str(x, a, "file", NULL, 0, &as->file);
    if (rc)
        return rc;
    as->path = path_join(c->data.dir_path, as->file);
    if (!as->path)
        return oom(x->err);
    rc = get_enum(x, a, "class", class_names,
                  (int)infer_class(as->symbol), &k);
    if (rc)
        return rc;
    as->asset_class = (enum bal_asset_class)k;
    rc = get_currency(x, a, "quote", NULL, as->quote);
    if (rc)
        return rc;
    if (!as->quote[0]) {
        if (as->asset_class == BAL_CLASS_FOREX && pair_form(as->symbol, &q))
            snprintf(as->quote, sizeof(as->quote), "%c%c%c",
                     to_upper((unsigned char)as->symbol[q]),
                     to_upper((unsigned char)as->symbol[q + 1]),
                     to_upper((unsigned char)as->symbol[q + 2]));
        else
            snprintf(as->quote, sizeof(as->quote), "%s",
                     c->account_currency);
    }
    rc = parse_tz(x, a, as);
    if (!rc)
        rc = get_str(x, a, "date_format", NULL, F_NULL, &as->date_format);
    if (!rc && as->date_format && !date_format_ok(as->date_format)) {
        size_t old = push_key(x, "date_format");

        rc = fail(x, "expected %s, got %s", "a date format made of %Y %m %d "
                  "%H %I %M %S %p %z %f %% and other characters",
                  render(item(a, "date_format"), got));
        pop(x, old);
    }
    if (!rc)
        rc = parse_columns(x, a, &as->columns);
    if (!rc)
        rc = get_enum(x, a, "price_field", price_names, BAL_PRICE_CLOSE, &k);
    if (rc)
        return rc;
    as->price_field = (enum bal_price_field)k;
    rc = get_num(x, a, "bars_per_year", NAN, 0, INFINITY,
                 F_NULL | F_LO_OPEN, &as->bars_per_year);
    if (!rc)
        rc = get_num(x, a, "lot_size", NAN, 0, INFINITY, F_NULL | F_LO_OPEN,
                     &as->lot_size);
    if (!rc)
        rc = get_num(x, a, "cost_bps", NAN, 0, INFINITY, F_NULL,
                     &as->cost_bps);
    if (!rc)
        rc = get_enum(x, a, "duplicates", dup_names,
                      (int)c->data.duplicates, &k);
    if (rc)
        return rc;
    as->duplicates = (enum bal_duplicates)k;
    rc = get_enum(x, a, "bad_bars", bad_bars_names, (int)c->data.bad_bars,
                  &k);
    if (rc)
        return rc;
    as->bad_bars = (enum bal_bad_bars)k;
    rc = get_num(x, a, "spike_k", c->data.spike_k, 0, INFINITY, 0,
                 &as->spike_k);
    if (!rc)
        rc = get_bool(x, a, "spike_repair", c->data.spike_repair,
                      &as->spike_repair);
    return rc;
}

/* Symbol `sym` at the current path must not repeat an earlier one. */
static int check_unique(struct ctx *x, const char *sym, const bal_config *c,
                        size_t n_assets, size_t n_fx)
{
    size_t i;

    for (i = 0; i < n_assets; i++)
        if (strcmp(c->assets[i].symbol, sym) == 0)
            return fail(x, "duplicate symbol '%s' (also data.assets[%zu])",
                        sym, i);
    for (i = 0; i < n_fx; i++)
        if (strcmp(c->data.fx[i].symbol, sym) == 0)
            return fail(x, "duplicate symbol '%s' (also data.fx[%zu])", sym,
                        i);
    return BAL_OK;
}

static int parse_assets(struct ctx *x, const cJSON *d, bal_config *c)
{
    const cJSON *arr = item(d, "assets"), *a;
    char got[RENDER_LEN];
    size_t n, i, old;
    int rc = BAL_OK;

    if (!arr)
        return fail_key(x, "assets", "missing required key");
    old = push_key(x, "assets");
    n = (size_t)cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n == 0) {
        rc = fail(x, "expected a non-empty array of objects, got %s",
                  render(arr, got));
        pop(x, old);
        return rc;
    }
    c->assets = calloc(n, sizeof(*c->assets));
    if (!c->assets) {
        pop(x, old);
        return oom(x->err);
    }
    for (a = arr->child, i = 0; a && rc == BAL_OK; a = a->next, i++) {
        size_t o2 = push_index(x, i);

        c->n_assets = i + 1;            /* release frees the partial one */
        rc = parse_asset(x, a, c, &c->assets[i]);
        if (rc == BAL_OK) {
            size_t o3 = push_key(x, "symbol");

            rc = check_unique(x, c->assets[i].symbol, c, i, 0);
            pop(x, o3);
        }
        pop(x, o2);
    }
    pop(x, old);
    return rc;
}

static int parse_fx(struct ctx *x, const cJSON *d, bal_config *c)
{
    const cJSON *arr = item(d, "fx"), *a;
    char got[RENDER_LEN];
    size_t n, i, old;
    int rc = BAL_OK;

    if (!arr)
        return BAL_OK;
    old = push_key(x, "fx");
    if (!cJSON_IsArray(arr)) {
        rc = fail(x, "expected an array of objects, got %s",
                  render(arr, got));
        pop(x, old);
        return rc;
    }
    n = (size_t)cJSON_GetArraySize(arr);
    if (n) {
        c->data.fx = calloc(n, sizeof(*c->data.fx));
        if (!c->data.fx) {
            pop(x, old);
            return oom(x->err);
        }
    }
    for (a = arr->child, i = 0; a && rc == BAL_OK; a = a->next, i++) {
        bal_fx_config *fx = &c->data.fx[i];
        size_t o2 = push_index(x, i);

        c->data.n_fx = i + 1;
        if (!cJSON_IsObject(a))
            rc = fail(x, "expected an object, got %s", render(a, got));
        if (!rc)
            rc = check_keys(x, a, fx_keys);
        if (!rc && !item(a, "symbol"))
            rc = fail_key(x, "symbol", "missing required key");
        if (!rc && !item(a, "file"))
            rc = fail_key(x, "file", "missing required key");
        if (!rc)
            rc = get_str(x, a, "symbol", NULL, 0, &fx->symbol);
        if (!rc) {
            size_t o3 = push_key(x, "symbol");

            if (!symbol_ok(fx->symbol))
                rc = fail(x, "expected a non-empty symbol of printable "
                          "ASCII without spaces or any of ,|\"'=[]\\, got "
                          "%s", render(item(a, "symbol"), got));
            if (!rc)
                rc = check_unique(x, fx->symbol, c, c->n_assets, i);
            pop(x, o3);
        }
        if (!rc)
            rc = get_str(x, a, "file", NULL, 0, &fx->file);
        if (!rc) {
            fx->path = path_join(c->data.dir_path, fx->file);
            if (!fx->path)
                rc = oom(x->err);
        }
        pop(x, o2);
    }
    pop(x, old);
    return rc;
}

static int parse_data(struct ctx *x, const cJSON *root, bal_config *c,
                      const char *base_dir)
{
    const cJSON *d;
    size_t old;
    int rc, k;

    rc = get_object(x, root, "data", 0, &d);
    if (rc)
        return rc;
    old = push_key(x, "data");
    if (!d) {
        rc = fail_key(x, "assets", "missing required key");
        goto done;
    }
    rc = check_keys(x, d, data_keys);
    if (!rc)
        rc = get_str(x, d, "dir", ".", 0, &c->data.dir);
    if (rc)
        goto done;
    c->data.dir_path = path_join(base_dir, c->data.dir);
    if (!c->data.dir_path) {
        rc = oom(x->err);
        goto done;
    }
    rc = get_enum(x, d, "calendar", calendar_names, BAL_CAL_UNION, &k);
    if (rc)
        goto done;
    c->data.calendar = (enum bal_calendar)k;
    rc = get_time(x, d, "start", 0, &c->data.has_start, &c->data.start,
                  &c->data.start_date_only);
    if (!rc)
        rc = get_time(x, d, "end", 1, &c->data.has_end, &c->data.end,
                      &c->data.end_date_only);
    if (!rc && c->data.has_start && c->data.has_end &&
        c->data.end < c->data.start)
        rc = fail_key(x, "end", "must not be before data.start");
    if (!rc)
        rc = get_enum(x, d, "late_assets", late_names, BAL_LATE_WAIT, &k);
    if (rc)
        goto done;
    c->data.late_assets = (enum bal_late_assets)k;
    rc = get_enum(x, d, "duplicates", dup_names, BAL_DUP_LAST, &k);
    if (rc)
        goto done;
    c->data.duplicates = (enum bal_duplicates)k;
    rc = get_enum(x, d, "bad_bars", bad_bars_names, BAL_BAD_REPAIR, &k);
    if (rc)
        goto done;
    c->data.bad_bars = (enum bal_bad_bars)k;
    rc = get_num(x, d, "spike_k", 10, 0, INFINITY, 0, &c->data.spike_k);
    if (!rc)
        rc = get_bool(x, d, "spike_repair", 0, &c->data.spike_repair);
    if (!rc)
        rc = parse_assets(x, d, c);
    if (!rc)
        rc = parse_fx(x, d, c);
    if (!rc)
        rc = get_str(x, d, "benchmark", NULL, F_NULL, &c->data.benchmark);
    c->data.benchmark_asset = -1;
    if (rc || !c->data.benchmark)
        goto done;
    c->data.benchmark_asset = bal_config_asset_index(c, c->data.benchmark);
    if (c->data.benchmark_asset < 0) {
        c->data.benchmark_path = path_join(c->data.dir_path,
                                           c->data.benchmark);
        if (!c->data.benchmark_path)
            rc = oom(x->err);
    }
done:
    pop(x, old);
    return rc;
}

static int parse_engine(struct ctx *x, const cJSON *root, bal_config *c)
{
    const cJSON *e, *v;
    size_t old;
    int rc, k;

    rc = get_object(x, root, "engine", 0, &e);
    if (rc)
        return rc;
    old = push_key(x, "engine");
    rc = e ? check_keys(x, e, engine_keys) : BAL_OK;
    if (!rc)
        rc = get_size(x, e, "atr_window", 14, 1, 0, &c->engine.atr_window);
    if (!rc)
        rc = get_size(x, e, "vol_window", 60, 2, 0, &c->engine.vol_window);
    if (!rc)
        rc = get_size(x, e, "corr_window", 60, 2, 0,
                      &c->engine.corr_window);
    if (!rc)
        rc = get_enum(x, e, "returns", returns_names, BAL_RET_LOG, &k);
    if (rc)
        goto done;
    c->engine.returns = (enum bal_returns)k;
    rc = get_enum(x, e, "corr", estimator_names, BAL_EST_ROLLING, &k);
    if (rc)
        goto done;
    c->engine.corr = (enum bal_estimator)k;
    rc = get_enum(x, e, "vol", estimator_names, BAL_EST_ROLLING, &k);
    if (rc)
        goto done;
    c->engine.vol = (enum bal_estimator)k;
    rc = get_num(x, e, "ewma_lambda", 0.94, 0, 1, F_LO_OPEN | F_HI_OPEN,
                 &c->engine.ewma_lambda);
    if (rc)
        goto done;
    v = item(e, "shrinkage");
    c->engine.shrinkage = 0;
    if (v && cJSON_IsString(v) &&
        strcmp(v->valuestring, "ledoit_wolf") == 0) {
        c->engine.shrinkage = NAN;
        c->engine.shrinkage_ledoit_wolf = 1;
    } else if (v) {
        char got[RENDER_LEN];
        size_t o2 = push_key(x, "shrinkage");

        if (cJSON_IsNumber(v) && num_ok(v->valuedouble, 0, 1, 0))
            c->engine.shrinkage = v->valuedouble;
        else
            rc = fail(x, "expected a number in [0, 1] or \"ledoit_wolf\", "
                      "got %s", render(v, got));
        pop(x, o2);
        if (rc)
            goto done;
    }
    rc = get_enum(x, e, "shrinkage_target", shrink_target_names,
                  BAL_SHRINK_DIAGONAL, &k);
    if (rc)
        goto done;
    c->engine.shrinkage_target = (enum bal_shrink_target)k;
    rc = get_num(x, e, "psd_floor", 1e-8, 0, 1, F_HI_OPEN,
                 &c->engine.psd_floor);
    if (!rc)
        rc = get_num(x, e, "stress_quantile", 0.1, 0, 1,
                     F_LO_OPEN | F_HI_OPEN, &c->engine.stress_quantile);
    if (!rc)
        rc = get_num(x, e, "stress_blend", 0, 0, 1, 0,
                     &c->engine.stress_blend);
done:
    pop(x, old);
    return rc;
}

/* A cross-field "expected X OP other (value), got y" error, placed on the
 * key the user wrote: `key` if present in obj, else `other_key`. */
static int fail_order(struct ctx *x, const cJSON *obj, const char *key,
                      const char *other_key, const char *section,
                      const char *op, double other, double got)
{
    char a[BAL_NUMFMT_LEN], b[BAL_NUMFMT_LEN], msg[TEXT_LEN];
    const char *rop = op[0] == '>' ? "<" : ">";
    int mine = item(obj, key) != NULL;

    show_num(a, other);
    show_num(b, got);
    if (mine)
        snprintf(msg, sizeof(msg), "expected a value %s %s.%s (%s), got %s",
                 op, section, other_key, a, b);
    else
        snprintf(msg, sizeof(msg), "expected a value %s %s.%s (%s), got %s",
                 rop, section, key, b, a);
    return fail_key(x, mine ? key : other_key, msg);
}

static int parse_regime(struct ctx *x, const cJSON *root, bal_config *c)
{
    const cJSON *r;
    size_t old;
    int rc;

    rc = get_object(x, root, "regime", 0, &r);
    if (rc)
        return rc;
    old = push_key(x, "regime");
    rc = r ? check_keys(x, r, regime_keys) : BAL_OK;
    if (!rc)
        rc = get_size(x, r, "short_window", 5, 2, 0,
                      &c->regime.short_window);
    if (!rc)
        rc = get_size(x, r, "long_window", 60, 2, 0,
                      &c->regime.long_window);
    if (!rc && c->regime.long_window <= c->regime.short_window)
        rc = fail_order(x, r, "long_window", "short_window", "regime", ">",
                        (double)c->regime.short_window,
                        (double)c->regime.long_window);
    if (!rc)
        rc = get_num(x, r, "shock_ratio", 2.0, 0, INFINITY,
                     F_LO_OPEN | F_NULL, &c->regime.shock_ratio);
    if (!rc)
        rc = get_num(x, r, "shock_atr", 3.0, 0, INFINITY,
                     F_LO_OPEN | F_NULL, &c->regime.shock_atr);
    if (!rc)
        rc = get_size(x, r, "er_window", 20, 1, 0, &c->regime.er_window);
    if (!rc)
        rc = get_num(x, r, "er_threshold", 0.3, 0, 1, 0,
                     &c->regime.er_threshold);
    if (!rc)
        rc = get_num(x, r, "corr_spike", 0.6, -1, 1, F_NULL,
                     &c->regime.corr_spike);
    if (!rc)
        rc = get_num(x, r, "shock_share", 0.5, 0, 1, 0,
                     &c->regime.shock_share);
    pop(x, old);
    return rc;
}

static int parse_direction(struct ctx *x, const cJSON *root, bal_config *c,
                           const char *base_dir)
{
    const cJSON *d;
    size_t old;
    int rc, k;

    rc = get_object(x, root, "direction", 0, &d);
    if (rc)
        return rc;
    old = push_key(x, "direction");
    rc = d ? check_keys(x, d, direction_keys) : BAL_OK;
    if (!rc)
        rc = get_enum(x, d, "mode", direction_names, BAL_DIR_LONG, &k);
    if (rc)
        goto done;
    c->direction.mode = (enum bal_direction_mode)k;
    rc = get_size(x, d, "lookback", 60, 1, 0, &c->direction.lookback);
    if (!rc)
        rc = get_size(x, d, "fast", 0, 1, F_NULL, &c->direction.fast);
    if (!rc)
        rc = get_size(x, d, "slow", 0, 1, F_NULL, &c->direction.slow);
    if (rc)
        goto done;
    if (c->direction.fast && !c->direction.slow)
        rc = fail_key(x, "slow", "required when direction.fast is set");
    else if (c->direction.slow && !c->direction.fast)
        rc = fail_key(x, "fast", "required when direction.slow is set");
    else if (c->direction.fast && c->direction.fast >= c->direction.slow)
        rc = fail_order(x, d, "slow", "fast", "direction", ">",
                        (double)c->direction.fast,
                        (double)c->direction.slow);
    if (!rc)
        rc = get_str(x, d, "signals", NULL, F_NULL, &c->direction.signals);
    if (rc)
        goto done;
    if (c->direction.signals) {
        c->direction.signals_path = path_join(base_dir,
                                              c->direction.signals);
        if (!c->direction.signals_path)
            rc = oom(x->err);
    } else if (c->direction.mode == BAL_DIR_SIGNALS) {
        rc = fail_key(x, "signals", "required when direction.mode is "
                      "signals");
    }
done:
    pop(x, old);
    return rc;
}

/* An object class -> number in [lo, hi]; absent classes stay NaN. */
static int parse_class_map(struct ctx *x, const cJSON *parent,
                           const char *key, double lo, double hi,
                           double out[BAL_N_CLASSES])
{
    const cJSON *m, *v;
    size_t i, old;
    int rc;

    for (i = 0; i < BAL_N_CLASSES; i++)
        out[i] = NAN;
    rc = get_object(x, parent, key, 0, &m);
    if (rc || !m)
        return rc;
    old = push_key(x, key);
    for (v = m->child; v && rc == BAL_OK; v = v->next) {
        long cls = list_find(class_names, v->string);
        size_t o2;

        if (is_duplicate(m, v)) {
            rc = fail_key(x, v->string, "duplicate key");
            break;
        }
        o2 = push_key(x, v->string);
        if (cls < 0)
            rc = fail(x, "unknown class (expected one of "
                              "forex|crypto|metal|equity|other)");
        else
            rc = check_num(x, v, lo, hi, 0, &out[cls]);
        pop(x, o2);
    }
    pop(x, old);
    return rc;
}

static int parse_targets(struct ctx *x, const cJSON *s, bal_config *c)
{
    const cJSON *t, *v;
    const char **syms = NULL;
    double sum = 0;
    size_t i, n = 0, old;
    int rc;

    rc = get_object(x, s, "targets", F_NULL, &t);
    if (rc || !t)
        goto check;
    c->sizing.targets = malloc(c->n_assets * sizeof(double));
    syms = malloc(c->n_assets * sizeof(*syms));
    if (!c->sizing.targets || !syms) {
        rc = oom(x->err);
        goto done;
    }
    for (i = 0; i < c->n_assets; i++) {
        c->sizing.targets[i] = NAN;
        syms[i] = c->assets[i].symbol;
    }
    old = push_key(x, "targets");
    for (v = t->child; v && rc == BAL_OK; v = v->next) {
        long a = bal_config_asset_index(c, v->string);
        const char *sug;
        size_t o2;

        if (is_duplicate(t, v)) {
            rc = fail_key(x, v->string, "duplicate key");
            break;
        }
        o2 = push_key(x, v->string);
        if (a < 0) {
            sug = suggest(v->string, syms, c->n_assets);
            rc = sug ? fail(x, "unknown symbol (did you mean "
                                    "'%s'?)", sug)
                     : fail(x, "unknown symbol (not in "
                                    "data.assets)");
        } else {
            rc = check_num(x, v, 0, 1, 0, &c->sizing.targets[a]);
            sum += c->sizing.targets[a];
            n++;
        }
        pop(x, o2);
    }
    if (rc == BAL_OK && n > 0 && !(sum > 0 && sum <= 1 + TARGET_SUM_TOL)) {
        char b[BAL_NUMFMT_LEN];

        rc = fail(x, "weights sum to %s, expected a sum in (0, 1]",
                  show_num(b, sum));
    }
    pop(x, old);
check:
    if (rc == BAL_OK && c->sizing.method == BAL_METHOD_FIXED && n == 0)
        rc = fail_key(x, "targets", "required (a non-empty object) when "
                      "sizing.method is fixed");
done:
    free(syms);
    return rc;
}

static int parse_drawdown(struct ctx *x, const cJSON *s, bal_config *c)
{
    bal_drawdown_config *dd = &c->sizing.drawdown;
    const cJSON *o;
    size_t old;
    int rc;

    rc = get_object(x, s, "drawdown", F_NULL, &o);
    if (rc || !o)
        return rc;
    dd->enabled = 1;
    old = push_key(x, "drawdown");
    rc = check_keys(x, o, drawdown_keys);
    if (!rc)
        rc = get_num(x, o, "start", 0.05, 0, 1, F_HI_OPEN, &dd->start);
    if (!rc)
        rc = get_num(x, o, "max", 0.25, 0, 1, F_LO_OPEN, &dd->max);
    if (!rc && !(dd->start < dd->max))
        rc = fail_order(x, o, "max", "start", "sizing.drawdown", ">",
                        dd->start, dd->max);
    if (!rc)
        rc = get_num(x, o, "floor", 0.25, 0, 1, 0, &dd->floor);
    if (!rc)
        rc = get_num(x, o, "recovery_rate", 0.01, 0, 1, F_LO_OPEN | F_NULL,
                     &dd->recovery_rate);
    if (!rc)
        rc = get_num(x, o, "halt", NAN, 0, 1, F_LO_OPEN | F_NULL,
                     &dd->halt);
    if (!rc)
        rc = get_num(x, o, "resume", NAN, 0, 1, F_HI_OPEN | F_NULL,
                     &dd->resume);
    if (!rc && !isnan(dd->halt)) {
        if (isnan(dd->resume))
            rc = fail_key(x, "resume", "required when sizing.drawdown.halt "
                          "is set");
        else if (!(dd->resume < dd->halt))
            rc = fail_order(x, o, "resume", "halt", "sizing.drawdown", "<",
                            dd->halt, dd->resume);
    }
    pop(x, old);
    return rc;
}

static int parse_sizing(struct ctx *x, const cJSON *root, bal_config *c)
{
    const cJSON *s, *rs;
    size_t old;
    int rc, k;

    rc = get_object(x, root, "sizing", 0, &s);
    if (rc)
        return rc;
    old = push_key(x, "sizing");
    rc = s ? check_keys(x, s, sizing_keys) : BAL_OK;
    if (!rc)
        rc = get_enum(x, s, "method", method_names, BAL_METHOD_ERC, &k);
    if (rc)
        goto done;
    c->sizing.method = (enum bal_method)k;
    rc = parse_targets(x, s, c);
    if (!rc)
        rc = get_enum(x, s, "linkage", linkage_names, BAL_LINK_SINGLE, &k);
    if (rc)
        goto done;
    c->sizing.linkage = (enum bal_linkage)k;
    rc = get_enum(x, s, "hrp_distance", hrp_distance_names,
                  BAL_HRP_CONDENSED, &k);
    if (rc)
        goto done;
    c->sizing.hrp_distance = (enum bal_hrp_distance)k;
    rc = get_num(x, s, "max_weight", 1, 0, 1, F_LO_OPEN,
                 &c->sizing.max_weight);
    if (!rc)
        rc = parse_class_map(x, s, "class_caps", 0, 1, c->sizing.class_caps);
    if (!rc)
        rc = get_num(x, s, "cluster_risk_cap", NAN, 0, 1, F_LO_OPEN | F_NULL,
                     &c->sizing.cluster_risk_cap);
    if (!rc)
        rc = get_num(x, s, "target_vol", 0.10, 0, INFINITY,
                     F_LO_OPEN | F_NULL, &c->sizing.target_vol);
    if (!rc)
        rc = get_num(x, s, "max_gross", 2.0, 0, INFINITY, F_LO_OPEN,
                     &c->sizing.max_gross);
    if (!rc)
        rc = get_object(x, s, "regime_scale", 0, &rs);
    if (rc)
        goto done;
    {
        size_t o2 = push_key(x, "regime_scale");

        rc = rs ? check_keys(x, rs, regime_scale_keys) : BAL_OK;
        if (!rc)
            rc = get_num(x, rs, "trending", 1, 0, INFINITY, 0,
                         &c->sizing.regime_scale.trending);
        if (!rc)
            rc = get_num(x, rs, "ranging", 1, 0, INFINITY, 0,
                         &c->sizing.regime_scale.ranging);
        if (!rc)
            rc = get_num(x, rs, "shock", 1, 0, INFINITY, 0,
                         &c->sizing.regime_scale.shock);
        pop(x, o2);
    }
    if (!rc)
        rc = parse_drawdown(x, s, c);
done:
    pop(x, old);
    return rc;
}

static int parse_schedule(struct ctx *x, const cJSON *r, bal_config *c)
{
    const cJSON *v = item(r, "schedule");
    char got[RENDER_LEN];
    long k;
    size_t old;
    int rc;

    c->rebalance.schedule = BAL_CFG_SCHED_MONTHLY;
    c->rebalance.schedule_steps = 0;
    if (!v)
        return BAL_OK;
    k = cJSON_IsString(v) ? list_find(schedule_names, v->valuestring) : -1;
    if (k >= 0) {
        c->rebalance.schedule = (enum bal_cfg_schedule)k;
        return BAL_OK;
    }
    if (cJSON_IsNumber(v) && num_ok(v->valuedouble, 1, INFINITY, F_INT)) {
        c->rebalance.schedule = BAL_CFG_SCHED_STEPS;
        c->rebalance.schedule_steps = (size_t)v->valuedouble;
        return BAL_OK;
    }
    old = push_key(x, "schedule");
    rc = fail(x, "expected one of daily|weekly|monthly|none or an integer "
              ">= 1, got %s", render(v, got));
    pop(x, old);
    return rc;
}

static int parse_rebalance(struct ctx *x, const cJSON *root, bal_config *c)
{
    const cJSON *r;
    size_t old;
    int rc;

    rc = get_object(x, root, "rebalance", 0, &r);
    if (rc)
        return rc;
    old = push_key(x, "rebalance");
    rc = r ? check_keys(x, r, rebalance_keys) : BAL_OK;
    if (!rc)
        rc = parse_schedule(x, r, c);
    if (!rc)
        rc = get_num(x, r, "drift", NAN, 0, INFINITY, F_NULL,
                     &c->rebalance.drift);
    if (!rc)
        rc = get_num(x, r, "drift_rel", NAN, 0, INFINITY, F_NULL,
                     &c->rebalance.drift_rel);
    if (!rc)
        rc = get_num(x, r, "vol_shift", NAN, 0, INFINITY, F_NULL,
                     &c->rebalance.vol_shift);
    if (!rc)
        rc = get_num(x, r, "corr_shift", NAN, 0, 2, F_NULL,
                     &c->rebalance.corr_shift);
    if (!rc)
        rc = get_num(x, r, "target_shift", NAN, 0, INFINITY, F_NULL,
                     &c->rebalance.target_shift);
    if (!rc)
        rc = get_size(x, r, "target_check", 1, 1, 0,
                      &c->rebalance.target_check);
    if (!rc)
        rc = get_bool(x, r, "regime_change", 0,
                      &c->rebalance.regime_change);
    if (!rc)
        rc = get_num(x, r, "drawdown_step", NAN, 0, 1, F_NULL,
                     &c->rebalance.drawdown_step);
    if (!rc)
        rc = get_size(x, r, "cooldown", 0, 0, 0, &c->rebalance.cooldown);
    if (!rc)
        rc = get_num(x, r, "min_trade", 0, 0, INFINITY, 0,
                     &c->rebalance.min_trade);
    pop(x, old);
    return rc;
}

static int parse_execution(struct ctx *x, const cJSON *root, bal_config *c)
{
    const cJSON *e;
    size_t old;
    int rc, k;

    rc = get_object(x, root, "execution", 0, &e);
    if (rc)
        return rc;
    old = push_key(x, "execution");
    rc = e ? check_keys(x, e, execution_keys) : BAL_OK;
    if (!rc)
        rc = get_enum(x, e, "fill", fill_names, BAL_FILL_NEXT_OPEN, &k);
    if (rc)
        goto done;
    c->execution.fill = (enum bal_fill)k;
    rc = get_num(x, e, "cost_bps", 0, 0, INFINITY, 0,
                 &c->execution.cost_bps);
    if (!rc)
        rc = parse_class_map(x, e, "class_cost_bps", 0, INFINITY,
                             c->execution.class_cost_bps);
    if (!rc)
        rc = get_num(x, e, "spread_bps", 0, 0, INFINITY, 0,
                     &c->execution.spread_bps);
    if (!rc)
        rc = get_num(x, e, "fixed_fee", 0, 0, INFINITY, 0,
                     &c->execution.fixed_fee);
    if (!rc)
        rc = get_num(x, e, "slippage_atr", 0, 0, INFINITY, 0,
                     &c->execution.slippage_atr);
    if (!rc)
        rc = get_num(x, e, "cash_rate", 0, -1, INFINITY, F_LO_OPEN,
                     &c->execution.cash_rate);
    if (!rc)
        rc = get_num(x, e, "borrow_rate", 0, -1, INFINITY, F_LO_OPEN,
                     &c->execution.borrow_rate);
done:
    pop(x, old);
    return rc;
}

static int parse_output(struct ctx *x, const cJSON *root, bal_config *c)
{
    const cJSON *o;
    size_t old;
    int rc, k;

    rc = get_object(x, root, "output", 0, &o);
    if (rc)
        return rc;
    old = push_key(x, "output");
    rc = o ? check_keys(x, o, output_keys) : BAL_OK;
    if (!rc)
        rc = get_enum(x, o, "curves", curves_names, BAL_CURVES_REBALANCES,
                      &k);
    if (!rc) {
        c->output.curves = (enum bal_curves)k;
        rc = get_bool(x, o, "series", 0, &c->output.series);
    }
    if (!rc)
        rc = get_bool(x, o, "html", 1, &c->output.html);
    pop(x, old);
    return rc;
}

/* Used as a directory name: out/<name>. */
static int name_ok(const char *s)
{
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/' ||
            *s == '\\')
            return 0;
    return 1;
}

static int parse_top(struct ctx *x, const cJSON *root, bal_config *c,
                     const char *base_dir)
{
    const cJSON *v;
    char got[RENDER_LEN];
    int rc;

    rc = check_keys(x, root, top_keys);
    if (!rc)
        rc = get_str(x, root, "name", "default", 0, &c->name);
    if (!rc && !name_ok(c->name)) {
        size_t old = push_key(x, "name");

        rc = fail(x, "expected a name without '/', '\\' or control "
                  "characters, other than \".\" and \"..\", got %s",
                  render(item(root, "name"), got));
        pop(x, old);
    }
    if (!rc)
        rc = get_num(x, root, "capital", 1e6, 0, INFINITY, F_LO_OPEN,
                     &c->capital);
    if (!rc)
        rc = get_currency(x, root, "account_currency", "USD",
                          c->account_currency);
    if (rc)
        return rc;
    v = item(root, "periods_per_year");
    c->periods_per_year = 0;
    if (v && !(cJSON_IsString(v) && strcmp(v->valuestring, "auto") == 0)) {
        size_t old;

        if (cJSON_IsNumber(v) &&
            num_ok(v->valuedouble, 0, INFINITY, F_LO_OPEN)) {
            c->periods_per_year = v->valuedouble;
        } else {
            old = push_key(x, "periods_per_year");
            rc = fail(x, "expected a number > 0 or \"auto\", got %s",
                      render(v, got));
            pop(x, old);
            return rc;
        }
    }
    rc = get_num(x, root, "risk_free", 0, -1, INFINITY, F_LO_OPEN,
                 &c->risk_free);
    if (!rc)
        rc = get_num(x, root, "mar", 0, -1, INFINITY, F_LO_OPEN, &c->mar);
    if (!rc)
        rc = parse_data(x, root, c, base_dir);
    if (!rc)
        rc = parse_engine(x, root, c);
    if (!rc)
        rc = parse_regime(x, root, c);
    if (!rc)
        rc = parse_direction(x, root, c, base_dir);
    if (!rc)
        rc = parse_sizing(x, root, c);
    if (!rc)
        rc = parse_rebalance(x, root, c);
    if (!rc)
        rc = parse_execution(x, root, c);
    if (!rc)
        rc = parse_output(x, root, c);
    return rc;
}

/* ------------------------------------------------------------------ */
/* --set KEY=VALUE                                                      */

static int set_fail(bal_error *err, const char *key, size_t klen,
                    const char *fmt, ...) BAL_PRINTF(4, 5);
static int set_fail(bal_error *err, const char *key, size_t klen,
                    const char *fmt, ...)
{
    char text[TEXT_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return bal_error_set(err, BAL_ECONFIG, "--set %.*s: %s", (int)klen, key,
                         text);
}

/* VALUE as JSON, else as a string. */
static int set_value(const char *v, cJSON **out, bal_error *err)
{
    struct jscan j;

    if (js_check(&j, v, strlen(v)) == 0)
        *out = cJSON_ParseWithOpts(v, NULL, 1);
    else
        *out = cJSON_CreateString(v);
    return *out ? BAL_OK : oom(err);
}

/* Puts item under `name` in obj, replacing `existing` (the first member of
 * that name) if any. On failure the caller still owns item. */
static int set_member(cJSON *obj, cJSON *existing, const char *name,
                      cJSON *item)
{
    if (!existing)
        return cJSON_AddItemToObject(obj, name, item) ? 0 : -1;
    item->string = xstrdup(name);
    if (!item->string)
        return -1;
    item->type &= ~cJSON_StringIsConst;
    return cJSON_ReplaceItemViaPointer(obj, existing, item) ? 0 : -1;
}

/* State of one assignment's walk down the tree. */
struct walk {
    const char *key;
    size_t klen, p;             /* the key and the position in it */
    char *norm;                 /* JSON path reached so far */
    size_t nlen;
    size_t *ncut, *kcut;        /* segment ends in norm and key */
    size_t n_cut;
    size_t created;             /* nlen at the first node written */
    char *name;                 /* the current segment, NUL-terminated */
};

static void walk_cut(struct walk *w)
{
    w->ncut[w->n_cut] = w->nlen;
    w->kcut[w->n_cut] = w->p;
    w->n_cut++;
}

/* Reads the name segment at w->p into w->name and appends it to norm. A
 * member of obj whose name holds dots ("BRK.B") is matched whole. */
static int walk_name(struct walk *w, const cJSON *obj, bal_error *err)
{
    size_t start = w->p, len, best = 0;
    const cJSON *m;

    while (w->p < w->klen && w->key[w->p] != '.' && w->key[w->p] != '[')
        w->p++;
    len = w->p - start;
    for (m = obj ? obj->child : NULL; m; m = m->next) {
        size_t ml = strlen(m->string);

        if (ml > len && ml > best && ml <= w->klen - start &&
            memcmp(w->key + start, m->string, ml) == 0 &&
            at_boundary(start + ml < w->klen ? w->key[start + ml] : '\0'))
            best = ml;
    }
    if (best) {
        len = best;
        w->p = start + best;
    }
    if (!len)
        return set_fail(err, w->key, w->klen, "empty key segment");
    memcpy(w->name, w->key + start, len);
    w->name[len] = '\0';
    w->nlen += (size_t)sprintf(w->norm + w->nlen, "%s%s",
                               w->nlen ? "." : "", w->name);
    walk_cut(w);
    return BAL_OK;
}

/* Picks an array element by "[N]" or by symbol; *out = its index. */
static int walk_element(struct walk *w, const cJSON *arr, size_t *out,
                        bal_error *err)
{
    size_t n = (size_t)cJSON_GetArraySize(arr), idx = 0, i, best_len = 0;
    size_t prefix = w->p && w->key[w->p - 1] == '.' ? w->p - 1 : w->p;
    const cJSON *e;

    if (w->key[w->p] == '[') {
        size_t q = w->p + 1;

        while (q < w->klen && is_digit((unsigned char)w->key[q]) &&
               q - w->p < 10)
            idx = idx * 10 + (size_t)(w->key[q++] - '0');
        if (q == w->p + 1 || q >= w->klen || w->key[q] != ']')
            return set_fail(err, w->key, w->klen, "bad array index after "
                            "'%.*s'", (int)w->p, w->key);
        w->p = q + 1;
    } else {
        int found = 0;

        for (e = arr->child, i = 0; e; e = e->next, i++) {
            const cJSON *s = cJSON_IsObject(e)
                ? cJSON_GetObjectItemCaseSensitive(e, "symbol") : NULL;
            size_t len;

            if (!cJSON_IsString(s))
                continue;
            len = strlen(s->valuestring);
            if (len && len <= w->klen - w->p && len > best_len &&
                memcmp(w->key + w->p, s->valuestring, len) == 0 &&
                (w->p + len == w->klen || w->key[w->p + len] == '.' ||
                 w->key[w->p + len] == '[')) {
                best_len = len;
                idx = i;
                found = 1;
            }
        }
        if (!found) {
            size_t end = w->p;

            while (end < w->klen && w->key[end] != '.' &&
                   w->key[end] != '[')
                end++;
            return set_fail(err, w->key, w->klen, "no element of '%.*s' "
                            "has symbol '%.*s'", (int)prefix, w->key,
                            (int)(end - w->p), w->key + w->p);
        }
        w->p += best_len;
    }
    if (idx >= n)
        return set_fail(err, w->key, w->klen, "index %zu is out of range "
                        "('%.*s' has %zu elements)", idx, (int)prefix,
                        w->key, n);
    w->nlen += (size_t)sprintf(w->norm + w->nlen, "[%zu]", idx);
    walk_cut(w);
    *out = idx;
    return BAL_OK;
}

/* The rest of the key after a missing or null member: a chain of new
 * objects ending in value. On success value belongs to *out. */
static int walk_chain(struct walk *w, cJSON *value, cJSON **out,
                      bal_error *err)
{
    cJSON *top = NULL, *node = NULL;
    size_t start = w->p;
    int rc = BAL_OK;

    *out = NULL;
    /* check the syntax first so that failing leaves nothing behind */
    for (; w->p <= w->klen; w->p++) {
        if (w->p < w->klen && w->key[w->p] == '[')
            return set_fail(err, w->key, w->klen, "'%.*s' is not an array",
                            (int)w->p, w->key);
        if ((w->p == w->klen || w->key[w->p] == '.') &&
            (w->p == start || w->key[w->p - 1] == '.'))
            return set_fail(err, w->key, w->klen, "empty key segment");
    }
    w->p = start;
    top = cJSON_CreateObject();
    node = top;
    while (node) {
        cJSON *sub;

        walk_name(w, NULL, err);
        if (w->p == w->klen) {
            if (!cJSON_AddItemToObject(node, w->name, value))
                break;
            *out = top;
            return BAL_OK;
        }
        w->p++;                                 /* the '.' */
        sub = cJSON_CreateObject();
        if (sub && !cJSON_AddItemToObject(node, w->name, sub)) {
            cJSON_Delete(sub);
            sub = NULL;
        }
        node = sub;
    }
    rc = oom(err);
    cJSON_Delete(top);
    return rc;
}

/* Walks the key down from root and puts value there. Takes ownership of
 * value in every case. */
static int walk_set(struct walk *w, cJSON *root, cJSON *value,
                    bal_error *err)
{
    cJSON *cur = root, *child, *chain = NULL;
    size_t idx = 0;
    int rc = BAL_OK;

    for (;;) {
        if (w->p == w->klen) {
            rc = set_fail(err, w->key, w->klen, "empty key segment");
            break;
        }
        if (cJSON_IsArray(cur)) {
            rc = walk_element(w, cur, &idx, err);
            if (rc)
                break;
            child = cJSON_GetArrayItem(cur, (int)idx);
            if (w->p == w->klen) {
                if (!cJSON_ReplaceItemInArray(cur, (int)idx, value))
                    break;                      /* rc = oom below */
                w->created = w->nlen;
                return BAL_OK;
            }
        } else {
            if (w->key[w->p] == '[') {
                rc = set_fail(err, w->key, w->klen, "'%.*s' is not an "
                              "array", (int)w->p, w->key);
                break;
            }
            rc = walk_name(w, cur, err);
            if (rc)
                break;
            child = cJSON_GetObjectItemCaseSensitive(cur, w->name);
            if (w->p == w->klen) {
                if (set_member(cur, child, w->name, value))
                    break;
                w->created = w->nlen;
                return BAL_OK;
            }
            if (!child || cJSON_IsNull(child)) {
                char *name = xstrdup(w->name);

                if (!name)
                    break;
                w->created = w->nlen;
                if (w->key[w->p] == '.')
                    w->p++;
                rc = walk_chain(w, value, &chain, err);
                if (rc == BAL_OK) {
                    value = NULL;               /* inside chain now */
                    if (set_member(cur, child, name, chain)) {
                        cJSON_Delete(chain);
                        rc = oom(err);
                    }
                }
                free(name);
                cJSON_Delete(value);
                return rc;
            }
        }
        if (!cJSON_IsObject(child) && !cJSON_IsArray(child)) {
            rc = set_fail(err, w->key, w->klen, "'%.*s' is not an object",
                          (int)w->p, w->key);
            break;
        }
        if (w->key[w->p] == '.')
            w->p++;
        cur = child;
    }
    if (rc == BAL_OK)
        rc = oom(err);
    cJSON_Delete(value);
    return rc;
}

/* Applies one assignment; with `o`, records where it went. */
static int apply_set_impl(cJSON *root, const char *assignment,
                          struct set_origin *o, bal_error *err)
{
    const char *eq = strchr(assignment, '=');
    struct walk w;
    cJSON *value = NULL;
    int rc;

    memset(&w, 0, sizeof(w));
    if (!eq)
        return set_fail(err, assignment, strlen(assignment),
                        "expected KEY=VALUE");
    w.key = assignment;
    w.klen = (size_t)(eq - assignment);
    if (!w.klen)
        return bal_error_set(err, BAL_ECONFIG, "--set '%s': empty key",
                             assignment);
    if (!cJSON_IsObject(root))
        return set_fail(err, w.key, w.klen, "the config is not an object");
    /* norm: each key byte becomes at most "[<20 digits>]" (22 bytes) */
    w.norm = malloc(w.klen * 22 + 1);
    w.ncut = malloc((w.klen + 1) * sizeof(size_t));
    w.kcut = malloc((w.klen + 1) * sizeof(size_t));
    w.name = malloc(w.klen + 1);
    if (!w.norm || !w.ncut || !w.kcut || !w.name) {
        rc = oom(err);
        goto done;
    }
    w.norm[0] = '\0';
    if (o) {
        o->key = xstrndup(w.key, w.klen);
        if (!o->key) {
            rc = oom(err);
            goto done;
        }
    }
    rc = set_value(eq + 1, &value, err);
    if (rc)
        goto done;
    rc = walk_set(&w, root, value, err);
    value = NULL;                       /* walk_set took it */
    if (rc)
        goto done;
    if (o) {
        o->norm = w.norm;
        o->norm_cut = w.ncut;
        o->key_cut = w.kcut;
        o->n_cut = w.n_cut;
        o->created = w.created;
        w.norm = NULL;
        w.ncut = w.kcut = NULL;
    }
done:
    cJSON_Delete(value);
    free(w.norm);
    free(w.ncut);
    free(w.kcut);
    free(w.name);
    return rc;
}

int bal_config_apply_set(cJSON *root, const char *assignment,
                         bal_error *err)
{
    return apply_set_impl(root, assignment, NULL, err);
}

/* ------------------------------------------------------------------ */
/* Public entry points.                                                 */

static void release_origins(struct set_origin *o, size_t n)
{
    size_t i;

    if (!o)
        return;
    for (i = 0; i < n; i++) {
        free(o[i].key);
        free(o[i].norm);
        free(o[i].norm_cut);
        free(o[i].key_cut);
    }
    free(o);
}

static int parse_impl(bal_config *out, const char *text, size_t len,
                      const char *name, const char *base_dir,
                      const char *const *sets, size_t n_sets,
                      bal_error *err)
{
    struct set_origin *origins = NULL;
    cJSON *root = NULL;
    char got[RENDER_LEN];
    struct ctx x;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!name)
        name = "config";
    if (!base_dir)
        base_dir = "";
    rc = parse_json(&root, text, len, name, err);
    if (rc)
        goto done;
    if (!cJSON_IsObject(root)) {
        rc = bal_error_set_at(err, BAL_ECONFIG, name, 0, 0, "expected a "
                              "JSON object at the top level, got %s",
                              render(root, got));
        goto done;
    }
    if (n_sets) {
        origins = calloc(n_sets, sizeof(*origins));
        if (!origins) {
            rc = oom(err);
            goto done;
        }
    }
    for (i = 0; i < n_sets; i++) {
        rc = apply_set_impl(root, sets[i], &origins[i], err);
        if (rc) {
            if (rc == BAL_ECONFIG && err)
                snprintf(err->path, sizeof(err->path), "%s", name);
            goto done;
        }
    }
    memset(&x, 0, sizeof(x));
    x.err = err;
    x.name = name;
    x.sets = origins;
    x.n_sets = n_sets;
    rc = parse_top(&x, root, out, base_dir);
done:
    release_origins(origins, n_sets);
    cJSON_Delete(root);
    if (rc)
        bal_config_release(out);
    return rc;
}

int bal_config_parse(bal_config *out, const char *text, const char *name,
                     const char *base_dir, const char *const *sets,
                     size_t n_sets, bal_error *err)
{
    return parse_impl(out, text, strlen(text), name, base_dir, sets, n_sets,
                      err);
}

/* The whole file, NUL-terminated (it may hold other NULs: the syntax
 * check reports them). */
static int read_file(const char *path, char **out, size_t *len,
                     bal_error *err)
{
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    FILE *f;
    int rc = BAL_OK;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f)
        return bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                             strerror(errno));
    for (;;) {
        size_t got;

        if (!buf || n + 1 >= cap) {
            char *nb;

            if (buf)
                cap *= 2;
            nb = realloc(buf, cap);
            if (!nb) {
                rc = oom(err);
                break;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = bal_error_set(err, BAL_EIO, "cannot read '%s': %s",
                                   path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return BAL_OK;
}

int bal_config_load(bal_config *out, const char *path,
                    const char *const *sets, size_t n_sets, bal_error *err)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = read_file(path, &text, &len, err);
    if (rc)
        return rc;
    dir = path_dir(path);
    if (!dir)
        rc = oom(err);
    else
        rc = parse_impl(out, text, len, path, dir, sets, n_sets, err);
    free(dir);
    free(text);
    return rc;
}

void bal_config_release(bal_config *c)
{
    size_t i, j;

    if (!c)
        return;
    for (i = 0; c->assets && i < c->n_assets; i++) {
        bal_asset_config *a = &c->assets[i];

        free(a->symbol);
        free(a->file);
        free(a->path);
        free(a->date_format);
        for (j = 0; j < BAL_COLMAP_N; j++)
            free(a->columns.name[j]);
    }
    free(c->assets);
    for (i = 0; c->data.fx && i < c->data.n_fx; i++) {
        free(c->data.fx[i].symbol);
        free(c->data.fx[i].file);
        free(c->data.fx[i].path);
    }
    free(c->data.fx);
    free(c->data.dir);
    free(c->data.dir_path);
    free(c->data.benchmark);
    free(c->data.benchmark_path);
    free(c->name);
    free(c->direction.signals);
    free(c->direction.signals_path);
    free(c->sizing.targets);
    memset(c, 0, sizeof(*c));
}

long bal_config_asset_index(const bal_config *c, const char *symbol)
{
    size_t i;

    for (i = 0; i < c->n_assets; i++)
        if (c->assets[i].symbol && strcmp(c->assets[i].symbol, symbol) == 0)
            return (long)i;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Normalised JSON.                                                     */

static cJSON *j_num(double v)
{
    char b[BAL_NUMFMT_LEN];

    if (isnan(v))
        return cJSON_CreateNull();
    return cJSON_CreateRaw(bal_numfmt(b, v, "null"));
}

/* Counts print as plain integers ("60"; bal_numfmt would give "6e+01"). */
static cJSON *j_size(size_t v)
{
    char b[BAL_NUMFMT_LEN];

    snprintf(b, sizeof(b), "%zu", v);
    return cJSON_CreateRaw(b);
}

static cJSON *j_str(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *j_bool(int b)
{
    return cJSON_CreateBool(b ? 1 : 0);
}

static cJSON *j_time(int has, int64_t t, int date_only)
{
    char b[BAL_NUMFMT_LEN];

    return has ? cJSON_CreateString(bal_timefmt(b, t, date_only))
               : cJSON_CreateNull();
}

/* Adds v under key; after the first failure (*ok = 0) only frees v.
 * Returns v while it is usable, else NULL. */
static cJSON *put(cJSON *obj, const char *key, cJSON *v, int *ok)
{
    if (*ok && v && (cJSON_IsArray(obj) ? cJSON_AddItemToArray(obj, v)
                                        : cJSON_AddItemToObject(obj, key,
                                                                v)))
        return v;
    cJSON_Delete(v);
    *ok = 0;
    return NULL;
}

static void put_class_map(cJSON *obj, const char *key,
                          const double m[BAL_N_CLASSES], int *ok)
{
    cJSON *o = put(obj, key, cJSON_CreateObject(), ok);
    size_t i;

    for (i = 0; o && i < BAL_N_CLASSES; i++)
        if (!isnan(m[i]))
            put(o, class_names[i], j_num(m[i]), ok);
}

static void put_asset(cJSON *arr, const bal_asset_config *a, int *ok)
{
    cJSON *o = put(arr, NULL, cJSON_CreateObject(), ok), *cm;
    char tz[32];
    size_t i;

    if (!o)
        return;
    put(o, "symbol", j_str(a->symbol), ok);
    put(o, "file", j_str(a->file), ok);
    put(o, "class", j_str(class_names[a->asset_class]), ok);
    put(o, "quote", j_str(a->quote), ok);
    if (a->tz == BAL_TZ_FIXED) {
        long m = a->tz_offset < 0 ? -a->tz_offset : a->tz_offset;

        snprintf(tz, sizeof(tz), "%c%02ld:%02ld",
                 a->tz_offset < 0 ? '-' : '+', m / 3600, m / 60 % 60);
        put(o, "tz_offset", j_str(tz), ok);
    } else {
        put(o, "tz_offset", j_str(a->tz == BAL_TZ_FX_SERVER ? "fx_server"
                                                             : NULL), ok);
    }
    put(o, "date_format", j_str(a->date_format), ok);
    if (!a->columns.set) {
        put(o, "columns", cJSON_CreateNull(), ok);
    } else {
        cm = put(o, "columns", cJSON_CreateObject(), ok);
        for (i = 0; cm && i < BAL_COLMAP_N; i++) {
            if (a->columns.name[i])
                put(cm, colmap_names[i], j_str(a->columns.name[i]), ok);
            else if (a->columns.index[i] >= 0)
                put(cm, colmap_names[i],
                    j_size((size_t)a->columns.index[i]), ok);
        }
    }
    put(o, "price_field", j_str(price_names[a->price_field]), ok);
    put(o, "bars_per_year", j_num(a->bars_per_year), ok);
    put(o, "lot_size", j_num(a->lot_size), ok);
    put(o, "cost_bps", j_num(a->cost_bps), ok);
    put(o, "duplicates", j_str(dup_names[a->duplicates]), ok);
    put(o, "bad_bars", j_str(bad_bars_names[a->bad_bars]), ok);
    put(o, "spike_k", j_num(a->spike_k), ok);
    put(o, "spike_repair", j_bool(a->spike_repair), ok);
}

static void put_data(cJSON *root, const bal_config *c, int *ok)
{
    cJSON *d = put(root, "data", cJSON_CreateObject(), ok), *arr, *o;
    size_t i;

    if (!d)
        return;
    put(d, "dir", j_str(c->data.dir), ok);
    arr = put(d, "assets", cJSON_CreateArray(), ok);
    for (i = 0; arr && i < c->n_assets; i++)
        put_asset(arr, &c->assets[i], ok);
    put(d, "calendar", j_str(calendar_names[c->data.calendar]), ok);
    put(d, "start", j_time(c->data.has_start, c->data.start,
                           c->data.start_date_only), ok);
    put(d, "end", j_time(c->data.has_end, c->data.end,
                         c->data.end_date_only), ok);
    put(d, "late_assets", j_str(late_names[c->data.late_assets]), ok);
    put(d, "duplicates", j_str(dup_names[c->data.duplicates]), ok);
    put(d, "bad_bars", j_str(bad_bars_names[c->data.bad_bars]), ok);
    put(d, "spike_k", j_num(c->data.spike_k), ok);
    put(d, "spike_repair", j_bool(c->data.spike_repair), ok);
    arr = put(d, "fx", cJSON_CreateArray(), ok);
    for (i = 0; arr && i < c->data.n_fx; i++) {
        o = put(arr, NULL, cJSON_CreateObject(), ok);
        if (!o)
            break;
        put(o, "symbol", j_str(c->data.fx[i].symbol), ok);
        put(o, "file", j_str(c->data.fx[i].file), ok);
    }
    put(d, "benchmark", j_str(c->data.benchmark), ok);
}

static void put_engine(cJSON *root, const bal_config *c, int *ok)
{
    cJSON *e = put(root, "engine", cJSON_CreateObject(), ok);

    if (!e)
        return;
    put(e, "atr_window", j_size(c->engine.atr_window), ok);
    put(e, "vol_window", j_size(c->engine.vol_window), ok);
    put(e, "corr_window", j_size(c->engine.corr_window), ok);
    put(e, "returns", j_str(returns_names[c->engine.returns]), ok);
    put(e, "corr", j_str(estimator_names[c->engine.corr]), ok);
    put(e, "vol", j_str(estimator_names[c->engine.vol]), ok);
    put(e, "ewma_lambda", j_num(c->engine.ewma_lambda), ok);
    put(e, "shrinkage", c->engine.shrinkage_ledoit_wolf
        ? j_str("ledoit_wolf") : j_num(c->engine.shrinkage), ok);
    put(e, "shrinkage_target",
        j_str(shrink_target_names[c->engine.shrinkage_target]), ok);
    put(e, "psd_floor", j_num(c->engine.psd_floor), ok);
    put(e, "stress_quantile", j_num(c->engine.stress_quantile), ok);
    put(e, "stress_blend", j_num(c->engine.stress_blend), ok);
}

static void put_regime_direction(cJSON *root, const bal_config *c, int *ok)
{
    cJSON *r = put(root, "regime", cJSON_CreateObject(), ok), *d;

    if (r) {
        put(r, "short_window", j_size(c->regime.short_window), ok);
        put(r, "long_window", j_size(c->regime.long_window), ok);
        put(r, "shock_ratio", j_num(c->regime.shock_ratio), ok);
        put(r, "shock_atr", j_num(c->regime.shock_atr), ok);
        put(r, "er_window", j_size(c->regime.er_window), ok);
        put(r, "er_threshold", j_num(c->regime.er_threshold), ok);
        put(r, "corr_spike", j_num(c->regime.corr_spike), ok);
        put(r, "shock_share", j_num(c->regime.shock_share), ok);
    }
    d = put(root, "direction", cJSON_CreateObject(), ok);
    if (!d)
        return;
    put(d, "mode", j_str(direction_names[c->direction.mode]), ok);
    put(d, "lookback", j_size(c->direction.lookback), ok);
    put(d, "fast", c->direction.fast ? j_size(c->direction.fast)
                                     : cJSON_CreateNull(), ok);
    put(d, "slow", c->direction.slow ? j_size(c->direction.slow)
                                     : cJSON_CreateNull(), ok);
    put(d, "signals", j_str(c->direction.signals), ok);
}

static void put_sizing(cJSON *root, const bal_config *c, int *ok)
{
    const bal_drawdown_config *dd = &c->sizing.drawdown;
    cJSON *s = put(root, "sizing", cJSON_CreateObject(), ok), *o;
    size_t i;

    if (!s)
        return;
    put(s, "method", j_str(method_names[c->sizing.method]), ok);
    if (!c->sizing.targets) {
        put(s, "targets", cJSON_CreateNull(), ok);
    } else {
        o = put(s, "targets", cJSON_CreateObject(), ok);
        for (i = 0; o && i < c->n_assets; i++)
            if (!isnan(c->sizing.targets[i]))
                put(o, c->assets[i].symbol, j_num(c->sizing.targets[i]),
                    ok);
    }
    put(s, "linkage", j_str(linkage_names[c->sizing.linkage]), ok);
    put(s, "hrp_distance", j_str(hrp_distance_names[c->sizing.hrp_distance]),
        ok);
    put(s, "max_weight", j_num(c->sizing.max_weight), ok);
    put_class_map(s, "class_caps", c->sizing.class_caps, ok);
    put(s, "cluster_risk_cap", j_num(c->sizing.cluster_risk_cap), ok);
    put(s, "target_vol", j_num(c->sizing.target_vol), ok);
    put(s, "max_gross", j_num(c->sizing.max_gross), ok);
    o = put(s, "regime_scale", cJSON_CreateObject(), ok);
    if (o) {
        put(o, "trending", j_num(c->sizing.regime_scale.trending), ok);
        put(o, "ranging", j_num(c->sizing.regime_scale.ranging), ok);
        put(o, "shock", j_num(c->sizing.regime_scale.shock), ok);
    }
    if (!dd->enabled) {
        put(s, "drawdown", cJSON_CreateNull(), ok);
        return;
    }
    o = put(s, "drawdown", cJSON_CreateObject(), ok);
    if (!o)
        return;
    put(o, "start", j_num(dd->start), ok);
    put(o, "max", j_num(dd->max), ok);
    put(o, "floor", j_num(dd->floor), ok);
    put(o, "recovery_rate", j_num(dd->recovery_rate), ok);
    put(o, "halt", j_num(dd->halt), ok);
    put(o, "resume", j_num(dd->resume), ok);
}

static void put_rest(cJSON *root, const bal_config *c, int *ok)
{
    cJSON *r = put(root, "rebalance", cJSON_CreateObject(), ok), *e, *o;

    if (r) {
        put(r, "schedule", c->rebalance.schedule == BAL_CFG_SCHED_STEPS
            ? j_size(c->rebalance.schedule_steps)
            : j_str(schedule_names[c->rebalance.schedule]), ok);
        put(r, "drift", j_num(c->rebalance.drift), ok);
        put(r, "drift_rel", j_num(c->rebalance.drift_rel), ok);
        put(r, "vol_shift", j_num(c->rebalance.vol_shift), ok);
        put(r, "corr_shift", j_num(c->rebalance.corr_shift), ok);
        put(r, "target_shift", j_num(c->rebalance.target_shift), ok);
        put(r, "target_check", j_size(c->rebalance.target_check),
            ok);
        put(r, "regime_change", j_bool(c->rebalance.regime_change), ok);
        put(r, "drawdown_step", j_num(c->rebalance.drawdown_step), ok);
        put(r, "cooldown", j_size(c->rebalance.cooldown), ok);
        put(r, "min_trade", j_num(c->rebalance.min_trade), ok);
    }
    e = put(root, "execution", cJSON_CreateObject(), ok);
    if (e) {
        put(e, "fill", j_str(fill_names[c->execution.fill]), ok);
        put(e, "cost_bps", j_num(c->execution.cost_bps), ok);
        put_class_map(e, "class_cost_bps", c->execution.class_cost_bps, ok);
        put(e, "spread_bps", j_num(c->execution.spread_bps), ok);
        put(e, "fixed_fee", j_num(c->execution.fixed_fee), ok);
        put(e, "slippage_atr", j_num(c->execution.slippage_atr), ok);
        put(e, "cash_rate", j_num(c->execution.cash_rate), ok);
        put(e, "borrow_rate", j_num(c->execution.borrow_rate), ok);
    }
    o = put(root, "output", cJSON_CreateObject(), ok);
    if (o) {
        put(o, "curves", j_str(curves_names[c->output.curves]), ok);
        put(o, "series", j_bool(c->output.series), ok);
        put(o, "html", j_bool(c->output.html), ok);
    }
}

cJSON *bal_config_to_json(const bal_config *c)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;

    if (!ok)
        return NULL;
    put(root, "name", j_str(c->name), &ok);
    put_data(root, c, &ok);
    put(root, "capital", j_num(c->capital), &ok);
    put(root, "account_currency", j_str(c->account_currency), &ok);
    put(root, "periods_per_year", c->periods_per_year > 0
        ? j_num(c->periods_per_year) : j_str("auto"), &ok);
    put(root, "risk_free", j_num(c->risk_free), &ok);
    put(root, "mar", j_num(c->mar), &ok);
    put_engine(root, c, &ok);
    put_regime_direction(root, c, &ok);
    put_sizing(root, c, &ok);
    put_rest(root, c, &ok);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
