/* Loader benchmark (SPEC §9): CSV bytes per second on one core for
 * bal_series_load (read + parse + defects), the files being in the page
 * cache.
 *
 *   bench_load [-r REPEATS] [-k SPIKE_K] FILE...
 *
 * Each file is loaded once to warm the page cache, then all of them
 * REPEATS times (default 7); the figure is the best pass, timing the
 * bal_series_load calls (reading, parsing, checking, with the file
 * mapped and unmapped and the arrays allocated and filled) but not the
 * bal_series_release that follows each. Prints
 *   load input: N file(s), B bytes, R rows
 *   load: X MB/s (bal_series_load, best of R)
 * (MB = 1e6 bytes) and exits 1 if a load fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ballast/loader.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Loads every file once; the total bytes and rows go to *bytes, *rows.
 * Returns 0 or 1 (a failure, reported on stderr). */
static int load_all(char **files, int n, const bal_load_options *o,
                    double *bytes, double *rows)
{
    int i;

    *bytes = 0;
    *rows = 0;
    for (i = 0; i < n; i++) {
        bal_series s = BAL_SERIES_INIT;
        bal_error e = BAL_ERROR_INIT;
        char msg[1024];
        FILE *f;

        if (bal_series_load(&s, files[i], o, &e) < 0) {
            fprintf(stderr, "bench_load: %s\n",
                    bal_error_format(&e, msg, sizeof(msg)));
            return 1;
        }
        *rows += (double)s.rows;
        bal_series_release(&s);
        f = fopen(files[i], "rb");
        if (f && fseek(f, 0, SEEK_END) == 0)
            *bytes += (double)ftell(f);
        if (f)
            fclose(f);
    }
    return 0;
}

int main(int argc, char **argv)
{
    bal_load_options o = BAL_LOAD_OPTIONS_INIT;
    int repeats = 7, first = 1, r, i;
    double bytes, rows, best = 1e300, t;

    while (first < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "-r") && first + 1 < argc) {
            repeats = atoi(argv[first + 1]);
        } else if (!strcmp(argv[first], "-k") && first + 1 < argc) {
            o.spike_k = strtod(argv[first + 1], NULL);
        } else {
            fprintf(stderr, "usage: bench_load [-r REPEATS] [-k SPIKE_K] "
                    "FILE...\n");
            return 2;
        }
        first += 2;
    }
    if (first >= argc || repeats < 1) {
        fprintf(stderr, "usage: bench_load [-r REPEATS] [-k SPIKE_K] "
                "FILE...\n");
        return 2;
    }
    if (load_all(argv + first, argc - first, &o, &bytes, &rows))
        return 1;
    for (r = 0; r < repeats; r++) {
        double pass = 0;

        for (i = first; i < argc; i++) {
            bal_series s = BAL_SERIES_INIT;

            t = now();
            if (bal_series_load(&s, argv[i], &o, NULL) < 0)
                return 1;
            pass += now() - t;
            bal_series_release(&s);     /* not part of the load */
        }
        if (pass < best)
            best = pass;
    }
    printf("load input: %d file(s), %.0f bytes, %.0f rows\n", argc - first,
           bytes, rows);
    printf("load: %.1f MB/s (bal_series_load, best of %d)\n",
           bytes / best / 1e6, repeats);
    return 0;
}
