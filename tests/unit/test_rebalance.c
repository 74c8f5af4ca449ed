#include "ballast/numfmt.h"
#include "ballast/rebalance.h"
#include "helpers.h"

static int64_t day(int y, unsigned m, unsigned d)
{
    return bal_days_from_civil(y, m, d) * 86400;
}

Test(rebalance, iso_weeks_start_on_monday)
{
    /* 2024-01-07 is a Sunday, 2024-01-08 a Monday */
    cr_assert_neq(bal_week_key(day(2024, 1, 7)), bal_week_key(day(2024, 1, 8)));
    cr_assert_eq(bal_week_key(day(2024, 1, 8)),
                 bal_week_key(day(2024, 1, 14) + 86399));
    /* across a year end: Sun 2023-12-31 vs Mon 2024-01-01 */
    cr_assert_neq(bal_week_key(day(2023, 12, 31)),
                  bal_week_key(day(2024, 1, 1)));
    /* before 1970: Mon 1969-12-29 .. Sun 1970-01-04 is one week */
    cr_assert_eq(bal_week_key(day(1969, 12, 29)), bal_week_key(day(1970, 1, 4)));
}

Test(rebalance, monthly_fires_on_the_last_step_of_a_month)
{
    bal_rebalance_options o = { BAL_SCHED_MONTHLY, 0, NAN, NAN, 0, NAN, NAN,
                               NAN, 1, 0, NAN };

    cr_assert(bal_schedule_due(&o, 5, 0, day(2024, 2, 29) + 3600,
                               day(2024, 3, 1)));
    cr_assert(!bal_schedule_due(&o, 5, 0, day(2024, 2, 28),
                                day(2024, 2, 29)));
    /* a Friday month end with the next bar on Monday */
    cr_assert(bal_schedule_due(&o, 5, 0, day(2024, 5, 31), day(2024, 6, 3)));
}

Test(rebalance, every_n_steps_counts_from_t0)
{
    bal_rebalance_options o = { BAL_SCHED_STEPS, 3, NAN, NAN, 0, NAN, NAN,
                               NAN, 1, 0, NAN };

    cr_assert(!bal_schedule_due(&o, 10, 10, 0, 1));
    cr_assert(!bal_schedule_due(&o, 12, 10, 0, 1));
    cr_assert(bal_schedule_due(&o, 13, 10, 0, 1));
    cr_assert(bal_schedule_due(&o, 16, 10, 0, 1));
}

Test(rebalance, drift_bands_are_strict)
{
    bal_rebalance_options o = { BAL_SCHED_NONE, 0, 0.05, 0.25, 0, NAN, NAN,
                               NAN, 1, 0, NAN };
    double target[2] = { 0.4, 0.2 };
    double at_band[2] = { 0.45, 0.2 };    /* |dev| = 0.05 exactly? no: fp */
    double inside[2] = { 0.43, 0.22 };
    double rel[2] = { 0.4, 0.26 };        /* 0.06 / 0.2 = 0.3 > 0.25 */

    cr_assert_eq(bal_drift_triggers(&o, inside, target, 2), 0);
    cr_assert_eq(bal_drift_triggers(&o, rel, target, 2),
                 BAL_TRIG_DRIFT | BAL_TRIG_DRIFT_REL);
    /* exactly on the band does not fire: 0.5 - 0.25 == 0.25 exactly */
    o.drift = 0.25;
    o.drift_rel = NAN;
    target[0] = 0.25;
    at_band[0] = 0.5;
    cr_assert_eq(bal_drift_triggers(&o, at_band, target, 2), 0);
}

Test(rebalance, trigger_names_join_with_plus)
{
    char buf[64];

    cr_assert_str_eq(bal_trigger_join(buf, sizeof(buf),
                                      BAL_TRIG_SCHEDULE | BAL_TRIG_DRIFT),
                     "schedule+drift");
    cr_assert_str_eq(bal_trigger_join(buf, sizeof(buf), 0), "");
}

/* sigma from 0.010 to 0.013 is +30 %; the NaN entry is skipped. */
Test(rebalance, shift_measures_skip_undefined_entries)
{
    double last[3] = { 0.010, 0.02, NAN }, now[3] = { 0.013, 0.019, 0.5 };

    assert_rel(bal_max_rel_change(now, last, 3), 0.3, 1e-14);
    assert_rel(bal_max_abs_change(now, last, 3), 0.003, 1e-12);
}
