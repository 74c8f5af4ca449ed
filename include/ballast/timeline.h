#ifndef BAL_TIMELINE_H
#define BAL_TIMELINE_H
#include <stdint.h>
#include "ballast/error.h"              /* brings <stddef.h> */
#include "ballast/loader.h"

/* Aligning assets on one clock (SPEC §2 "Timeline").
 *
 * Union calendar: the steps are every timestamp at which any asset has a
 * bar, in increasing order. At step t asset i has bar
 * bar[t * n_assets + i] (an index into its series), or -1 when it has no
 * bar at that time (it is stale). Intersection calendar: run
 * bal_timeline_intersect on the series first; the union of the reduced
 * series is then the intersection. */
typedef struct bal_timeline {
    size_t n_steps, n_assets;
    int64_t *time;          /* n_steps, strictly increasing, UTC seconds */
    int32_t *bar;           /* n_steps * n_assets, row-major by step */
} bal_timeline;
#define BAL_TIMELINE_INIT { 0, 0, NULL, NULL }

/* Builds the union calendar of the n series s[0..n-1] (borrowed; each
 * with strictly increasing times, as the loader guarantees) into *out,
 * which is overwritten and owned by the caller (bal_timeline_release).
 * A k-way merge: O(n_steps * n) time, which is the size of bar. A series
 * with n == 0 only contributes -1 entries. BAL_EINVAL when n == 0 or a
 * series has more than INT32_MAX bars; BAL_ENOMEM (also when
 * n_steps * n overflows). On failure *out is left empty. */
int bal_timeline_build(bal_timeline *out, const bal_series *const *s,
                       size_t n, bal_error *err);

/* Restricts every series s[0..n-1] in place to the timestamps all of them
 * share (their bars at other times are dropped, every array of the series
 * compacted, n, bar_seconds and all_midnight recomputed; defects and rows
 * describe the file and are kept). O(total bars). Run before the engine so
 * every statistic sees the reduced series. BAL_EINVAL when n == 0 or the
 * intersection is empty (then no series is changed); BAL_ENOMEM. */
int bal_timeline_intersect(bal_series *const *s, size_t n, bal_error *err);

/* Frees the arrays and resets *tl to BAL_TIMELINE_INIT. NULL is a no-op. */
void bal_timeline_release(bal_timeline *tl);

/* The first step whose time is >= t, or n_steps if there is none.
 * O(log n_steps). */
size_t bal_timeline_lower_bound(const bal_timeline *tl, int64_t t);

#endif /* BAL_TIMELINE_H */
