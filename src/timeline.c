#include "ballast/timeline.h"

#include <stdlib.h>
#include <string.h>

void bal_timeline_release(bal_timeline *tl)
{
    if (!tl)
        return;
    free(tl->time);
    free(tl->bar);
    memset(tl, 0, sizeof(*tl));
}

/* Smallest head time over the series not yet exhausted; 0 if none. */
static int min_head(const bal_series *const *s, const size_t *pos, size_t n,
                    int64_t *t)
{
    size_t i;
    int any = 0;

    for (i = 0; i < n; i++) {
        if (pos[i] < s[i]->n && (!any || s[i]->time[pos[i]] < *t)) {
            *t = s[i]->time[pos[i]];
            any = 1;
        }
    }
    return any;
}

int bal_timeline_build(bal_timeline *out, const bal_series *const *s,
                       size_t n, bal_error *err)
{
    size_t *pos = NULL, steps = 0, step, i;
    int64_t t = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return bal_error_set(err, BAL_EINVAL, "no series to align");
    for (i = 0; i < n; i++)
        if (s[i]->n > INT32_MAX)
            return bal_error_set(err, BAL_EINVAL, "series %zu has %zu bars,"
                                 " more than a timeline can index", i,
                                 s[i]->n);
    pos = calloc(n, sizeof(*pos));
    if (!pos)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    /* pass 1: count the steps */
    while (min_head(s, pos, n, &t)) {
        for (i = 0; i < n; i++)
            if (pos[i] < s[i]->n && s[i]->time[pos[i]] == t)
                pos[i]++;
        steps++;
    }
    if (steps > 0 && n > SIZE_MAX / sizeof(int32_t) / steps) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    out->time = malloc((steps ? steps : 1) * sizeof(*out->time));
    out->bar = malloc((steps ? steps * n : 1) * sizeof(*out->bar));
    if (!out->time || !out->bar) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    /* pass 2: fill */
    memset(pos, 0, n * sizeof(*pos));
    for (step = 0; step < steps; step++) {
        int32_t *row = out->bar + step * n;

        min_head(s, pos, n, &t);
        out->time[step] = t;
        for (i = 0; i < n; i++) {
            if (pos[i] < s[i]->n && s[i]->time[pos[i]] == t)
                row[i] = (int32_t)pos[i]++;
            else
                row[i] = -1;
        }
    }
    out->n_steps = steps;
    out->n_assets = n;
done:
    free(pos);
    if (rc < 0)
        bal_timeline_release(out);
    return rc;
}

/* Moves bar `from` of s to index `to` (to <= from). */
static void move_bar(bal_series *s, size_t to, size_t from)
{
    s->time[to] = s->time[from];
    s->close[to] = s->close[from];
    if (s->open)
        s->open[to] = s->open[from];
    if (s->high)
        s->high[to] = s->high[from];
    if (s->low)
        s->low[to] = s->low[from];
    if (s->volume)
        s->volume[to] = s->volume[from];
}

/* One walk over the common timestamps; with compact set, moves them to
 * the front of every series. Returns how many there are. */
static size_t walk_common(bal_series *const *s, size_t *pos, size_t n,
                          int compact)
{
    size_t common = 0, i;

    memset(pos, 0, n * sizeof(*pos));
    for (;;) {
        int64_t hi;
        int all = 1;

        for (i = 0; i < n; i++)
            if (pos[i] >= s[i]->n)
                return common;
        hi = s[0]->time[pos[0]];
        for (i = 1; i < n; i++)
            if (s[i]->time[pos[i]] > hi)
                hi = s[i]->time[pos[i]];
        for (i = 0; i < n; i++) {
            while (pos[i] < s[i]->n && s[i]->time[pos[i]] < hi)
                pos[i]++;
            if (pos[i] >= s[i]->n)
                return common;
            if (s[i]->time[pos[i]] != hi)
                all = 0;
        }
        if (!all)
            continue;
        for (i = 0; i < n; i++) {
            if (compact)
                move_bar(s[i], common, pos[i]);
            pos[i]++;
        }
        common++;
    }
}

int bal_timeline_intersect(bal_series *const *s, size_t n, bal_error *err)
{
    size_t *pos, common, i, j;
    int rc = 0;

    if (n == 0)
        return bal_error_set(err, BAL_EINVAL, "no series to intersect");
    pos = malloc(n * sizeof(*pos));
    if (!pos)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    common = walk_common(s, pos, n, 0);
    if (common == 0) {
        rc = bal_error_set(err, BAL_EINVAL, "calendar intersection is "
                           "empty: the %zu assets share no timestamp", n);
        goto done;
    }
    walk_common(s, pos, n, 1);
    for (i = 0; i < n; i++) {
        bal_series *x = s[i];

        x->n = common;
        x->all_midnight = 1;
        for (j = 0; j < common; j++)
            if (x->time[j] % 86400 != 0)
                x->all_midnight = 0;
        rc = bal_series_bar_seconds(&x->bar_seconds, x->time, common, err);
        if (rc < 0)
            goto done;
    }
done:
    free(pos);
    return rc;
}

size_t bal_timeline_lower_bound(const bal_timeline *tl, int64_t t)
{
    size_t lo = 0, hi = tl->n_steps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (tl->time[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
