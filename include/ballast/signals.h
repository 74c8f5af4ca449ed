#ifndef BAL_SIGNALS_H
#define BAL_SIGNALS_H
#include <stdint.h>
#include "ballast/error.h"

/* User signals for `direction.mode: "signals"` (SPEC §4.1): a CSV with the
 * header `time,symbol,signal` (any column order, comma or semicolon),
 * one row per signal, from the user's own models. Times are ISO dates or
 * datetimes (`YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS][Z]`, UTC). A signal
 * applies from the close of the first step whose time is >= its time. */

typedef struct bal_signals {
    size_t n_assets;
    size_t *count;          /* n_assets: signals per asset */
    int64_t **time;         /* n_assets arrays, increasing */
    double **value;         /* n_assets arrays, each in [-1, 1] */
} bal_signals;
#define BAL_SIGNALS_INIT { 0, NULL, NULL, NULL }

/* Reads `path` for the n symbols (config order). Rows for the same symbol
 * and time: the last one wins. BAL_EPARSE (FILE:LINE:COL) for a bad time,
 * a value that is not a number in [-1, 1], an unknown symbol or a missing
 * column; BAL_EIO when it cannot be read; BAL_ENOMEM. Caller releases with
 * bal_signals_release (also after a failure). */
int bal_signals_load(bal_signals *out, const char *path,
                     const char *const *symbols, size_t n, bal_error *err);
void bal_signals_release(bal_signals *s);

/* Parses an ISO date or datetime (see above) into UTC seconds; 0 on
 * success, -1 if the text is not one. */
int bal_parse_iso_time(const char *s, size_t len, int64_t *out);

#endif /* BAL_SIGNALS_H */
