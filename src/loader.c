/* mmap's MAP_POPULATE and madvise's MADV_HUGEPAGE (Linux, glibc): used
 * only where defined, for speed. */
#define _DEFAULT_SOURCE 1
#include "ballast/loader.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* Any byte other than a space or a tab? */
static int has_text(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!is_blank((unsigned char)s[i]))
            return 1;
    return 0;
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
#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define NUM_SHORT 128           /* longer number text goes to the heap */
#define SIG_MAX 19              /* significant digits kept exactly */
#define EXP_LIMIT 100000        /* |exponent| beyond which strtod decides */

/* A decimal text read as (-1)^neg * m * 10^e. m and e are exact unless
 * `many` is set (more than SIG_MAX significant digits, or an exponent of
 * EXP_LIMIT or more), in which case only strtod may round it. */
struct decimal {
    uint64_t m;
    int64_t e;
    int neg;
    int many;
};

/* Checks that the len bytes at s are exactly
 * [+-](d+[point d*]|point d+)([eE][+-]?d+)? and reads them into *d.
 * Returns 1, or 0 for any other text. */
static int scan_decimal(struct decimal *d, const char *s, size_t len,
                        char point)
{
    const char *p = s, *end = s + len;
    uint64_t m = 0;
    int64_t e = 0, x = 0;
    int nd = 0, many = 0, digits = 0, neg = 0, eneg = 0;

    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    while (p < end && is_digit((unsigned char)*p)) {
        if (nd < SIG_MAX) {
            m = m * 10 + (uint64_t)(*p - '0');
            nd += m != 0;       /* leading zeros are not significant */
        } else {
            many = 1;
        }
        digits++;
        p++;
    }
    if (p < end && *p == point) {
        p++;
        while (p < end && is_digit((unsigned char)*p)) {
            if (nd < SIG_MAX) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd += m != 0;
                e--;
            } else {
                many = 1;
            }
            digits++;
            p++;
        }
    }
    if (digits == 0)
        return 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == end || !is_digit((unsigned char)*p))
            return 0;
        while (p < end && is_digit((unsigned char)*p)) {
            if (x < EXP_LIMIT)
                x = x * 10 + (*p - '0');
            p++;
        }
        if (x >= EXP_LIMIT)
            many = 1;
        e += eneg ? -x : x;
    }
    if (p != end)
        return 0;
    d->m = m;
    d->e = e;
    d->neg = neg;
    d->many = many;
    return 1;
}

/* Powers of ten that are exact as doubles (10^22 < 2^53 * 2^22). */
static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;

static const uint64_t pow10_u64[20] = {
    UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000),
    UINT64_C(10000), UINT64_C(100000), UINT64_C(1000000),
    UINT64_C(10000000), UINT64_C(100000000), UINT64_C(1000000000),
    UINT64_C(10000000000), UINT64_C(100000000000),
    UINT64_C(1000000000000), UINT64_C(10000000000000),
    UINT64_C(100000000000000), UINT64_C(1000000000000000),
    UINT64_C(10000000000000000), UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000), UINT64_C(10000000000000000000)
};

static int bits64(uint64_t x)
{
    int b = 0;

    while (x >= 256) {
        x >>= 8;
        b += 8;
    }
    while (x) {
        x >>= 1;
        b++;
    }
    return b;
}

static int bits128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);

    return hi ? 64 + bits64(hi) : bits64((uint64_t)x);
}

/* 2^k as a double, for the normal range -1022 <= k <= 1023. */
static double pow2(int k)
{
    uint64_t b = (uint64_t)(k + 1023) << 52;
    double x;

    memcpy(&x, &b, sizeof(x));
    return x;
}

/* The double nearest (ties to even) to (q + f) * 2^k, where q > 0 is an
 * integer and 0 <= f < 1 is known only as "zero" (sticky 0) or "above
 * zero" (sticky 1). Needs q >= 2^54 when sticky is set, so that the
 * fraction only breaks ties, and a normal result. */
static double round_scaled(u128 q, int sticky, int k)
{
    int b = bits128(q), sh;
    uint64_t mant;
    u128 rem, half;

    if (b <= 53)
        return (double)(uint64_t)q * pow2(k);       /* exact */
    sh = b - 53;
    mant = (uint64_t)(q >> sh);
    rem = q & (((u128)1 << sh) - 1);
    half = (u128)1 << (sh - 1);
    if (rem > half || (rem == half && (sticky || (mant & 1))))
        mant++;                 /* 2^53 at most: still exact */
    return (double)mant * pow2(k + sh);
}

/* m * 10^e rounded to nearest, exactly, for 0 < m < 2^64, |e| <= 19. */
static double wide_decimal(uint64_t m, int e)
{
    uint64_t p;
    u128 num;
    int s;

    if (e >= 0)                 /* < 2^64 * 10^19 < 2^128 */
        return round_scaled((u128)m * pow10_u64[e], 0, 0);
    /* m / p: scale m by 2^s so that the quotient has 55 or 56 bits;
     * m * 2^s stays below 2^120 */
    p = pow10_u64[-e];
    s = 55 + bits64(p) - bits64(m);
    if (s < 0)
        s = 0;
    num = (u128)m << s;
    return round_scaled(num / p, num % p != 0, -s);
}
#endif

/* The correctly rounded value of *d without strtod, when a fast path
 * applies: returns 1 and sets *out, else 0. */
static int decimal_fast(const struct decimal *d, double *out)
{
    double v;

    if (d->many)
        return 0;
    if (d->m == 0) {
        v = 0.0;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    } else if (d->m <= (UINT64_C(1) << 53) && d->e >= -22 && d->e <= 22) {
        /* Clinger: m and 10^|e| are exact doubles, so one IEEE operation
         * rounds the exact quotient or product once */
        v = (double)d->m;
        v = d->e < 0 ? v / pow10_exact[-d->e] : v * pow10_exact[d->e];
#endif
#ifdef __SIZEOF_INT128__
    } else if (d->e >= -19 && d->e <= 19) {
        v = wide_decimal(d->m, (int)d->e);
#endif
    } else {
        return 0;
    }
    (void)pow10_exact;
    *out = d->neg ? -v : v;
    return 1;
}

/* strtod of a text that scan_decimal accepted; `point` becomes '.'. */
static int decimal_strtod(const char *s, size_t len, char point, double *out)
{
    char small[NUM_SHORT], *buf = small, *end;
    size_t i;
    double v;
    int ok;

    if (len >= sizeof(small)) {
        if (len > SIZE_MAX - 1)
            return NUM_BAD;
        buf = malloc(len + 1);
        if (!buf)
            return NUM_NOMEM;
    }
    for (i = 0; i < len; i++)
        buf[i] = s[i] == point ? '.' : s[i];
    buf[len] = '\0';
    v = strtod(buf, &end);
    ok = end == buf + len && isfinite(v);
    if (buf != small)
        free(buf);
    if (!ok)
        return NUM_BAD;
    *out = v;
    return NUM_OK;
}

/* A plain decimal text (see scan_decimal) to the double strtod gives. */
static int decimal_value(const char *s, size_t len, char point, double *out)
{
    struct decimal d;

    if (!scan_decimal(&d, s, len, point))
        return NUM_BAD;
    if (decimal_fast(&d, out))
        return NUM_OK;
    return decimal_strtod(s, len, point, out);
}

/* The commonest cell, [-]d+[point d*] or [-]point d+ with at most 19
 * digits and a value of at most 2^53 units in the last place: read by
 * Clinger's fast path in one loop. Returns 1, or 0 to leave the cell to
 * the general reader (which gives the same double where both apply). */
static int fast_plain(const char *s, size_t len, char point, double *out)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    const char *p = s, *end = s + len, *dot = NULL;
    uint64_t m = 0;
    size_t nd, frac;
    unsigned d;
    int neg;
    double v;

    if (len == 0 || len > 20)
        return 0;
    neg = *p == '-';
    p += neg;
    for (; p < end; p++) {
        d = (unsigned)(unsigned char)*p - '0';
        if (d < 10)
            m = m * 10 + d;
        else if (*p == point && !dot)
            dot = p;
        else
            return 0;
    }
    nd = (size_t)(end - s) - (size_t)neg - (dot != NULL);
    if (nd == 0 || nd > SIG_MAX || m > (UINT64_C(1) << 53))
        return 0;
    frac = dot ? (size_t)(end - dot - 1) : 0;
    v = (double)m;
    if (frac)
        v /= pow10_exact[frac];
    *out = neg ? -v : v;
    return 1;
#else
    (void)s;
    (void)len;
    (void)point;
    (void)out;
    return 0;
#endif
}

/* The 8 bytes at s as a number with the first byte lowest, whatever the
 * host's byte order. */
static uint64_t load_le64(const char *s)
{
    uint64_t w;

    memcpy(&w, s, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Reading eight ASCII digits at once (SWAR): w holds the text with its
 * first byte lowest. Returns 1 and the value in *m when all eight bytes
 * are digits: each byte's high nibble is 3, and still 3 after adding 6
 * (a carry out of a byte comes only from one that already failed). */
static int eight_digits(uint64_t w, uint64_t *m)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);

    if ((w & ones * 0xf0) != ones * 0x30
        || ((w + ones * 6) & ones * 0xf0) != ones * 0x30)
        return 0;
    w -= ones * '0';
    w = (w * 10 + (w >> 8)) & UINT64_C(0x00ff00ff00ff00ff);
    w = (w * 100 + (w >> 16)) & UINT64_C(0x0000ffff0000ffff);
    *m = (w * 10000 + (w >> 32)) & UINT64_C(0xffffffff);
    return 1;
}

/* '0' bytes above the nd lowest, which pad nd digits to eight. */
static const uint64_t zero_pad[9] = {
    UINT64_C(0x3030303030303030), UINT64_C(0x30303030303030),
    UINT64_C(0x303030303030), UINT64_C(0x3030303030), UINT64_C(0x30303030),
    UINT64_C(0x303030), UINT64_C(0x3030), UINT64_C(0x30), 0
};

/* The commonest cell of a numeric column, an unsigned plain number of at
 * most 8 bytes with its point at the same place as in the column's last
 * such cell (`at` bytes in; -1: no point; the digits after it may vary,
 * as they do where trailing zeros are left off), read without a loop:
 * the point squeezed out, the digits padded on the left with '0' (the
 * bytes past len, whatever they hold, leave by the top), all eight read
 * at once. The 8 bytes at s may be read. Returns 1, or 0 for fast_plain
 * to decide (it gives the same double where both apply). */
static int shaped_plain(int at, const char *s, size_t len, char point,
                        double *out)
{
    uint64_t w, m, keep;
    size_t nd = len, frac = 0;
    double v;

    if (len - 1 >= 8)           /* 0 and above 8 alike */
        return 0;
    w = load_le64(s);
    if (at >= 0) {
        if ((size_t)at >= len || len == 1
            || (unsigned char)(w >> (8 * at)) != (unsigned char)point)
            return 0;
        keep = (UINT64_C(1) << (8 * at)) - 1;
        w = (w & keep) | ((w >> 8) & ~keep);
        nd = len - 1;
        frac = nd - (size_t)at;
    }
    if (!eight_digits((w << (8 * (8 - nd))) | zero_pad[nd], &m))
        return 0;
    v = (double)m;
    if (frac)
        v /= pow10_exact[frac];
    *out = v;
    return 1;
}

/* The `at` of shaped_plain for a cell another reader took: where its
 * point is, -1 without one. */
static int point_at(const char *s, size_t len, char point)
{
    const char *dot = memchr(s, point, len);

    return dot ? (int)(dot - s) : -1;
}

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

/* Parses one numeric cell (see loader.h for the accepted forms) into buf,
 * which has room for len + 3 bytes. */
static int parse_number_in(char *buf, const char *s, size_t len,
                           int decimal_comma, const char *exp10,
                           double *out)
{
    size_t i, k = 0, ndot = 0, ncomma = 0, lastdot = 0, lastcomma = 0;
    size_t int_end, sign;
    char dec = 0, grp = 0;

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
    if (exp10) {
        if (memchr(buf, 'e', k) || memchr(buf, 'E', k))
            return NUM_BAD;
        memcpy(buf + k, exp10, 2);
        k += 2;
    }
    return decimal_value(buf, k, '.', out);
}

/* The general reader of a numeric cell: blanks, missing markers, a K/M/B
 * suffix (when `suffix`), grouping and decimal commas. */
static int parse_number(const char *s, size_t len, int decimal_comma,
                        int suffix, double *out)
{
    char small[NUM_SHORT + 4], *buf = small;
    const char *exp10 = NULL;
    int rc;

    *out = NAN;
    trim(&s, &len);
    if (len == 0 || (len == 1 && s[0] == '-') || same_word(s, len, "null")
        || same_word(s, len, "nan"))
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

int bal_series_parse_number(double *out, const char *s, size_t len,
                            bal_error *err)
{
    char shown[SHOW_LEN];
    double v;
    int rc = s ? decimal_value(s, len, '.', &v) : NUM_BAD;

    if (rc == NUM_NOMEM)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    if (rc != NUM_OK)
        return bal_error_set(err, BAL_EPARSE, "cannot parse '%s' as a "
                             "number", show(shown, s ? s : "", s ? len : 0));
    *out = v;
    return 0;
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
 *   minute, second, hour 1-12)   N E H 1 or 2 digits (month, day, hour)
 *   f [.,] then 1+ digits (dropped)   F 1+ digits (dropped)
 *   p AM or PM   z Z | ±hh[[:]mm]   T 'T', 't' or ' '
 *   [...] optional, greedy   \c the character c   anything else: itself.
 * `slash` tells the two orders of a slash date apart. */
enum { SLASH_NONE, SLASH_MDY, SLASH_DMY, SLASH_AMBIGUOUS };

struct time_format {
    const char *name;
    const char *pattern;        /* NULL: unix number */
    int slash;
};

/* Date column formats, tried in this order. Add new ones here. */
enum { FMT_ISO = 0, FMT_MT4 = 2 };
static const struct time_format date_formats[] = {
    { "YYYY-MM-DD", "Y-M-D[Th:m[:s[f]][z]]", SLASH_NONE },
    { "YYYY-MM-DD HH-AM", "Y-M-D I-p", SLASH_NONE },
    { "YYYY.MM.DD", "Y.M.D[ h:m[:s[f]]]", SLASH_NONE },
    { "DD.MM.YYYY", "D.M.Y[ h:m[:s[f]]]", SLASH_NONE },
    { "YYYYMMDD", "YMD[ hms]", SLASH_NONE },
    { "MM/DD/YYYY", "N/E/Y[ H:m[:s[f]]]", SLASH_MDY },
    { "DD/MM/YYYY", "E/N/Y[ H:m[:s[f]]]", SLASH_DMY },
    { "unix", NULL, SLASH_NONE },
};
#define N_DATE_FORMATS (sizeof(date_formats) / sizeof(date_formats[0]))

/* Time-of-day column formats. */
static const struct time_format tod_formats[] = {
    { "HH:MM", "H:m[:s[f]]", SLASH_NONE },
    { "HHMMSS", "hms", SLASH_NONE },
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

/* One or two digits. */
static int take_short(const char *s, size_t n, size_t *pos, unsigned *v)
{
    if (!take_digits(s, n, pos, 1, v))
        return 0;
    if (*pos < n && is_digit((unsigned char)s[*pos]))
        *v = *v * 10 + (unsigned)(s[(*pos)++] - '0');
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
        case 'N':
            if (!take_short(s, n, pos, &dt->mo))
                return 0;
            break;
        case 'D':
            if (!take_digits(s, n, pos, 2, &dt->d))
                return 0;
            break;
        case 'E':
            if (!take_short(s, n, pos, &dt->d))
                return 0;
            break;
        case 'h':
            if (!take_digits(s, n, pos, 2, &dt->h))
                return 0;
            dt->has_time = 1;
            break;
        case 'H':
            if (!take_short(s, n, pos, &dt->h))
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

/* The range checks shared by every way of reading a cell; date says
 * whether a date is required (else the cell is a time of day). */
static int dt_valid(struct dt *dt, int date)
{
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

static void dt_clear(struct dt *dt)
{
    memset(dt, 0, sizeof(*dt));
    dt->ampm = -1;
}

/* Reads s with one pattern and validates the ranges. */
static int parse_pattern(const char *pat, const char *s, size_t n, int date,
                         struct dt *dt)
{
    size_t pos = 0;

    dt_clear(dt);
    if (!match(pat, pat + strlen(pat), s, n, &pos, dt) || pos != n)
        return 0;
    return dt_valid(dt, date);
}

static int two_digits(const char *s, unsigned *v)
{
    unsigned a = (unsigned)(unsigned char)s[0] - '0';
    unsigned b = (unsigned)(unsigned char)s[1] - '0';

    if (a > 9 || b > 9)
        return 0;
    *v = a * 10 + b;
    return 1;
}

/* Fast path for the commonest cells: YYYY-MM-DD[(T|t| )HH:MM[:SS][Z|z]]
 * and YYYY.MM.DD[ HH:MM[:SS]]. Returns FMT_ISO or FMT_MT4 with *dt filled
 * exactly as parse_pattern would, or -1 when the general matcher must
 * decide. */
static int fast_date(const char *s, size_t n, struct dt *dt)
{
    unsigned y1, y2;
    int fmt;

    if (n != 10 && n != 16 && n != 19 && n != 20)
        return -1;
    if (s[4] == '-')
        fmt = FMT_ISO;
    else if (s[4] == '.')
        fmt = FMT_MT4;
    else
        return -1;
    dt_clear(dt);
    if (s[7] != s[4] || !two_digits(s, &y1) || !two_digits(s + 2, &y2)
        || !two_digits(s + 5, &dt->mo) || !two_digits(s + 8, &dt->d))
        return -1;
    dt->y = (int)(y1 * 100 + y2);
    dt->has_date = 1;
    if (n > 10) {
        if (!(s[10] == ' ' || (fmt == FMT_ISO && (s[10] == 'T'
                                                  || s[10] == 't')))
            || s[13] != ':' || !two_digits(s + 11, &dt->h)
            || !two_digits(s + 14, &dt->mi))
            return -1;
        dt->has_time = 1;
    }
    if (n > 16 && (s[16] != ':' || !two_digits(s + 17, &dt->s)))
        return -1;
    if (n == 20) {
        if (fmt != FMT_ISO || (s[19] != 'Z' && s[19] != 'z'))
            return -1;
        dt->has_zone = 1;
    }
    return dt_valid(dt, 1) ? fmt : -1;
}

/* Fast path for a time-of-day cell HH:MM or HH:MM:SS (format 0). */
static int fast_tod(const char *s, size_t n, struct dt *dt)
{
    if (n != 5 && n != 8)
        return 0;
    dt_clear(dt);
    if (s[2] != ':' || !two_digits(s, &dt->h) || !two_digits(s + 3, &dt->mi)
        || (n == 8 && (s[5] != ':' || !two_digits(s + 6, &dt->s))))
        return 0;
    dt->has_time = 1;
    return dt_valid(dt, 0);
}

/* d{1,2}/d{1,2}/d{4} at the start of s: the two leading numbers. */
static int slash_shape(const char *s, size_t n, unsigned *a, unsigned *b)
{
    size_t pos = 0;
    unsigned y;

    return take_short(s, n, &pos, a) && pos < n && s[pos++] == '/'
        && take_short(s, n, &pos, b) && pos < n && s[pos++] == '/'
        && take_digits(s, n, &pos, 4, &y);
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

/* Caches of the time conversions: the last civil date, and the US
 * daylight-saving period of one year. */
struct time_cache {
    int y;
    unsigned mo, d;
    int64_t days;
    int64_t year_lo, year_hi;   /* [lo, hi): the cached year, UTC s */
    int64_t dst_start, dst_end;
};

static void time_cache_init(struct time_cache *tc)
{
    memset(tc, 0, sizeof(*tc));
    tc->year_lo = 1;            /* empty range: nothing cached */
}

static int64_t civil_days(struct time_cache *tc, int y, unsigned mo,
                          unsigned d)
{
    if (y != tc->y || mo != tc->mo || d != tc->d) {
        tc->days = bal_days_from_civil(y, mo, d);
        tc->y = y;
        tc->mo = mo;
        tc->d = d;
    }
    return tc->days;
}

/* Is US Eastern daylight saving time in effect at this UTC instant? */
static int us_dst(struct time_cache *tc, int64_t utc)
{
    if (!(utc >= tc->year_lo && utc < tc->year_hi)) {
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
        tc->dst_start = start * 86400 + 7 * 3600;
        tc->dst_end = end * 86400 + 6 * 3600;
        tc->year_lo = bal_days_from_civil(y, 1, 1) * 86400;
        tc->year_hi = bal_days_from_civil(y + 1, 1, 1) * 86400;
    }
    return utc >= tc->dst_start && utc < tc->dst_end;
}

/* UTC seconds of a parsed cell under the zone rules of SPEC §2. */
static int64_t to_utc(struct time_cache *tc, const struct dt *dt,
                      const bal_load_options *opt)
{
    int64_t t = civil_days(tc, dt->y, dt->mo, dt->d) * 86400
              + (int64_t)dt->h * 3600 + (int64_t)dt->mi * 60 + dt->s;

    if (dt->has_zone)
        return t - dt->zone;
    if (!dt->has_time)
        return t;
    if (opt->tz_fx_server) {
        int64_t u = t - 3 * 3600;

        return us_dst(tc, u) ? u : t - 2 * 3600;
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

/* Can s be a date cell in some detected format (both slash orders
 * allowed)? Used to recognise a headerless file. */
static int probe_date(const char *s, size_t n, struct dt *dt)
{
    size_t i;

    if (fast_date(s, n, dt) >= 0)
        return 1;
    for (i = 0; i < N_DATE_FORMATS; i++)
        if (date_formats[i].pattern
            && parse_pattern(date_formats[i].pattern, s, n, 1, dt))
            return 1;
    return 0;
}

static int probe_tod(const char *s, size_t n)
{
    struct dt dt;
    size_t i;

    for (i = 0; i < N_TOD_FORMATS; i++)
        if (parse_pattern(tod_formats[i].pattern, s, n, 0, &dt))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Stage 1: detection -> layout                                        */
/* ------------------------------------------------------------------ */

#define SCAN_LINES 16           /* non-blank lines searched for a header */
#define ROLE_TIME_ANY BAL_COL_COUNT     /* "time": date or time of day */
#define HEAD_MAX 1024           /* header columns given roles by name */
#define CSV_BLOCK 65536         /* libcsv's field buffer grows by this */
#define FEED_BLOCK ((size_t)1 << 20)    /* bytes given to libcsv at once */
#define FIRST_BLOCK ((size_t)1 << 12)   /* ... the first time, with `wide` */
#define FIELD_MAX ((size_t)1 << 20)     /* longest field accepted */

static const char *const role_names[BAL_COL_COUNT] = {
    "unix", "date", "time", "open", "high", "low", "close", "adj close",
    "volume"
};

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
    size_t header_line;         /* physical line of the header, 0: none */
    size_t data_off;            /* byte offset of the first data line */
    size_t data_line;           /* that line's number */
    size_t n_fields;            /* fields in the header */
    int col[BAL_COL_COUNT];     /* used columns, -1 = none */
    int ohlc;                   /* open, high and low all present */
    int adj;                    /* close comes from adj close */
    size_t need;                /* fields a row must have */
    char user_pat[PATTERN_MAX]; /* compiled date_format, "" = detect */
};

struct head_ctx {
    const bal_load_options *opt;
    size_t n;
    signed char role[HEAD_MAX]; /* role by name of each column, -1 */
    int named[BAL_COL_COUNT];   /* column holding the mapped name, -1 */
    int has_date_name;          /* a column is named exactly "date" */
    int known;                  /* names recognised */
};

static void head_field(void *s, size_t len, void *data)
{
    struct head_ctx *h = data;
    const char *name = s ? (const char *)s : "";
    const char *t = name;
    size_t tlen = len, k;
    int is_date, role;

    if (h->n >= HEAD_MAX) {
        h->n++;
        return;
    }
    role = role_of_name(name, len, &is_date);
    h->role[h->n] = (signed char)role;
    if (role >= 0) {
        h->known++;
        if (is_date)
            h->has_date_name = 1;
    }
    trim(&t, &tlen);
    for (k = 0; k < BAL_COL_COUNT; k++) {
        const char *want = h->opt->column_name[k];

        if (want && h->named[k] < 0 && strlen(want) == tlen
            && memcmp(want, t, tlen) == 0) {
            h->named[k] = (int)h->n;
            h->known++;
        }
    }
    h->n++;
}

static void ignore_row(int c, void *data)
{
    (void)c;
    (void)data;
}

/* Splits one header line with libcsv and finds its names. */
static int read_header(struct head_ctx *h, const char *s, size_t n,
                       char delim, const bal_load_options *opt)
{
    struct csv_parser p;
    size_t i;
    int ok;

    memset(h, 0, sizeof(*h));
    h->opt = opt;
    for (i = 0; i < BAL_COL_COUNT; i++)
        h->named[i] = -1;
    if (csv_init(&p, 0) != 0)
        return BAL_ENOMEM;
    csv_set_delim(&p, (unsigned char)delim);
    ok = csv_parse(&p, s, n, head_field, ignore_row, h) == n;
    if (ok)
        csv_fini(&p, head_field, ignore_row, h);
    ok = ok && csv_error(&p) != CSV_ENOMEM;
    csv_free(&p);
    return ok ? 0 : BAL_ENOMEM;
}

/* The first cells of one line, for recognising a headerless file. */
#define PROBE_CELLS 8
#define PROBE_LEN 64

struct cells {
    size_t n;
    size_t len[PROBE_CELLS];
    char text[PROBE_CELLS][PROBE_LEN];
};

static void cells_field(void *s, size_t len, void *data)
{
    struct cells *c = data;

    if (c->n < PROBE_CELLS) {
        c->len[c->n] = len;
        memcpy(c->text[c->n], s ? s : "", len < PROBE_LEN ? len : 0);
    }
    c->n++;
}

static int split_line(struct cells *c, const char *s, size_t n, char delim)
{
    struct csv_parser p;
    int ok;

    memset(c, 0, sizeof(*c));
    if (csv_init(&p, 0) != 0)
        return BAL_ENOMEM;
    csv_set_delim(&p, (unsigned char)delim);
    ok = csv_parse(&p, s, n, cells_field, ignore_row, c) == n;
    if (ok)
        csv_fini(&p, cells_field, ignore_row, c);
    ok = ok && csv_error(&p) != CSV_ENOMEM;
    csv_free(&p);
    return ok ? 0 : BAL_ENOMEM;
}

/* date,open,high,low,close,volume or date,time,open,high,low,close,volume
 * (MetaTrader's export without a header)? */
static int mt4_cells(const struct cells *c, char delim)
{
    struct dt dt;
    size_t i, first;
    double x;

    if (c->n != 6 && c->n != 7)
        return 0;
    for (i = 0; i < c->n; i++)
        if (c->len[i] >= PROBE_LEN)
            return 0;
    if (!probe_date(c->text[0], c->len[0], &dt))
        return 0;
    first = 1;
    if (c->n == 7) {
        if (dt.has_time || !probe_tod(c->text[1], c->len[1]))
            return 0;
        first = 2;
    }
    for (i = first; i < c->n; i++)
        if (parse_number(c->text[i], c->len[i], delim == ';', 0, &x)
            != NUM_OK)
            return 0;
    return 1;
}

static int map_error(bal_error *err, const char *name, size_t line,
                     const char *what, int role)
{
    return bal_error_set_at(err, BAL_EPARSE, name, line, 0, "%s (columns."
                            "%s)", what, role_names[role]);
}

/* Roles from the column map, then from the names for roles the map leaves
 * out, never on a mapped column. role/n_named describe the header (NULL
 * for a file without one); n is its field count. */
static int assign_roles(struct layout *lay, const struct head_ctx *h,
                        size_t n, const bal_load_options *opt,
                        const char *name, size_t line, bal_error *err)
{
    int mapped[BAL_COL_COUNT], r, q, time_any = -1;
    size_t i;
    char what[160];

    for (r = 0; r < BAL_COL_COUNT; r++) {
        mapped[r] = -1;
        if (opt->column_name[r]) {
            if (h)
                mapped[r] = h->named[r];
            if (mapped[r] < 0) {
                snprintf(what, sizeof(what), "no column named '%.60s' in "
                         "the header", opt->column_name[r]);
                return map_error(err, name, line, what, r);
            }
        } else if (opt->column_index[r] >= 0) {
            if ((unsigned long)opt->column_index[r] >= n) {
                snprintf(what, sizeof(what), "column index %ld is beyond "
                         "the %zu %s", opt->column_index[r], n,
                         h ? "columns of the header" : "fields of the "
                                                       "first line");
                return map_error(err, name, line, what, r);
            }
            mapped[r] = (int)opt->column_index[r];
        }
        for (q = 0; q < r; q++) {
            if (mapped[r] >= 0 && mapped[q] == mapped[r]) {
                snprintf(what, sizeof(what), "columns.%s and columns.%s "
                         "are the same column (index %d)", role_names[q],
                         role_names[r], mapped[r]);
                return bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                        "%s", what);
            }
        }
    }
    for (r = 0; r < BAL_COL_COUNT; r++)
        lay->col[r] = mapped[r];
    if (!h)
        return 0;
    for (i = 0; i < n && i < HEAD_MAX; i++) {
        int role = h->role[i], taken = 0;

        for (q = 0; q < BAL_COL_COUNT; q++)
            taken |= mapped[q] == (int)i;
        if (role < 0 || taken)
            continue;
        if (role == ROLE_TIME_ANY) {
            if (time_any < 0)
                time_any = (int)i;
        } else if (mapped[role] < 0 && lay->col[role] < 0) {
            lay->col[role] = (int)i;
        }
    }
    if (time_any >= 0) {
        if (lay->col[BAL_COL_DATE] >= 0 && h->has_date_name) {
            if (mapped[BAL_COL_TIME] < 0)
                lay->col[BAL_COL_TIME] = time_any;
        } else if (lay->col[BAL_COL_DATE] < 0) {
            lay->col[BAL_COL_DATE] = time_any;
        }
    }
    return 0;
}

static int detect(struct layout *lay, const char *name, const char *buf,
                  size_t len, const bal_load_options *opt, bal_error *err)
{
    static const char delims[] = { ',', ';', '\t', '|' };
    size_t pos = 0, line = 1, scanned = 0, end, next, i;
    size_t first_off = 0, first_end = 0, first_line = 0;
    struct head_ctx *best = NULL, *h = NULL;
    int rc = 0, found = 0, by_name = 0, by_index = 0;
    char bd = ',';

    memset(lay, 0, sizeof(*lay));
    for (i = 0; i < BAL_COL_COUNT; i++) {
        by_name |= opt->column_name[i] != NULL;
        by_index |= opt->column_name[i] == NULL && opt->column_index[i] >= 0;
    }
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    for (i = pos; i < len; i++)
        if (!is_blank((unsigned char)buf[i]) && buf[i] != '\r'
            && buf[i] != '\n' && buf[i] != '\v' && buf[i] != '\f')
            break;
    if (i == len)
        return bal_error_set_at(err, BAL_EPARSE, name, 0, 0, "empty file");
    best = malloc(sizeof(*best));
    h = malloc(sizeof(*h));
    if (!best || !h) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    while (pos < len && scanned < SCAN_LINES) {
        next = next_line(buf, len, pos, &end);
        if (!has_text(buf + pos, end - pos)) {
            pos = next;
            line++;
            continue;
        }
        if (scanned++ == 0) {
            first_off = pos;
            first_end = end;
            first_line = line;
        }
        if (memchr(buf + pos, '\0', end - pos)) {
            rc = bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                  "binary data (NUL byte) where a CSV "
                                  "header was expected");
            goto done;
        }
        if (!utf8_text((const unsigned char *)buf + pos, end - pos)) {
            rc = bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                  "invalid UTF-8 where a CSV header was "
                                  "expected");
            goto done;
        }
        best->known = 0;
        best->n = 0;
        for (i = 0; i < sizeof(delims); i++) {
            if (read_header(h, buf + pos, end - pos, delims[i], opt) < 0) {
                rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
                goto done;
            }
            if (h->known > best->known
                || (h->known == best->known && h->known > 0
                    && h->n > best->n)) {
                memcpy(best, h, sizeof(*h));
                bd = delims[i];
            }
        }
        if (best->known > 0) {
            found = 1;
            break;
        }
        pos = next;
        line++;
    }
    if (found) {
        lay->header_line = line;
        lay->data_off = next;
        lay->data_line = line + 1;
        lay->n_fields = best->n;
        rc = assign_roles(lay, best, best->n, opt, name, line, err);
    } else if (!by_name) {
        struct cells cl, *c = &cl;
        size_t most = 0;

        for (i = 0; i < sizeof(delims) && !found; i++) {
            if (split_line(c, buf + first_off, first_end - first_off,
                           delims[i]) < 0) {
                rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
                goto done;
            }
            if (by_index ? c->n > most : mt4_cells(c, delims[i])) {
                most = c->n;
                bd = delims[i];
                found = !by_index;
            }
        }
        if (by_index)
            found = most > 0;
        if (found) {
            lay->header_line = 0;
            lay->data_off = first_off;
            lay->data_line = first_line;
            lay->n_fields = most;
            if (by_index) {
                rc = assign_roles(lay, NULL, most, opt, name, first_line,
                                  err);
            } else {
                static const int mt4[7] = {
                    BAL_COL_DATE, BAL_COL_TIME, BAL_COL_OPEN, BAL_COL_HIGH,
                    BAL_COL_LOW, BAL_COL_CLOSE, BAL_COL_VOLUME
                };
                const int *roles = most == 7 ? mt4 : mt4 + 1;

                for (i = 0; i < BAL_COL_COUNT; i++)
                    lay->col[i] = -1;
                lay->col[BAL_COL_DATE] = 0;
                for (i = 1; i < most; i++)
                    lay->col[roles[i]] = (int)i;
            }
        }
    }
    if (rc < 0)
        goto done;
    if (!found) {
        rc = bal_error_set_at(err, BAL_EPARSE, name, 0, 0,
                              "no header row in the first %d lines "
                              "(expected column names such as date and "
                              "close)",
                              SCAN_LINES);
        goto done;
    }
    lay->delim = bd;
    lay->decimal_comma = bd == ';';
    line = lay->header_line;
    if (opt->use_adj_close) {
        if (lay->col[BAL_COL_ADJ_CLOSE] < 0) {
            rc = bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                  "no 'adj close' column in the %s (the "
                                  "price field is adj close)",
                                  line ? "header" : "column map");
            goto done;
        }
        lay->adj = 1;
    } else {
        if (lay->col[BAL_COL_CLOSE] < 0) {
            rc = bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                                  "no close or price column in the %s%s",
                                  line ? "header" : "column map",
                                  lay->col[BAL_COL_ADJ_CLOSE] >= 0
                                      ? " (adj close is read only when "
                                        "the price field is adj close)"
                                      : "");
            goto done;
        }
        lay->col[BAL_COL_ADJ_CLOSE] = -1;
    }
    if (lay->col[BAL_COL_UNIX] < 0 && lay->col[BAL_COL_DATE] < 0) {
        rc = bal_error_set_at(err, BAL_EPARSE, name, line, 0,
                              "no date, time or unix column in the %s",
                              line ? "header" : "column map");
        goto done;
    }
    if (lay->col[BAL_COL_UNIX] >= 0)
        lay->col[BAL_COL_TIME] = -1;    /* only unix gives the time */
    if (lay->col[BAL_COL_DATE] < 0)
        lay->col[BAL_COL_TIME] = -1;    /* a time of day needs a date */
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
    if (opt->date_format)
        rc = compile_user_format(lay->user_pat, sizeof(lay->user_pat),
                                 opt->date_format, err);
done:
    free(best);
    free(h);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Stage 2: rows                                                       */
/* ------------------------------------------------------------------ */

/* Numeric columns of a row; the first N_KEPT are kept per row. */
enum { V_OPEN, V_HIGH, V_LOW, V_CLOSE, V_VOL, V_ADJ, N_V };
#define N_KEPT (V_VOL + 1)
#define TXT_MAX 63              /* longer time cells cannot parse */

static const signed char v_of_role[BAL_COL_COUNT] = {
    -1, -1, -1, V_OPEN, V_HIGH, V_LOW, V_CLOSE, V_ADJ, V_VOL
};

enum { FEED_OK, FEED_EPARSE, FEED_ENOMEM, FEED_LONG };

/* Gives buf[off, len) to libcsv in blocks of FEED_BLOCK bytes. Stops
 * early when *stop becomes non-zero (after a block), at a libcsv error,
 * or when the field being read passes FIELD_MAX bytes. With `wide`, the
 * first block is short and *wide is set before each block to libcsv's
 * entry buffer when it holds 16 bytes or more, else NULL: every field
 * is handed over at the start of that buffer, so a callback given
 * data == *wide may read 8 bytes at data (a buffer moved by a long field
 * just fails the test until the next block). */
static int feed(struct csv_parser *p, const char *buf, size_t off,
                size_t len, void (*cb1)(void *, size_t, void *),
                void (*cb2)(int, void *), void *data, const int *stop,
                const void **wide)
{
    size_t block = wide ? FIRST_BLOCK : FEED_BLOCK;

    while (off < len && !(stop && *stop)) {
        size_t k = len - off < block ? len - off : block;

        if (wide)
            *wide = p->entry_size >= 16 ? p->entry_buf : NULL;
        block = FEED_BLOCK;
        if (csv_parse(p, buf + off, k, cb1, cb2, data) != k)
            return csv_error(p) == CSV_EPARSE ? FEED_EPARSE : FEED_ENOMEM;
        if (csv_get_buffer_size(p) > FIELD_MAX + CSV_BLOCK)
            return FEED_LONG;
        off += k;
    }
    return FEED_OK;
}

/* Where data record `rec` (0-based, counting every record libcsv ends
 * after the header, blank ones too) starts: its physical line. Found by
 * giving libcsv one line at a time, so only done for an error. 0 if it
 * cannot be told. */
struct locate_ctx {
    size_t rows;
    int row_ended;
};

static void loc_field(void *s, size_t len, void *data)
{
    (void)s;
    (void)len;
    (void)data;
}

static void loc_row(int ch, void *data)
{
    struct locate_ctx *l = data;

    (void)ch;
    l->rows++;
    l->row_ended = 1;
}

static size_t record_line(const struct layout *lay, const char *buf,
                          size_t len, size_t rec)
{
    struct csv_parser p;
    struct locate_ctx l = { 0, 0 };
    size_t pos = lay->data_off, line = lay->data_line, pending = line;
    size_t end, next, i;
    int in_record = 0, content;

    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return 0;
    csv_set_delim(&p, (unsigned char)lay->delim);
    csv_set_blk_size(&p, CSV_BLOCK);
    while (pos < len) {
        next = next_line(buf, len, pos, &end);
        content = 0;
        for (i = pos; i < end && !content; i++)
            content = !is_blank((unsigned char)buf[i])
                   || buf[i] == lay->delim;
        if (!in_record)
            pending = line;
        l.row_ended = 0;
        if (feed(&p, buf, pos, next, loc_field, loc_row, &l, NULL, NULL)
                != FEED_OK || l.rows > rec)
            break;
        in_record = (in_record || content) && !l.row_ended;
        pos = next;
        line++;
    }
    csv_free(&p);
    return pending;
}

struct raw {
    size_t n, cap;
    int64_t *time;
    int use[N_KEPT];            /* which of v[] are kept */
    double *v[N_KEPT];          /* NULL for columns not used */
    /* kept up to date row by row, for post-processing: */
    size_t inc, dec, eq;        /* adjacent time steps up, down, equal
                                 * (inc worked out at the end) */
    int ohlcv;                  /* v[] of OHLC and volume all kept */
    size_t suspect;             /* rows that may be bad bars */
    int midnight;               /* every time is at 00:00 UTC */
    int64_t cand;               /* the likely most common step ... */
    size_t votes;               /* ... by Boyer-Moore majority vote */
};

struct rows_ctx {
    const struct layout *lay;
    const bal_load_options *opt;
    const char *name;
    bal_error *err;
    const char *buf;            /* the whole input */
    size_t len;
    int rc;                     /* first error; 0 while none */
    size_t err_rec;             /* its record, SIZE_MAX if not a row's */
    signed char *role;          /* n_fields entries: role or -1 */
    size_t n_fields;
    char point;                 /* decimal point of the fast path */
    size_t field;               /* index of the next field in the record */
    size_t rec;                 /* records ended so far */
    int any_text, extra_text;
    double v[N_V];
    int point_at[N_V];          /* each column's, for shaped_plain */
    int64_t unix_t;
    char date[TXT_MAX + 1], tod[TXT_MAX + 1];
    size_t date_len, tod_len;
    size_t date_fmt, tod_fmt;   /* formats that matched last */
    int check_date;             /* unix + date: -1 undecided, 0 off, 1 on */
    size_t check_fmt;
    int slash;                  /* order of slash dates, once scanned */
    const char *first_fmt;
    size_t mismatch;
    int stamp_fast;             /* the date column may take fast_stamp */
    int stamp_fmt;              /* format fast_stamp read, -1: none */
    int64_t stamp;              /* its time */
    char day_text[10];          /* the last date fast_stamp read */
    int64_t day_days;           /* and its days since the epoch */
    size_t tail_n;              /* the last time's length (0: none), */
    int tail_fmt;               /* format, */
    char tail_sep;              /* separator before the hour, */
    uint64_t tail;              /* bytes after the hour */
    int64_t tail_secs;          /* and their minutes and seconds */
    size_t *skip;               /* records skipped as blank, ascending */
    size_t n_skip, cap_skip;
    struct time_cache tc;
    struct raw raw;
    const void *wide;           /* fields here may be read 8 bytes wide */
};

/* The record index of raw row i: rows are the records that were not
 * skipped as blank, in order. */
static size_t rec_of_row(const struct rows_ctx *c, size_t i)
{
    size_t k, r = i;

    for (k = 0; k < c->n_skip && c->skip[k] <= r; k++)
        r++;
    return r;
}

static int note_skip(struct rows_ctx *c)
{
    if (c->n_skip == c->cap_skip) {
        size_t cap = c->cap_skip * 2 + 16;
        size_t *p = cap < SIZE_MAX / sizeof(*p)
                  ? realloc(c->skip, cap * sizeof(*p)) : NULL;

        if (!p)
            return bal_error_set(c->err, BAL_ENOMEM, "out of memory");
        c->skip = p;
        c->cap_skip = cap;
    }
    c->skip[c->n_skip++] = c->rec;
    return 0;
}

/* Large arrays start on a 2 MiB boundary with transparent huge pages
 * asked for, where the system has them: fewer page faults for the
 * tens of megabytes a big file fills. Any such block may be given to
 * realloc and free. */
#define HUGE_PAGE ((size_t)1 << 21)

static void *big_realloc(void *old, size_t size)
{
#ifdef MADV_HUGEPAGE
    if (!old && size >= 2 * HUGE_PAGE && size <= SIZE_MAX - HUGE_PAGE) {
        size_t round = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        void *p = aligned_alloc(HUGE_PAGE, round);

        if (p)
            madvise(p, round, MADV_HUGEPAGE);   /* advice only */
        return p;
    }
#endif
    return realloc(old, size);
}

static void raw_free(struct raw *r)
{
    size_t i;

    free(r->time);
    for (i = 0; i < N_KEPT; i++)
        free(r->v[i]);
    memset(r, 0, sizeof(*r));
}

static int raw_resize(struct raw *r, size_t cap)
{
    size_t i;
    void *p;

    if (cap > SIZE_MAX / sizeof(int64_t))
        return BAL_ENOMEM;
    p = big_realloc(r->time, cap * sizeof(*r->time));
    if (!p)
        return BAL_ENOMEM;
    r->time = p;
    for (i = 0; i < N_KEPT; i++) {
        if (!r->use[i])
            continue;
        p = big_realloc(r->v[i], cap * sizeof(double));
        if (!p)
            return BAL_ENOMEM;
        r->v[i] = p;
    }
    r->cap = cap;
    return 0;
}

/* Rows the data probably holds, from the length of its first line, so
 * that the arrays are rarely grown. */
static size_t estimate_rows(const char *buf, size_t len, size_t off)
{
    size_t end, next = next_line(buf, len, off, &end);
    size_t first = next - off, rest = len - off, est;

    if (first < 16)
        first = 16;
    est = rest / first + rest / first / 8 + 64;
    if (est > rest / 16 + 1024)
        est = rest / 16 + 1024;
    if (est > ((size_t)1 << 26))
        est = (size_t)1 << 26;
    return est;
}

/* Records the first error of the record being read; its line is looked
 * up once the pass has ended. */
static void row_fail(struct rows_ctx *c, size_t col, const char *fmt, ...)
    BAL_PRINTF(3, 4);

static void row_fail(struct rows_ctx *c, size_t col, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->name, 0, col, "%s", msg);
    c->err_rec = c->rec;
}

static void fail_cell(struct rows_ctx *c, size_t col, const char *what,
                      const char *s, size_t len)
{
    char buf[SHOW_LEN];

    row_fail(c, col, "cannot parse '%s' as %s", show(buf, s, len), what);
}

static void copy_text(char *dst, size_t *dlen, const char *s, size_t len)
{
    size_t k = len < TXT_MAX ? len : TXT_MAX;

    memcpy(dst, s, k);
    dst[k] = '\0';
    *dlen = len;
}

/* A numeric cell: the fast reader for plain decimals, else the general
 * one. */
static int cell_number(const struct rows_ctx *c, const char *s, size_t len,
                       int suffix, double *x)
{
    struct decimal d;

    if (scan_decimal(&d, s, len, c->point)) {
        if (decimal_fast(&d, x))
            return NUM_OK;
        return decimal_strtod(s, len, c->point, x);
    }
    return parse_number(s, len, c->lay->decimal_comma, suffix, x);
}

static NOINLINE void number_field(struct rows_ctx *c, size_t f, int role,
                                  const char *s, size_t len)
{
    double x;
    int st = cell_number(c, s, len, role == BAL_COL_VOLUME, &x);

    if (st == NUM_BAD)
        fail_cell(c, f + 1, "a number", s, len);
    else if (st == NUM_NOMEM)
        c->rc = bal_error_set(c->err, BAL_ENOMEM, "out of memory");
    else
        c->v[v_of_role[role]] = x;
}

/* Prepares the context for the next record. */
static void record_reset(struct rows_ctx *c)
{
    int i;

    for (i = 0; i < N_V; i++)
        c->v[i] = NAN;
    c->date_len = c->tod_len = 0;
    c->any_text = c->extra_text = 0;
    c->field = 0;
    c->stamp_fmt = -1;
}

/* Do the 10 bytes at s equal those at day (a memcmp the compiler keeps
 * inline)? */
static int same_day(const char *s, const char *day)
{
    uint64_t a, b;
    uint16_t c, d;

    memcpy(&a, s, 8);
    memcpy(&b, day, 8);
    memcpy(&c, s + 8, 2);
    memcpy(&d, day + 8, 2);
    return a == b && c == d;
}

/* The date column's fast path: YYYY-MM-DD or YYYY.MM.DD alone or with
 * (T|t| )HH:MM[:SS][Z|z] (ISO) or  HH:MM[:SS] (MetaTrader), read from the
 * field with the date of the previous row remembered; the same result as
 * the general path (fast_date, to_utc). Returns the format, or -1 to
 * leave the cell to the general path. */
static int fast_stamp(struct rows_ctx *c, const char *s, size_t n,
                      int64_t *t)
{
    unsigned y1, y2, mo, d, h = 0, mi = 0, sec = 0;
    int fmt, y;
    int64_t v;
    uint64_t tail;

    if (n != 10 && n != 16 && n != 19 && n != 20)
        return -1;
    if (s[4] == '-')
        fmt = FMT_ISO;
    else if (s[4] == '.')
        fmt = FMT_MT4;
    else
        return -1;
    if (!same_day(s, c->day_text)) {
        if (s[7] != s[4] || !two_digits(s, &y1) || !two_digits(s + 2, &y2)
            || !two_digits(s + 5, &mo) || !two_digits(s + 8, &d))
            return -1;
        y = (int)(y1 * 100 + y2);
        if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
            return -1;
        c->day_days = bal_days_from_civil(y, mo, d);
        memcpy(c->day_text, s, 10);
    }
    v = c->day_days * 86400;
    if (n == 10) {
        *t = v;
        return fmt;
    }
    /* bars a fixed step apart mostly change the hour only: the rest of
     * the time, the same bytes as the last stamp's, keeps its value */
    tail = load_le64(s + n - 8) >> (8 * (21 - n));  /* bytes 13..n-1 */
    if (n == c->tail_n && fmt == c->tail_fmt && s[10] == c->tail_sep
        && tail == c->tail) {
        if (!two_digits(s + 11, &h) || h > 23)
            return -1;
        v += (int64_t)h * 3600 + c->tail_secs;
    } else {
        if (!(s[10] == ' '
              || (fmt == FMT_ISO && (s[10] == 'T' || s[10] == 't')))
            || s[13] != ':' || !two_digits(s + 11, &h)
            || !two_digits(s + 14, &mi) || h > 23 || mi > 59)
            return -1;
        if (n > 16 && (s[16] != ':' || !two_digits(s + 17, &sec) || sec > 59))
            return -1;
        if (n == 20 && (fmt != FMT_ISO || (s[19] != 'Z' && s[19] != 'z')))
            return -1;
        c->tail_n = n;
        c->tail_fmt = fmt;
        c->tail_sep = s[10];
        c->tail = tail;
        c->tail_secs = (int64_t)mi * 60 + sec;
        v += (int64_t)h * 3600 + c->tail_secs;
    }
    if (n == 20) {
        /* UTC already */
    } else if (c->opt->tz_fx_server) {
        int64_t u = v - 3 * 3600;

        v = us_dst(&c->tc, u) ? u : v - 2 * 3600;
    } else {
        v -= c->opt->tz_offset_seconds;
    }
    *t = v;
    return fmt;
}

/* Every field but a plain number: blanks, dates, unix times, numbers
 * the fast path leaves, fields past the header's last column. */
static NOINLINE void other_field(struct rows_ctx *c, const char *s,
                                 size_t len, size_t f)
{
    int role;

    if (len) {
        if (len > FIELD_MAX) {
            row_fail(c, f + 1, "field longer than %zu bytes", FIELD_MAX);
            return;
        }
        if (!c->any_text)
            c->any_text = has_text(s, len);
    }
    if (f >= c->n_fields) {
        if (len && has_text(s, len))
            c->extra_text = 1;
        return;
    }
    role = c->role[f];
    if (role >= BAL_COL_OPEN)
        number_field(c, f, role, s, len);
    else if (role == BAL_COL_DATE)
        copy_text(c->date, &c->date_len, s, len);
    else if (role == BAL_COL_UNIX) {
        if (!parse_unix(s, len, 1, &c->unix_t))
            fail_cell(c, f + 1, "a unix time", s, len);
    } else if (role == BAL_COL_TIME)
        copy_text(c->tod, &c->tod_len, s, len);
}

/* Every field but the plainest numbers and the dates fast_stamp reads,
 * which on_field hands elsewhere; role is the field's, -1 past the
 * header's columns. */
static NOINLINE void field_rest(struct rows_ctx *c, const char *s,
                                size_t len, size_t f, int role)
{
    double x;

    if (c->rc)
        return;
    if (role >= BAL_COL_OPEN && fast_plain(s, len, c->point, &x)) {
        c->v[v_of_role[role]] = x;
        c->any_text = 1;
        c->point_at[v_of_role[role]] = point_at(s, len, c->point);
        return;
    }
    other_field(c, s, len, f);
}

/* The date column when fast_stamp may read it. */
static NOINLINE void date_field(struct rows_ctx *c, const char *s,
                                size_t len, size_t f)
{
    if (c->rc)
        return;
    c->stamp_fmt = fast_stamp(c, s, len, &c->stamp);
    if (c->stamp_fmt >= 0)
        c->any_text = 1;
    else
        other_field(c, s, len, f);
}

/* libcsv's field callback, called for every cell (some 30 million a
 * second): kept a leaf for the commonest cell (a short plain number) so
 * that it saves no registers; everything else goes to field_rest. */
static void on_field(void *data, size_t len, void *vctx)
{
    struct rows_ctx *c = vctx;
    size_t f = c->field++;
    int role = f < c->n_fields ? c->role[f] : -1;

    /* after an error only field_rest must stay quiet: this writes no
     * more than a value */
    if (role >= BAL_COL_OPEN && data == c->wide && data
        && shaped_plain(c->point_at[v_of_role[role]], data, len, c->point,
                        &c->v[v_of_role[role]])) {
        c->any_text = 1;
        return;
    }
    if (role == BAL_COL_DATE && c->stamp_fast && data) {
        date_field(c, data, len, f);
        return;
    }
    field_rest(c, data ? (const char *)data : "", len, f, role);
}

/* Which order do the slash dates of the date column follow? One pass of
 * libcsv over the data: a first number above 12 somewhere means DD/MM, a
 * second one above 12 MM/DD (both: MM/DD, and the other rows fail). */
struct slash_scan {
    size_t col, field;
    int first_big, second_big;
};

static void slash_field(void *s, size_t len, void *data)
{
    struct slash_scan *sc = data;
    const char *t = s ? (const char *)s : "";
    unsigned a, b;

    if (sc->field++ != sc->col)
        return;
    trim(&t, &len);
    if (slash_shape(t, len, &a, &b)) {
        sc->first_big |= a > 12;
        sc->second_big |= b > 12;
    }
}

static void slash_row(int ch, void *data)
{
    (void)ch;
    ((struct slash_scan *)data)->field = 0;
}

static int slash_order(struct rows_ctx *c)
{
    const struct layout *lay = c->lay;
    struct slash_scan sc = { 0, 0, 0, 0 };
    struct csv_parser p;

    sc.col = (size_t)lay->col[BAL_COL_DATE];
    if (csv_init(&p, 0) != 0) {
        c->rc = bal_error_set(c->err, BAL_ENOMEM, "out of memory");
        return SLASH_AMBIGUOUS;
    }
    csv_set_delim(&p, (unsigned char)lay->delim);
    csv_set_blk_size(&p, CSV_BLOCK);
    if (feed(&p, c->buf, lay->data_off, c->len, slash_field, slash_row, &sc,
             NULL, NULL) == FEED_OK)
        csv_fini(&p, slash_field, slash_row, &sc);
    csv_free(&p);
    if (sc.second_big)
        return SLASH_MDY;
    return sc.first_big ? SLASH_DMY : SLASH_AMBIGUOUS;
}

/* What a date cell holds: a date (and maybe a time) in *dt, or a unix
 * time in *unix_t. */
struct date_read {
    struct dt dt;
    int is_unix;
    int64_t unix_t;
    const char *name;           /* the format's name */
};

/* Reads a date cell with the user's format, or the fast path, or the
 * format that matched last, then every other one. Returns 1, 0 when no
 * format reads it, -1 for a slash date whose order the data leaves open
 * (0 when quiet). */
static int match_date(struct rows_ctx *c, const char *s, size_t n,
                      size_t *cache, struct date_read *dr, int quiet)
{
    size_t k, i;
    unsigned a, b;
    int f;

    dr->is_unix = 0;
    if (n > TXT_MAX)
        return 0;
    trim(&s, &n);
    if (c->lay->user_pat[0]) {
        dr->name = "date_format";
        return parse_pattern(c->lay->user_pat, s, n, 1, &dr->dt);
    }
    f = fast_date(s, n, &dr->dt);
    if (f >= 0) {
        *cache = (size_t)f;
        dr->name = date_formats[f].name;
        return 1;
    }
    if (slash_shape(s, n, &a, &b)) {
        if (c->slash == SLASH_NONE)
            c->slash = slash_order(c);
        if (c->slash == SLASH_AMBIGUOUS)
            return quiet ? 0 : -1;
    }
    for (k = 0; k < N_DATE_FORMATS; k++) {
        i = k == 0 ? *cache : (k <= *cache ? k - 1 : k);
        if (date_formats[i].slash != SLASH_NONE
            && date_formats[i].slash != c->slash)
            continue;
        if (!date_formats[i].pattern) {
            if (!parse_unix(s, n, 9, &dr->unix_t))
                continue;
            dr->is_unix = 1;
        } else if (!parse_pattern(date_formats[i].pattern, s, n, 1,
                                  &dr->dt)) {
            continue;
        }
        *cache = i;
        dr->name = date_formats[i].name;
        return 1;
    }
    return 0;
}

static int read_date(struct rows_ctx *c, const char *s, size_t n,
                     size_t *cache, int64_t *t, int *date_only,
                     const char **name, int quiet)
{
    struct date_read dr;
    int st = match_date(c, s, n, cache, &dr, quiet);

    if (st <= 0)
        return st;
    if (dr.is_unix) {
        *t = dr.unix_t;
        *date_only = 0;
    } else {
        *t = to_utc(&c->tc, &dr.dt, c->opt);
        *date_only = !dr.dt.has_time;
    }
    *name = dr.name;
    return 1;
}

/* Date column plus time-of-day column, as one UTC time. A date-only
 * date is joined to the time of day before the zone rules apply. */
static int read_date_tod(struct rows_ctx *c, int64_t *t, size_t *bad_col,
                         const char **name)
{
    const struct layout *lay = c->lay;
    struct date_read dr;
    struct dt tod;
    const char *s;
    size_t n, k, i;
    int date_only, st;

    *bad_col = (size_t)lay->col[BAL_COL_DATE] + 1;
    if (lay->col[BAL_COL_TIME] < 0)
        return read_date(c, c->date, c->date_len, &c->date_fmt, t,
                         &date_only, name, 0);
    st = match_date(c, c->date, c->date_len, &c->date_fmt, &dr, 0);
    if (st <= 0)
        return st;
    if (dr.is_unix || dr.dt.has_time || dr.dt.has_zone)
        return 0;               /* the date must be a date alone */
    *bad_col = (size_t)lay->col[BAL_COL_TIME] + 1;
    s = c->tod;
    n = c->tod_len;
    if (n > TXT_MAX)
        return 0;
    trim(&s, &n);
    if (!fast_tod(s, n, &tod)) {
        for (k = 0; k < N_TOD_FORMATS; k++) {
            i = k == 0 ? c->tod_fmt : (k <= c->tod_fmt ? k - 1 : k);
            if (parse_pattern(tod_formats[i].pattern, s, n, 0, &tod)) {
                c->tod_fmt = i;
                break;
            }
        }
        if (k == N_TOD_FORMATS)
            return 0;
    }
    dr.dt.h = tod.h;
    dr.dt.mi = tod.mi;
    dr.dt.s = tod.s;
    dr.dt.has_time = 1;
    *t = to_utc(&c->tc, &dr.dt, c->opt);
    *name = dr.name;
    return 1;
}

/* An adjusted close: open, high and low scaled by adj / close, then the
 * close replaced by adj. */
static NOINLINE void adjust_row(struct rows_ctx *c)
{
    double *v = c->v;
    size_t i;

    if (c->lay->ohlc) {
        double ratio = v[V_ADJ] / v[V_CLOSE];

        if (!isfinite(ratio) || !(v[V_CLOSE] > 0))
            ratio = NAN;        /* cannot adjust: the bar is missing */
        for (i = V_OPEN; i <= V_LOW; i++) {
            v[i] *= ratio;
            if (!isfinite(v[i]))
                v[i] = NAN;
        }
    }
    v[V_CLOSE] = v[V_ADJ];
}

/* Appends the record's time and values, and keeps the running facts
 * post_process reads. Called once per row: the common layout (OHLC and
 * volume, no adjusted close) takes no test per column. */
static int push_row(struct rows_ctx *c, int64_t t)
{
    struct raw *r = &c->raw;
    const double *v = c->v;
    size_t n = r->n, i;

    if (n == r->cap && raw_resize(r, r->cap * 2 + 1024) < 0)
        return bal_error_set(c->err, BAL_ENOMEM, "out of memory");
    if (c->lay->adj)
        adjust_row(c);
    r->time[n] = t;
    if (r->ohlcv) {
        r->v[V_OPEN][n] = v[V_OPEN];
        r->v[V_HIGH][n] = v[V_HIGH];
        r->v[V_LOW][n] = v[V_LOW];
        r->v[V_CLOSE][n] = v[V_CLOSE];
        r->v[V_VOL][n] = v[V_VOL];
    } else {
        for (i = 0; i < N_KEPT; i++)
            if (r->v[i])
                r->v[i][n] = v[i];
    }
    r->n = n + 1;
    if (n > 0) {
        int64_t d = t - r->time[n - 1];

        r->dec += d < 0;
        r->eq += d == 0;
        if (r->votes == 0)
            r->cand = d;
        if (r->votes == 0 || d == r->cand)
            r->votes++;
        else
            r->votes--;
    }
    if (r->midnight)            /* settled by the first bar off midnight */
        r->midnight = t % 86400 == 0;
    if (c->lay->ohlc)
        r->suspect += !((v[V_LOW] > 0) & (v[V_LOW] <= v[V_OPEN])
                        & (v[V_OPEN] <= v[V_HIGH]) & (v[V_LOW] <= v[V_CLOSE])
                        & (v[V_CLOSE] <= v[V_HIGH]));
    else
        r->suspect += !(v[V_CLOSE] > 0);
    return 0;
}

static void row_end(struct rows_ctx *c)
{
    const struct layout *lay = c->lay;
    size_t nf = c->field, bad_col;
    const char *fmt = NULL;
    int64_t t, td = 0;
    int st;
    char buf[SHOW_LEN];

    if (c->rc)
        return;
    if (nf == 0 || !c->any_text) {  /* a row of empty cells */
        c->rc = note_skip(c);
        return;
    }
    if (nf < lay->need) {
        row_fail(c, nf + 1, "short row: %zu fields, the header has %zu", nf,
                 lay->n_fields);
        return;
    }
    if (c->extra_text) {
        row_fail(c, lay->n_fields + 1, "long row: %zu fields, the header "
                 "has %zu", nf, lay->n_fields);
        return;
    }
    if (lay->col[BAL_COL_UNIX] >= 0) {
        t = c->unix_t;
        fmt = "unix";
        if (lay->col[BAL_COL_DATE] >= 0 && c->check_date != 0) {
            int date_only = 0;
            const char *df;
            int ok = read_date(c, c->date, c->date_len, &c->check_fmt, &td,
                               &date_only, &df, 1) > 0;

            if (c->rc)
                return;
            if (c->check_date < 0)
                c->check_date = ok;
            if (c->check_date > 0) {
                int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);

                if (!ok || (date_only ? td != day * 86400 : td != t))
                    c->mismatch++;
            }
        }
    } else if (c->stamp_fmt >= 0) {
        t = c->stamp;
        fmt = date_formats[c->stamp_fmt].name;
        c->date_fmt = (size_t)c->stamp_fmt;
    } else {
        st = read_date_tod(c, &t, &bad_col, &fmt);
        if (c->rc)
            return;
        if (st < 0) {
            row_fail(c, bad_col, "ambiguous date '%s': MM/DD/YYYY and "
                     "DD/MM/YYYY both fit every row; set date_format",
                     show(buf, c->date, c->date_len));
            return;
        }
        if (st == 0) {
            int tod = lay->col[BAL_COL_TIME] >= 0
                   && bad_col == (size_t)lay->col[BAL_COL_TIME] + 1;

            row_fail(c, bad_col, "cannot parse '%s' as %s",
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

static void on_row(int ch, void *vctx)
{
    struct rows_ctx *c = vctx;

    (void)ch;
    row_end(c);
    record_reset(c);
    c->rec++;
}

/* Gives the whole data section to libcsv in large blocks. */
static int read_rows(struct rows_ctx *c)
{
    const struct layout *lay = c->lay;
    struct csv_parser p;
    int st;

    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return bal_error_set(c->err, BAL_ENOMEM, "out of memory");
    csv_set_delim(&p, (unsigned char)lay->delim);
    csv_set_blk_size(&p, CSV_BLOCK);
    st = feed(&p, c->buf, lay->data_off, c->len, on_field, on_row, c,
              &c->rc, &c->wide);
    if (!c->rc) {
        if (st == FEED_EPARSE)
            row_fail(c, c->field + 1, "malformed quoted field");
        else if (st == FEED_LONG)
            row_fail(c, c->field + 1, "field longer than %zu bytes",
                     FIELD_MAX);
        else if (st == FEED_ENOMEM)
            c->rc = bal_error_set(c->err, BAL_ENOMEM, "out of memory");
        else if (csv_fini(&p, on_field, on_row, c) != 0 && !c->rc)
            row_fail(c, c->field + 1, "unterminated quoted field");
    }
    csv_free(&p);
    c->wide = NULL;
    if (c->rc && c->err_rec != SIZE_MAX && c->err)
        c->err->line = record_line(lay, c->buf, c->len, c->err_rec);
    if (!c->rc && c->raw.n == 0 && lay->header_line)
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->name, 0, 0,
                                 "no data rows after the header on line "
                                 "%zu",
                                 lay->header_line);
    else if (!c->rc && c->raw.n == 0)
        c->rc = bal_error_set_at(c->err, BAL_EPARSE, c->name, 0, 0,
                                 "no data rows");
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

/* Selection (Hoare's FIND with a median-of-three pivot): afterwards x[k]
 * holds the k-th smallest of x[0..n), with nothing larger before it and
 * nothing smaller after it. Expected O(n); a sort finishes the job if
 * the partitions keep coming out lopsided. No NaN in x. */
#define DEFINE_SELECT(fn, type, cmp)                                       \
    static void fn(type *x, size_t n, size_t k)                            \
    {                                                                      \
        size_t lo = 0, hi = n - 1, i, j, mid, budget = 64;                 \
        type a, tmp;                                                       \
                                                                           \
        while (hi > lo + 1) {                                              \
            if (budget-- == 0) {                                           \
                qsort(x + lo, hi - lo + 1, sizeof(type), cmp);             \
                return;                                                    \
            }                                                              \
            mid = lo + (hi - lo) / 2;                                      \
            tmp = x[mid]; x[mid] = x[lo + 1]; x[lo + 1] = tmp;             \
            if (x[lo] > x[hi]) {                                           \
                tmp = x[lo]; x[lo] = x[hi]; x[hi] = tmp;                   \
            }                                                              \
            if (x[lo + 1] > x[hi]) {                                       \
                tmp = x[lo + 1]; x[lo + 1] = x[hi]; x[hi] = tmp;           \
            }                                                              \
            if (x[lo] > x[lo + 1]) {                                       \
                tmp = x[lo]; x[lo] = x[lo + 1]; x[lo + 1] = tmp;           \
            }                                                              \
            i = lo + 1;                                                    \
            j = hi;                                                        \
            a = x[lo + 1];      /* x[lo] <= a <= x[hi]: sentinels */       \
            for (;;) {                                                     \
                do                                                         \
                    i++;                                                   \
                while (x[i] < a);                                          \
                do                                                         \
                    j--;                                                   \
                while (x[j] > a);                                          \
                if (j < i)                                                 \
                    break;                                                 \
                tmp = x[i]; x[i] = x[j]; x[j] = tmp;                       \
            }                                                              \
            x[lo + 1] = x[j];                                              \
            x[j] = a;                                                      \
            if (j >= k)                                                    \
                hi = j - 1;                                                \
            if (j <= k)                                                    \
                lo = i;                                                    \
        }                                                                  \
        if (hi == lo + 1 && x[hi] < x[lo]) {                               \
            tmp = x[lo]; x[lo] = x[hi]; x[hi] = tmp;                       \
        }                                                                  \
    }

DEFINE_SELECT(select_double, double, cmp_double)
DEFINE_SELECT(select_i64, int64_t, cmp_i64)

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
    int64_t *d, cand = 0, x;
    size_t i, m, k, count = 0, less = 0, same = 0;

    *out = 0;
    if (n < 2)
        return 0;
    m = n - 1;
    k = (m - 1) / 2;            /* the lower median of m spacings */
    /* a regular series has one spacing most of the time: find the likely
     * majority (Boyer-Moore vote) and see whether it covers index k */
    for (i = 1; i < n; i++) {
        x = time[i] - time[i - 1];
        if (count == 0) {
            cand = x;
            count = 1;
        } else {
            count = x == cand ? count + 1 : count - 1;
        }
    }
    for (i = 1; i < n; i++) {
        x = time[i] - time[i - 1];
        less += x < cand;
        same += x == cand;
    }
    if (less <= k && k < less + same) {
        *out = cand;
        return 0;
    }
    d = malloc(m * sizeof(*d));
    if (!d)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    for (i = 1; i < n; i++)
        d[i - 1] = time[i] - time[i - 1];
    select_i64(d, m, k);
    *out = d[k];
    free(d);
    return 0;
}

/* m_t for a bar near an end of the series: its neighbours sorted by
 * insertion, then the median (the mean of the middle two when even). */
static double edge_median(const double *c, size_t n, size_t t)
{
    double nb[10];
    size_t lo = t >= 5 ? t - 5 : 0, hi = t + 5 < n ? t + 5 : n - 1;
    size_t j, m = 0, q;

    for (j = lo; j <= hi; j++) {
        if (j == t)
            continue;
        for (q = m; q > 0 && nb[q - 1] > c[j]; q--)
            nb[q] = nb[q - 1];
        nb[q] = c[j];
        m++;
    }
    if (m == 0)
        return NAN;             /* a single bar has no neighbour */
    return m % 2 ? nb[m / 2] : 0.5 * (nb[m / 2 - 1] + nb[m / 2]);
}

/* The comparator network of neighbour_medians, on any type T with the
 * operations MIN and MAX (no NaN in the data): CX orders a <= b, MN keeps
 * only the smaller in a, MX only the larger in b. */
#define CX(a, b)                                                           \
    do {                                                                   \
        T lo_ = MIN(a, b);                                                 \
        (b) = MAX(a, b);                                                   \
        (a) = lo_;                                                         \
    } while (0)
#define MN(a, b) ((a) = MIN(a, b))
#define MX(a, b) ((b) = MAX(a, b))
/* The first stage of both networks: v0..v7 into the order the rest
 * needs (Batcher's merge of two sorted fours, less the comparators
 * whose outputs are not used). */
#define SORT8_MIDDLE()                                                     \
    do {                                                                   \
        CX(v0, v1);                                                        \
        CX(v2, v3);                                                        \
        CX(v0, v2);                                                        \
        CX(v1, v3);                                                        \
        CX(v1, v2);                                                        \
        CX(v4, v5);                                                        \
        CX(v6, v7);                                                        \
        CX(v4, v6);                                                        \
        CX(v5, v7);                                                        \
        CX(v5, v6);                                                        \
        CX(v0, v4);                                                        \
        CX(v2, v6);                                                        \
        CX(v2, v4);                                                        \
        CX(v1, v5);                                                        \
        MN(v3, v7);                                                        \
        CX(v3, v5);                                                        \
        CX(v1, v2);                                                        \
        CX(v3, v4);                                                        \
        CX(v5, v6);                                                        \
    } while (0)
#define NETWORK()                                                          \
    do {                                                                   \
        SORT8_MIDDLE();                                                    \
        CX(v8, v9);                                                        \
        CX(v8, v10);                                                       \
        CX(v9, v10);                                                       \
        MX(v0, v8);                                                        \
        CX(v4, v8);                                                        \
        CX(v2, v10);                                                       \
        MN(v6, v10);                                                       \
        MX(v2, v4);                                                        \
        MN(v6, v8);                                                        \
        MX(v1, v9);                                                        \
        MN(v5, v9);                                                        \
        CX(v3, v5);                                                        \
        MX(v3, v4);                                                        \
        CX(v5, v6);                                                        \
    } while (0)

/* Positions 3..6 (0-based) of 10 sorted inputs v0..v9, the same way. */
#define NETWORK10()                                                        \
    do {                                                                   \
        SORT8_MIDDLE();                                                    \
        CX(v8, v9);                                                        \
        MX(v0, v8);                                                        \
        CX(v4, v8);                                                        \
        MX(v2, v4);                                                        \
        MN(v6, v8);                                                        \
        MX(v1, v9);                                                        \
        MN(v5, v9);                                                        \
        CX(v3, v5);                                                        \
        CX(v3, v4);                                                        \
        CX(v5, v6);                                                        \
    } while (0)

/* The neighbour medians m_t (see find_spikes) of every bar. Inside the
 * series, a comparator network takes the order statistics s4 <= s5 <= s6
 * (0-based) of the eleven closes c[t-5..t+5]; the ten neighbours' middle
 * two are then (s5, s6) when c_t < s5, (s4, s5) when c_t > s5 and
 * (s4, s6) when c_t is s5 itself. The network is Batcher's odd-even merge
 * sort of 16 inputs with 5 set to +inf, less the comparators whose
 * outputs are not s4, s5 or s6 (checked on all 2^11 inputs of 0 and 1,
 * enough for a comparator network by the 0-1 principle). With SSE2 it
 * runs on two bars at once, branch-free. */
enum { MED_SCALAR, MED_SSE2, MED_AVX2, MED_BEST };

static void neighbour_medians(const double *c, size_t n, double *med,
                              int path);

/* Not in loader.h: tests/unit/test_loader.c checks the network against
 * edge_median through it, on each path up to `path` (MED_SCALAR = 0,
 * MED_SSE2 = 1, MED_AVX2 = 2) the machine has. */
void bal__series_medians(const double *c, size_t n, double *med, int path);

void bal__series_medians(const double *c, size_t n, double *med, int path)
{
    neighbour_medians(c, n, med, path);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/* The SSE2 loop of neighbour_medians on four lanes, for the machines that
 * have AVX2 (picked at run time): bars t..t+7 at a time, the lanes taking
 * the pairs (t, t+1), (t+2, t+3), (t+4, t+5), (t+6, t+7). The same
 * operations on the same values, so the same doubles. Returns the first
 * bar left to do. */
__attribute__((target("avx2")))
static size_t medians_avx2(const double *c, size_t n, double *med, size_t t)
{
#define T __m256d
#define MIN(a, b) _mm256_min_pd(a, b)
#define MAX(a, b) _mm256_max_pd(a, b)
#define LOAD4(i)                                                           \
    _mm256_set_pd(c[t + 2 + (i)], c[t + (i)], c[t - 2 + (i)], c[t - 4 + (i)])
    for (; t + 12 < n; t += 8) {
        T v0 = LOAD4(0), v1 = LOAD4(1), v2 = LOAD4(2), v3 = LOAD4(3);
        T v4 = LOAD4(4), v5 = LOAD4(5), v6 = LOAD4(6), v7 = LOAD4(7);
        T v8 = LOAD4(8), v9 = LOAD4(9);
        T x[2], ct[2], m[2], lo, hi;
        int side;

        x[0] = _mm256_set_pd(c[t + 1], c[t - 1], c[t - 3], c[t - 5]);
        x[1] = _mm256_set_pd(c[t + 12], c[t + 10], c[t + 8], c[t + 6]);
        ct[0] = _mm256_set_pd(c[t + 6], c[t + 4], c[t + 2], c[t]);
        ct[1] = _mm256_set_pd(c[t + 7], c[t + 5], c[t + 3], c[t + 1]);
        NETWORK10();
        for (side = 0; side < 2; side++) {
            T s4 = MAX(v3, MIN(v4, x[side])), s5 = MAX(v4, MIN(v5, x[side]));
            T s6 = MAX(v5, MIN(v6, x[side]));
            T ge = _mm256_cmp_pd(ct[side], s5, _CMP_GE_OQ);
            T le = _mm256_cmp_pd(ct[side], s5, _CMP_LE_OQ);
            T u = _mm256_blendv_pd(s5, s4, ge);
            T w = _mm256_blendv_pd(s5, s6, le);

            m[side] = _mm256_mul_pd(_mm256_set1_pd(0.5), _mm256_add_pd(u, w));
        }
        lo = _mm256_unpacklo_pd(m[0], m[1]);    /* t, t+1, t+4, t+5 */
        hi = _mm256_unpackhi_pd(m[0], m[1]);    /* t+2, t+3, t+6, t+7 */
        _mm256_storeu_pd(med + t, _mm256_permute2f128_pd(lo, hi, 0x20));
        _mm256_storeu_pd(med + t + 4, _mm256_permute2f128_pd(lo, hi, 0x31));
    }
#undef LOAD4
#undef T
#undef MIN
#undef MAX
    return t;
}
#endif

static void neighbour_medians(const double *c, size_t n, double *med,
                              int path)
{
    size_t t = 5;

    (void)path;                 /* without SSE2, the scalar path alone */
    if (n < 11) {
        for (t = 0; t < n; t++)
            med[t] = edge_median(c, n, t);
        return;
    }
    for (t = 0; t < 5; t++)
        med[t] = edge_median(c, n, t);
#ifdef HAVE_AVX2_PATH
    if (path >= MED_AVX2 && __builtin_cpu_supports("avx2"))
        t = medians_avx2(c, n, med, t);
#endif
#ifdef __SSE2__
    if (path >= MED_SSE2) {
#define T __m128d
#define MIN(a, b) _mm_min_pd(a, b)
#define MAX(a, b) _mm_max_pd(a, b)
#define LOAD2(i) _mm_loadh_pd(_mm_load_sd(c + t - 4 + (i)), c + t - 2 + (i))
        /* Bars t, t + 1 share the ten closes S = c[t-4..t+5]: positions 3..6
         * of S sorted, then x = c[t-5] or c[t+6] inserted (the k-th of the
         * eleven is max(a[k-1], min(a[k], x))). The two lanes take the pairs
         * (t, t + 1) and (t + 2, t + 3). */
        for (; t + 8 < n; t += 4) {
            T v0 = LOAD2(0), v1 = LOAD2(1), v2 = LOAD2(2), v3 = LOAD2(3);
            T v4 = LOAD2(4), v5 = LOAD2(5), v6 = LOAD2(6), v7 = LOAD2(7);
            T v8 = LOAD2(8), v9 = LOAD2(9);
            T x[2], ct[2], m[2];
            int side;

            x[0] = _mm_loadh_pd(_mm_load_sd(c + t - 5), c + t - 3);
            x[1] = _mm_loadh_pd(_mm_load_sd(c + t + 6), c + t + 8);
            ct[0] = _mm_loadh_pd(_mm_load_sd(c + t), c + t + 2);
            ct[1] = _mm_loadh_pd(_mm_load_sd(c + t + 1), c + t + 3);
            NETWORK10();
            for (side = 0; side < 2; side++) {
                T s4 = MAX(v3, MIN(v4, x[side]));
                T s5 = MAX(v4, MIN(v5, x[side]));
                T s6 = MAX(v5, MIN(v6, x[side]));
                T ge = _mm_cmpge_pd(ct[side], s5);
                T le = _mm_cmple_pd(ct[side], s5);
                T u = _mm_or_pd(_mm_and_pd(ge, s4), _mm_andnot_pd(ge, s5));
                T w = _mm_or_pd(_mm_and_pd(le, s6), _mm_andnot_pd(le, s5));

                m[side] = _mm_mul_pd(_mm_set1_pd(0.5), _mm_add_pd(u, w));
            }
            _mm_storeu_pd(med + t, _mm_unpacklo_pd(m[0], m[1]));
            _mm_storeu_pd(med + t + 2, _mm_unpackhi_pd(m[0], m[1]));
        }
    }
#undef LOAD2
#undef T
#undef MIN
#undef MAX
#endif
#define T double
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) < (b) ? (b) : (a))
    for (; t + 5 < n; t++) {
        T v0 = c[t - 5], v1 = c[t - 4], v2 = c[t - 3], v3 = c[t - 2];
        T v4 = c[t - 1], v5 = c[t], v6 = c[t + 1], v7 = c[t + 2];
        T v8 = c[t + 3], v9 = c[t + 4], v10 = c[t + 5], u, w;

        NETWORK();
        u = c[t] >= v5 ? v4 : v5;
        w = c[t] <= v5 ? v6 : v5;
        med[t] = 0.5 * (u + w);
    }
#undef T
#undef MIN
#undef MAX
    for (t = n - 5; t < n; t++)
        med[t] = edge_median(c, n, t);
}
#undef CX
#undef MN
#undef MX
#undef NETWORK
#undef NETWORK10
#undef SORT8_MIDDLE

/* Sampled selection: the median of the n values v_i = src[i], or
 * |src[i] - shift| when `absolute` (the mean of the middle two for even
 * n). Two ranks of a stride sample of SAMPLE values bracket the middle ranks
 * by SAMPLE_GAP sample ranks on each side; one branch-free pass counts
 * the values below the bracket and packs those inside it into *work
 * (*cap doubles), where select_double finishes. When the bracket misses,
 * or holds more than *cap values, or n is small, *work grows to n and
 * takes every value. sample holds SAMPLE doubles. Returns 0 or BAL_ENOMEM
 * (*work is still the caller's to free). */
#define SAMPLE 4096
#define SAMPLE_GAP 128

static int spread_median(double *out, const double *src, size_t n,
                         double shift, int absolute, double **work,
                         size_t *cap, double *sample)
{
    size_t k = n / 2, kmin = n % 2 ? k : k - 1, below = 0, m = 0, i, ks;
    double lo = -INFINITY, hi = INFINITY, v, prev, *w = *work;
    int fits = 0;

    if (n >= 4 * SAMPLE) {
        for (i = 0; i < SAMPLE; i++) {
            v = src[i * (n / SAMPLE)];
            sample[i] = absolute ? fabs(v - shift) : v;
        }
        ks = kmin / (n / SAMPLE);
        if (ks >= SAMPLE_GAP) {
            select_double(sample, SAMPLE, ks - SAMPLE_GAP);
            lo = sample[ks - SAMPLE_GAP];
        }
        ks = k / (n / SAMPLE);
        if (ks + SAMPLE_GAP < SAMPLE) {
            select_double(sample, SAMPLE, ks + SAMPLE_GAP);
            hi = sample[ks + SAMPLE_GAP];
        }
        for (i = 0; i < n && m < *cap; i++) {
            int skip;

            v = absolute ? fabs(src[i] - shift) : src[i];
            skip = v < lo;
            below += (size_t)skip;
            skip |= v > hi;
            w[m] = v;
            m += (size_t)!skip;
        }
        fits = i == n && below <= kmin && below + m > k;
    }
    if (!fits) {
        if (*cap < n) {
            w = big_realloc(NULL, n * sizeof(*w));
            if (!w)
                return BAL_ENOMEM;
            free(*work);
            *work = w;
            *cap = n;
        }
        for (i = 0; i < n; i++)
            w[i] = absolute ? fabs(src[i] - shift) : src[i];
        below = 0;
        m = n;
    }
    k -= below;
    select_double(w, m, k);
    if (n % 2) {
        *out = w[k];
        return 0;
    }
    prev = w[0];                /* the largest of w[0..k), k >= 1 */
    for (i = 1; i < k; i++)
        if (w[i] > prev)
            prev = w[i];
    *out = 0.5 * (prev + w[k]);
    return 0;
}

/* Flags (and with repair, fixes) spiking closes; see loader.h. */
static int find_spikes(bal_series *s, double k, int repair, bal_error *err)
{
    size_t n = s->n, t, cap = n / 8 + 16, j, nflag;
    double *r = NULL, *work = NULL, *sample = NULL, *m = NULL;
    double centre, mad, thr;
    const double *c = s->close;
    int rc = 0;

    if (n < 2 || !(k > 0))
        return 0;
    r = big_realloc(NULL, n * sizeof(*r));
    work = malloc(cap * sizeof(*work));
    sample = malloc(SAMPLE * sizeof(*sample));
    if (!r || !work || !sample)
        goto nomem;
    neighbour_medians(c, n, r, MED_BEST);
    for (t = 0; t < n; t++)
        r[t] = log(c[t] / r[t]);
    if (spread_median(&centre, r, n, 0.0, 0, &work, &cap, sample) < 0
        || spread_median(&mad, r, n, centre, 1, &work, &cap, sample) < 0)
        goto nomem;
    if (!(mad > 0))
        goto done;
    thr = k * 1.4826 * mad;
    for (t = 0; t < n; t++)
        s->defects.spikes += fabs(r[t]) > thr;
    nflag = s->defects.spikes;
    if (!repair || nflag == 0)
        goto done;
    m = malloc(nflag * sizeof(*m));
    if (!m)
        goto nomem;
    for (t = 0, j = 0; t < n; t++)  /* every m_t before any repair */
        if (fabs(r[t]) > thr)
            m[j++] = edge_median(c, n, t);
    for (t = 0, j = 0; t < n; t++) {
        if (!(fabs(r[t]) > thr))
            continue;
        s->close[t] = m[j];
        if (s->high && s->high[t] < m[j])
            s->high[t] = m[j];
        if (s->low && s->low[t] > m[j])
            s->low[t] = m[j];
        j++;
    }
    goto done;
nomem:
    rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
done:
    free(r);
    free(work);
    free(sample);
    free(m);
    return rc;
}

static void finish_stats(bal_series *s, bal_asset_class cls)
{
    size_t i;
    int64_t lim = 3 * s->bar_seconds;

    s->all_midnight = 1;
    for (i = 0; i < s->n; i++) {
        if (s->time[i] % 86400 != 0) {
            s->all_midnight = 0;
            break;
        }
    }
    s->defects.gaps = 0;
    if (s->bar_seconds <= 0)
        return;
    for (i = 1; i < s->n; i++) {
        int64_t d = s->time[i] - s->time[i - 1];

        if (d <= lim)
            continue;           /* weekends only make it shorter */
        if (cls != BAL_CLASS_CRYPTO)
            d -= weekend_before(s->time[i]) - weekend_before(s->time[i - 1]);
        if (d > lim)
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
    double o = 0, h = 0, l = 0, c;

    if (!r->v[V_OPEN]) {
        c = r->v[V_CLOSE][row];
        if (c > 0)
            return BAD_NONE;
        first = V_CLOSE;
    } else {
        o = r->v[V_OPEN][row];
        h = r->v[V_HIGH][row];
        l = r->v[V_LOW][row];
        c = r->v[V_CLOSE][row];
        if (l > 0 && l <= o && o <= h && l <= c && c <= h)
            return BAD_NONE;    /* the common case, NaN fails it */
    }
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

static int bad_bar_error(const struct rows_ctx *c, size_t row, int kind,
                         int which, bal_error *err)
{
    static const int role[] = { BAL_COL_OPEN, BAL_COL_HIGH, BAL_COL_LOW,
                                BAL_COL_CLOSE };
    const struct raw *r = &c->raw;
    const struct layout *lay = c->lay;
    char a[BAL_NUMFMT_LEN], b[BAL_NUMFMT_LEN], h[BAL_NUMFMT_LEN];
    int col = lay->col[role[which]];
    size_t line = record_line(lay, c->buf, c->len, rec_of_row(c, row));
    const char *name = c->name;

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
    bal_numfmt(h, r->v[V_HIGH][row], "nan");
    if (kind == BAD_HL)
        return bal_error_set_at(err, BAL_EPARSE, name, line,
                                (size_t)col + 1, "high %s is below low %s",
                                h, b);
    return bal_error_set_at(err, BAL_EPARSE, name, line, (size_t)col + 1,
                            "%s %s is outside [low, high] = [%s, %s]",
                            price_name(which), a, b, h);
}

/* Counts one bar's defect; REPAIR widens high/low. Returns 1 when the
 * bar is dropped. */
static int handle_bad(struct raw *r, size_t row, int kind, bal_bad_bars pol,
                      bal_defects *d)
{
    double *o = r->v[V_OPEN], *h = r->v[V_HIGH], *l = r->v[V_LOW];
    double *cl = r->v[V_CLOSE];

    switch (kind) {
    case BAD_MISSING:
        d->missing++;
        return 1;
    case BAD_NONPOS:
        d->non_positive++;
        return 1;
    case BAD_HL:
    case BAD_OC:
        if (h[row] < l[row])
            d->high_low++;
        if (o[row] > h[row] || o[row] < l[row] || cl[row] > h[row]
            || cl[row] < l[row])
            d->open_close_outside++;
        if (pol == BAL_BAD_SKIP)
            return 1;
        if (pol == BAL_BAD_REPAIR) {
            double hi = fmax(fmax(o[row], h[row]), fmax(l[row], cl[row]));
            double lo = fmin(fmin(o[row], h[row]), fmin(l[row], cl[row]));

            h[row] = hi;
            l[row] = lo;
        }
        return 0;
    default:
        return 0;
    }
}

/* Hands the first n rows of the raw arrays to the series (no copy). */
static void take_raw(bal_series *out, struct raw *r, size_t n)
{
    double **dst[N_KEPT];
    size_t i;

    dst[V_OPEN] = &out->open;
    dst[V_HIGH] = &out->high;
    dst[V_LOW] = &out->low;
    dst[V_CLOSE] = &out->close;
    dst[V_VOL] = &out->volume;
    out->n = n;
    out->time = r->time;
    r->time = NULL;
    if (n + n / 8 < r->cap) {   /* give back what the estimate overshot */
        void *p = realloc(out->time, n * sizeof(*out->time));

        if (p)
            out->time = p;
    }
    for (i = 0; i < N_KEPT; i++) {
        *dst[i] = r->v[i];
        r->v[i] = NULL;
        if (*dst[i] && n + n / 8 < r->cap) {
            void *p = realloc(*dst[i], n * sizeof(double));

            if (p)
                *dst[i] = p;
        }
    }
}

/* Rows already in strictly increasing time: checked and compacted in
 * place, then handed over. */
static int process_in_order(bal_series *out, struct rows_ctx *c,
                            bal_error *err)
{
    struct raw *r = &c->raw;
    bal_bad_bars pol = c->opt->bad_bars;
    size_t n = r->n, i, kept = 0, v;
    int which = 0, kind;

    for (i = 0; i < n; i++) {
        kind = classify(r, i, &which);
        if (kind != BAD_NONE) {
            if (pol == BAL_BAD_ERROR)
                return bad_bar_error(c, i, kind, which, err);
            if (handle_bad(r, i, kind, pol, &out->defects))
                continue;
        }
        if (kept != i) {
            r->time[kept] = r->time[i];
            for (v = 0; v < N_KEPT; v++)
                if (r->v[v])
                    r->v[v][kept] = r->v[v][i];
        }
        kept++;
    }
    if (kept == 0)
        return bal_error_set_at(err, BAL_EPARSE, c->name, 0, 0,
                                "no usable bars: all %zu rows have a "
                                "missing or non-positive price", n);
    take_raw(out, r, kept);
    return 0;
}

/* Any other order: sort keys (time, file order), drop duplicates, check
 * the bars, then gather the kept rows into new arrays. */
static int process_keyed(bal_series *out, struct rows_ctx *c, size_t inc,
                         size_t dec, bal_error *err)
{
    const struct layout *lay = c->lay;
    const bal_load_options *opt = c->opt;
    struct raw *r = &c->raw;
    struct key *k = NULL;
    size_t n = r->n, i, a, b, kept = 0, bad_row = SIZE_MAX, dup_at = 0;
    int rc = 0, bad_kind = BAD_NONE, bad_which = 0, which = 0;
    bal_defects *d = &out->defects;

    k = malloc(n * sizeof(*k));
    if (!k)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    if (inc == 0 && dec > 0) {  /* newest first: reverse, keep ties */
        for (i = 0; i < n; i++) {
            k[i].t = r->time[n - 1 - i];
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
    } else {
        for (i = 0; i < n; i++) {
            k[i].t = r->time[i];
            k[i].i = i;
        }
        if (dec > 0)
            qsort(k, n, sizeof(*k), cmp_key);
    }

    /* duplicates: keep one row per time, in k[0..kept) */
    for (a = 0; a < n; a = b) {
        for (b = a + 1; b < n && k[b].t == k[a].t; b++)
            ;
        if (b - a > 1) {
            d->duplicates += b - a - 1;
            if (opt->duplicates == BAL_DUP_ERROR
                && (bad_row == SIZE_MAX || k[a + 1].i < bad_row)) {
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
        rc = bal_error_set_at(err, BAL_EPARSE, c->name,
                              record_line(lay, c->buf, c->len,
                                          rec_of_row(c, bad_row)),
                              (size_t)lay->col[lay->col[BAL_COL_UNIX] >= 0
                                                   ? BAL_COL_UNIX
                                                   : BAL_COL_DATE] + 1,
                              "duplicate timestamp %s (first on line %zu)",
                              when,
                              record_line(lay, c->buf, c->len,
                                          rec_of_row(c, dup_at)));
        goto done;
    }

    /* bar defects: counted, then dropped, repaired or reported */
    n = kept;
    kept = 0;
    for (i = 0; i < n; i++) {
        size_t row = k[i].i;
        int kind = classify(r, row, &which);

        if (kind != BAD_NONE && opt->bad_bars == BAL_BAD_ERROR) {
            if (bad_row == SIZE_MAX || row < bad_row) {
                bad_row = row;
                bad_kind = kind;
                bad_which = which;
            }
            continue;
        }
        if (kind != BAD_NONE && handle_bad(r, row, kind, opt->bad_bars, d))
            continue;
        k[kept++] = k[i];
    }
    if (bad_row != SIZE_MAX) {
        rc = bad_bar_error(c, bad_row, bad_kind, bad_which, err);
        goto done;
    }
    if (kept == 0) {
        rc = bal_error_set_at(err, BAL_EPARSE, c->name, 0, 0,
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
done:
    free(k);
    return rc;
}

/* bar_seconds, gaps and all_midnight of a finished series. With `whole`
 * the series is the raw rows unchanged, so the counts made row by row
 * hold: the vote's candidate spacing is checked (and the gaps counted
 * against it) in one pass. */
static int bar_stats(bal_series *s, const struct raw *r, int whole,
                     bal_asset_class cls, bal_error *err)
{
    size_t n = s->n, i, k, less = 0, same = 0, gaps = 0, votes = 0;
    int64_t cand = whole ? r->cand : 0, lim, d;
    int rc;

    s->bar_seconds = 0;
    s->defects.gaps = 0;
    s->all_midnight = 1;
    if (whole && r->midnight)
        s->all_midnight = 1;
    else
        for (i = 0; i < n && s->all_midnight; i++)
            s->all_midnight = s->time[i] % 86400 == 0;
    if (n < 2)
        return 0;
    if (!whole) {
        for (i = 1; i < n; i++) {
            d = s->time[i] - s->time[i - 1];
            if (votes == 0)
                cand = d;
            if (votes == 0 || d == cand)
                votes++;
            else
                votes--;
        }
    }
    lim = 3 * cand;
    for (i = 1; i < n; i++) {
        d = s->time[i] - s->time[i - 1];
        less += d < cand;
        same += d == cand;
        if (d > lim) {              /* weekends only make it shorter */
            if (cls != BAL_CLASS_CRYPTO)
                d -= weekend_before(s->time[i])
                   - weekend_before(s->time[i - 1]);
            gaps += d > lim;
        }
    }
    k = (n - 2) / 2;                /* the lower median of n - 1 */
    if (less <= k && k < less + same) {
        s->bar_seconds = cand;
        s->defects.gaps = gaps;
        return 0;
    }
    rc = bal_series_bar_seconds(&s->bar_seconds, s->time, n, err);
    if (rc < 0)
        return rc;
    finish_stats(s, cls);
    return 0;
}

static int post_process(bal_series *out, struct rows_ctx *c,
                        bal_error *err)
{
    struct raw *r = &c->raw;
    const bal_load_options *opt = c->opt;
    int rc = 0, whole = 0;

    r->inc = r->n - 1 - r->dec - r->eq;     /* n >= 1 here */
    out->defects.unsorted = r->dec > r->inc ? r->inc : r->dec;
    if (r->dec == 0 && r->eq == 0 && r->suspect == 0) {
        take_raw(out, r, r->n);     /* nothing to sort, drop or repair */
        whole = 1;
    } else if (r->dec == 0 && r->eq == 0) {
        rc = process_in_order(out, c, err);
    } else {
        rc = process_keyed(out, c, r->inc, r->dec, err);
    }
    if (rc < 0)
        return rc;
    rc = find_spikes(out, opt->spike_k, opt->spike_repair, err);
    if (rc < 0)
        return rc;
    return bar_stats(out, r, whole, opt->asset_class, err);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static int check_options(const bal_load_options *o, bal_error *err)
{
    size_t i;

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
    for (i = 0; i < BAL_COL_COUNT; i++) {
        if (o->column_name[i] && o->column_name[i][0] == '\0')
            return bal_error_set(err, BAL_EINVAL, "columns.%s: empty "
                                 "column name", role_names[i]);
        if (!o->column_name[i] && o->column_index[i] > INT_MAX)
            return bal_error_set(err, BAL_EINVAL, "columns.%s: column "
                                 "index %ld is too large", role_names[i],
                                 o->column_index[i]);
    }
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
    if (!buf)
        len = 0;
    rc = check_options(opt, err);
    if (rc < 0)
        return rc;
    rc = detect(&lay, name, buf ? buf : "", len, opt, err);
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
    c->buf = buf;
    c->len = len;
    c->err_rec = SIZE_MAX;
    c->n_fields = lay.n_fields;
    c->point = lay.decimal_comma ? ',' : '.';
    c->check_date = -1;
    c->stamp_fast = lay.col[BAL_COL_UNIX] < 0 && lay.col[BAL_COL_TIME] < 0
                 && !lay.user_pat[0];
    record_reset(c);
    time_cache_init(&c->tc);
    c->raw.use[V_OPEN] = c->raw.use[V_HIGH] = c->raw.use[V_LOW] = lay.ohlc;
    c->raw.use[V_CLOSE] = 1;
    c->raw.use[V_VOL] = lay.col[BAL_COL_VOLUME] >= 0;
    c->raw.ohlcv = lay.ohlc && c->raw.use[V_VOL];
    c->raw.midnight = 1;
    if (raw_resize(&c->raw, estimate_rows(buf, len, lay.data_off)) < 0) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    rc = read_rows(c);
    if (rc < 0)
        goto done;
    out->rows = c->raw.n;
    out->defects.time_mismatch = c->mismatch;
    rc = post_process(out, c, err);
    if (rc < 0)
        goto done;
    out->delimiter = lay.delim;
    out->header_line = lay.header_line;
    memcpy(out->col, lay.col, sizeof(out->col));
    out->time_format = c->first_fmt;
done:
    if (c) {
        raw_free(&c->raw);
        free(c->skip);
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

/* Maps a regular file of at least MAP_MIN bytes read-only, its pages
 * brought in at once; 0 and *out NULL when it cannot (read_file then
 * reads it). */
#define MAP_MIN ((size_t)1 << 20)

static void map_file(char **out, size_t *len, const char *path)
{
#ifdef MAP_POPULATE
    struct stat st;
    void *p;
    int fd = open(path, O_RDONLY);

    *out = NULL;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
        && (uintmax_t)st.st_size >= MAP_MIN
        && (uintmax_t)st.st_size <= SIZE_MAX) {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ,
                 MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p != MAP_FAILED) {
            *out = p;
            *len = (size_t)st.st_size;
        }
    }
    close(fd);
#else
    (void)path;
    (void)len;
    *out = NULL;
#endif
}

int bal_series_load(bal_series *out, const char *path,
                    const bal_load_options *opt, bal_error *err)
{
    char *buf;
    size_t len;
    int rc;

    memset(out, 0, sizeof(*out));
    map_file(&buf, &len, path);
    if (buf) {
        rc = bal_series_parse(out, path, buf, len, opt, err);
        munmap(buf, len);
        return rc;
    }
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
