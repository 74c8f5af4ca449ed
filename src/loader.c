#include "ballast/loader.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ballast/numfmt.h"

/* ------------------------------------------------------------------ */
/* Small text helpers                                                  */
/* ------------------------------------------------------------------ */

#define SHOW_MAX 40             /* bytes of a cell quoted in a message */
#define SHOW_LEN (SHOW_MAX + 4)

/* Copies a cell for an error message: at most SHOW_MAX bytes, anything
 * outside printable ASCII as '?', "..." when cut. */
static const char *show(char buf[SHOW_LEN], const char *s, size_t len)
{
    size_t i, k = 0;
    size_t lim = len < SHOW_MAX ? len : SHOW_MAX;

    for (i = 0; i < lim; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > lim) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = '\0';
    return buf;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Case-insensitive: do the len bytes at s equal the NUL-terminated w? */
static int same_word(const char *s, size_t len, const char *w)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (w[i] == '\0' || lower((unsigned char)s[i]) != w[i])
            return 0;
    return w[len] == '\0';
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_blank((unsigned char)(*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Strict UTF-8 (no overlongs, surrogates or code points > U+10FFFF) and no
 * NUL byte. */
static int utf8_text(const unsigned char *s, size_t n)
{
    size_t i = 0, j, k;
    unsigned long cp, min;

    while (i < n) {
        unsigned c = s[i];

        if (c < 0x80) {
            if (c == 0)
                return 0;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Physical lines end at LF, CRLF or a lone CR. Returns the start of the
 * line after the one at pos; *end is where its content ends. */
static size_t next_line(const char *buf, size_t len, size_t pos, size_t *end)
{
    size_t i = pos;

    while (i < len && buf[i] != '\n' && buf[i] != '\r')
        i++;
    *end = i;
    if (i < len && buf[i] == '\r')
        i++;
    if (i < len && buf[i] == '\n' && (i == *end || buf[i - 1] == '\r'))
        i++;
    return i;
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */
/* ------------------------------------------------------------------ */

enum { NUM_OK = 0, NUM_MISSING = 1, NUM_BAD = -1, NUM_NOMEM = -2 };
#define NUM_SHORT 128           /* longer number text goes to the heap */

/* Does the grouped integer part s[0..n) read d{1,3}(g ddd)*? */
static int grouped(const char *s, size_t n, char g)
{
    size_t i = 0, run = 0, first = 1;

    for (i = 0; i < n; i++) {
        if (s[i] == g) {
            if ((first && (run < 1 || run > 3)) || (!first && run != 3))
                return 0;
            first = 0;
            run = 0;
        } else if (is_digit((unsigned char)s[i])) {
            run++;
        } else {
            return 0;
        }
    }
    return first ? 1 : run == 3;
}

/* [+-](d+[.d*]|.d+)([eE][+-]d+)? and nothing else. */
static int decimal_syntax(const char *s)
{
    size_t before = 0, after = 0;

    if (*s == '+' || *s == '-')
        s++;
    while (is_digit((unsigned char)*s)) {
        s++;
        before++;
    }
    if (*s == '.') {
        s++;
        while (is_digit((unsigned char)*s)) {
            s++;
            after++;
        }
    }
    if (before + after == 0)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!is_digit((unsigned char)*s))
            return 0;
        while (is_digit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

/* Parses one numeric cell (see loader.h for the accepted forms) into buf,
 * which has room for len + 3 bytes. */
static int parse_number_in(char *buf, const char *s, size_t len,
                           int decimal_comma, const char *exp10,
                           double *out)
{
    size_t i, k = 0, ndot = 0, ncomma = 0, lastdot = 0, lastcomma = 0;
    size_t int_end, sign;
    char dec = 0, grp = 0;
    char *end;
    double v;

    for (i = 0; i < len; i++) {
        if (s[i] == '.') {
            ndot++;
            lastdot = i;
        } else if (s[i] == ',') {
            ncomma++;
            lastcomma = i;
        }
    }
    if (ndot && ncomma) {
        dec = lastdot > lastcomma ? '.' : ',';
        grp = lastdot > lastcomma ? ',' : '.';
        if ((dec == '.' && ndot != 1) || (dec == ',' && ncomma != 1))
            return NUM_BAD;
    } else if (ncomma) {
        if (decimal_comma && ncomma == 1)
            dec = ',';
        else
            grp = ',';
    } else if (ndot > 1) {
        if (!decimal_comma)
            return NUM_BAD;
        grp = '.';
    } else if (ndot == 1) {
        dec = '.';
    }
    if (grp) {
        sign = (s[0] == '+' || s[0] == '-') ? 1 : 0;
        int_end = sign;
        while (int_end < len && s[int_end] != dec && s[int_end] != 'e'
               && s[int_end] != 'E')
            int_end++;
        if (!grouped(s + sign, int_end - sign, grp))
            return NUM_BAD;
        for (i = int_end; i < len; i++)
            if (s[i] == grp)
                return NUM_BAD;
    }
    for (i = 0; i < len; i++) {
        if (grp && s[i] == grp)
            continue;
        buf[k++] = (dec && s[i] == dec) ? '.' : s[i];
    }
    buf[k] = '\0';
    if (exp10) {
        if (strchr(buf, 'e') || strchr(buf, 'E'))
            return NUM_BAD;
        memcpy(buf + k, exp10, 3);
        k += 2;
    }
    if (!decimal_syntax(buf))
        return NUM_BAD;
    v = strtod(buf, &end);
    if (end != buf + k || !isfinite(v))
        return NUM_BAD;
    *out = v;
    return NUM_OK;
}

static int parse_number(const char *s, size_t len, int decimal_comma,
                        int suffix, double *out)
{
    char small[NUM_SHORT + 4], *buf = small;
    const char *exp10 = NULL;
    int rc;

    *out = NAN;
    trim(&s, &len);
    if (len == 0 || same_word(s, len, "null") || same_word(s, len, "nan"))
        return NUM_MISSING;
    if (suffix) {
        int c = lower((unsigned char)s[len - 1]);

        exp10 = c == 'k' ? "e3" : c == 'm' ? "e6" : c == 'b' ? "e9" : NULL;
        if (exp10)
            len--;
    }
    if (len == 0)
        return NUM_BAD;
    if (len > NUM_SHORT) {
        if (len > SIZE_MAX - 4)
            return NUM_BAD;
        buf = malloc(len + 4);
        if (!buf)
            return NUM_NOMEM;
    }
    rc = parse_number_in(buf, s, len, decimal_comma, exp10, out);
    if (buf != small)
        free(buf);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Times                                                               */
/* ------------------------------------------------------------------ */

/* Fields of a date-time as read from a cell. */
struct dt {
    int y;
    unsigned mo, d, h, mi, s, h12;
    int has_date, has_time, has_h12, ampm;  /* ampm: -1 none, 0 AM, 1 PM */
    int has_zone;
    long zone;                  /* seconds east of UTC */
};

/* A format is a pattern in a small language:
 *   Y 4 digits (year)   M D h m s I 2 digits (month, day, hour 0-23,
 *   minute, second, hour 1-12)   f [.,] then 1+ digits (dropped)
 *   F 1+ digits (dropped)   p AM or PM   z Z | ±hh[[:]mm]
 *   T 'T', 't' or ' '   [...] optional, greedy   \c the character c
 *   anything else: itself. */
struct time_format {
    const char *name;
    const char *pattern;        /* NULL: unix number */
};

/* Date column formats, tried in this order. Add new ones here. */
static const struct time_format date_formats[] = {
    { "YYYY-MM-DD", "Y-M-D[Th:m[:s[f]][z]]" },
    { "YYYY-MM-DD HH-AM", "Y-M-D I-p" },
    { "YYYY.MM.DD", "Y.M.D[ h:m[:s[f]]]" },
    { "DD.MM.YYYY", "D.M.Y[ h:m[:s[f]]]" },
    { "YYYYMMDD", "YMD[ hms]" },
    { "unix", NULL },
};
#define N_DATE_FORMATS (sizeof(date_formats) / sizeof(date_formats[0]))

/* Time-of-day column formats. */
static const struct time_format tod_formats[] = {
    { "HH:MM", "h:m[:s[f]]" },
    { "HHMMSS", "hms" },
};
#define N_TOD_FORMATS (sizeof(tod_formats) / sizeof(tod_formats[0]))

#define PATTERN_MAX 128

static int take_digits(const char *s, size_t n, size_t *pos, size_t k,
                       unsigned *v)
{
    size_t i;
    unsigned x = 0;

    if (n - *pos < k)
        return 0;
    for (i = 0; i < k; i++) {
        int c = (unsigned char)s[*pos + i];

        if (!is_digit(c))
            return 0;
        x = x * 10 + (unsigned)(c - '0');
    }
    *pos += k;
    *v = x;
    return 1;
}

static int take_run(const char *s, size_t n, size_t *pos)
{
    size_t p = *pos;

    while (p < n && is_digit((unsigned char)s[p]))
        p++;
    if (p == *pos)
        return 0;
    *pos = p;
    return 1;
}

static int take_zone(const char *s, size_t n, size_t *pos, struct dt *dt)
{
    unsigned hh, mm = 0;
    int sign;

    if (*pos < n && (s[*pos] == 'Z' || s[*pos] == 'z')) {
        (*pos)++;
        dt->has_zone = 1;
        dt->zone = 0;
        return 1;
    }
    if (*pos >= n || (s[*pos] != '+' && s[*pos] != '-'))
        return 0;
    sign = s[*pos] == '-' ? -1 : 1;
    (*pos)++;
    if (!take_digits(s, n, pos, 2, &hh))
        return 0;
    if (*pos < n && s[*pos] == ':') {
        (*pos)++;
        if (!take_digits(s, n, pos, 2, &mm))
            return 0;
    } else if (*pos < n && is_digit((unsigned char)s[*pos])) {
        if (!take_digits(s, n, pos, 2, &mm))
            return 0;
    }
    if (hh > 23 || mm > 59)
        return 0;
    dt->has_zone = 1;
    dt->zone = sign * (long)(hh * 3600 + mm * 60);
    return 1;
}

/* Matches the pattern [pat, pend) against s from *pos; greedy optional
 * groups. Returns 1 on a match of the whole pattern. */
static int match(const char *pat, const char *pend, const char *s, size_t n,
                 size_t *pos, struct dt *dt)
{
    while (pat < pend) {
        char c = *pat++;
        unsigned v;

        switch (c) {
        case '[': {
            const char *q = pat;
            int depth = 1;
            size_t save = *pos;
            struct dt keep = *dt;

            while (q < pend && depth > 0) {
                if (*q == '\\' && q + 1 < pend)
                    q++;
                else if (*q == '[')
                    depth++;
                else if (*q == ']')
                    depth--;
                q++;
            }
            if (!match(pat, q - 1, s, n, pos, dt)) {
                *pos = save;
                *dt = keep;
            }
            pat = q;
            break;
        }
        case 'Y':
            if (!take_digits(s, n, pos, 4, &v))
                return 0;
            dt->y = (int)v;
            dt->has_date = 1;
            break;
        case 'M':
            if (!take_digits(s, n, pos, 2, &dt->mo))
                return 0;
            break;
        case 'D':
            if (!take_digits(s, n, pos, 2, &dt->d))
                return 0;
            break;
        case 'h':
            if (!take_digits(s, n, pos, 2, &dt->h))
                return 0;
            dt->has_time = 1;
            break;
        case 'I':
            if (!take_digits(s, n, pos, 2, &dt->h12))
                return 0;
            dt->has_time = 1;
            dt->has_h12 = 1;
            break;
        case 'm':
            if (!take_digits(s, n, pos, 2, &dt->mi))
                return 0;
            break;
        case 's':
            if (!take_digits(s, n, pos, 2, &dt->s))
                return 0;
            break;
        case 'f':
            if (*pos >= n || (s[*pos] != '.' && s[*pos] != ','))
                return 0;
            (*pos)++;
            if (!take_run(s, n, pos))
                return 0;
            break;
        case 'F':
            if (!take_run(s, n, pos))
                return 0;
            break;
        case 'p':
            if (n - *pos < 2 || lower((unsigned char)s[*pos + 1]) != 'm')
                return 0;
            v = (unsigned)lower((unsigned char)s[*pos]);
            if (v != 'a' && v != 'p')
                return 0;
            dt->ampm = v == 'p';
            *pos += 2;
            break;
        case 'z':
            if (!take_zone(s, n, pos, dt))
                return 0;
            break;
        case 'T':
            if (*pos >= n || (s[*pos] != 'T' && s[*pos] != 't'
                              && s[*pos] != ' '))
                return 0;
            (*pos)++;
            break;
        case '\\':
            if (pat < pend)
                c = *pat++;
            /* fall through */
        default:
            if (*pos >= n || s[*pos] != c)
                return 0;
            (*pos)++;
            break;
        }
    }
    return 1;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int y, unsigned m)
{
    static const unsigned dim[12] = { 31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31 };

    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

/* Reads s with one pattern; date says whether a date is required (else
 * the pattern is a time of day). Validates the ranges. */
static int parse_pattern(const char *pat, const char *s, size_t n, int date,
                         struct dt *dt)
{
    size_t pos = 0;

    memset(dt, 0, sizeof(*dt));
    dt->ampm = -1;
    if (!match(pat, pat + strlen(pat), s, n, &pos, dt) || pos != n)
        return 0;
    if (date && (!dt->has_date || dt->mo < 1 || dt->mo > 12 || dt->d < 1
                 || dt->d > days_in_month(dt->y, dt->mo)))
        return 0;
    if (!date && !dt->has_time)
        return 0;
    if (dt->has_h12) {
        if (dt->ampm < 0 || dt->h12 < 1 || dt->h12 > 12)
            return 0;
        dt->h = dt->h12 % 12 + (dt->ampm ? 12u : 0u);
    } else if (dt->ampm >= 0) {
        return 0;
    }
    return dt->h <= 23 && dt->mi <= 59 && dt->s <= 59;
}

/* Unix time by magnitude: |v| < 1e11 s, < 1e14 ms, < 1e17 µs, else ns.
 * min_digits: fewest integer digits accepted. Floor of the fraction. */
static int parse_unix(const char *s, size_t n, size_t min_digits,
                      int64_t *out)
{
    size_t i = 0, nd = 0;
    int neg = 0, frac = 0;
    uint64_t v = 0;
    int64_t div, q, r;

    trim(&s, &n);
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    for (; i < n && is_digit((unsigned char)s[i]); i++, nd++) {
        if (v > (UINT64_MAX - 9) / 10 || nd >= 19)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (nd == 0 || nd < min_digits)
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        for (; i < n && is_digit((unsigned char)s[i]); i++)
            if (s[i] != '0')
                frac = 1;
    }
    if (i != n || v > (uint64_t)INT64_MAX)
        return 0;
    div = v < UINT64_C(100000000000) ? 1
        : v < UINT64_C(100000000000000) ? 1000
        : v < UINT64_C(100000000000000000) ? 1000000 : 1000000000;
    q = (int64_t)v / div;
    r = (int64_t)v % div;
    if (neg) {
        q = -q;
        if (r != 0 || frac)
            q--;
    }
    *out = q;
    return 1;
}

/* Days since the epoch of the nth Sunday of a month (nth 0 = the last). */
static int64_t nth_sunday(int y, unsigned m, int nth)
{
    int64_t first = bal_days_from_civil(y, m, 1);
    int64_t wd = ((first % 7) + 7 + 4) % 7;     /* 0 = Sunday */
    int64_t sun = first + (7 - wd) % 7;

    if (nth > 0)
        return sun + 7 * (nth - 1);
    /* last Sunday: the first Sunday of the next month minus a week */
    return nth_sunday(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - 7;
}

/* Is US Eastern daylight saving time in effect at this UTC instant? */
static int us_dst(int64_t utc)
{
    int64_t days = utc >= 0 ? utc / 86400 : -((-utc + 86399) / 86400);
    int64_t start, end;
    int y;
    unsigned m, d;

    bal_civil_from_days(days, &y, &m, &d);
    if (y >= 2007) {
        start = nth_sunday(y, 3, 2);
        end = nth_sunday(y, 11, 1);
    } else {
        start = nth_sunday(y, 4, 1);
        end = nth_sunday(y, 10, 0);
    }
    /* 2:00 EST = 07:00 UTC; 2:00 EDT = 06:00 UTC */
    return utc >= start * 86400 + 7 * 3600 && utc < end * 86400 + 6 * 3600;
}

/* UTC seconds of a parsed cell under the zone rules of SPEC §2. */
static int64_t to_utc(const struct dt *dt, const bal_load_options *opt)
{
    int64_t t = bal_days_from_civil(dt->y, dt->mo, dt->d) * 86400
              + (int64_t)dt->h * 3600 + (int64_t)dt->mi * 60 + dt->s;

    if (dt->has_zone)
        return t - dt->zone;
    if (!dt->has_time)
        return t;
    if (opt->tz_fx_server) {
        int64_t u = t - 3 * 3600;

        return us_dst(u) ? u : t - 2 * 3600;
    }
    return t - opt->tz_offset_seconds;
}

/* Translates a strptime-style date_format into a pattern. */
static int compile_user_format(char *pat, size_t cap, const char *fmt,
                               bal_error *err)
{
    size_t k = 0;
    const char *p;

    for (p = fmt; *p; p++) {
        const char *add;
        char lit[3];

        if (*p == '%') {
            p++;
            switch (*p) {
            case 'Y': add = "Y"; break;
            case 'm': add = "M"; break;
            case 'd': add = "D"; break;
            case 'H': add = "h"; break;
            case 'I': add = "I"; break;
            case 'M': add = "m"; break;
            case 'S': add = "s[f]"; break;
            case 'p': add = "p"; break;
            case 'z': add = "z"; break;
            case 'f': add = "F"; break;
            case '%': add = "%"; break;
            default:
                return bal_error_set(err, BAL_EINVAL,
                                     "unsupported directive '%%%c' in "
                                     "date_format '%s'",
                                     *p ? *p : ' ', fmt);
            }
        } else {
            lit[0] = '\\';
            lit[1] = *p;
            lit[2] = '\0';
            add = lit;
        }
        if (k + strlen(add) >= cap)
            return bal_error_set(err, BAL_EINVAL, "date_format '%s' is "
                                 "too long", fmt);
        memcpy(pat + k, add, strlen(add));
        k += strlen(add);
    }
    pat[k] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ */
/* Stage 1: detection -> layout                                        */
/* ------------------------------------------------------------------ */

#define SCAN_LINES 16           /* non-blank lines searched for a header */
#define ROLE_TIME_ANY BAL_COL_COUNT     /* "time": date or time of day */

static const struct {
    const char *name;
    int role;
} col_names[] = {
    { "unix", BAL_COL_UNIX },
    { "date", BAL_COL_DATE },
    { "datetime", BAL_COL_DATE },
    { "timestamp", BAL_COL_DATE },
    { "gmt time", BAL_COL_DATE },
    { "open time", BAL_COL_DATE },
    { "time", ROLE_TIME_ANY },
    { "open", BAL_COL_OPEN },
    { "high", BAL_COL_HIGH },
    { "low", BAL_COL_LOW },
    { "close", BAL_COL_CLOSE },
    { "price", BAL_COL_CLOSE },
    { "adj close", BAL_COL_ADJ_CLOSE },
    { "volume", BAL_COL_VOLUME },
    { "vol", BAL_COL_VOLUME },
    { "vol.", BAL_COL_VOLUME },
};
#define N_COL_NAMES (sizeof(col_names) / sizeof(col_names[0]))

/* Role of a header name, -1 if none. "date" is told apart (is_date) so
 * that a "time" column can be a time of day beside it. */
static int role_of_name(const char *s, size_t len, int *is_date)
{
    size_t i;

    *is_date = 0;
    trim(&s, &len);
    if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
        s++;
        len -= 2;
        trim(&s, &len);
    }
    for (i = 0; i < N_COL_NAMES; i++) {
        if (same_word(s, len, col_names[i].name)) {
            *is_date = i == 1;
            return col_names[i].role;
        }
    }
    if (len > 7 && same_word(s, 7, "volume "))
        return BAL_COL_VOLUME;
    return -1;
}

struct layout {
    char delim;
    int decimal_comma;
    size_t header_line;         /* physical line of the header */
    size_t data_off;            /* byte offset of the line after it */
    size_t data_line;           /* that line's number */
    size_t n_fields;            /* fields in the header */
    int col[BAL_COL_COUNT];     /* used columns, -1 = none */
    int ohlc;                   /* open, high and low all present */
    int adj;                    /* close comes from adj close */
    size_t need;                /* fields a row must have */
    char user_pat[PATTERN_MAX]; /* compiled date_format, "" = detect */
};

struct head_ctx {
    size_t n;
    int col[BAL_COL_COUNT];
    int time_any;               /* first "time" column, -1 = none */
    int has_date_name;          /* a column is named exactly "date" */
    int known;                  /* names recognised */
};

static void head_field(void *s, size_t len, void *data)
{
    struct head_ctx *h = data;
    int is_date;
    const char *name = s ? (const char *)s : "";
    int role = role_of_name(name, len, &is_date);

    if (role >= 0 && h->n < INT_MAX) {
        h->known++;
        if (role == ROLE_TIME_ANY) {
            if (h->time_any < 0)
                h->time_any = (int)h->n;
        } else if (h->col[role] < 0) {
            h->col[role] = (int)h->n;
        }
        if (is_date)
            h->has_date_name = 1;
    }
    h->n++;
}

static void head_row(int c, void *data)
{
    (void)c;
    (void)data;
}

/* Splits one header line with libcsv and maps its names. */
static int read_header(struct head_ctx *h, const char *s, size_t n,
                       char delim)
{
    struct csv_parser p;
    size_t i;
    int ok;

    memset(h, 0, sizeof(*h));
    for (i = 0; i < BAL_COL_COUNT; i++)
        h->col[i] = -1;
    h->time_any = -1;
    if (csv_init(&p, CSV_APPEND_NULL) != 0)
        return BAL_ENOMEM;
    csv_set_delim(&p, (unsigned char)delim);
    ok = csv_parse(&p, s, n, head_field, head_row, h) == n;
    if (ok)
        csv_fini(&p, head_field, head_row, h);
    ok = ok && csv_error(&p) != CSV_ENOMEM;
    csv_free(&p);
    if (!ok)
        return BAL_ENOMEM;
    if (h->time_any >= 0) {
        if (h->col[BAL_COL_DATE] >= 0 && h->has_date_name)
            h->col[BAL_COL_TIME] = h->time_any;
        else if (h->col[BAL_COL_DATE] < 0)
            h->col[BAL_COL_DATE] = h->time_any;
    }
    return 0;
}

static int detect(struct layout *lay, const char *name, const char *buf,
                  size_t len, const bal_load_options *opt, bal_error *err)
{
    static const char delims[] = { ',', ';', '\t', '|' };
    size_t pos = 0, line = 1, scanned = 0, end, next, i;
    struct head_ctx best, h;
    int rc, found = 0;
    char bd = ',';

    memset(lay, 0, sizeof(*lay));
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    for (i = pos; i < len; i++)
        if (!is_blank((unsigned char)buf[i]) && buf[i] != '\r'
            && buf[i] != '\n' && buf[i] != '\v' && buf[i] != '\f')
            break;
    if (i == len)
        return bal_error_set_at(err, BAL_EPARSE, name, 0, 0, "empty file");
    while (pos < len && scanned < SCAN_LINES) {
        next = next_line(buf, len, pos, &end);
        for (i = pos; i < end; i++)
            if (!is_blank((unsigned char)buf[i]))
                break;
        if (i == end) {
            pos = next;
            line++;
            continue;
        }
        scanned++;
        if (memchr(buf + pos, '\0', end - pos))
            return bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                    "binary data (NUL byte) where a CSV "
                                    "header was expected");
        if (!utf8_text((const unsigned char *)buf + pos, end - pos))
            return bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                    "invalid UTF-8 where a CSV header was "
                                    "expected");
        memset(&best, 0, sizeof(best));
        for (i = 0; i < sizeof(delims); i++) {
            rc = read_header(&h, buf + pos, end - pos, delims[i]);
            if (rc < 0)
                return bal_error_set(err, rc, "out of memory");
            if (h.known > best.known
                || (h.known == best.known && h.known > 0 && h.n > best.n)) {
                best = h;
                bd = delims[i];
            }
        }
        if (best.known > 0) {
            found = 1;
            break;
        }
        pos = next;
        line++;
    }
    if (!found)
        return bal_error_set_at(err, BAL_EPARSE, name, 0, 0,
                                "no header row in the first %d lines "
                                "(expected column names such as date and "
                                "close)",
                                SCAN_LINES);
    lay->delim = bd;
    lay->decimal_comma = bd == ';';
    lay->header_line = line;
    lay->data_off = next;
    lay->data_line = line + 1;
    lay->n_fields = best.n;
    memcpy(lay->col, best.col, sizeof(lay->col));
    if (opt->use_adj_close) {
        if (lay->col[BAL_COL_ADJ_CLOSE] < 0)
            return bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                    "no 'adj close' column in the header "
                                    "(the price field is adj close)");
        lay->adj = 1;
    } else {
        if (lay->col[BAL_COL_CLOSE] < 0)
            return bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                    "no close or price column in the "
                                    "header%s",
                                    lay->col[BAL_COL_ADJ_CLOSE] >= 0
                                        ? " (adj close is read only when "
                                          "the price field is adj close)"
                                        : "");
        lay->col[BAL_COL_ADJ_CLOSE] = -1;
    }
    if (lay->col[BAL_COL_UNIX] < 0 && lay->col[BAL_COL_DATE] < 0)
        return bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                "no date, time or unix column in the "
                                "header");
    if (lay->col[BAL_COL_UNIX] >= 0)
        lay->col[BAL_COL_TIME] = -1;    /* only unix gives the time */
    lay->ohlc = lay->col[BAL_COL_OPEN] >= 0 && lay->col[BAL_COL_HIGH] >= 0
             && lay->col[BAL_COL_LOW] >= 0;
    if (!lay->ohlc) {
        lay->col[BAL_COL_OPEN] = -1;
        lay->col[BAL_COL_HIGH] = -1;
        lay->col[BAL_COL_LOW] = -1;
    }
    if (lay->adj && !lay->ohlc)
        lay->col[BAL_COL_CLOSE] = -1;
    lay->need = 0;
    for (i = 0; i < BAL_COL_COUNT; i++)
        if (lay->col[i] >= 0 && (size_t)lay->col[i] + 1 > lay->need)
            lay->need = (size_t)lay->col[i] + 1;
    if (opt->date_format) {
        rc = compile_user_format(lay->user_pat, sizeof(lay->user_pat),
                                 opt->date_format, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Stage 2: rows                                                       */
/* ------------------------------------------------------------------ */

/* Numeric columns kept per row. */
enum { V_OPEN, V_HIGH, V_LOW, V_CLOSE, V_VOL, V_ADJ, N_V };

#define TXT_MAX 63              /* longer time cells cannot parse */

struct raw {
    size_t n, cap;
    int64_t *time;
    int use[V_VOL + 1];         /* which of v[] are kept */
    double *v[V_VOL + 1];       /* NULL for columns not used */
    size_t *line;               /* where each row starts */
};

struct rows_ctx {
    const struct layout *lay;
    const bal_load_options *opt;
    const char *name;
    bal_error *err;
    int rc;                     /* first error; 0 while none */
    signed char *role;          /* n_fields entries: role or -1 */
    size_t field;               /* index of the next field in the record */
    size_t pending_line;        /* where the next record starts */
    size_t rec_line;            /* where the current record started */
    int in_record, row_ended;
    int any_text, extra_text;
    double v[N_V];
    int64_t unix_t;
    char date[TXT_MAX + 1], tod[TXT_MAX + 1];
    size_t date_len, tod_len;
    size_t date_fmt, tod_fmt;   /* formats that matched last */
    int check_date;             /* unix + date: -1 undecided, 0 off, 1 on */
    size_t check_fmt;
    const char *first_fmt;
    size_t mismatch;
    struct raw raw;
};

static void raw_free(struct raw *r)
{
    size_t i;

    free(r->time);
    for (i = 0; i <= V_VOL; i++)
        free(r->v[i]);
    free(r->line);
    memset(r, 0, sizeof(*r));
}

static int raw_grow(struct raw *r)
{
    size_t cap = r->cap ? r->cap * 2 : 1024, i;
    void *p;

    if (cap > SIZE_MAX / sizeof(int64_t) / 2)
        return BAL_ENOMEM;
    p = realloc(r->time, cap * sizeof(*r->time));
    if (!p)
        return BAL_ENOMEM;
    r->time = p;
    p = realloc(r->line, cap * sizeof(*r->line));
    if (!p)
        return BAL_ENOMEM;
    r->line = p;
    for (i = 0; i <= V_VOL; i++) {
        if (!r->use[i])
            continue;
        p = realloc(r->v[i], cap * sizeof(double));
        if (!p)
            return BAL_ENOMEM;
        r->v[i] = p;
    }
    r->cap = cap;
    return 0;
}

static int fail_at(struct rows_ctx *c, int code, size_t col,
                   const char *what, const char *s, size_t len)
{
    char buf[SHOW_LEN];

    c->rc = bal_error_set_at(c->err, code, c->name, c->rec_line, col,
                             "cannot parse '%s' as %s", show(buf, s, len),
                             what);
    return c->rc;
}

static void copy_text(char *dst, size_t *dlen, const char *s, size_t len)
{
    size_t k = len < TXT_MAX ? len : TXT_MAX;

    memcpy(dst, s, k);
    dst[k] = '\0';
    *dlen = len;
}

static void on_field(void *data, size_t len, void *vctx)
{
    struct rows_ctx *c = vctx;
    const char *s = data ? data : "";
    size_t f = c->field++;
    int role, st;
    size_t i;
    double x;

    if (c->rc)
        return;
    if (f == 0) {
        c->rec_line = c->pending_line;
        for (i = 0; i < N_V; i++)
            c->v[i] = NAN;
        c->date_len = c->tod_len = 0;
        c->any_text = c->extra_text = 0;
    }
    for (i = 0; i < len; i++)
        if (!is_blank((unsigned char)s[i]))
            break;
    if (i < len)
        c->any_text = 1;
    if (f >= c->lay->n_fields) {
        if (i < len)
            c->extra_text = 1;
        return;
    }
    role = c->role[f];
    switch (role) {
    case BAL_COL_UNIX:
        if (!parse_unix(s, len, 1, &c->unix_t))
            fail_at(c, BAL_EPARSE, f + 1, "a unix time", s, len);
        return;
    case BAL_COL_DATE:
        copy_text(c->date, &c->date_len, s, len);
        return;
    case BAL_COL_TIME:
        copy_text(c->tod, &c->tod_len, s, len);
        return;
    case BAL_COL_OPEN:
    case BAL_COL_HIGH:
    case BAL_COL_LOW:
    case BAL_COL_CLOSE:
    case BAL_COL_ADJ_CLOSE:
    case BAL_COL_VOLUME:
        st = parse_number(s, len, c->lay->decimal_comma,
                          role == BAL_COL_VOLUME, &x);
        if (st == NUM_BAD) {
            fail_at(c, BAL_EPARSE, f + 1, "a number", s, len);
            return;
        }
        if (st == NUM_NOMEM) {
            c->rc = bal_error_set(c->err, BAL_ENOMEM, "out of memory");
            return;
        }
        c->v[role == BAL_COL_OPEN ? V_OPEN
             : role == BAL_COL_HIGH ? V_HIGH
             : role == BAL_COL_LOW ? V_LOW
             : role == BAL_COL_CLOSE ? V_CLOSE
             : role == BAL_COL_VOLUME ? V_VOL : V_ADJ] = x;
        return;
    default:
        return;
    }
}

/* Reads a date cell with the user's format, or the format that matched
 * last, then every other one. Returns the format's name or NULL. */
static const char *read_date(struct rows_ctx *c, const char *s, size_t n,
                             size_t *cache, int64_t *t, int *date_only)
{
    const struct layout *lay = c->lay;
    struct dt dt;
    size_t k, i;

    if (n > TXT_MAX)
        return NULL;
    trim(&s, &n);
    if (lay->user_pat[0]) {
        if (!parse_pattern(lay->user_pat, s, n, 1, &dt))
            return NULL;
        *t = to_utc(&dt, c->opt);
        *date_only = !dt.has_time;
        return "date_format";
    }
    for (k = 0; k < N_DATE_FORMATS; k++) {
        i = k == 0 ? *cache : (k <= *cache ? k - 1 : k);
        if (!date_formats[i].pattern) {
            if (!parse_unix(s, n, 9, t))
                continue;
            *date_only = 0;
        } else {
            if (!parse_pattern(date_formats[i].pattern, s, n, 1, &dt))
                continue;
            *t = to_utc(&dt, c->opt);
            *date_only = !dt.has_time;
        }
        *cache = i;
        return date_formats[i].name;
    }
    return NULL;
}

/* Date column plus time-of-day column, as one UTC time. A date-only
 * date is joined to the time of day before the zone rules apply. */
static const char *read_date_tod(struct rows_ctx *c, int64_t *t,
                                 size_t *bad_col)
{
    const struct layout *lay = c->lay;
    const char *s = c->date, *name;
    size_t n = c->date_len, k, i;
    struct dt dt, tod;
    int date_only;

    *bad_col = (size_t)lay->col[BAL_COL_DATE] + 1;
    if (lay->col[BAL_COL_TIME] < 0)
        return read_date(c, s, n, &c->date_fmt, t, &date_only);
    if (n > TXT_MAX)
        return NULL;
    trim(&s, &n);
    if (lay->user_pat[0]) {
        if (!parse_pattern(lay->user_pat, s, n, 1, &dt))
            return NULL;
        name = "date_format";
    } else {
        name = NULL;
        for (k = 0; k < N_DATE_FORMATS && !name; k++) {
            i = k == 0 ? c->date_fmt : (k <= c->date_fmt ? k - 1 : k);
            if (date_formats[i].pattern
                && parse_pattern(date_formats[i].pattern, s, n, 1, &dt)) {
                c->date_fmt = i;
                name = date_formats[i].name;
            }
        }
        if (!name)
            return NULL;
    }
    *bad_col = (size_t)lay->col[BAL_COL_TIME] + 1;
    s = c->tod;
    n = c->tod_len;
    if (n > TXT_MAX)
        return NULL;
    trim(&s, &n);
    for (k = 0; k < N_TOD_FORMATS; k++) {
        i = k == 0 ? c->tod_fmt : (k <= c->tod_fmt ? k - 1 : k);
        if (parse_pattern(tod_formats[i].pattern, s, n, 0, &tod)) {
            c->tod_fmt = i;
            break;
        }
    }
    if (k == N_TOD_FORMATS)
        return NULL;
    if (dt.has_time || dt.has_zone)
        return NULL;            /* a time in both columns */
    dt.h = tod.h;
    dt.mi = tod.mi;
    dt.s = tod.s;
    dt.has_time = 1;
    *t = to_utc(&dt, c->opt);
    return name;
}

static int push_row(struct rows_ctx *c, int64_t t)
{
    struct raw *r = &c->raw;
    const struct layout *lay = c->lay;
    double *v = c->v;
    size_t i;

    if (r->n == r->cap && raw_grow(r) < 0)
        return bal_error_set(c->err, BAL_ENOMEM, "out of memory");
    if (lay->adj) {
        if (lay->ohlc) {
            double ratio = v[V_ADJ] / v[V_CLOSE];

            if (!isfinite(ratio) || !(v[V_CLOSE] > 0))
                ratio = NAN;    /* cannot adjust: the bar is missing */
            v[V_OPEN] *= ratio;
            v[V_HIGH] *= ratio;
            v[V_LOW] *= ratio;
        }
        v[V_CLOSE] = v[V_ADJ];
    }
    r->time[r->n] = t;
    r->line[r->n] = c->rec_line;
    for (i = 0; i <= V_VOL; i++)
        if (r->v[i])
            r->v[i][r->n] = v[i];
    r->n++;
    return 0;
}

static void on_row(int ch, void *vctx)
{
    struct rows_ctx *c = vctx;
    const struct layout *lay = c->lay;
    size_t nf = c->field, bad_col;
    const char *fmt;
    int64_t t, td;
    char buf[SHOW_LEN];

    (void)ch;
    c->field = 0;
    c->row_ended = 1;
    if (c->rc || nf == 0 || !c->any_text)
        return;                 /* after an error; a row of empty cells */
    if (nf < lay->need) {
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->name, c->rec_line,
                                 nf + 1, "short row: %zu fields, the "
                                 "header has %zu", nf, lay->n_fields);
        return;
    }
    if (c->extra_text) {
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->name, c->rec_line,
                                 lay->n_fields + 1, "long row: %zu fields, "
                                 "the header has %zu", nf, lay->n_fields);
        return;
    }
    if (lay->col[BAL_COL_UNIX] >= 0) {
        t = c->unix_t;
        fmt = "unix";
        if (lay->col[BAL_COL_DATE] >= 0 && c->check_date != 0) {
            int date_only = 0;
            const char *df = read_date(c, c->date, c->date_len,
                                       &c->check_fmt, &td, &date_only);

            if (c->check_date < 0)
                c->check_date = df != NULL;
            if (c->check_date > 0) {
                int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);

                if (!df || (date_only ? td != day * 86400 : td != t))
                    c->mismatch++;
            }
        }
    } else {
        fmt = read_date_tod(c, &t, &bad_col);
        if (!fmt) {
            int tod = lay->col[BAL_COL_TIME] >= 0
                   && bad_col == (size_t)lay->col[BAL_COL_TIME] + 1;

            c->rc = bal_error_set_at(
                c->err, BAL_EPARSE, c->name, c->rec_line, bad_col,
                "cannot parse '%s' as %s",
                tod ? show(buf, c->tod, c->tod_len)
                    : show(buf, c->date, c->date_len),
                tod ? "a time of day" : "a date");
            return;
        }
    }
    if (!c->first_fmt)
        c->first_fmt = fmt;
    c->rc = push_row(c, t);
}

/* Feeds the data lines to libcsv one physical line at a time, which gives
 * the line where each record starts even with quoted newlines. */
static int read_rows(struct rows_ctx *c, const char *buf, size_t len)
{
    const struct layout *lay = c->lay;
    struct csv_parser p;
    size_t pos = lay->data_off, line = lay->data_line, end, next, i;
    int content;

    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return bal_error_set(c->err, BAL_ENOMEM, "out of memory");
    csv_set_delim(&p, (unsigned char)lay->delim);
    c->in_record = 0;
    while (pos < len && !c->rc) {
        next = next_line(buf, len, pos, &end);
        content = 0;
        for (i = pos; i < end && !content; i++)
            content = !is_blank((unsigned char)buf[i])
                   || buf[i] == lay->delim;
        if (!c->in_record)
            c->pending_line = line;
        c->row_ended = 0;
        if (csv_parse(&p, buf + pos, next - pos, on_field, on_row, c)
                != next - pos && !c->rc) {
            c->rc = csv_error(&p) == CSV_EPARSE
                ? bal_error_set_at(c->err, BAL_EPARSE, c->name,
                                   c->pending_line, c->field + 1,
                                   "malformed quoted field")
                : bal_error_set(c->err, BAL_ENOMEM, "out of memory");
        }
        c->in_record = (c->in_record || content) && !c->row_ended;
        pos = next;
        line++;
    }
    if (!c->rc && csv_fini(&p, on_field, on_row, c) != 0 && !c->rc)
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->name,
                                 c->pending_line, c->field + 1,
                                 "unterminated quoted field");
    csv_free(&p);
    if (!c->rc && c->raw.n == 0)
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->name, 0, 0,
                                 "no data rows after the header on line "
                                 "%zu",
                                 lay->header_line);
    return c->rc;
}

/* ------------------------------------------------------------------ */
/* Stage 3: post-processing                                            */
/* ------------------------------------------------------------------ */

struct key {
    int64_t t;
    size_t i;                   /* row in file order */
};

static int cmp_key(const void *a, const void *b)
{
    const struct key *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* Median of n > 0 sorted values. */
static double median_sorted(const double *x, size_t n)
{
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Sorts rows by (time, file order) into k; counts the rows out of order
 * in the majority direction. */
static void order_rows(struct key *k, const int64_t *t, size_t n,
                       size_t *unsorted)
{
    size_t i, inc = 0, dec = 0, a, b;

    for (i = 1; i < n; i++) {
        inc += t[i] > t[i - 1];
        dec += t[i] < t[i - 1];
    }
    *unsorted = dec > inc ? inc : dec;
    for (i = 0; i < n; i++) {
        k[i].t = t[i];
        k[i].i = i;
    }
    if (dec == 0)
        return;
    if (inc == 0) {             /* newest first: reverse, keep ties */
        for (i = 0; i < n; i++) {
            k[i].t = t[n - 1 - i];
            k[i].i = n - 1 - i;
        }
        for (a = 0; a < n; a = b) {
            for (b = a + 1; b < n && k[b].t == k[a].t; b++)
                ;
            for (i = 0; i < (b - a) / 2; i++) {
                struct key x = k[a + i];

                k[a + i] = k[b - 1 - i];
                k[b - 1 - i] = x;
            }
        }
        return;
    }
    qsort(k, n, sizeof(*k), cmp_key);
}

static const char *price_name(int v)
{
    static const char *const names[] = { "open", "high", "low", "close" };

    return names[v];
}

/* Weekend seconds (Saturday 00:00 to Monday 00:00 UTC) before t, from a
 * fixed Saturday; only differences are meaningful. */
static int64_t weekend_before(int64_t t)
{
    int64_t s = t - 2 * 86400;  /* 1970-01-03 was a Saturday */
    int64_t w = s >= 0 ? s / 604800 : -((-s + 604799) / 604800);
    int64_t r = s - w * 604800;

    return w * 172800 + (r < 172800 ? r : 172800);
}

int bal_series_bar_seconds(int64_t *out, const int64_t *time, size_t n,
                           bal_error *err)
{
    int64_t *d;
    size_t i;

    *out = 0;
    if (n < 2)
        return 0;
    d = malloc((n - 1) * sizeof(*d));
    if (!d)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    for (i = 1; i < n; i++)
        d[i - 1] = time[i] - time[i - 1];
    qsort(d, n - 1, sizeof(*d), cmp_i64);
    *out = d[(n - 2) / 2];
    free(d);
    return 0;
}

/* Flags (and with repair, fixes) spiking closes; see loader.h. */
static int find_spikes(bal_series *s, double k, int repair, bal_error *err)
{
    size_t n = s->n, t, j, lo, hi, m;
    double *r = NULL, *med = NULL, *tmp = NULL, nb[10];
    double centre, mad, thr;
    int rc = 0;

    if (n < 2 || !(k > 0))
        return 0;
    r = malloc(n * sizeof(*r));
    med = malloc(n * sizeof(*med));
    tmp = malloc(n * sizeof(*tmp));
    if (!r || !med || !tmp) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    for (t = 0; t < n; t++) {
        lo = t >= 5 ? t - 5 : 0;
        hi = t + 5 < n ? t + 5 : n - 1;
        for (m = 0, j = lo; j <= hi; j++) {
            size_t q = m;

            if (j == t)
                continue;
            while (q > 0 && nb[q - 1] > s->close[j]) {     /* insertion */
                nb[q] = nb[q - 1];
                q--;
            }
            nb[q] = s->close[j];
            m++;
        }
        med[t] = median_sorted(nb, m);
        r[t] = log(s->close[t] / med[t]);
    }
    memcpy(tmp, r, n * sizeof(*tmp));
    qsort(tmp, n, sizeof(*tmp), cmp_double);
    centre = median_sorted(tmp, n);
    for (t = 0; t < n; t++)
        tmp[t] = fabs(r[t] - centre);
    qsort(tmp, n, sizeof(*tmp), cmp_double);
    mad = median_sorted(tmp, n);
    if (!(mad > 0))
        goto done;
    thr = k * 1.4826 * mad;
    for (t = 0; t < n; t++) {
        if (!(fabs(r[t]) > thr))
            continue;
        s->defects.spikes++;
        if (!repair)
            continue;
        s->close[t] = med[t];
        if (s->high && s->high[t] < med[t])
            s->high[t] = med[t];
        if (s->low && s->low[t] > med[t])
            s->low[t] = med[t];
    }
done:
    free(r);
    free(med);
    free(tmp);
    return rc;
}

static void finish_stats(bal_series *s, bal_asset_class cls)
{
    size_t i;

    s->all_midnight = 1;
    for (i = 0; i < s->n; i++)
        if (s->time[i] % 86400 != 0)
            s->all_midnight = 0;
    s->defects.gaps = 0;
    if (s->bar_seconds <= 0)
        return;
    for (i = 1; i < s->n; i++) {
        int64_t d = s->time[i] - s->time[i - 1];

        if (cls != BAL_CLASS_CRYPTO)
            d -= weekend_before(s->time[i]) - weekend_before(s->time[i - 1]);
        if (d > 3 * s->bar_seconds)
            s->defects.gaps++;
    }
}

static int alloc_series(bal_series *s, size_t n, int ohlc, int vol)
{
    s->time = malloc(n * sizeof(*s->time));
    s->close = malloc(n * sizeof(double));
    if (ohlc) {
        s->open = malloc(n * sizeof(double));
        s->high = malloc(n * sizeof(double));
        s->low = malloc(n * sizeof(double));
    }
    if (vol)
        s->volume = malloc(n * sizeof(double));
    if (!s->time || !s->close || (ohlc && (!s->open || !s->high || !s->low))
        || (vol && !s->volume))
        return BAL_ENOMEM;
    return 0;
}

/* Kinds of bar defect, for the error message of the ERROR policy. */
enum { BAD_NONE, BAD_MISSING, BAD_NONPOS, BAD_HL, BAD_OC };

static int classify(const struct raw *r, size_t row, int *which)
{
    int v, first = 0, last = V_CLOSE;
    double o, h, l, c;

    if (!r->v[V_OPEN])
        first = V_CLOSE;
    for (v = first; v <= last; v++) {
        if (isnan(r->v[v][row])) {
            *which = v;
            return BAD_MISSING;
        }
    }
    for (v = first; v <= last; v++) {
        if (!(r->v[v][row] > 0)) {
            *which = v;
            return BAD_NONPOS;
        }
    }
    if (!r->v[V_OPEN])
        return BAD_NONE;
    o = r->v[V_OPEN][row];
    h = r->v[V_HIGH][row];
    l = r->v[V_LOW][row];
    c = r->v[V_CLOSE][row];
    if (h < l) {
        *which = V_HIGH;
        return BAD_HL;
    }
    if (o > h || o < l) {
        *which = V_OPEN;
        return BAD_OC;
    }
    if (c > h || c < l) {
        *which = V_CLOSE;
        return BAD_OC;
    }
    return BAD_NONE;
}

static int bad_bar_error(const struct raw *r, const struct layout *lay,
                         const char *name, size_t row, int kind, int which,
                         bal_error *err)
{
    static const int role[] = { BAL_COL_OPEN, BAL_COL_HIGH, BAL_COL_LOW,
                                BAL_COL_CLOSE };
    char a[BAL_NUMFMT_LEN], b[BAL_NUMFMT_LEN], c[BAL_NUMFMT_LEN];
    int col = lay->col[role[which]];
    size_t line = r->line[row];

    if (which == V_CLOSE && lay->adj)
        col = lay->col[BAL_COL_ADJ_CLOSE];
    if (kind == BAD_MISSING)
        return bal_error_set_at(err, BAL_EPARSE, name, line,
                                (size_t)col + 1, "missing %s price",
                                price_name(which));
    bal_numfmt(a, r->v[which][row], "nan");
    if (kind == BAD_NONPOS)
        return bal_error_set_at(err, BAL_EPARSE, name, line,
                                (size_t)col + 1, "%s price %s is not "
                                "positive", price_name(which), a);
    bal_numfmt(b, r->v[V_LOW][row], "nan");
    bal_numfmt(c, r->v[V_HIGH][row], "nan");
    if (kind == BAD_HL)
        return bal_error_set_at(err, BAL_EPARSE, name, line,
                                (size_t)col + 1, "high %s is below low %s",
                                c, b);
    return bal_error_set_at(err, BAL_EPARSE, name, line, (size_t)col + 1,
                            "%s %s is outside [low, high] = [%s, %s]",
                            price_name(which), a, b, c);
}

static int post_process(bal_series *out, struct rows_ctx *c,
                        const char *name, bal_error *err)
{
    const struct layout *lay = c->lay;
    const bal_load_options *opt = c->opt;
    struct raw *r = &c->raw;
    struct key *k = NULL;
    size_t n = r->n, i, a, b, kept = 0, bad_row = SIZE_MAX, dup_at = 0;
    int rc = 0, bad_kind = BAD_NONE, bad_which = 0, which;
    bal_defects *d = &out->defects;

    k = malloc(n * sizeof(*k));
    if (!k)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    order_rows(k, r->time, n, &d->unsorted);

    /* duplicates: keep one row per time, in k[0..kept) */
    for (a = 0; a < n; a = b) {
        for (b = a + 1; b < n && k[b].t == k[a].t; b++)
            ;
        if (b - a > 1) {
            d->duplicates += b - a - 1;
            if (opt->duplicates == BAL_DUP_ERROR
                && (bad_row == SIZE_MAX
                    || r->line[k[a + 1].i] < r->line[bad_row])) {
                bad_row = k[a + 1].i;
                dup_at = k[a].i;
            }
        }
        k[kept++] = k[opt->duplicates == BAL_DUP_FIRST ? a : b - 1];
    }
    if (bad_row != SIZE_MAX) {
        char when[BAL_NUMFMT_LEN];
        int64_t t = r->time[bad_row];

        bal_timefmt(when, t, t % 86400 == 0);
        rc = bal_error_set_at(err, BAL_EPARSE, name, r->line[bad_row],
                              (size_t)lay->col[lay->col[BAL_COL_UNIX] >= 0
                                                   ? BAL_COL_UNIX
                                                   : BAL_COL_DATE] + 1,
                              "duplicate timestamp %s (first on line %zu)",
                              when, r->line[dup_at]);
        goto done;
    }

    /* bar defects: counted, then dropped, repaired or reported */
    n = kept;
    kept = 0;
    for (i = 0; i < n; i++) {
        size_t row = k[i].i;
        int kind = classify(r, row, &which);
        int drop = 0;

        switch (kind) {
        case BAD_MISSING:
            d->missing++;
            drop = 1;
            break;
        case BAD_NONPOS:
            d->non_positive++;
            drop = 1;
            break;
        case BAD_HL:
        case BAD_OC: {
            double *o = r->v[V_OPEN], *h = r->v[V_HIGH], *l = r->v[V_LOW];
            double *cl = r->v[V_CLOSE];

            if (h[row] < l[row])
                d->high_low++;
            if (o[row] > h[row] || o[row] < l[row] || cl[row] > h[row]
                || cl[row] < l[row])
                d->open_close_outside++;
            if (opt->bad_bars == BAL_BAD_SKIP) {
                drop = 1;
            } else if (opt->bad_bars == BAL_BAD_REPAIR) {
                double hi = fmax(fmax(o[row], h[row]), fmax(l[row], cl[row]));
                double lo = fmin(fmin(o[row], h[row]), fmin(l[row], cl[row]));

                h[row] = hi;
                l[row] = lo;
            }
            break;
        }
        default:
            break;
        }
        if (kind != BAD_NONE && opt->bad_bars == BAL_BAD_ERROR
            && (bad_row == SIZE_MAX || r->line[row] < r->line[bad_row])) {
            bad_row = row;
            bad_kind = kind;
            bad_which = which;
        }
        if (!drop)
            k[kept++] = k[i];
    }
    if (bad_row != SIZE_MAX) {
        rc = bad_bar_error(r, lay, name, bad_row, bad_kind, bad_which, err);
        goto done;
    }
    if (kept == 0) {
        rc = bal_error_set_at(err, BAL_EPARSE, name, 0, 0,
                              "no usable bars: all %zu rows have a missing "
                              "or non-positive price",
                              r->n);
        goto done;
    }

    if (alloc_series(out, kept, r->v[V_OPEN] != NULL,
                     r->v[V_VOL] != NULL) < 0) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    out->n = kept;
    for (i = 0; i < kept; i++) {
        size_t row = k[i].i;

        out->time[i] = r->time[row];
        out->close[i] = r->v[V_CLOSE][row];
        if (out->open) {
            out->open[i] = r->v[V_OPEN][row];
            out->high[i] = r->v[V_HIGH][row];
            out->low[i] = r->v[V_LOW][row];
        }
        if (out->volume)
            out->volume[i] = r->v[V_VOL][row];
    }
    rc = find_spikes(out, opt->spike_k, opt->spike_repair, err);
    if (rc < 0)
        goto done;
    rc = bal_series_bar_seconds(&out->bar_seconds, out->time, out->n, err);
    if (rc < 0)
        goto done;
    finish_stats(out, opt->asset_class);
done:
    free(k);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static int check_options(const bal_load_options *o, bal_error *err)
{
    if ((unsigned)o->asset_class > BAL_CLASS_OTHER)
        return bal_error_set(err, BAL_EINVAL, "unknown asset class %d",
                             (int)o->asset_class);
    if ((unsigned)o->duplicates > BAL_DUP_ERROR)
        return bal_error_set(err, BAL_EINVAL, "unknown duplicates policy "
                             "%d", (int)o->duplicates);
    if ((unsigned)o->bad_bars > BAL_BAD_ERROR)
        return bal_error_set(err, BAL_EINVAL, "unknown bad_bars policy %d",
                             (int)o->bad_bars);
    if (!(o->spike_k >= 0) || isinf(o->spike_k))
        return bal_error_set(err, BAL_EINVAL, "spike_k must be a finite "
                             "number >= 0");
    if (o->tz_offset_seconds > 86400 || o->tz_offset_seconds < -86400)
        return bal_error_set(err, BAL_EINVAL, "tz offset of %lld seconds "
                             "is more than a day",
                             (long long)o->tz_offset_seconds);
    return 0;
}

void bal_series_release(bal_series *s)
{
    if (!s)
        return;
    free(s->time);
    free(s->open);
    free(s->high);
    free(s->low);
    free(s->close);
    free(s->volume);
    memset(s, 0, sizeof(*s));
}

int bal_series_parse(bal_series *out, const char *name, const char *buf,
                     size_t len, const bal_load_options *opt,
                     bal_error *err)
{
    static const bal_load_options defaults = BAL_LOAD_OPTIONS_INIT;
    struct layout lay;
    struct rows_ctx *c = NULL;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!opt)
        opt = &defaults;
    if (!name)
        name = "(memory)";
    rc = check_options(opt, err);
    if (rc < 0)
        return rc;
    rc = detect(&lay, name, buf, len, opt, err);
    if (rc < 0)
        return rc;
    c = calloc(1, sizeof(*c));
    if (c)
        c->role = malloc(lay.n_fields ? lay.n_fields : 1);
    if (!c || !c->role) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    memset(c->role, -1, lay.n_fields ? lay.n_fields : 1);
    for (i = 0; i < BAL_COL_COUNT; i++)
        if (lay.col[i] >= 0)
            c->role[lay.col[i]] = (signed char)i;
    c->lay = &lay;
    c->opt = opt;
    c->name = name;
    c->err = err;
    c->check_date = -1;
    c->raw.use[V_OPEN] = c->raw.use[V_HIGH] = c->raw.use[V_LOW] = lay.ohlc;
    c->raw.use[V_CLOSE] = 1;
    c->raw.use[V_VOL] = lay.col[BAL_COL_VOLUME] >= 0;
    if (raw_grow(&c->raw) < 0) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    rc = read_rows(c, buf, len);
    if (rc < 0)
        goto done;
    out->rows = c->raw.n;
    out->defects.time_mismatch = c->mismatch;
    rc = post_process(out, c, name, err);
    if (rc < 0)
        goto done;
    out->delimiter = lay.delim;
    out->header_line = lay.header_line;
    memcpy(out->col, lay.col, sizeof(out->col));
    out->time_format = c->first_fmt;
done:
    if (c) {
        raw_free(&c->raw);
        free(c->role);
        free(c);
    }
    if (rc < 0)
        bal_series_release(out);
    return rc;
}

/* Reads a whole file into memory. */
static int read_file(char **out, size_t *len, const char *path,
                     bal_error *err)
{
    struct stat st;
    size_t cap, n = 0;
    char *buf = NULL, *p;
    ssize_t got;
    int fd, rc = 0;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return bal_error_set(err, BAL_EIO, "cannot open '%s': %s", path,
                             strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                           strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                           strerror(EISDIR));
        goto done;
    }
    cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1
                                                : 65536;
    buf = malloc(cap);
    if (!buf) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        if (n == cap) {
            if (cap > SIZE_MAX / 2) {
                rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
                goto done;
            }
            p = realloc(buf, cap * 2);
            if (!p) {
                rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
                goto done;
            }
            buf = p;
            cap *= 2;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                               strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *out = buf;
    *len = n;
    buf = NULL;
done:
    free(buf);
    close(fd);
    return rc;
}

int bal_series_load(bal_series *out, const char *path,
                    const bal_load_options *opt, bal_error *err)
{
    char *buf;
    size_t len;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = read_file(&buf, &len, path, err);
    if (rc < 0)
        return rc;
    rc = bal_series_parse(out, path, buf, len, opt, err);
    free(buf);
    return rc;
}

int bal_series_from_arrays(bal_series *out, const int64_t *time,
                           const double *open, const double *high,
                           const double *low, const double *close,
                           size_t n, bal_error *err)
{
    size_t i;
    int ohlc = open != NULL, rc;

    memset(out, 0, sizeof(*out));
    if (n == 0 || n > INT32_MAX)
        return bal_error_set(err, BAL_EINVAL, "a series needs 1 to %ld "
                             "bars, got %zu", (long)INT32_MAX, n);
    if (!time || !close || (high != NULL) != ohlc || (low != NULL) != ohlc)
        return bal_error_set(err, BAL_EINVAL, "time and close are required"
                             " and open, high, low go together");
    for (i = 1; i < n; i++)
        if (time[i] <= time[i - 1])
            return bal_error_set(err, BAL_EINVAL, "times must be strictly "
                                 "increasing (index %zu)", i);
    if (alloc_series(out, n, ohlc, 0) < 0) {
        bal_series_release(out);
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    }
    out->n = n;
    out->rows = n;
    memcpy(out->time, time, n * sizeof(*time));
    memcpy(out->close, close, n * sizeof(*close));
    if (ohlc) {
        memcpy(out->open, open, n * sizeof(*open));
        memcpy(out->high, high, n * sizeof(*high));
        memcpy(out->low, low, n * sizeof(*low));
    }
    for (i = 0; i < BAL_COL_COUNT; i++)
        out->col[i] = -1;
    out->time_format = "arrays";
    rc = bal_series_bar_seconds(&out->bar_seconds, time, n, err);
    if (rc < 0) {
        bal_series_release(out);
        return rc;
    }
    finish_stats(out, BAL_CLASS_CRYPTO);
    out->defects.gaps = 0;
    return 0;
}
