#ifndef BAL_HTML_H
#define BAL_HTML_H
#include <stdio.h>
#include "ballast/engine.h"
#include "ballast/error.h"
#include "ballast/report.h"

/* report.html (SPEC §7): one self-contained page describing a run. Inline
 * SVG and CSS only: no script, no network, no external font, so it opens
 * offline. The page holds the metrics table, the equity curve (with marks
 * at the rebalance decisions, coloured by trigger, and a strip of the
 * portfolio regime), the underwater curve, gross exposure and the
 * drawdown multiplier, the target weights over time, rebalances by
 * trigger, heat maps of the final and stress correlation matrices and of
 * rolling correlation over time, the stress pairs, the per-asset table,
 * the deepest drawdown episodes and the input files.
 *
 * Curves are downsampled to at most BAL_HTML_MAX_POINTS points per line
 * with bal_html_downsample, so each bucket's extremes survive. Numbers are
 * written with fixed precision by integer arithmetic (no printf float
 * conversion, so no locale), and nothing depends on the clock: the same
 * inputs give the same bytes. Undefined (NaN) values show as an en dash. */

#define BAL_HTML_MAX_POINTS 2000

/* Writes the page for `res` to `out`.
 *
 * From `in` it reads: symbols (n = res->n_assets, required); config (the
 * normalised config, for the title "name" and for engine.corr_window and
 * engine.returns of the rolling-correlation view; NULL: title "ballast
 * report", window 60, log returns); version; calendar; files, hashes and
 * series (each may be NULL: the data table shows what is given, and the
 * rolling-correlation view needs series, which must be the series the run
 * used, in config order). Every string from the user (name, symbols, file
 * names) is HTML-escaped.
 *
 * The rolling-correlation view recomputes, at up to 120 evenly spaced
 * equity rows, the Pearson correlation of the last corr_window synchronous
 * returns of each pair (SPEC §3, from the series' closes; rolling Pearson
 * even when the engine used EWMA, as the page says). It shows the mean
 * over all pairs and up to 12 pairs: all pairs when there are at most 12,
 * else the stress pairs, else the pairs with the largest |final
 * correlation|. A pair whose last corr_window + 1 common timestamps lie
 * more than 64 (corr_window + 1) bars back in either series shows as
 * undefined there; a window longer than every series skips the view
 * with a note. Cost: O(columns x pairs x corr_window); the mean is left
 * out above 2000 pairs, and above 100 assets the matrices are left to
 * report.json.
 *
 * `out` stays owned by the caller and is flushed, not closed. Returns 0,
 * BAL_EINVAL when res has no equity rows, BAL_EIO when a write or the
 * final flush fails, BAL_ENOMEM. On failure the stream may hold a partial
 * page. */
int bal_report_html(FILE *out, const bal_report_input *in,
                    const bal_result *res, bal_error *err);

/* Picks indices of y[0..n-1] that keep the shape of the curve when drawn:
 * every index when n <= max_points; else index 0, index n - 1 and, in
 * each of (max_points - 2) / 2 buckets of consecutive indices of equal
 * size (to within one), the index of the bucket's smallest and of its
 * largest value (the earliest among equals), so the global minimum and
 * maximum are always kept. NaN values are never picked as a bucket's
 * extreme (a bucket of NaNs contributes nothing). Writes the indices in
 * increasing order, without repeats, to idx_out (room for max_points)
 * and returns how many. max_points >= 4 (asserted). */
size_t bal_html_downsample(size_t *idx_out, const double *y, size_t n,
                           size_t max_points);

#endif /* BAL_HTML_H */
