/* libFuzzer target for the CSV loader (`make fuzz`, `make fuzz-run`).
 *
 * Every input is parsed with several option sets (defaults; DD/MM dates
 * by date_format and newest-first duplicates as errors; bad bars
 * skipped, spikes repaired, crypto gaps, a fixed zone; MetaTrader server
 * time with bad bars as errors; a column map by index; a map by name).
 * The loader must return 0 or one of its error codes, never crash, leak
 * or read out of bounds (ASan/UBSan), and a loaded series must keep the
 * invariants loader.h promises; a broken one aborts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ballast/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const bal_series *s, int rc, const bal_error *e)
{
    size_t i;

    if (rc != 0) {
        if (rc != BAL_EPARSE && rc != BAL_EINVAL && rc != BAL_ENOMEM)
            abort();
        if (e->msg[0] == '\0' || s->n != 0 || s->time || s->close)
            abort();
        return;
    }
    if (s->n < 1 || s->rows < s->n || !s->time || !s->close)
        abort();
    if ((s->open == NULL) != (s->high == NULL)
        || (s->open == NULL) != (s->low == NULL))
        abort();
    for (i = 0; i < s->n; i++) {
        if (i > 0 && !(s->time[i] > s->time[i - 1]))
            abort();
        if (!isfinite(s->close[i]) || !(s->close[i] > 0))
            abort();
        if (s->open
            && !(s->low[i] > 0 && s->low[i] <= s->open[i]
                 && s->open[i] <= s->high[i] && s->low[i] <= s->close[i]
                 && s->close[i] <= s->high[i] && isfinite(s->high[i])))
            abort();
    }
    if (s->n < 2 && s->bar_seconds != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bal_load_options o[6];
    size_t i;

    for (i = 0; i < 6; i++)
        o[i] = (bal_load_options)BAL_LOAD_OPTIONS_INIT;
    o[1].date_format = "%d/%m/%Y";
    o[1].duplicates = BAL_DUP_ERROR;
    o[2].bad_bars = BAL_BAD_SKIP;
    o[2].spike_repair = 1;
    o[2].spike_k = 3;
    o[2].asset_class = BAL_CLASS_CRYPTO;
    o[2].tz_offset_seconds = -5400;
    o[3].tz_fx_server = 1;
    o[3].bad_bars = BAL_BAD_ERROR;
    o[3].duplicates = BAL_DUP_FIRST;
    o[4].column_index[BAL_COL_DATE] = 0;
    o[4].column_index[BAL_COL_CLOSE] = 1;
    o[4].column_index[BAL_COL_VOLUME] = 2;
    o[5].column_name[BAL_COL_CLOSE] = "Last";
    o[5].column_index[BAL_COL_HIGH] = 2;
    o[5].use_adj_close = 1;
    o[5].column_name[BAL_COL_ADJ_CLOSE] = "Adj";
    for (i = 0; i < 6; i++) {
        bal_series s = BAL_SERIES_INIT;
        bal_error e = BAL_ERROR_INIT;
        int rc = bal_series_parse(&s, "fuzz.csv", (const char *)data, size,
                                  &o[i], &e);

        check(&s, rc, &e);
        bal_series_release(&s);
    }
    return 0;
}
