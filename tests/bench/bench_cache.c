/* Cache benchmark (SPEC §9): CSV bytes per second on one core for a
 * first load (parse + hash + entry write) and a second load (hash +
 * entry read), the files being in the page cache.
 *
 *   bench_cache [-r REPEATS] [-d CACHE_DIR] [-g GENERATED] [FILE...]
 *
 * Without FILE a 2-million-row hourly ISO-dated OHLCV file (about
 * 118 MB) is generated in a temporary directory, or at GENERATED (kept,
 * and reused when it exists). Without -d the cache is
 * a fresh temporary directory (with -d, its *.bal entries are deleted
 * before each miss run). Every miss starts from an empty cache;
 * each figure is the best of REPEATS (default 5) runs over all files.
 * Every hit is checked bitwise against the series of the miss. Prints:
 *   cache input: N file(s), B bytes
 *   plain load: P MB/s (bal_series_load, best of R)
 *   cache miss: X MB/s (parse + hash + write, best of R)
 *   cache hit: Y MB/s (hash + read, best of R)
 * (MB = 1e6 bytes) and exits 1 if any load fails or differs. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ballast/cache.h"
#include "ballast/loader.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Removes the cache entries (*.bal) in dir, nothing else. */
static void rm_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4096];
    size_t len;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".bal") != 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* Hourly bars from 2000-01-01, 5-decimal prices from a fixed-seed LCG. */
static int generate(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    uint64_t seed = 20240917;
    double c = 1.2385;
    size_t i;

    if (!f)
        return -1;
    fputs("Date,Open,High,Low,Close,Volume\n", f);
    for (i = 0; i < n; i++) {
        time_t t = (time_t)946684800 + (time_t)i * 3600;
        struct tm tm;
        double u, o = c, hi, lo;

        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        u = (double)(seed >> 11) / 9007199254740992.0;
        c = o * (1.0 + (u - 0.5) * 0.004);
        hi = (o > c ? o : c) * (1.0 + u * 0.001);
        lo = (o < c ? o : c) * (1.0 - (1.0 - u) * 0.001);
        gmtime_r(&t, &tm);
        fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02dZ,%.5f,%.5f,%.5f,%.5f,%u\n",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, o, hi, lo, c,
                (unsigned)((seed >> 40) % 99991));
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int same(const double *a, const double *b, size_t n)
{
    return (a == NULL) == (b == NULL) && (!a || memcmp(a, b, n * 8) == 0);
}

static int same_series(const bal_series *a, const bal_series *b)
{
    return a->n == b->n && memcmp(a->time, b->time, a->n * 8) == 0
        && same(a->open, b->open, a->n) && same(a->high, b->high, a->n)
        && same(a->low, b->low, a->n) && same(a->close, b->close, a->n)
        && same(a->volume, b->volume, a->n) && a->rows == b->rows
        && memcmp(&a->defects, &b->defects, sizeof(a->defects)) == 0;
}

int main(int argc, char **argv)
{
    char tmp[] = "/tmp/bal-bench-cache-XXXXXX", gen[64], cdir[64] = "";
    const char *dir = NULL, *keep = NULL, *one[1];
    const char *const *files;
    bal_series *miss;
    size_t nf, i, bytes = 0;
    double best_plain = 1e300, best_miss = 1e300, best_hit = 1e300;
    int r, repeats = 5, c, status = 0;

    while ((c = getopt(argc, argv, "r:d:g:")) != -1) {
        if (c == 'g') {
            keep = optarg;
        } else if (c == 'r') {
            repeats = atoi(optarg) > 0 ? atoi(optarg) : 1;
        } else if (c == 'd') {
            dir = optarg;
        } else {
            fputs("usage: bench_cache [-r REPEATS] [-d CACHE_DIR] "
                  "[-g GENERATED] [FILE...]\n", stderr);
            return 2;
        }
    }
    if (!mkdtemp(tmp)) {
        perror("bench_cache: mkdtemp");
        return 1;
    }
    if (!dir) {
        snprintf(cdir, sizeof(cdir), "%s/cache", tmp);
        dir = cdir;
    }
    if (optind < argc) {
        files = (const char *const *)(argv + optind);
        nf = (size_t)(argc - optind);
    } else {
        struct stat st;

        snprintf(gen, sizeof(gen), "%s/market.csv", tmp);
        one[0] = keep ? keep : gen;
        if (!keep || stat(keep, &st) != 0) {
            fprintf(stderr, "bench_cache: generating %s\n", one[0]);
            if (generate(one[0], 2000000) != 0) {
                perror("bench_cache: generate");
                return 1;
            }
        }
        files = (const char *const *)one;
        nf = 1;
    }
    miss = calloc(nf, sizeof(*miss));
    if (!miss)
        return 1;
    for (i = 0; i < nf; i++) {
        struct stat st;
        bal_series s = BAL_SERIES_INIT;

        if (stat(files[i], &st) != 0) {
            perror(files[i]);
            return 1;
        }
        bytes += (size_t)st.st_size;
        /* warm the page cache */
        if (bal_series_load(&s, files[i], NULL, NULL) != 0) {
            fprintf(stderr, "bench_cache: cannot load %s\n", files[i]);
            return 1;
        }
        bal_series_release(&s);
    }
    printf("cache input: %zu file(s), %zu bytes\n", nf, bytes);

    for (r = 0; r < repeats; r++) {
        double t0 = now(), t;

        for (i = 0; i < nf; i++) {
            bal_series s = BAL_SERIES_INIT;

            if (bal_series_load(&s, files[i], NULL, NULL) != 0)
                status = 1;
            bal_series_release(&s);
        }
        t = now() - t0;
        if (t < best_plain)
            best_plain = t;
    }
    for (r = 0; r < repeats && status == 0; r++) {
        double t0, t;

        rm_entries(dir);
        for (i = 0; i < nf; i++)
            bal_series_release(&miss[i]);
        t0 = now();
        for (i = 0; i < nf; i++) {
            bal_cache_info info;
            bal_error e = BAL_ERROR_INIT;

            if (bal_cache_load(&miss[i], files[i], NULL, dir, &info, &e) != 0
                || info.state == BAL_CACHE_HIT || !info.written) {
                fprintf(stderr, "bench_cache: miss of %s failed: %s\n",
                        files[i], e.msg);
                status = 1;
            }
        }
        t = now() - t0;
        if (t < best_miss)
            best_miss = t;
    }
    for (r = 0; r < repeats && status == 0; r++) {
        double t0, t;
        bal_series *hit = calloc(nf, sizeof(*hit));

        if (!hit)
            return 1;
        t0 = now();
        for (i = 0; i < nf; i++) {
            bal_cache_info info;

            if (bal_cache_load(&hit[i], files[i], NULL, dir, &info, NULL) != 0
                || info.state != BAL_CACHE_HIT) {
                fprintf(stderr, "bench_cache: %s did not hit\n", files[i]);
                status = 1;
            }
        }
        t = now() - t0;
        if (t < best_hit)
            best_hit = t;
        for (i = 0; i < nf; i++) {
            if (status == 0 && !same_series(&hit[i], &miss[i])) {
                fprintf(stderr, "bench_cache: %s: hit differs\n", files[i]);
                status = 1;
            }
            bal_series_release(&hit[i]);
        }
        free(hit);
    }
    if (status == 0) {
        printf("plain load: %.1f MB/s (bal_series_load, best of %d)\n",
               (double)bytes / best_plain / 1e6, repeats);
        printf("cache miss: %.1f MB/s (parse + hash + write, best of %d)\n",
               (double)bytes / best_miss / 1e6, repeats);
        printf("cache hit: %.1f MB/s (hash + read, best of %d)\n",
               (double)bytes / best_hit / 1e6, repeats);
    }
    for (i = 0; i < nf; i++)
        bal_series_release(&miss[i]);
    free(miss);
    rm_entries(cdir);
    rmdir(cdir);
    if (files == (const char *const *)one && !keep)
        unlink(gen);
    rmdir(tmp);
    return status;
}
