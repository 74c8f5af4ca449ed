/* Cache tests. The reference for every series is a fresh
 * bal_series_load of the same file with the same options (compared
 * bitwise, every array and every metadata field); the reference for the
 * content hash is XXH3_64bits over the file's bytes read here with stdio;
 * corrupt entries are made by editing the bytes at the offsets cache.h
 * documents. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700       /* mkdtemp, gmtime_r, utimensat */
#endif
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "ballast/cache.h"
#include "ballast/loader.h"

#define DATA "tests/data/loader/"
#define REAL "../shared/data/real/"
#define HDR 328                 /* header size, cache.h */

/* ---- file helpers ---------------------------------------------------- */

static void rm_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char sub[1024];

    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        d = opendir(path);
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            rm_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A fresh directory under /tmp, removed at the end of the test. */
static char tmpdir[256];

static void make_tmp(void)
{
    strcpy(tmpdir, "/tmp/bal-cache-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void drop_tmp(void)
{
    if (tmpdir[0])
        rm_tree(tmpdir);
}

static void in_tmp(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    cr_assert_eq(fclose(f), 0);
}

static char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    cr_assert_not_null(f, "cannot read %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Number of entries in dir other than . and .. */
static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The path of the only entry in dir. */
static void only_entry(char *buf, size_t len, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(buf, len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    cr_assert_eq(n, 1, "%zu entries in %s, want 1", n, dir);
}

/* Hourly OHLCV rows with 5-decimal prices from a fixed-seed LCG, one
 * duplicate hour and one spike, so defects are non-zero. */
static void write_market(const char *path, size_t n, uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    double c = 1.2385;
    size_t i;

    cr_assert_not_null(f);
    fputs("Date,Open,High,Low,Close,Volume\n", f);
    for (i = 0; i < n; i++) {
        double u, o = c, hi, lo;
        size_t hour = i == 7 ? 6 : i;   /* a duplicate hour */
        time_t t = (time_t)1614556800 + (time_t)hour * 3600; /* 2021-03-01 */
        struct tm tm;

        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        u = (double)(seed >> 11) / 9007199254740992.0;
        c = o * (1.0 + (u - 0.5) * 0.00731);
        if (i == 20)
            c = o * 1.5;                /* a spike */
        hi = (o > c ? o : c) * 1.000417;
        lo = (o < c ? o : c) * 0.999581;
        cr_assert_not_null(gmtime_r(&t, &tm));
        fprintf(f, "%04d-%02d-%02d %02d:00,%.5f,%.5f,%.5f,%.5f,%zu\n",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, o,
                hi, lo, c, (size_t)(seed >> 40) % 9973);
        if (i == 20)
            c = o;
    }
    cr_assert_eq(fclose(f), 0);
}

/* ---- series comparison ----------------------------------------------- */

static void assert_array_eq(const void *a, const void *b, size_t n,
                            const char *name)
{
    cr_assert((a == NULL) == (b == NULL), "%s: one array is NULL", name);
    if (a)
        cr_assert(memcmp(a, b, n * 8) == 0, "%s differs", name);
}

/* Every field of got equals want bitwise. */
static void assert_same_series(const bal_series *got, const bal_series *want)
{
    size_t i;

    cr_assert_eq(got->n, want->n);
    cr_assert_gt(got->n, 0);
    assert_array_eq(got->time, want->time, want->n, "time");
    assert_array_eq(got->open, want->open, want->n, "open");
    assert_array_eq(got->high, want->high, want->n, "high");
    assert_array_eq(got->low, want->low, want->n, "low");
    assert_array_eq(got->close, want->close, want->n, "close");
    assert_array_eq(got->volume, want->volume, want->n, "volume");
    cr_assert_eq(got->rows, want->rows);
    cr_assert_eq(got->bar_seconds, want->bar_seconds);
    cr_assert_eq(got->all_midnight, want->all_midnight);
    cr_assert_eq(got->delimiter, want->delimiter);
    cr_assert_eq(got->header_line, want->header_line);
    for (i = 0; i < BAL_COL_COUNT; i++)
        cr_assert_eq(got->col[i], want->col[i], "col[%zu]", i);
    cr_assert((got->time_format == NULL) == (want->time_format == NULL));
    if (want->time_format)
        cr_assert_str_eq(got->time_format, want->time_format);
    cr_assert_eq(got->defects.duplicates, want->defects.duplicates);
    cr_assert_eq(got->defects.unsorted, want->defects.unsorted);
    cr_assert_eq(got->defects.high_low, want->defects.high_low);
    cr_assert_eq(got->defects.open_close_outside,
                 want->defects.open_close_outside);
    cr_assert_eq(got->defects.non_positive, want->defects.non_positive);
    cr_assert_eq(got->defects.missing, want->defects.missing);
    cr_assert_eq(got->defects.spikes, want->defects.spikes);
    cr_assert_eq(got->defects.gaps, want->defects.gaps);
    cr_assert_eq(got->defects.time_mismatch, want->defects.time_mismatch);
}

/* Loads path through the cache and checks the state, the written flag
 * and that the series equals a fresh bal_series_load. */
static void load_expect(const char *path, const bal_load_options *o,
                        const char *dir, bal_cache_state state, int written)
{
    bal_series got = BAL_SERIES_INIT, want = BAL_SERIES_INIT;
    bal_error e = BAL_ERROR_INIT;
    bal_cache_info info = BAL_CACHE_INFO_INIT;
    int rc;

    rc = bal_series_load(&want, path, o, &e);
    cr_assert_eq(rc, 0, "fresh load of %s: %s", path, e.msg);
    rc = bal_cache_load(&got, path, o, dir, &info, &e);
    cr_assert_eq(rc, 0, "cache load of %s: %s", path, e.msg);
    cr_assert_eq(info.state, state, "%s: state %d, want %d", path,
                 (int)info.state, (int)state);
    cr_assert_eq(info.written, written, "%s: written %d, want %d", path,
                 info.written, written);
    assert_same_series(&got, &want);
    bal_series_release(&got);
    bal_series_release(&want);
}

/* ---- hits and misses ------------------------------------------------- */

TestSuite(cache, .init = make_tmp, .fini = drop_tmp);

Test(cache, hit_after_miss_equals_fresh_load)
{
    char csv[512], dir[512];

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 200, 20240917);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
    cr_assert_eq(count_entries(dir), 1);
}

Test(cache, hit_keeps_defect_counts)
{
    bal_series s = BAL_SERIES_INIT;
    bal_cache_info info = BAL_CACHE_INFO_INIT;
    char csv[512], dir[512];

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 200, 77);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, dir, NULL, NULL), 0);
    bal_series_release(&s);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, dir, &info, NULL), 0);
    cr_assert_eq(info.state, BAL_CACHE_HIT);
    /* write_market writes 200 rows, one a duplicate hour (dropped) and
     * one 1.5x close among bars moving by < 0.4%: a spike. */
    cr_assert_eq(s.rows, 200);
    cr_assert_eq(s.n, 199);
    cr_assert_eq(s.defects.duplicates, 1);
    cr_assert_geq(s.defects.spikes, 1);
    cr_assert_not_null(s.volume);
    bal_series_release(&s);
}

/* Every loader fixture (and every file of the real-data set that loads
 * with default options) round-trips: miss, then a bitwise-equal hit. */
static void round_trip_dir(const char *data, int required)
{
    bal_load_options us = BAL_LOAD_OPTIONS_INIT;
    DIR *d = opendir(data);
    struct dirent *e;
    char path[1024], dir[512];
    size_t done = 0;

    if (!d && !required) {
        drop_tmp();             /* a skipped test does not run .fini */
        cr_skip_test("real data: %s absent", data);
    }
    cr_assert_not_null(d, "cannot open %s", data);
    in_tmp(dir, sizeof(dir), "c");
    us.date_format = "%m/%d/%Y";
    while ((e = readdir(d)) != NULL) {
        bal_series s = BAL_SERIES_INIT;
        const bal_load_options *o = NULL;
        size_t len = strlen(e->d_name);

        if (len < 4 || strcmp(e->d_name + len - 4, ".csv") != 0)
            continue;
        snprintf(path, sizeof(path), "%s%s", data, e->d_name);
        if (bal_series_load(&s, path, NULL, NULL) != 0) {
            o = &us;            /* e.g. investing.com's US dates */
            if (bal_series_load(&s, path, o, NULL) != 0)
                continue;
        }
        bal_series_release(&s);
        load_expect(path, o, dir, BAL_CACHE_ABSENT, 1);
        load_expect(path, o, dir, BAL_CACHE_HIT, 0);
        done++;
    }
    closedir(d);
    cr_assert_gt(done, 0, "no file of %s loaded", data);
}

Test(cache, every_loader_fixture_round_trips)
{
    round_trip_dir(DATA, 1);
}

Test(cache, every_real_file_round_trips)
{
    round_trip_dir(REAL, 0);
}

Test(cache, close_only_series_round_trips)
{
    char csv[512], dir[512];
    bal_series s = BAL_SERIES_INIT;

    in_tmp(csv, sizeof(csv), "c.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_text(csv, "Date,Close\n2024-01-02,2.385\n2024-01-03,2.391\n"
                    "2024-01-04,2.377\n");
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, dir, NULL, NULL), 0);
    cr_assert_null(s.open);
    cr_assert_null(s.volume);
    cr_assert_eq(s.all_midnight, 1);
    bal_series_release(&s);
}

/* Detected slash dates: the series' time_format names survive a hit. */
Test(cache, slash_date_series_round_trips)
{
    bal_series s = BAL_SERIES_INIT;
    char csv[512], dir[512];

    in_tmp(csv, sizeof(csv), "eu.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_text(csv, "Date,Close\n24/12/2023,2.385\n27/12/2023,2.391\n"
                    "28/12/2023,2.377\n");
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, dir, NULL, NULL), 0);
    cr_assert_str_eq(s.time_format, "DD/MM/YYYY");
    bal_series_release(&s);
}

Test(cache, touched_file_misses)
{
    struct timespec ts[2];
    char csv[512], dir[512];
    struct stat st;

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 60, 5);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    /* Same bytes, mtime moved by one nanosecond. */
    cr_assert_eq(stat(csv, &st), 0);
    ts[0] = st.st_atim;
    ts[1] = st.st_mtim;
    ts[1].tv_nsec = (ts[1].tv_nsec + 1) % 1000000000L;
    cr_assert_eq(utimensat(AT_FDCWD, csv, ts, 0), 0);
    load_expect(csv, NULL, dir, BAL_CACHE_STALE, 1);
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
}

Test(cache, changed_content_with_same_size_and_mtime_misses)
{
    bal_series s = BAL_SERIES_INIT;
    struct timespec ts[2];
    char csv[512], dir[512];
    struct stat st, st2;

    in_tmp(csv, sizeof(csv), "c.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_text(csv, "Date,Close\n2024-01-02,2.385\n2024-01-03,2.391\n");
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    cr_assert_eq(stat(csv, &st), 0);
    write_text(csv, "Date,Close\n2024-01-02,2.385\n2024-01-03,2.917\n");
    ts[0] = st.st_atim;
    ts[1] = st.st_mtim;
    cr_assert_eq(utimensat(AT_FDCWD, csv, ts, 0), 0);
    cr_assert_eq(stat(csv, &st2), 0);
    cr_assert_eq(st2.st_size, st.st_size);
    cr_assert_eq(st2.st_mtim.tv_sec, st.st_mtim.tv_sec);
    cr_assert_eq(st2.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
    load_expect(csv, NULL, dir, BAL_CACHE_STALE, 1);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, dir, NULL, NULL), 0);
    cr_assert(s.close[1] == strtod("2.917", NULL));
    bal_series_release(&s);
}

Test(cache, different_options_miss)
{
    bal_load_options o = BAL_LOAD_OPTIONS_INIT;
    char csv[512], dir[512];

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 100, 11);
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.spike_k = 7.25;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.spike_repair = 1;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.duplicates = BAL_DUP_FIRST;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.bad_bars = BAL_BAD_SKIP;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.asset_class = BAL_CLASS_CRYPTO;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.tz_offset_seconds = 7200;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.tz_fx_server = 1;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    cr_assert_eq(count_entries(dir), 8);
    /* and the defaults still hit their own entry */
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
}

/* date_format is hashed by content: the same text in another buffer
 * hits, another text misses (here month-first and day-first both read
 * the file, giving different times). */
Test(cache, date_format_is_hashed_by_content)
{
    bal_load_options o = BAL_LOAD_OPTIONS_INIT;
    bal_series a = BAL_SERIES_INIT, b = BAL_SERIES_INIT;
    char csv[512], dir[512], fmt1[32], fmt2[32];

    in_tmp(csv, sizeof(csv), "us.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_text(csv, "Date,Close\n03/04/2024,2.385\n04/05/2024,2.391\n"
                    "05/06/2024,2.377\n");
    strcpy(fmt1, "%m/%d/%Y");
    strcpy(fmt2, "%m/%d/%Y");
    o.date_format = fmt1;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.date_format = fmt2;
    load_expect(csv, &o, dir, BAL_CACHE_HIT, 0);
    cr_assert_eq(bal_cache_load(&a, csv, &o, dir, NULL, NULL), 0);
    strcpy(fmt2, "%d/%m/%Y");
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    load_expect(csv, &o, dir, BAL_CACHE_HIT, 0);
    cr_assert_eq(bal_cache_load(&b, csv, &o, dir, NULL, NULL), 0);
    /* 2024-03-04 vs 2024-04-03 (Python datetime(..., tzinfo=utc)) */
    cr_assert_eq(a.time[0], 1709510400);
    cr_assert_eq(b.time[0], 1712102400);
    cr_assert_eq(count_entries(dir), 2);
    bal_series_release(&a);
    bal_series_release(&b);
}

/* The column map (by name, compared by content, and by index) is part
 * of the key. The maps used here name the columns detection finds. */
Test(cache, column_map_options_miss)
{
    bal_load_options o = BAL_LOAD_OPTIONS_INIT;
    char csv[512], dir[512], name1[16], name2[16];

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 60, 31);
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.column_index[BAL_COL_CLOSE] = 4;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    load_expect(csv, &o, dir, BAL_CACHE_HIT, 0);
    o.column_index[BAL_COL_CLOSE] = -1;
    strcpy(name1, "Close");
    strcpy(name2, "Close");
    o.column_name[BAL_COL_CLOSE] = name1;
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    o.column_name[BAL_COL_CLOSE] = name2;
    load_expect(csv, &o, dir, BAL_CACHE_HIT, 0);
    o.column_name[BAL_COL_CLOSE] = NULL;
    o.column_name[BAL_COL_OPEN] = name2;
    strcpy(name2, "Open");
    load_expect(csv, &o, dir, BAL_CACHE_ABSENT, 1);
    cr_assert_eq(count_entries(dir), 4);
}

Test(cache, adj_close_option_misses)
{
    bal_load_options o = BAL_LOAD_OPTIONS_INIT;
    char dir[512];

    in_tmp(dir, sizeof(dir), "c");
    load_expect(DATA "usdchf_semicolon.csv", &o, dir, BAL_CACHE_ABSENT, 1);
    o.use_adj_close = 1;
    load_expect(DATA "usdchf_semicolon.csv", &o, dir, BAL_CACHE_ABSENT, 1);
    load_expect(DATA "usdchf_semicolon.csv", &o, dir, BAL_CACHE_HIT, 0);
    o.use_adj_close = 0;
    load_expect(DATA "usdchf_semicolon.csv", &o, dir, BAL_CACHE_HIT, 0);
    cr_assert_eq(count_entries(dir), 2);
}

/* ---- the content hash ------------------------------------------------ */

Test(cache, content_hash_is_xxh3_of_the_bytes)
{
    bal_series s = BAL_SERIES_INIT;
    bal_cache_info info = BAL_CACHE_INFO_INIT;
    char csv[512], dir[512], hex[32];
    size_t len;
    char *bytes;
    uint64_t want;

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 300, 3);
    bytes = read_bytes(csv, &len);
    want = XXH3_64bits(bytes, len);
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)want);
    free(bytes);

    cr_assert_eq(bal_cache_load(&s, csv, NULL, NULL, &info, NULL), 0);
    cr_assert_eq(info.state, BAL_CACHE_OFF);
    cr_assert_eq(info.written, 0);
    cr_assert_eq(info.hash, want);
    cr_assert_str_eq(info.hash_hex, hex);
    cr_assert_eq(info.size, len);
    bal_series_release(&s);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, dir, &info, NULL), 0);
    cr_assert_eq(info.state, BAL_CACHE_ABSENT);
    cr_assert_eq(info.hash, want);
    bal_series_release(&s);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, dir, &info, NULL), 0);
    cr_assert_eq(info.state, BAL_CACHE_HIT);
    cr_assert_eq(info.hash, want);
    cr_assert_str_eq(info.hash_hex, hex);
    cr_assert_eq(info.size, len);
    bal_series_release(&s);
}

/* xxHash's published test vector: XXH3_64bits of 0 bytes is
 * 0x2D06800538D394C2 (xxhash.h, "XXH3_64bits of an empty input"); this
 * pins the library the test compares against. */
Test(cache, xxh3_reference_vector)
{
    cr_assert_eq(XXH3_64bits("", 0), 0x2D06800538D394C2ULL);
}

/* ---- corrupt entries ------------------------------------------------- */

static void patch(const char *path, long off, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");

    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, off, SEEK_SET), 0);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* Makes a valid entry, damages it with `damage`, then checks that the
 * load parses (state `state`), rewrites the entry and that the next load
 * hits. */
static void corrupt_case(void (*damage)(const char *ent), int state)
{
    char csv[512], dir[512], ent[1024];

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 150, 99);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    only_entry(ent, sizeof(ent), dir);
    damage(ent);
    load_expect(csv, NULL, dir, (bal_cache_state)state, 1);
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
    cr_assert_eq(count_entries(dir), 1);
}

static void truncate_to(const char *ent, long len)
{
    cr_assert_eq(truncate(ent, len), 0);
}

static void trunc_header(const char *ent)
{
    truncate_to(ent, 100);
}

static void trunc_payload(const char *ent)
{
    struct stat st;

    cr_assert_eq(stat(ent, &st), 0);
    truncate_to(ent, (long)st.st_size - 1);
}

static void trunc_to_empty(const char *ent)
{
    truncate_to(ent, 0);
}

static void trunc_array(const char *ent)
{
    struct stat st;

    /* one whole array short: lengths still a multiple of 8 */
    cr_assert_eq(stat(ent, &st), 0);
    truncate_to(ent, HDR + ((long)st.st_size - HDR) / 6 * 5);
}

static void flip_payload(const char *ent)
{
    struct stat st;
    unsigned char b;
    FILE *f;
    long off;

    cr_assert_eq(stat(ent, &st), 0);
    off = HDR + ((long)st.st_size - HDR) / 2 + 3;
    f = fopen(ent, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, off, SEEK_SET), 0);
    cr_assert_eq(fread(&b, 1, 1, f), 1);
    fclose(f);
    b ^= 0x10;
    patch(ent, off, &b, 1);
}

static void flip_last_byte(const char *ent)
{
    struct stat st;
    unsigned char b = 0xA5;

    cr_assert_eq(stat(ent, &st), 0);
    patch(ent, (long)st.st_size - 1, &b, 1);
}

static void flip_defect_count(const char *ent)
{
    uint64_t v = 4;             /* duplicates: header offset 160 */

    patch(ent, 160, &v, sizeof(v));
}

static void wrong_magic(const char *ent)
{
    patch(ent, 0, "NOTCACHE", 8);
}

static void wrong_version(const char *ent)
{
    uint32_t v = BAL_CACHE_FORMAT + 1;

    patch(ent, 8, &v, sizeof(v));
}

static void wrong_byte_order(const char *ent)
{
    uint32_t v = 0x04030201u;

    patch(ent, 12, &v, sizeof(v));
}

static void huge_n(const char *ent)
{
    uint64_t v = UINT64_C(1) << 61;

    patch(ent, 56, &v, sizeof(v));
}

static void max_n(const char *ent)
{
    uint64_t v = UINT64_MAX;

    patch(ent, 56, &v, sizeof(v));
}

static void zero_n(const char *ent)
{
    uint64_t v = 0;

    patch(ent, 56, &v, sizeof(v));
}

static void unknown_flags(const char *ent)
{
    uint32_t v = 0xFFFFFFFFu;

    patch(ent, 88, &v, sizeof(v));
}

static void wrong_counts(const char *ent)
{
    unsigned char v[2] = { 200, 255 };

    patch(ent, 93, v, sizeof(v));
}

static void unterminated_time_format(const char *ent)
{
    char v[32];

    memset(v, 'Y', sizeof(v));
    patch(ent, 288, v, sizeof(v));
}

static void foreign_file(const char *ent)
{
    write_text(ent, "this is not a cache entry\n");
}

static void directory_instead(const char *ent)
{
    cr_assert_eq(unlink(ent), 0);
    cr_assert_eq(mkdir(ent, 0700), 0);
}

Test(cache, truncated_header_is_reparsed)
{
    corrupt_case(trunc_header, BAL_CACHE_INVALID);
}

Test(cache, truncated_payload_is_reparsed)
{
    corrupt_case(trunc_payload, BAL_CACHE_INVALID);
}

Test(cache, empty_entry_is_reparsed)
{
    corrupt_case(trunc_to_empty, BAL_CACHE_INVALID);
}

Test(cache, missing_array_is_reparsed)
{
    corrupt_case(trunc_array, BAL_CACHE_INVALID);
}

Test(cache, flipped_payload_byte_is_reparsed)
{
    corrupt_case(flip_payload, BAL_CACHE_INVALID);
}

Test(cache, flipped_last_byte_is_reparsed)
{
    corrupt_case(flip_last_byte, BAL_CACHE_INVALID);
}

Test(cache, changed_header_field_is_reparsed)
{
    corrupt_case(flip_defect_count, BAL_CACHE_INVALID);
}

Test(cache, wrong_magic_is_reparsed)
{
    corrupt_case(wrong_magic, BAL_CACHE_INVALID);
}

Test(cache, wrong_version_is_reparsed)
{
    corrupt_case(wrong_version, BAL_CACHE_INVALID);
}

Test(cache, wrong_byte_order_is_reparsed)
{
    corrupt_case(wrong_byte_order, BAL_CACHE_INVALID);
}

Test(cache, huge_length_is_reparsed)
{
    corrupt_case(huge_n, BAL_CACHE_INVALID);
}

Test(cache, max_length_is_reparsed)
{
    corrupt_case(max_n, BAL_CACHE_INVALID);
}

Test(cache, zero_length_is_reparsed)
{
    corrupt_case(zero_n, BAL_CACHE_INVALID);
}

Test(cache, unknown_flags_are_reparsed)
{
    corrupt_case(unknown_flags, BAL_CACHE_INVALID);
}

Test(cache, wrong_field_counts_are_reparsed)
{
    corrupt_case(wrong_counts, BAL_CACHE_INVALID);
}

Test(cache, unterminated_time_format_is_reparsed)
{
    corrupt_case(unterminated_time_format, BAL_CACHE_INVALID);
}

Test(cache, foreign_file_is_reparsed)
{
    corrupt_case(foreign_file, BAL_CACHE_INVALID);
}

Test(cache, directory_in_place_of_entry_still_loads)
{
    char csv[512], dir[512], ent[1024];

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 50, 8);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    only_entry(ent, sizeof(ent), dir);
    directory_instead(ent);
    /* rename cannot replace a directory: parsed, not written */
    load_expect(csv, NULL, dir, BAL_CACHE_INVALID, 0);
    load_expect(csv, NULL, dir, BAL_CACHE_INVALID, 0);
    cr_assert_eq(count_entries(dir), 1);        /* no temp file left */
}

/* ---- where entries go ------------------------------------------------ */

Test(cache, unwritable_cache_dir_still_loads)
{
    char csv[512], dir[512], blocker[512];

    in_tmp(csv, sizeof(csv), "m.csv");
    write_market(csv, 80, 21);
    /* A cache dir below a regular file cannot be created, even by root. */
    in_tmp(blocker, sizeof(blocker), "file");
    write_text(blocker, "x");
    in_tmp(dir, sizeof(dir), "file/cache");
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 0);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 0);
}

Test(cache, read_only_cache_dir_still_loads)
{
    char csv[512], dir[512];

    if (geteuid() == 0) {
        drop_tmp();             /* a skipped test does not run .fini */
        cr_skip_test("running as root: directory modes are not enforced");
    }
    in_tmp(csv, sizeof(csv), "m.csv");
    write_market(csv, 80, 21);
    in_tmp(dir, sizeof(dir), "ro");
    cr_assert_eq(mkdir(dir, 0500), 0);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 0);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 0);
    cr_assert_eq(count_entries(dir), 0);
    chmod(dir, 0700);
}

Test(cache, missing_cache_dir_is_created_and_inputs_untouched)
{
    char data[512], csv[512], dir[512];
    struct stat st;

    in_tmp(data, sizeof(data), "data");
    cr_assert_eq(mkdir(data, 0700), 0);
    in_tmp(csv, sizeof(csv), "data/m.csv");
    in_tmp(dir, sizeof(dir), "deep/er/cache/");
    write_market(csv, 40, 4);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(count_entries(dir), 1);
    cr_assert_eq(count_entries(data), 1);       /* only m.csv */
}

Test(cache, relative_and_absolute_paths_share_an_entry)
{
    char csv[512], dir[512], cwd[512];

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 40, 6);
    load_expect(csv, NULL, dir, BAL_CACHE_ABSENT, 1);
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(tmpdir), 0);
    load_expect("m.csv", NULL, "c", BAL_CACHE_HIT, 0);
    load_expect("./m.csv", NULL, "c", BAL_CACHE_HIT, 0);
    cr_assert_eq(chdir(cwd), 0);
}

/* ---- errors ---------------------------------------------------------- */

/* bal_cache_load fails exactly as bal_series_load does, and writes no
 * entry. */
static void expect_same_error(const char *path, const bal_load_options *o)
{
    bal_series s = BAL_SERIES_INIT;
    bal_error want = BAL_ERROR_INIT, got = BAL_ERROR_INIT;
    char dir[512];
    int rw, rg;

    in_tmp(dir, sizeof(dir), "c");
    rw = bal_series_load(&s, path, o, &want);
    cr_assert_lt(rw, 0);
    rg = bal_cache_load(&s, path, o, dir, NULL, &got);
    cr_assert_eq(rg, rw);
    cr_assert_eq(got.code, want.code);
    cr_assert_str_eq(got.msg, want.msg);
    cr_assert_str_eq(got.path, want.path);
    cr_assert_eq(got.line, want.line);
    cr_assert_eq(got.column, want.column);
    cr_assert_eq(s.n, 0);
    cr_assert_null(s.time);
    cr_assert_eq(count_entries(dir), 0);
    bal_series_release(&s);
}

Test(cache, missing_file_fails_like_the_loader)
{
    char csv[512];
    bal_error e = BAL_ERROR_INIT;
    bal_series s = BAL_SERIES_INIT;
    char want[700];

    in_tmp(csv, sizeof(csv), "absent.csv");
    expect_same_error(csv, NULL);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, NULL, NULL, &e), BAL_EIO);
    snprintf(want, sizeof(want),
             "cannot open '%s': No such file or directory", csv);
    cr_assert_str_eq(e.msg, want);
}

Test(cache, directory_input_fails_like_the_loader)
{
    expect_same_error(tmpdir, NULL);
}

Test(cache, bad_cell_fails_like_the_loader)
{
    char csv[512];
    bal_error e = BAL_ERROR_INIT;
    bal_series s = BAL_SERIES_INIT;

    in_tmp(csv, sizeof(csv), "bad.csv");
    write_text(csv, "Date,Close\n2024-01-02,2.385\n2024-01-03,n/a\n");
    expect_same_error(csv, NULL);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, NULL, NULL, &e), BAL_EPARSE);
    cr_assert_eq(e.line, 3);
    cr_assert_eq(e.column, 2);
    cr_assert_str_eq(e.path, csv);
}

Test(cache, empty_file_fails_like_the_loader)
{
    char csv[512];

    in_tmp(csv, sizeof(csv), "empty.csv");
    write_text(csv, "");
    expect_same_error(csv, NULL);
}

Test(cache, bad_options_fail_like_the_loader)
{
    bal_load_options o = BAL_LOAD_OPTIONS_INIT;
    char csv[512];

    in_tmp(csv, sizeof(csv), "m.csv");
    write_market(csv, 20, 1);
    o.spike_k = -0.731;
    expect_same_error(csv, &o);
}

Test(cache, empty_cache_dir_is_refused)
{
    bal_series s = BAL_SERIES_INIT;
    bal_error e = BAL_ERROR_INIT;
    char csv[512];

    in_tmp(csv, sizeof(csv), "m.csv");
    write_market(csv, 20, 1);
    cr_assert_eq(bal_cache_load(&s, csv, NULL, "", NULL, &e), BAL_EINVAL);
    cr_assert_str_eq(e.msg, "empty cache directory");
    cr_assert_null(s.time);
}

/* ---- threads --------------------------------------------------------- */

struct job {
    const char *csv, *dir;
    bal_series s;
    int rc;
};

static void *load_job(void *arg)
{
    struct job *j = arg;
    int k;

    for (k = 0; k < 5 && j->rc == 0; k++) {
        bal_series_release(&j->s);
        j->rc = bal_cache_load(&j->s, j->csv, NULL, j->dir, NULL, NULL);
    }
    return NULL;
}

Test(cache, parallel_loads_of_one_file_agree)
{
    struct job jobs[4];
    pthread_t th[4];
    bal_series want = BAL_SERIES_INIT;
    char csv[512], dir[512];
    size_t i;

    in_tmp(csv, sizeof(csv), "m.csv");
    in_tmp(dir, sizeof(dir), "c");
    write_market(csv, 3000, 42);
    cr_assert_eq(bal_series_load(&want, csv, NULL, NULL), 0);
    for (i = 0; i < 4; i++) {
        jobs[i].csv = csv;
        jobs[i].dir = dir;
        memset(&jobs[i].s, 0, sizeof(jobs[i].s));
        jobs[i].rc = 0;
        cr_assert_eq(pthread_create(&th[i], NULL, load_job, &jobs[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(jobs[i].rc, 0);
        assert_same_series(&jobs[i].s, &want);
        bal_series_release(&jobs[i].s);
    }
    cr_assert_eq(count_entries(dir), 1);        /* no temp file left */
    load_expect(csv, NULL, dir, BAL_CACHE_HIT, 0);
    bal_series_release(&want);
}

/* ---- default directory ----------------------------------------------- */

static void expect_dir(const char *xdg, const char *home, const char *want)
{
    char buf[256];

    memset(buf, 'z', sizeof(buf));
    cr_assert_eq(bal_cache_default_dir(buf, sizeof(buf), xdg, home), 0,
                 "xdg '%s' home '%s'", xdg ? xdg : "(null)",
                 home ? home : "(null)");
    cr_assert_str_eq(buf, want);
}

Test(cache, default_dir_prefers_absolute_xdg_cache_home)
{
    expect_dir("/var/cache/u", "/home/u", "/var/cache/u/ballast");
    expect_dir("/var/cache/u//", "/home/u", "/var/cache/u/ballast");
    expect_dir("/", "/home/u", "/ballast");
    expect_dir("/x", NULL, "/x/ballast");
}

Test(cache, default_dir_falls_back_to_home)
{
    expect_dir(NULL, "/home/u", "/home/u/.cache/ballast");
    expect_dir("", "/home/u", "/home/u/.cache/ballast");
    expect_dir("rel/cache", "/home/u", "/home/u/.cache/ballast");
    expect_dir(NULL, "/home/u/", "/home/u/.cache/ballast");
    expect_dir(NULL, "/", "/.cache/ballast");
}

Test(cache, default_dir_needs_xdg_or_home)
{
    char buf[64];

    strcpy(buf, "junk");
    cr_assert_eq(bal_cache_default_dir(buf, sizeof(buf), NULL, NULL),
                 BAL_EINVAL);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(bal_cache_default_dir(buf, sizeof(buf), "rel", ""),
                 BAL_EINVAL);
    cr_assert_str_eq(buf, "");
}

Test(cache, default_dir_checks_the_buffer_size)
{
    /* "/h/.cache/ballast" is 17 characters + NUL = 18 bytes. */
    char buf[32];

    cr_assert_eq(bal_cache_default_dir(buf, 18, NULL, "/h"), 0);
    cr_assert_str_eq(buf, "/h/.cache/ballast");
    cr_assert_eq(bal_cache_default_dir(buf, 17, NULL, "/h"), BAL_EINVAL);
    cr_assert_str_eq(buf, "");
    /* "/x/ballast" is 10 characters + NUL. */
    cr_assert_eq(bal_cache_default_dir(buf, 11, "/x", NULL), 0);
    cr_assert_str_eq(buf, "/x/ballast");
    cr_assert_eq(bal_cache_default_dir(buf, 10, "/x", NULL), BAL_EINVAL);
    strcpy(buf, "keep");
    cr_assert_eq(bal_cache_default_dir(buf, 0, "/x", NULL), BAL_EINVAL);
    cr_assert_str_eq(buf, "keep");
}
