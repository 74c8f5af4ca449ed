#include "ballast/numfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* printf's %g honours LC_NUMERIC; the CLI never calls setlocale, so the C
 * locale is in force and '.' is the decimal point. */
char *bal_numfmt(char buf[BAL_NUMFMT_LEN], double x, const char *nonfinite)
{
    int p;

    if (!isfinite(x)) {
        snprintf(buf, BAL_NUMFMT_LEN, "%s", nonfinite);
        return buf;
    }
    if (x == 0) {                       /* keeps "-0" distinct from "0" */
        snprintf(buf, BAL_NUMFMT_LEN, "%s", signbit(x) ? "-0" : "0");
        return buf;
    }
    /* Reading back is monotone in p (more digits never lose the value),
     * so a binary search finds the smallest p in about 4 tries. 17
     * digits always round-trip a double. */
    {
        int lo = 1, hi = 17;

        while (lo < hi) {
            p = lo + (hi - lo) / 2;
            snprintf(buf, BAL_NUMFMT_LEN, "%.*g", p, x);
            if (strtod(buf, NULL) == x)
                hi = p;
            else
                lo = p + 1;
        }
        snprintf(buf, BAL_NUMFMT_LEN, "%.*g", lo, x);
    }
    return buf;
}

/* Howard Hinnant's civil-calendar algorithms (public domain formulas). */
int64_t bal_days_from_civil(int y, unsigned m, unsigned d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t)doe - 719468;
}

void bal_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

char *bal_timefmt(char buf[BAL_NUMFMT_LEN], int64_t t, int date_only)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sod = t - days * 86400;
    int y;
    unsigned m, d;

    bal_civil_from_days(days, &y, &m, &d);
    if (date_only)
        snprintf(buf, BAL_NUMFMT_LEN, "%04d-%02u-%02u", y, m, d);
    else
        snprintf(buf, BAL_NUMFMT_LEN, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m,
                 d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    return buf;
}
