#include "ballast/numfmt.h"
#include "ballast/signals.h"
#include "helpers.h"

#define DIR "tests/data/signals/"

static const char *const syms[3] = { "AAA", "BBB", "CCC" };

Test(signals, loads_per_symbol_in_time_order)
{
    bal_signals s = BAL_SIGNALS_INIT;
    bal_error err = BAL_ERROR_INIT;
    int64_t d5 = bal_days_from_civil(2021, 1, 5) * 86400;

    cr_assert_eq(bal_signals_load(&s, DIR "good.csv", syms, 3, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(s.count[0], 2);
    cr_assert_eq(s.time[0][0], d5);
    cr_assert_eq(s.time[0][1], d5 + 2 * 86400 + 12 * 3600);
    cr_assert_eq(s.value[0][1], -0.5);
    cr_assert_eq(s.count[1], 1, "the later row for one time wins");
    cr_assert_eq(s.value[1][0], 0.75);
    cr_assert_eq(s.count[2], 0);
    bal_signals_release(&s);
}

static void expect_error(const char *file, const char *want)
{
    bal_signals s = BAL_SIGNALS_INIT;
    bal_error err = BAL_ERROR_INIT;
    char buf[600];

    cr_assert_eq(bal_signals_load(&s, file, syms, 3, &err), BAL_EPARSE);
    cr_assert_str_eq(bal_error_format(&err, buf, sizeof(buf)), want);
    bal_signals_release(&s);
}

Test(signals, errors_name_file_line_and_column)
{
    expect_error(DIR "out_of_range.csv", DIR "out_of_range.csv:2:2: signal "
                 "'1.5' is not a number in [-1, 1]");
    expect_error(DIR "unknown.csv", DIR "unknown.csv:2:2: unknown symbol "
                 "'ZZZ' (not in data.assets)");
    expect_error(DIR "bad_time.csv", DIR "bad_time.csv:3:1: cannot parse "
                 "'2021-13-05' as a time");
    expect_error(DIR "no_symbol.csv", DIR "no_symbol.csv:1: no 'symbol' "
                 "column (expected the header time,symbol,signal)");
}

Test(signals, iso_times)
{
    int64_t t;

    cr_assert_eq(bal_parse_iso_time("2024-02-29", 10, &t), 0);
    cr_assert_eq(t, bal_days_from_civil(2024, 2, 29) * 86400);
    cr_assert_eq(bal_parse_iso_time("2024-02-29 13:45", 16, &t), 0);
    cr_assert_eq(t, bal_days_from_civil(2024, 2, 29) * 86400 + 49500);
    cr_assert_eq(bal_parse_iso_time("2023-02-29", 10, &t), -1);
    cr_assert_eq(bal_parse_iso_time("2024-01-01T24:00", 16, &t), -1);
    cr_assert_eq(bal_parse_iso_time("2024-01-01T10:00:00+02:00", 25, &t),
                 -1, "zones other than Z are refused, not misread");
}
