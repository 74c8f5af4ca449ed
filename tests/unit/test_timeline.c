/* Timeline tests: hand-made series whose union and intersection are
 * written out by hand, plus a brute-force differential on random
 * calendars (sort + unique of every time, linear search for each bar). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ballast/timeline.h"
#include "helpers.h"

#define DAY 86400
#define MON_2021_01_04 1609718400       /* a Monday */

static void make(bal_series *s, const int64_t *t, size_t n)
{
    double *c = malloc(n * sizeof(*c));
    size_t i;

    cr_assert(c);
    for (i = 0; i < n; i++)
        c[i] = 2.385 + 0.731 * (double)(t[i] % 1000);
    cr_assert_eq(bal_series_from_arrays(s, t, NULL, NULL, NULL, c, n, NULL),
                 0);
    free(c);
}

Test(timeline, union_merges_calendars)
{
    int64_t ta[] = { 1, 3, 5 }, tb[] = { 2, 3, 6 };
    bal_series a, b;
    const bal_series *s[2] = { &a, &b };
    bal_timeline tl = BAL_TIMELINE_INIT;
    /* steps 1 2 3 5 6; A's bars 0 - 1 2 -, B's - 0 1 - 2 */
    int64_t want_t[] = { 1, 2, 3, 5, 6 };
    int32_t want_bar[] = { 0, -1, -1, 0, 1, 1, 2, -1, -1, 2 };
    size_t i;

    make(&a, ta, 3);
    make(&b, tb, 3);
    cr_assert_eq(bal_timeline_build(&tl, s, 2, NULL), 0);
    cr_assert_eq(tl.n_steps, 5);
    cr_assert_eq(tl.n_assets, 2);
    for (i = 0; i < 5; i++)
        cr_assert_eq(tl.time[i], want_t[i]);
    for (i = 0; i < 10; i++)
        cr_assert_eq(tl.bar[i], want_bar[i], "bar[%zu] = %d", i,
                     (int)tl.bar[i]);
    bal_timeline_release(&tl);
    cr_assert_null(tl.time);
    bal_series_release(&a);
    bal_series_release(&b);
}

/* A crypto asset trading every day beside a Monday-to-Friday asset, two
 * weeks from Monday 2021-01-04. */
static void two_weeks(bal_series *crypto, bal_series *fx)
{
    int64_t tc[14], tf[10];
    size_t i, k = 0;

    for (i = 0; i < 14; i++) {
        tc[i] = MON_2021_01_04 + (int64_t)i * DAY;
        if (i % 7 < 5)
            tf[k++] = tc[i];
    }
    make(crypto, tc, 14);
    make(fx, tf, 10);
}

Test(timeline, union_of_daily_crypto_and_weekday_asset)
{
    bal_series c, f;
    const bal_series *s[2] = { &f, &c };
    bal_timeline tl = BAL_TIMELINE_INIT;
    size_t i;
    int32_t fx_bar = 0;

    two_weeks(&c, &f);
    cr_assert_eq(bal_timeline_build(&tl, s, 2, NULL), 0);
    cr_assert_eq(tl.n_steps, 14);
    for (i = 0; i < 14; i++) {
        cr_assert_eq(tl.time[i], MON_2021_01_04 + (int64_t)i * DAY);
        cr_assert_eq(tl.bar[i * 2 + 1], (int32_t)i);  /* crypto: every day */
        if (i % 7 < 5)                                /* Mon..Fri */
            cr_assert_eq(tl.bar[i * 2], fx_bar++);
        else                                          /* weekend: stale */
            cr_assert_eq(tl.bar[i * 2], -1);
    }
    bal_timeline_release(&tl);
    bal_series_release(&c);
    bal_series_release(&f);
}

Test(timeline, intersect_restricts_every_series_in_place)
{
    bal_series c, f;
    bal_series *s[2] = { &c, &f };
    double c_close[14];
    size_t i, k = 0;

    two_weeks(&c, &f);
    memcpy(c_close, c.close, sizeof(c_close));
    cr_assert_eq(c.bar_seconds, DAY);
    cr_assert_eq(bal_timeline_intersect(s, 2, NULL), 0);
    cr_assert_eq(c.n, 10);
    cr_assert_eq(f.n, 10);
    for (i = 0; i < 14; i++) {
        if (i % 7 >= 5)
            continue;
        cr_assert_eq(c.time[k], MON_2021_01_04 + (int64_t)i * DAY);
        cr_assert_eq(c.close[k], c_close[i]);   /* the bar moved intact */
        cr_assert_eq(f.time[k], c.time[k]);
        k++;
    }
    /* spacings now 1,1,1,1,3,1,1,1,1 days: lower median one day */
    cr_assert_eq(c.bar_seconds, DAY);
    cr_assert(c.all_midnight);
    bal_series_release(&c);
    bal_series_release(&f);
}

Test(timeline, intersect_moves_ohlc_and_recomputes_bar_size)
{
    /* A hourly at 0..5 h, B every 2 h at 0, 2, 4, 6 h (plus an extra bar
     * at 30 min): common = 0, 2, 4 h; A's bars 0, 2, 4 remain. */
    int64_t ta[] = { 0, 3600, 7200, 10800, 14400, 18000 };
    int64_t tb[] = { 0, 1800, 7200, 14400, 21600 };
    double o[] = { 1.1, 1.2, 1.3, 1.4, 1.5, 1.6 },
           h[] = { 2.1, 2.2, 2.3, 2.4, 2.5, 2.6 },
           l[] = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6 },
           c[] = { 1.15, 1.25, 1.35, 1.45, 1.55, 1.65 };
    bal_series a, b;
    bal_series *s[2] = { &a, &b };

    cr_assert_eq(bal_series_from_arrays(&a, ta, o, h, l, c, 6, NULL), 0);
    make(&b, tb, 5);
    cr_assert_eq(a.bar_seconds, 3600);
    cr_assert_eq(bal_timeline_intersect(s, 2, NULL), 0);
    cr_assert_eq(a.n, 3);
    cr_assert_eq(b.n, 3);
    cr_assert_eq(a.time[1], 7200);
    cr_assert_eq(a.open[1], 1.3);
    cr_assert_eq(a.high[2], 2.5);
    cr_assert_eq(a.low[2], 0.5);
    cr_assert_eq(a.close[2], 1.55);
    cr_assert_eq(b.time[2], 14400);
    cr_assert_eq(a.bar_seconds, 7200);
    cr_assert_not(a.all_midnight);
    bal_series_release(&a);
    bal_series_release(&b);
}

Test(timeline, empty_intersection_is_an_error_and_changes_nothing)
{
    int64_t ta[] = { 1, 3, 5 }, tb[] = { 2, 4, 6 };
    bal_series a, b;
    bal_series *s[2] = { &a, &b };
    bal_error e = BAL_ERROR_INIT;

    make(&a, ta, 3);
    make(&b, tb, 3);
    cr_assert_eq(bal_timeline_intersect(s, 2, &e), BAL_EINVAL);
    cr_assert_str_eq(e.msg, "calendar intersection is empty: the 2 assets "
                     "share no timestamp");
    cr_assert_eq(a.n, 3);
    cr_assert_eq(b.n, 3);
    cr_assert_eq(b.time[0], 2);
    cr_assert_eq(bal_timeline_intersect(s, 0, &e), BAL_EINVAL);
    bal_series_release(&a);
    bal_series_release(&b);
}

Test(timeline, build_needs_a_series)
{
    bal_timeline tl = BAL_TIMELINE_INIT;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(bal_timeline_build(&tl, NULL, 0, &e), BAL_EINVAL);
    cr_assert_str_eq(e.msg, "no series to align");
    cr_assert_null(tl.time);
}

Test(timeline, lower_bound)
{
    int64_t t[] = { 10, 20, 30 };
    bal_series a;
    const bal_series *s[1] = { &a };
    bal_timeline tl = BAL_TIMELINE_INIT;

    make(&a, t, 3);
    cr_assert_eq(bal_timeline_build(&tl, s, 1, NULL), 0);
    cr_assert_eq(bal_timeline_lower_bound(&tl, -5), 0);
    cr_assert_eq(bal_timeline_lower_bound(&tl, 10), 0);
    cr_assert_eq(bal_timeline_lower_bound(&tl, 11), 1);
    cr_assert_eq(bal_timeline_lower_bound(&tl, 20), 1);
    cr_assert_eq(bal_timeline_lower_bound(&tl, 30), 2);
    cr_assert_eq(bal_timeline_lower_bound(&tl, 31), 3);
    bal_timeline_release(&tl);
    bal_series_release(&a);
}

static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t rng(void)          /* xorshift64*, fixed seed */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* Random calendars (times drawn from 0..199): union and intersection
 * against sort-unique and membership by linear search. */
Test(timeline, random_calendars_match_brute_force)
{
    size_t round;

    for (round = 0; round < 200; round++) {
        size_t n = 1 + rng() % 5, i, j, k, total = 0, steps;
        bal_series ser[5];
        const bal_series *cs[5];
        bal_series *ms[5];
        int64_t all[5 * 200];
        bal_timeline tl = BAL_TIMELINE_INIT;
        int rc;

        for (i = 0; i < n; i++) {
            int64_t t[200];
            size_t m = 0;
            uint64_t density = 1 + rng() % 4;

            for (j = 0; j < 200; j++)
                if (rng() % density == 0)
                    t[m++] = (int64_t)j * 3600;
            if (m == 0)
                t[m++] = 0;
            make(&ser[i], t, m);
            memcpy(all + total, t, m * sizeof(*t));
            total += m;
            cs[i] = &ser[i];
            ms[i] = &ser[i];
        }
        qsort(all, total, sizeof(*all), cmp_i64);
        for (steps = 0, i = 0; i < total; i++)
            if (i == 0 || all[i] != all[i - 1])
                all[steps++] = all[i];
        cr_assert_eq(bal_timeline_build(&tl, cs, n, NULL), 0);
        cr_assert_eq(tl.n_steps, steps);
        for (k = 0; k < steps; k++) {
            cr_assert_eq(tl.time[k], all[k]);
            for (i = 0; i < n; i++) {
                int32_t want = -1;

                for (j = 0; j < ser[i].n; j++)
                    if (ser[i].time[j] == all[k])
                        want = (int32_t)j;
                cr_assert_eq(tl.bar[k * n + i], want);
            }
        }
        /* intersection: the steps at which no bar is -1 */
        {
            int64_t common[200];
            size_t nc = 0;

            for (k = 0; k < steps; k++) {
                int every = 1;

                for (i = 0; i < n; i++)
                    every = every && tl.bar[k * n + i] >= 0;
                if (every)
                    common[nc++] = tl.time[k];
            }
            rc = bal_timeline_intersect(ms, n, NULL);
            cr_assert_eq(rc, nc ? 0 : BAL_EINVAL);
            for (i = 0; nc && i < n; i++) {
                cr_assert_eq(ser[i].n, nc);
                for (k = 0; k < nc; k++) {
                    cr_assert_eq(ser[i].time[k], common[k]);
                    /* close is a function of the time (see make) */
                    cr_assert_eq(ser[i].close[k],
                                 2.385 + 0.731 * (double)(common[k] % 1000));
                }
            }
        }
        bal_timeline_release(&tl);
        for (i = 0; i < n; i++)
            bal_series_release(&ser[i]);
    }
}
