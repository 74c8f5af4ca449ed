#ifndef BAL_NUMFMT_H
#define BAL_NUMFMT_H
#include <stddef.h>
#include <stdint.h>

/* Room for any double in shortest form, e.g. "-2.2250738585072014e-308". */
#define BAL_NUMFMT_LEN 32

/* Writes x in shortest round-trip form: the smallest precision p in 1..17
 * for which "%.*g" (C locale) reads back to the same double. Non-finite x
 * writes `nonfinite` (e.g. "null" for JSON, "" for CSV). Returns buf. */
char *bal_numfmt(char buf[BAL_NUMFMT_LEN], double x, const char *nonfinite);

/* Formats a UTC time in seconds since the epoch as "YYYY-MM-DD" when
 * date_only is set, else "YYYY-MM-DDTHH:MM:SSZ". Returns buf. */
char *bal_timefmt(char buf[BAL_NUMFMT_LEN], int64_t t, int date_only);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. Exact for
 * every year representable in int. */
int64_t bal_days_from_civil(int y, unsigned m, unsigned d);
void bal_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

#endif /* BAL_NUMFMT_H */
