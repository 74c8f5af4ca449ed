#ifndef BAL_LOADER_H
#define BAL_LOADER_H
#include <stdint.h>
#include "ballast/asset.h"
#include "ballast/error.h"              /* brings <stddef.h> */

/* CSV loader (SPEC §2): one file -> one series of bars, oldest first.
 *
 * The work runs in three stages, each open to extension:
 *   1. detection: skip a UTF-8 BOM and preamble lines, find the header
 *      (the first of the first 16 non-blank lines that names a known
 *      column or a column of the options' column map), pick the delimiter
 *      (`,` `;` tab `|`: the one that makes the most known names) and map
 *      columns to roles (enum bal_column). Without a header, a column map
 *      by index gives the roles, or else the first non-blank line must
 *      have the headerless MetaTrader layout
 *        date,open,high,low,close,volume       (date may hold a time)
 *        date,time,open,high,low,close,volume  (time of day apart)
 *      recognised from its content (a date, a time of day in the 7-column
 *      layout, then five numbers);
 *   2. rows: libcsv tokenizes the data in large blocks (quotes, LF/CRLF/
 *      CR, no final newline); each cell of a used column is parsed at once,
 *      so the first bad cell stops the load with FILE:LINE:COL (the line
 *      is found again only when there is an error);
 *   3. post-processing: sort, duplicates, bar defects, spikes, bar size
 *      and gaps, in that order.
 *
 * Header names (case-insensitive, surrounding spaces and one pair of
 * <angle brackets> ignored; the first column matching a role wins):
 *   unix                                    -> BAL_COL_UNIX
 *   date, datetime, timestamp, gmt time, open time -> BAL_COL_DATE
 *   time  -> BAL_COL_TIME if a `date` column exists, else BAL_COL_DATE
 *   open, high, low; close or price; adj close; volume, vol, vol.,
 *   "volume <anything>"
 * Other columns are ignored. A unix column wins over a date column; the
 * date column is then only compared with it (time_mismatch). A column map
 * in the options (column_name / column_index) overrides detection role by
 * role; detection never gives a mapped column to another role.
 *
 * Times are int64 seconds UTC; fractions of a second are dropped (floor).
 * Cells of the time column are read with the first matching format of:
 *   YYYY-MM-DD[(T| )HH:MM[:SS[.f]][Z|±hh[:mm]]]   (ISO 8601)
 *   YYYY-MM-DD HH-AM / HH-PM                      (12-hour)
 *   YYYY.MM.DD[ HH:MM[:SS[.f]]]                   (MetaTrader)
 *   DD.MM.YYYY[ HH:MM[:SS[.f]]]                   (Dukascopy)
 *   YYYYMMDD[ HHMMSS]
 *   MM/DD/YYYY or DD/MM/YYYY[ H:MM[:SS[.f]]]      (1- or 2-digit day,
 *                                                  month and hour)
 *   unix seconds / ms / µs / ns, 9 or more digits, optional fraction
 * (the format of the previous row is tried first, so files mixing two
 * formats load). The order of a slash date is read from the data: the
 * date column of the whole file is scanned once, and a first number above
 * 12 somewhere means DD/MM/YYYY, a second number above 12 MM/DD/YYYY. When
 * every day and month is at most 12 the file is refused ("ambiguous date
 * ...: set date_format") at the first slash date. A separate time-of-day
 * column takes H:MM[:SS[.f]] or HHMMSS and is added to the date. A unix
 * cell (either column) is read by magnitude: |v| < 1e11 seconds, < 1e14
 * ms, < 1e17 µs, else ns.
 *
 * Numbers: [+-]digits[.digits][e[+-]digits], read exactly: the result is
 * the double strtod gives (round to nearest, ties to even), computed by
 * bal_series_parse_number's fast paths with strtod as the fallback, after
 * these normalisations: with the `;` delimiter a single `,` is the decimal
 * point; when a cell holds both `.` and `,` the last one is the decimal
 * point and the other must group the integer digits by three
 * ("2,546.00", "1.234,5"); a volume may end in K, M or B (x 1e3, 1e6,
 * 1e9, applied in the decimal text). inf, nan as a value, hex floats and
 * trailing text are errors. Empty, `-`, `null` and `nan` cells (any
 * case) are missing: a missing price is a bar defect, a missing volume is
 * NaN.
 *
 * Rows: a row whose fields are all empty is skipped; a row with fewer
 * fields than the used columns need, or a non-empty field beyond the
 * header's last column, is an error ("short row" / "long row"). A field
 * longer than 1 MiB is an error.
 *
 * Post-processing (counted in bal_defects):
 *   - order: rows are sorted by (time, file order). A file that is
 *     mostly newest-first is reversed; `unsorted` counts the adjacent
 *     pairs out of order in the majority direction;
 *   - duplicates: per bal_duplicates; `duplicates` counts the rows
 *     dropped;
 *   - bar defects, per bar kept, in this order: a missing price
 *     (`missing`), else a price <= 0 (`non_positive`); such bars are
 *     dropped unless the policy is ERROR. Otherwise high < low
 *     (`high_low`) and open or close above the high or below the low
 *     (`open_close_outside`; a bar with high < low usually counts in
 *     both); REPAIR sets high = max(O,H,L,C), low = min(O,H,L,C). With
 *     a close-only file only the close is checked;
 *   - spikes: r_t = ln(C_t / m_t), m_t the median close of the bars
 *     t-5..t+5 other than t that exist (10 inside the series, fewer at
 *     its ends; the median of an even count is the mean of the middle
 *     two). MAD = median over t of |r_t - median(r)|. Bar t is a spike
 *     when |r_t| > spike_k * 1.4826 * MAD (`spikes`). With spike_repair
 *     C_t becomes m_t (all m_t are taken from the closes before any
 *     repair) and high/low widen to keep the bar valid. Nothing is
 *     flagged when MAD is 0 or the series has fewer than 2 bars;
 *   - bar_seconds: the lower median of the spacings between kept bars;
 *   - gaps: spacings longer than 3 x bar_seconds, where for every class
 *     but crypto the weekend (Saturday 00:00 to Monday 00:00 UTC) inside
 *     the spacing is not counted.
 */

/* Column roles; bal_series.col is indexed by them. */
typedef enum bal_column {
    BAL_COL_UNIX,
    BAL_COL_DATE,       /* date or date-time */
    BAL_COL_TIME,       /* time of day, joined to BAL_COL_DATE */
    BAL_COL_OPEN,
    BAL_COL_HIGH,
    BAL_COL_LOW,
    BAL_COL_CLOSE,
    BAL_COL_ADJ_CLOSE,
    BAL_COL_VOLUME,
    BAL_COL_COUNT
} bal_column;

/* Defects found in one file; see the post-processing notes above. */
typedef struct bal_defects {
    size_t duplicates;      /* rows dropped as duplicate timestamps */
    size_t unsorted;        /* adjacent rows out of order */
    size_t high_low;        /* bars with high < low */
    size_t open_close_outside; /* bars with O or C outside [L, H] */
    size_t non_positive;    /* bars with a price <= 0 (dropped) */
    size_t missing;         /* bars with a missing price (dropped) */
    size_t spikes;          /* closes flagged by the MAD rule */
    size_t gaps;            /* spacings > 3 bar sizes (weekends aside) */
    size_t time_mismatch;   /* rows whose date column disagrees with unix */
} bal_defects;

/* Per-asset options. Start from BAL_LOAD_OPTIONS_INIT. */
typedef struct bal_load_options {
    bal_asset_class asset_class;  /* crypto: weekends count in gaps */
    /* Zoneless date-times in the file are local = UTC + offset, so UTC =
     * value - offset; |offset| <= 86400. Never applied to date-only
     * values, to values with a zone or to unix times. */
    int64_t tz_offset_seconds;
    /* Non-zero: zoneless date-times are MetaTrader server time, UTC+3
     * while US daylight saving is on, else UTC+2 (US rules: from 2007
     * second Sunday of March to first Sunday of November, before 2007
     * first Sunday of April to last Sunday of October, switching at 2:00
     * New York time). Overrides tz_offset_seconds. */
    int tz_fx_server;
    /* NULL = detect. Else the date column's format, strptime style:
     * %Y (4 digits) %m %d %H %I %M %S (2 digits each; %S may be followed
     * by a fraction), %p (AM/PM), %z (Z, ±hh, ±hhmm, ±hh:mm), %f (digits),
     * %% and literal characters. Every cell must match it. BAL_EINVAL
     * for an unknown directive. E.g. "%m/%d/%Y". */
    const char *date_format;
    /* Non-zero: the close is the `adj close` column, and when the file
     * also has a plain close and open/high/low, those three are scaled
     * by adj close / close (Yahoo's adjustment). */
    int use_adj_close;
    bal_duplicates duplicates;    /* default BAL_DUP_LAST */
    bal_bad_bars bad_bars;        /* default BAL_BAD_REPAIR */
    double spike_k;               /* default 10; 0 disables spike checks */
    int spike_repair;             /* non-zero: spiking close -> m_t */
    /* Column map (the config's `columns`), indexed by enum bal_column:
     * column_name[r] non-NULL names role r's header cell (matched exactly
     * after trimming the cell's spaces); else column_index[r] >= 0 is its
     * 0-based field index; else the role is detected. Mapped names make
     * their line a header; a map by index alone also reads a file without
     * a header. Strings are borrowed for the call. */
    const char *column_name[BAL_COL_COUNT];
    long column_index[BAL_COL_COUNT];
} bal_load_options;
#define BAL_LOAD_OPTIONS_INIT                                             \
    { BAL_CLASS_FOREX, 0, 0, NULL, 0, BAL_DUP_LAST, BAL_BAD_REPAIR, 10.0, \
      0, { NULL }, { -1, -1, -1, -1, -1, -1, -1, -1, -1 } }

/* One asset's bars. Invariant after a successful load: n >= 1 and time is
 * strictly increasing. Arrays are owned by the series (n elements each);
 * release with bal_series_release. Prices are finite and > 0 and
 * low <= open, close <= high, unless the policy kept bad bars (it never
 * does) or the series came from bal_series_from_arrays. */
typedef struct bal_series {
    size_t n;               /* bars kept */
    int64_t *time;          /* UTC seconds, strictly increasing */
    double *open, *high, *low; /* NULL when the file is close-only */
    double *close;
    double *volume;         /* NULL without a volume column; NaN = missing */
    size_t rows;            /* data rows read (before any was dropped) */
    int64_t bar_seconds;    /* lower median spacing; 0 when n < 2 */
    int all_midnight;       /* every kept time is at 00:00:00 UTC */
    char delimiter;         /* detected; 0 for bal_series_from_arrays */
    size_t header_line;     /* 1-based physical line of the header, 0 if
                               none */
    /* 0-based field index of each role actually used, -1 if absent or
     * unused (open/high/low are -1 unless all three are present; the
     * plain close is -1 when use_adj_close read the adj close). */
    int col[BAL_COL_COUNT];
    /* Static string naming the time format of the first data row, e.g.
     * "YYYY-MM-DD", "YYYY.MM.DD", "MM/DD/YYYY", "unix", "date_format"
     * (the user's format) or "arrays". */
    const char *time_format;
    bal_defects defects;
} bal_series;
#define BAL_SERIES_INIT { 0 }

/* Reads the CSV file at path into *out (overwritten, not released first:
 * pass an initialised or released series). A regular file of 1 MiB or
 * more is memory-mapped where the system allows it (else read whole), so
 * it must not be truncated while it loads. On failure *out is left empty
 * (releasing it is harmless). Returns 0, or:
 *   BAL_EIO    "cannot open 'x.csv': No such file or directory" (path not
 *              repeated in err->path), also for read errors;
 *   BAL_EPARSE bad data; err->path = path, err->line = the physical line
 *              where the bad record starts (1-based), err->column = the
 *              1-based field index, either 0 when not applicable, e.g.
 *              "cannot parse 'abc' as a number",
 *              "cannot parse '2021-13-45' as a date", "empty file",
 *              "no data rows after the header on line 1", "ambiguous
 *              date '09/01/2024': ... set date_format", "no column named
 *              'Last' in the header (columns.close)";
 *   BAL_EINVAL bad options (enum out of range, spike_k < 0 or NaN,
 *              |tz_offset_seconds| > 86400, bad date_format);
 *   BAL_ENOMEM. */
int bal_series_load(bal_series *out, const char *path,
                    const bal_load_options *opt, bal_error *err);

/* As bal_series_load, from the len bytes at buf (not NUL-terminated,
 * borrowed for the call). name is used as err->path (NULL = "(memory)").
 * opt NULL = BAL_LOAD_OPTIONS_INIT. */
int bal_series_parse(bal_series *out, const char *name, const char *buf,
                     size_t len, const bal_load_options *opt,
                     bal_error *err);

/* Frees the arrays and resets *s to BAL_SERIES_INIT. NULL is a no-op. */
void bal_series_release(bal_series *s);

/* Builds a series by copying n bars (tests, synthetic data). open, high
 * and low are all NULL (close-only) or all non-NULL; close and time are
 * required; volume is NULL. Values are copied as given (NaN included),
 * with no defect checks; bar_seconds and all_midnight are computed, the
 * defects are zero, col[] is -1. BAL_EINVAL when n == 0, n > INT32_MAX,
 * time is not strictly increasing, or the pointers break the rule above;
 * BAL_ENOMEM. On failure *out is left empty. */
int bal_series_from_arrays(bal_series *out, const int64_t *time,
                           const double *open, const double *high,
                           const double *low, const double *close,
                           size_t n, bal_error *err);

/* Writes to *out the lower median of the spacings time[i] - time[i-1] of
 * n strictly increasing times (0 when n < 2): the bar size. O(n); a
 * scratch copy is made when the commonest spacing is not that median:
 * BAL_ENOMEM if it cannot be allocated, else 0. */
int bal_series_bar_seconds(int64_t *out, const int64_t *time, size_t n,
                           bal_error *err);

/* Reads the decimal number that fills the len bytes at s exactly (no
 * spaces, no NUL needed): [+-](d+[.d*]|.d+)([eE][+-]?d+)? with `.` as the
 * point. *out is the double strtod gives for the same text (round to
 * nearest, ties to even; -0 for a negative zero; an underflow gives 0 or
 * a subnormal as strtod does), computed without strtod when there are at
 * most 19 significant digits and |exponent| <= 19 (Clinger's fast path
 * for up to 2^53 and powers of ten up to 1e22, else exact 128-bit integer
 * arithmetic where the compiler has it), with strtod (C locale) for the
 * rest. Never NaN. Returns 0; BAL_EPARSE "cannot parse 'x' as a number"
 * when the text is not of that form or overflows to infinity (*out then
 * untouched); BAL_ENOMEM (only for texts of 128 bytes or more). */
int bal_series_parse_number(double *out, const char *s, size_t len,
                            bal_error *err);

#endif /* BAL_LOADER_H */
