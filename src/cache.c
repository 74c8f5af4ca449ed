/* Binary cache of parsed series; the entry format is in cache.h. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700       /* realpath (POSIX XSI) */
#endif
#include "ballast/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "ballast/version.h"

/* Layout of the entry header (see cache.h). */
#define HDR_SIZE 328
#define OFF_FORMAT 8
#define OFF_BOM 12
#define OFF_FSIZE 16
#define OFF_MSEC 24
#define OFF_MNSEC 32
#define OFF_HASH 40
#define OFF_OPTS 48
#define OFF_N 56
#define OFF_ROWS 64
#define OFF_BARSEC 72
#define OFF_HEADER_LINE 80
#define OFF_FLAGS 88
#define OFF_DELIM 92
#define OFF_NCOL 93
#define OFF_NDEF 94
#define OFF_COL 96
#define OFF_DEF 160
#define OFF_TFMT 288
#define OFF_SUM 320
#define MAX_COL 16
#define MAX_DEF 16
#define TFMT_LEN 32
#define BOM 0x01020304u
#define FLAG_OHLC 1u
#define FLAG_VOLUME 2u
#define FLAG_MIDNIGHT 4u
#define N_DEFECTS 9
#define MAX_ARRAYS 6

static const char magic[8] = { 'B', 'A', 'L', 'C', 'A', 'C', 'H', 'E' };

/* These mirrors list the fields this file serializes or hashes. When a
 * field is added to bal_series, bal_defects or bal_load_options, the size
 * check below fails: handle the new field here (entry, options hash) and
 * bump BAL_CACHE_FORMAT. */
struct series_mirror {
    size_t n;
    int64_t *time;
    double *open, *high, *low, *close, *volume;
    size_t rows;
    int64_t bar_seconds;
    int all_midnight;
    char delimiter;
    size_t header_line;
    int col[BAL_COL_COUNT];
    const char *time_format;
    bal_defects defects;
};
struct options_mirror {
    bal_asset_class asset_class;
    int64_t tz_offset_seconds;
    int tz_fx_server;
    const char *date_format;
    int use_adj_close;
    bal_duplicates duplicates;
    bal_bad_bars bad_bars;
    double spike_k;
    int spike_repair;
    const char *column_name[BAL_COL_COUNT];
    long column_index[BAL_COL_COUNT];
};
_Static_assert(sizeof(bal_series) == sizeof(struct series_mirror),
               "bal_series changed: update cache.c and BAL_CACHE_FORMAT");
_Static_assert(sizeof(bal_defects) == N_DEFECTS * sizeof(size_t),
               "bal_defects changed: update cache.c and BAL_CACHE_FORMAT");
_Static_assert(sizeof(bal_load_options) == sizeof(struct options_mirror),
               "bal_load_options changed: update hash_options in cache.c "
               "and BAL_CACHE_FORMAT");
_Static_assert(BAL_COL_COUNT <= MAX_COL, "too many column roles");

/* time_format is a static string; an entry stores its text, and a hit
 * points the series at the same text here. A series whose format is not
 * listed is not cached (so a new loader format costs speed, never
 * correctness). */
static const char *const time_formats[] = {
    "YYYY-MM-DD", "YYYY-MM-DD HH-AM", "YYYY.MM.DD", "DD.MM.YYYY",
    "YYYYMMDD", "unix", "date_format", "arrays", "YYYY.MM.DD HH:MM",
    "MM/DD/YYYY", "DD/MM/YYYY",
};
#define N_TIME_FORMATS (sizeof(time_formats) / sizeof(time_formats[0]))

/* The key of an entry: what the file and options must match. */
struct key {
    uint64_t size;
    int64_t mtime_sec, mtime_nsec;
    uint64_t hash;
    uint64_t opts;
};

static void put_u32(unsigned char *h, size_t off, uint32_t v)
{
    memcpy(h + off, &v, sizeof(v));
}

static void put_u64(unsigned char *h, size_t off, uint64_t v)
{
    memcpy(h + off, &v, sizeof(v));
}

static void put_i64(unsigned char *h, size_t off, int64_t v)
{
    memcpy(h + off, &v, sizeof(v));
}

static uint32_t get_u32(const unsigned char *h, size_t off)
{
    uint32_t v;

    memcpy(&v, h + off, sizeof(v));
    return v;
}

static uint64_t get_u64(const unsigned char *h, size_t off)
{
    uint64_t v;

    memcpy(&v, h + off, sizeof(v));
    return v;
}

static int64_t get_i64(const unsigned char *h, size_t off)
{
    int64_t v;

    memcpy(&v, h + off, sizeof(v));
    return v;
}

/* Returns the listed copy of name, or NULL when it is not listed. */
static const char *intern_time_format(const char *name)
{
    size_t i;

    for (i = 0; i < N_TIME_FORMATS; i++)
        if (strcmp(name, time_formats[i]) == 0)
            return time_formats[i];
    return NULL;
}

/* Chains one field into the options hash: a tag, then the value. */
static uint64_t mix(uint64_t h, uint32_t tag, const void *p, size_t len)
{
    h = XXH3_64bits_withSeed(&tag, sizeof(tag), h);
    return XXH3_64bits_withSeed(p, len, h);
}

static uint64_t mix_i64(uint64_t h, uint32_t tag, int64_t v)
{
    return mix(h, tag, &v, sizeof(v));
}

/* A string by content, its length first; NULL differs from "". */
static uint64_t mix_str(uint64_t h, uint32_t tag, const char *s)
{
    uint64_t len = s ? (uint64_t)strlen(s) : UINT64_MAX;

    h = mix(h, tag, &len, sizeof(len));
    return s ? XXH3_64bits_withSeed(s, (size_t)len, h) : h;
}

/* Hash of every documented field of the options, the entry format and
 * the tool version (a new loader may parse the same bytes differently). */
static uint64_t hash_options(const bal_load_options *o)
{
    static const char version[] = BAL_VERSION;
    uint64_t h = 0;
    size_t i;

    h = mix_i64(h, 1, BAL_CACHE_FORMAT);
    h = mix(h, 2, version, sizeof(version) - 1);
    h = mix_i64(h, 3, (int64_t)sizeof(void *));
    h = mix_i64(h, 10, (int64_t)o->asset_class);
    h = mix_i64(h, 11, o->tz_offset_seconds);
    h = mix_i64(h, 12, (int64_t)o->tz_fx_server);
    h = mix_str(h, 13, o->date_format);
    h = mix_i64(h, 14, (int64_t)o->use_adj_close);
    h = mix_i64(h, 15, (int64_t)o->duplicates);
    h = mix_i64(h, 16, (int64_t)o->bad_bars);
    h = mix(h, 17, &o->spike_k, sizeof(o->spike_k));
    h = mix_i64(h, 18, (int64_t)o->spike_repair);
    for (i = 0; i < BAL_COL_COUNT; i++) {
        h = mix_str(h, (uint32_t)(100 + i), o->column_name[i]);
        h = mix_i64(h, (uint32_t)(200 + i), (int64_t)o->column_index[i]);
    }
    return h;
}

static void defects_to_array(uint64_t d[N_DEFECTS], const bal_defects *x)
{
    d[0] = x->duplicates;
    d[1] = x->unsorted;
    d[2] = x->high_low;
    d[3] = x->open_close_outside;
    d[4] = x->non_positive;
    d[5] = x->missing;
    d[6] = x->spikes;
    d[7] = x->gaps;
    d[8] = x->time_mismatch;
}

static void defects_from_array(bal_defects *x, const uint64_t d[N_DEFECTS])
{
    x->duplicates = (size_t)d[0];
    x->unsorted = (size_t)d[1];
    x->high_low = (size_t)d[2];
    x->open_close_outside = (size_t)d[3];
    x->non_positive = (size_t)d[4];
    x->missing = (size_t)d[5];
    x->spikes = (size_t)d[6];
    x->gaps = (size_t)d[7];
    x->time_mismatch = (size_t)d[8];
}

/* The arrays of s in payload order; returns how many. */
static size_t series_arrays(void *a[MAX_ARRAYS], const bal_series *s)
{
    size_t k = 0;

    a[k++] = s->time;
    if (s->open) {
        a[k++] = s->open;
        a[k++] = s->high;
        a[k++] = s->low;
    }
    a[k++] = s->close;
    if (s->volume)
        a[k++] = s->volume;
    return k;
}

static uint64_t checksum(const unsigned char *hdr, void *const a[],
                         size_t na, size_t n)
{
    uint64_t h = XXH3_64bits(hdr, OFF_SUM);
    size_t i;

    for (i = 0; i < na; i++)
        h = XXH3_64bits_withSeed(a[i], n * 8, h);
    return h;
}

/* Reads the whole file open on fd. */
static int read_all(char **out, size_t *len, int fd, const struct stat *st,
                    const char *path, bal_error *err)
{
    size_t cap, n = 0;
    char *buf, *p;
    ssize_t got;

    *out = NULL;
    *len = 0;
    cap = S_ISREG(st->st_mode) && st->st_size > 0 ? (size_t)st->st_size + 1
                                                  : 65536;
    buf = malloc(cap);
    if (!buf)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    for (;;) {
        if (n == cap) {
            if (cap > SIZE_MAX / 2) {
                free(buf);
                return bal_error_set(err, BAL_ENOMEM, "out of memory");
            }
            p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return bal_error_set(err, BAL_ENOMEM, "out of memory");
            }
            buf = p;
            cap *= 2;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;

            free(buf);
            return bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                                 strerror(e));
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Reads exactly len bytes at the current offset; -1 on error or EOF. */
static int read_exact(int fd, void *buf, size_t len)
{
    char *p = buf;
    ssize_t got;

    while (len > 0) {
        got = read(fd, p, len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        p += got;
        len -= (size_t)got;
    }
    return 0;
}

/* Writes exactly len bytes; -1 on error. */
static int write_exact(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    ssize_t put;

    while (len > 0) {
        put = write(fd, p, len);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        p += put;
        len -= (size_t)put;
    }
    return 0;
}

/* Fills *ent with "<dir>/<hex>.bal" for the input at path; -1 on ENOMEM. */
static int entry_path(char **ent, const char *dir, const char *path,
                      uint64_t opts)
{
    char *real = realpath(path, NULL);
    const char *p = real ? real : path;
    uint64_t h = XXH3_64bits_withSeed(p, strlen(p), opts);
    size_t len = strlen(dir) + 1 + 16 + 4 + 1;

    free(real);
    *ent = malloc(len);
    if (!*ent)
        return -1;
    snprintf(*ent, len, "%s/%016llx.bal", dir, (unsigned long long)h);
    return 0;
}

/* mkdir -p with mode 0700; -1 when the directory cannot be made. */
static int make_dirs(const char *dir)
{
    struct stat st;
    char *p, *s;
    int rc = 0;

    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -1;
    s = malloc(strlen(dir) + 1);
    if (!s)
        return -1;
    strcpy(s, dir);
    for (p = s + 1; rc == 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        if (p[-1] != '/') {
            char c = *p;

            *p = '\0';
            if (mkdir(s, 0700) != 0 && errno != EEXIST)
                rc = -1;
            *p = c;
        }
        if (*p == '\0')
            break;
    }
    free(s);
    if (rc == 0 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = -1;
    return rc;
}

/* INVALID for a foreign header, STALE when it does not match k (the
 * content hash only when with_hash), else HIT. */
static bal_cache_state check_key(const unsigned char *hdr,
                                 const struct key *k, int with_hash)
{
    if (memcmp(hdr, magic, sizeof(magic)) != 0
        || get_u32(hdr, OFF_FORMAT) != BAL_CACHE_FORMAT
        || get_u32(hdr, OFF_BOM) != BOM)
        return BAL_CACHE_INVALID;
    if (get_u64(hdr, OFF_FSIZE) != k->size
        || get_i64(hdr, OFF_MSEC) != k->mtime_sec
        || get_i64(hdr, OFF_MNSEC) != k->mtime_nsec
        || (with_hash && get_u64(hdr, OFF_HASH) != k->hash)
        || get_u64(hdr, OFF_OPTS) != k->opts)
        return BAL_CACHE_STALE;
    return BAL_CACHE_HIT;
}

/* Checks the header hdr of an entry of ent_size bytes against key and,
 * when it matches, reads the payload from fd into *out. Returns the
 * state: HIT (out filled), STALE or INVALID (out left empty). */
static bal_cache_state read_entry(bal_series *out, int fd,
                                  const unsigned char *hdr,
                                  uint64_t ent_size, const struct key *k)
{
    uint64_t n, d[N_DEFECTS];
    size_t bytes;
    uint32_t flags;
    size_t na, i, ncol, ndef;
    void *a[MAX_ARRAYS];
    struct iovec iov[MAX_ARRAYS];
    char tf[TFMT_LEN];
    const char *tfs = NULL;
    int32_t col;
    bal_cache_state state = check_key(hdr, k, 1);

    if (state != BAL_CACHE_HIT)
        return state;
    flags = get_u32(hdr, OFF_FLAGS);
    ncol = hdr[OFF_NCOL];
    ndef = hdr[OFF_NDEF];
    if ((flags & ~(FLAG_OHLC | FLAG_VOLUME | FLAG_MIDNIGHT)) != 0
        || ncol != BAL_COL_COUNT || ndef != N_DEFECTS)
        return BAL_CACHE_INVALID;
    na = 2 + ((flags & FLAG_OHLC) ? 3 : 0) + ((flags & FLAG_VOLUME) ? 1 : 0);
    n = get_u64(hdr, OFF_N);
    /* The length check comes before any allocation: a huge n fails it. */
    if (n == 0 || ent_size < HDR_SIZE
        || (ent_size - HDR_SIZE) % (8 * na) != 0
        || (ent_size - HDR_SIZE) / (8 * na) != n || n > SIZE_MAX / 8)
        return BAL_CACHE_INVALID;
    memcpy(tf, hdr + OFF_TFMT, TFMT_LEN);
    if (tf[TFMT_LEN - 1] != '\0')
        return BAL_CACHE_INVALID;
    if (tf[0] != '\0') {
        tfs = intern_time_format(tf);
        if (!tfs)
            return BAL_CACHE_INVALID;
    }

    memset(out, 0, sizeof(*out));
    bytes = (size_t)n * 8;
    out->time = malloc(bytes);
    out->close = malloc(bytes);
    if (flags & FLAG_OHLC) {
        out->open = malloc(bytes);
        out->high = malloc(bytes);
        out->low = malloc(bytes);
    }
    if (flags & FLAG_VOLUME)
        out->volume = malloc(bytes);
    if (!out->time || !out->close
        || ((flags & FLAG_OHLC) && (!out->open || !out->high || !out->low))
        || ((flags & FLAG_VOLUME) && !out->volume))
        goto bad;
    if (series_arrays(a, out) != na)
        goto bad;
    for (i = 0; i < na; i++) {
        iov[i].iov_base = a[i];
        iov[i].iov_len = bytes;
    }
    /* One readv for the whole payload; short reads continue. */
    i = 0;
    while (i < na) {
        ssize_t got = readv(fd, iov + i, (int)(na - i));

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            goto bad;
        while (i < na && (size_t)got >= iov[i].iov_len) {
            got -= (ssize_t)iov[i].iov_len;
            iov[i].iov_len = 0;
            i++;
        }
        if (i < na) {
            iov[i].iov_base = (char *)iov[i].iov_base + got;
            iov[i].iov_len -= (size_t)got;
        }
    }
    if (checksum(hdr, a, na, (size_t)n) != get_u64(hdr, OFF_SUM))
        goto bad;

    out->n = (size_t)n;
    out->rows = (size_t)get_u64(hdr, OFF_ROWS);
    out->bar_seconds = get_i64(hdr, OFF_BARSEC);
    out->header_line = (size_t)get_u64(hdr, OFF_HEADER_LINE);
    out->all_midnight = (flags & FLAG_MIDNIGHT) ? 1 : 0;
    out->delimiter = (char)hdr[OFF_DELIM];
    for (i = 0; i < BAL_COL_COUNT; i++) {
        memcpy(&col, hdr + OFF_COL + 4 * i, sizeof(col));
        out->col[i] = (int)col;
    }
    for (i = 0; i < N_DEFECTS; i++)
        d[i] = get_u64(hdr, OFF_DEF + 8 * i);
    defects_from_array(&out->defects, d);
    out->time_format = tfs;
    return BAL_CACHE_HIT;
bad:
    bal_series_release(out);
    return BAL_CACHE_INVALID;
}

/* XXH3-64 of the rest of the file open on fd, read in small chunks (no
 * buffer the size of the file); *n = bytes read. -1 on a read error or
 * ENOMEM. */
static int hash_stream(uint64_t *h, uint64_t *n, int fd)
{
    enum { CHUNK = 256 * 1024 };
    XXH3_state_t *state = XXH3_createState();
    char *buf = malloc(CHUNK);
    ssize_t got;
    int rc = -1;

    *n = 0;
    if (!state || !buf || XXH3_64bits_reset(state) != XXH_OK)
        goto done;
    for (;;) {
        got = read(fd, buf, CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            goto done;
        if (got == 0)
            break;
        if (XXH3_64bits_update(state, buf, (size_t)got) != XXH_OK)
            goto done;
        *n += (uint64_t)got;
    }
    *h = XXH3_64bits_digest(state);
    rc = 0;
done:
    free(buf);
    XXH3_freeState(state);
    return rc;
}

/* Looks up the entry at ent for the input open on in_fd, whose key k
 * lacks the content hash. When the entry's other fields match, hashes the
 * input (k->hash is then set) and reads the entry into *out. Returns HIT,
 * or why the entry was not used. */
static bal_cache_state lookup(bal_series *out, const char *ent, int in_fd,
                              struct key *k)
{
    unsigned char hdr[HDR_SIZE];
    struct stat st;
    bal_cache_state state;
    uint64_t n;
    int fd = open(ent, O_RDONLY);

    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? BAL_CACHE_ABSENT
                                                   : BAL_CACHE_INVALID;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0
        || read_exact(fd, hdr, HDR_SIZE) != 0)
        state = BAL_CACHE_INVALID;
    else
        state = check_key(hdr, k, 0);
    if (state == BAL_CACHE_HIT) {
        if (hash_stream(&k->hash, &n, in_fd) != 0 || n != k->size)
            state = BAL_CACHE_STALE;    /* unreadable or changed: parse */
        else
            state = read_entry(out, fd, hdr, (uint64_t)st.st_size, k);
    }
    close(fd);
    return state;
}

/* Writes s as the entry ent (temp file + rename); -1 on any failure. */
static int write_entry(const char *ent, const bal_series *s,
                       const struct key *k)
{
    unsigned char hdr[HDR_SIZE];
    uint64_t d[N_DEFECTS];
    uint32_t flags = 0;
    void *a[MAX_ARRAYS];
    size_t na, i, tlen = s->time_format ? strlen(s->time_format) : 0;
    char *tmp = NULL;
    int fd = -1, rc = -1;

    if (s->n == 0 || !s->time || !s->close
        || (s->open != NULL) != (s->high != NULL)
        || (s->open != NULL) != (s->low != NULL) || tlen >= TFMT_LEN
        || (s->time_format && !intern_time_format(s->time_format)))
        return -1;
    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, magic, sizeof(magic));
    put_u32(hdr, OFF_FORMAT, BAL_CACHE_FORMAT);
    put_u32(hdr, OFF_BOM, BOM);
    put_u64(hdr, OFF_FSIZE, k->size);
    put_i64(hdr, OFF_MSEC, k->mtime_sec);
    put_i64(hdr, OFF_MNSEC, k->mtime_nsec);
    put_u64(hdr, OFF_HASH, k->hash);
    put_u64(hdr, OFF_OPTS, k->opts);
    put_u64(hdr, OFF_N, s->n);
    put_u64(hdr, OFF_ROWS, s->rows);
    put_i64(hdr, OFF_BARSEC, s->bar_seconds);
    put_u64(hdr, OFF_HEADER_LINE, s->header_line);
    if (s->open)
        flags |= FLAG_OHLC;
    if (s->volume)
        flags |= FLAG_VOLUME;
    if (s->all_midnight)
        flags |= FLAG_MIDNIGHT;
    put_u32(hdr, OFF_FLAGS, flags);
    hdr[OFF_DELIM] = (unsigned char)s->delimiter;
    hdr[OFF_NCOL] = BAL_COL_COUNT;
    hdr[OFF_NDEF] = N_DEFECTS;
    for (i = 0; i < BAL_COL_COUNT; i++) {
        int32_t col = (int32_t)s->col[i];

        memcpy(hdr + OFF_COL + 4 * i, &col, sizeof(col));
    }
    defects_to_array(d, &s->defects);
    for (i = 0; i < N_DEFECTS; i++)
        put_u64(hdr, OFF_DEF + 8 * i, d[i]);
    if (tlen > 0)
        memcpy(hdr + OFF_TFMT, s->time_format, tlen);
    na = series_arrays(a, s);
    put_u64(hdr, OFF_SUM, checksum(hdr, a, na, s->n));

    tmp = malloc(strlen(ent) + 8);
    if (!tmp)
        return -1;
    sprintf(tmp, "%s.XXXXXX", ent);
    fd = mkstemp(tmp);
    if (fd < 0)
        goto done;
    if (write_exact(fd, hdr, HDR_SIZE) != 0)
        goto done;
    for (i = 0; i < na; i++)
        if (write_exact(fd, a[i], s->n * 8) != 0)
            goto done;
    if (close(fd) != 0) {
        fd = -1;
        goto done;
    }
    fd = -1;
    if (rename(tmp, ent) != 0)
        goto done;
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static void set_info(bal_cache_info *info, uint64_t size, uint64_t hash)
{
    info->size = size;
    info->hash = hash;
    snprintf(info->hash_hex, sizeof(info->hash_hex), "%016llx",
             (unsigned long long)hash);
}

int bal_cache_load(bal_series *out, const char *path,
                   const bal_load_options *opt, const char *cache_dir,
                   bal_cache_info *info, bal_error *err)
{
    static const bal_load_options defaults = BAL_LOAD_OPTIONS_INIT;
    bal_cache_info dummy;
    struct stat st, st2;
    struct key k;
    char *buf, *ent = NULL;
    size_t len;
    int fd, rc, cacheable;

    memset(out, 0, sizeof(*out));
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof(*info));
    info->state = BAL_CACHE_OFF;
    if (!opt)
        opt = &defaults;
    if (cache_dir && cache_dir[0] == '\0')
        return bal_error_set(err, BAL_EINVAL, "empty cache directory");
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return bal_error_set(err, BAL_EIO, "cannot open '%s': %s", path,
                             strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                           strerror(errno));
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                             strerror(EISDIR));
    }
    k.size = (uint64_t)st.st_size;
    k.mtime_sec = (int64_t)st.st_mtim.tv_sec;
    k.mtime_nsec = (int64_t)st.st_mtim.tv_nsec;
    k.hash = 0;
    k.opts = hash_options(opt);
    cacheable = cache_dir && S_ISREG(st.st_mode)
             && entry_path(&ent, cache_dir, path, k.opts) == 0;
    if (cacheable) {
        info->state = lookup(out, ent, fd, &k);
        if (info->state == BAL_CACHE_HIT) {
            close(fd);
            free(ent);
            set_info(info, k.size, k.hash);
            return 0;
        }
        if (lseek(fd, 0, SEEK_SET) != 0) {
            rc = bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                               strerror(errno));
            close(fd);
            free(ent);
            return rc;
        }
    }
    rc = read_all(&buf, &len, fd, &st, path, err);
    /* The entry's key must describe the bytes read: a file that changed
     * meanwhile is parsed but not cached. */
    cacheable = cacheable && rc == 0 && fstat(fd, &st2) == 0
             && st2.st_size == st.st_size
             && st2.st_mtim.tv_sec == st.st_mtim.tv_sec
             && st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec
             && (uint64_t)len == k.size;
    close(fd);
    if (rc < 0) {
        free(ent);
        return rc;
    }
    k.size = (uint64_t)len;
    k.hash = XXH3_64bits(buf, len);
    set_info(info, k.size, k.hash);
    rc = bal_series_parse(out, path, buf, len, opt, err);
    free(buf);
    if (rc == 0 && cacheable && make_dirs(cache_dir) == 0
        && write_entry(ent, out, &k) == 0)
        info->written = 1;
    free(ent);
    return rc;
}

/* Copies a + b (b may be NULL) into buf; BAL_EINVAL if it does not fit. */
static int join(char *buf, size_t len, const char *a, size_t alen,
                const char *b)
{
    size_t blen = strlen(b);

    if (alen > len - 1 || blen > len - 1 - alen) {
        buf[0] = '\0';
        return BAL_EINVAL;
    }
    memcpy(buf, a, alen);
    memcpy(buf + alen, b, blen + 1);
    return 0;
}

int bal_cache_default_dir(char *buf, size_t len, const char *xdg_cache_home,
                          const char *home)
{
    size_t n;

    if (len == 0)
        return BAL_EINVAL;
    if (xdg_cache_home && xdg_cache_home[0] == '/') {
        n = strlen(xdg_cache_home);
        while (n > 1 && xdg_cache_home[n - 1] == '/')
            n--;
        if (n == 1)             /* "/" itself */
            n = 0;
        return join(buf, len, xdg_cache_home, n, "/ballast");
    }
    if (home && home[0] != '\0') {
        n = strlen(home);
        while (n > 1 && home[n - 1] == '/')
            n--;
        if (n == 1 && home[0] == '/')
            n = 0;
        return join(buf, len, home, n, "/.cache/ballast");
    }
    buf[0] = '\0';
    return BAL_EINVAL;
}
