#include "ballast/sizer.h"
#include "helpers.h"

/* 1/sigma = 10, 5, 2.5; sum 17.5 */
Test(sizer, inverse_vol_by_hand)
{
    double vol[3] = { 0.1, 0.2, 0.4 }, w[3], work[BAL_SIZER_WORK(3)];
    unsigned char active[3] = { 1, 1, 1 };
    bal_sizer_options o = BAL_SIZER_OPTIONS_INIT;

    o.method = BAL_SIZE_INVERSE_VOL;
    cr_assert_eq(bal_sizer_targets(w, &o, 3, vol, NULL, active, work, NULL),
                 0);
    assert_rel(w[0], 10 / 17.5, 1e-15);
    assert_rel(w[1], 5 / 17.5, 1e-15);
    assert_rel(w[2], 2.5 / 17.5, 1e-15);
}

Test(sizer, inactive_assets_get_exactly_zero)
{
    double vol[3] = { 0.1, NAN, 0.4 }, w[3], work[BAL_SIZER_WORK(3)];
    unsigned char active[3] = { 1, 0, 1 };
    bal_sizer_options o = BAL_SIZER_OPTIONS_INIT;

    cr_assert_eq(bal_sizer_targets(w, &o, 3, vol, NULL, active, work, NULL),
                 0);
    cr_assert_eq(w[1], 0);
    assert_rel(w[0], 0.5, 1e-15);
    o.method = BAL_SIZE_INVERSE_VOL;
    cr_assert_eq(bal_sizer_targets(w, &o, 3, vol, NULL, active, work, NULL),
                 0);
    assert_rel(w[0], 0.8, 1e-15);       /* 10 / (10 + 2.5) */
    cr_assert_eq(w[1], 0);
}

/* w = (0.5, 0.5), sigma = (0.1, 0.2), rho = 0.3:
 * w'Sw = 0.25*0.01 + 0.25*0.04 + 2*0.25*0.3*0.02 = 0.0155,
 * s = 0.1 / sqrt(0.0155). */
Test(sizer, volatility_target_scales_to_the_target)
{
    double vol[2] = { 0.1, 0.2 }, corr[4] = { 1, 0.3, 0.3, 1 }, w[2];
    double work[BAL_SIZER_WORK(2)];
    unsigned char active[2] = { 1, 1 };
    bal_sizer_options o = BAL_SIZER_OPTIONS_INIT;

    o.target_vol = 0.1;
    cr_assert_eq(bal_sizer_targets(w, &o, 2, vol, corr, active, work, NULL),
                 0);
    assert_rel(w[0], 0.5 * 0.1 / sqrt(0.0155), 1e-15);
    assert_rel(bal_sizer_variance(w, 2, vol, corr), 0.01, 1e-14);
    /* a target the gross bound cuts: s = max_gross / sum|w| = 1.3 */
    o.target_vol = 0.5;
    o.max_gross = 1.3;
    cr_assert_eq(bal_sizer_targets(w, &o, 2, vol, corr, active, work, NULL),
                 0);
    assert_rel(w[0] + w[1], 1.3, 1e-15);
}

Test(sizer, no_target_keeps_weights_unlevered)
{
    double vol[2] = { 0.1, 0.2 }, w[2], work[BAL_SIZER_WORK(2)];
    double targets[2] = { 0.3, 0.45 };
    unsigned char active[2] = { 1, 1 };
    bal_sizer_options o = BAL_SIZER_OPTIONS_INIT;

    o.method = BAL_SIZE_FIXED;
    o.targets = targets;
    cr_assert_eq(bal_sizer_targets(w, &o, 2, vol, NULL, active, work, NULL),
                 0);
    cr_assert_eq(w[0], 0.3);
    cr_assert_eq(w[1], 0.45);
}

/* (0.7, 0.2, 0.1) capped at 0.35: round 1 moves 0.35 pro rata to
 * 0.2 -> 0.4333.., 0.1 -> 0.2166..; round 2 caps the second and moves
 * 0.0833.. to the third: (0.35, 0.35, 0.3). */
Test(sizer, caps_water_fill_over_uncapped_assets)
{
    double w[3] = { 0.7, 0.2, 0.1 };
    unsigned char capped[3];

    bal_sizer_cap(w, 3, 0.35, capped);
    assert_rel(w[0], 0.35, 1e-15);
    assert_rel(w[1], 0.35, 1e-15);
    assert_rel(w[2], 0.3, 1e-14);
}

Test(sizer, cap_that_cannot_be_placed_stays_in_cash)
{
    double w[2] = { 0.5, 0.5 };
    unsigned char capped[2];

    bal_sizer_cap(w, 2, 0.3, capped);
    cr_assert_eq(w[0], 0.3);
    cr_assert_eq(w[1], 0.3);
}

Test(sizer, undefined_volatility_is_an_error)
{
    double vol[2] = { 0.1, NAN }, w[2], work[BAL_SIZER_WORK(2)];
    unsigned char active[2] = { 1, 1 };
    bal_sizer_options o = BAL_SIZER_OPTIONS_INIT;
    bal_error err = BAL_ERROR_INIT;

    o.method = BAL_SIZE_INVERSE_VOL;
    cr_assert_eq(bal_sizer_targets(w, &o, 2, vol, NULL, active, work, &err),
                 BAL_EINVAL);
    cr_assert_str_eq(err.msg, "inverse_vol: volatility of asset 1 is "
                              "undefined");
}
