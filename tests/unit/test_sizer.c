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

    bal_sizer_cap(w, 3, 0.35, NULL, NULL, capped);
    assert_rel(w[0], 0.35, 1e-15);
    assert_rel(w[1], 0.35, 1e-15);
    assert_rel(w[2], 0.3, 1e-14);
}

Test(sizer, cap_that_cannot_be_placed_stays_in_cash)
{
    double w[2] = { 0.5, 0.5 };
    unsigned char capped[2];

    bal_sizer_cap(w, 2, 0.3, NULL, NULL, capped);
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

/* (0.3, 0.3 | 0.2, 0.2), class 0 capped at 0.5: class 0 scales by 5/6 to
 * (0.25, 0.25); its excess 0.1 goes pro rata to class 1: 0.25 each. */
Test(sizer, class_caps_water_fill_into_other_classes)
{
    double w[4] = { 0.3, 0.3, 0.2, 0.2 };
    double caps[BAL_SIZER_CLASSES] = { 0.5, NAN, NAN, NAN, NAN, NAN, NAN,
                                       NAN };
    int cls[4] = { 0, 0, 1, 1 };
    unsigned char capped[4];
    size_t i;

    bal_sizer_cap(w, 4, 1.0, cls, caps, capped);
    for (i = 0; i < 4; i++)
        assert_rel(w[i], 0.25, 1e-15);
}

/* d = (+1, -1), b = (0.5, 0.5), sigma = (0.1, 0.2), rho = 0.3:
 * w'Sw = 0.25*0.01 + 0.25*0.04 - 2*0.25*0.3*0.02 = 0.0095;
 * s = 0.1 / sqrt(0.0095); then the multiplier 0.5 halves it. */
Test(sizer, direction_and_multiplier)
{
    double vol[2] = { 0.1, 0.2 }, corr[4] = { 1, 0.3, 0.3, 1 }, w[2];
    double d[2] = { 1, -1 }, work[BAL_SIZER_WORK(2)];
    unsigned char active[2] = { 1, 1 };
    bal_sizer_options o = BAL_SIZER_OPTIONS_INIT;

    o.target_vol = 0.1;
    o.direction = d;
    cr_assert_eq(bal_sizer_targets(w, &o, 2, vol, corr, active, work, NULL),
                 0);
    assert_rel(w[0], 0.5 * 0.1 / sqrt(0.0095), 1e-15);
    assert_rel(w[1], -0.5 * 0.1 / sqrt(0.0095), 1e-15);
    o.multiplier = 0.5;
    cr_assert_eq(bal_sizer_targets(w, &o, 2, vol, corr, active, work, NULL),
                 0);
    assert_rel(w[0], 0.25 * 0.1 / sqrt(0.0095), 1e-15);
}

/* Levered by the vol target to gross 2, a class capped at 1 is clipped
 * back to 1 without redistribution. */
Test(sizer, final_class_clip_does_not_redistribute)
{
    double vol[3] = { 0.05, 0.05, 0.3 }, w[3], work[BAL_SIZER_WORK(3)];
    unsigned char active[3] = { 1, 1, 0 };
    int cls[3] = { 0, 0, 1 };
    bal_sizer_options o = BAL_SIZER_OPTIONS_INIT;

    o.target_vol = 0.1;
    o.asset_class = cls;
    o.class_caps[0] = 1.0;
    /* identity correlation: w'Sw = 2 * 0.25 * 0.0025 = 0.00125,
     * s = 0.1 / sqrt(0.00125) = 2.83 > max_gross / 1 = 2: s = 2 */
    cr_assert_eq(bal_sizer_targets(w, &o, 3, vol, NULL, active, work, NULL),
                 0);
    assert_rel(w[0], 0.5, 1e-15);
    assert_rel(w[1], 0.5, 1e-15);
    cr_assert_eq(w[2], 0);
}

/* start 0.05, max 0.25, floor 0.25: at dd 0.15 the target is
 * 1 - 0.75 * 0.10 / 0.20 = 0.625. */
Test(sizer, governor_falls_at_once_and_recovers_slowly)
{
    bal_governor_options o = { 0.05, 0.25, 0.25, 0.1, NAN, NAN };
    bal_governor g;
    int ev;

    assert_rel(bal_governor_target(&o, 0.15), 0.625, 1e-15);
    cr_assert_eq(bal_governor_target(&o, 0.04), 1);
    cr_assert_eq(bal_governor_target(&o, 0.4), 0.25);
    bal_governor_init(&g, &o);
    cr_assert_eq(bal_governor_step(&g, 100, 0, &ev), 1);
    assert_rel(bal_governor_step(&g, 85, 0, &ev), 0.625, 1e-15);
    /* back at the peak: the target is 1 but it may rise by 0.1 a step */
    assert_rel(bal_governor_step(&g, 100, 0, &ev), 0.725, 1e-15);
    assert_rel(bal_governor_step(&g, 101, 0, &ev), 0.825, 1e-15);
    assert_rel(bal_governor_step(&g, 102, 0, &ev), 0.925, 1e-15);
    cr_assert_eq(bal_governor_step(&g, 103, 0, &ev), 1);
}

/* halt at 20 % below the peak, resume when the shadow book is within
 * 10 %: the peak then resets to the current equity. */
Test(sizer, governor_halts_and_resumes_on_the_shadow_book)
{
    bal_governor_options o = { 0.05, 0.25, 0.25, 0.5, 0.2, 0.1 };
    bal_governor g;
    int ev;

    bal_governor_init(&g, &o);
    bal_governor_step(&g, 200, 0, &ev);
    cr_assert_eq(bal_governor_step(&g, 159, 0, &ev), 0);
    cr_assert_eq(ev, 1);
    cr_assert(g.halted);
    cr_assert_eq(bal_governor_step(&g, 159, 170, &ev), 0); /* dd 0.15 */
    cr_assert_eq(ev, 0);
    /* shadow 181: dd 0.095 <= 0.1: resume, climb from 0 by 0.5 */
    assert_rel(bal_governor_step(&g, 159, 181, &ev), 0.5, 1e-15);
    cr_assert_eq(ev, -1);
    cr_assert_eq(g.peak, 159);
    cr_assert_eq(bal_governor_step(&g, 159, 0, &ev), 1);
}
