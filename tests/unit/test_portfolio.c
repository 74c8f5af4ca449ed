#include "ballast/portfolio.h"
#include "ballast/rebalance.h"
#include "helpers.h"

/* Hand case 1 (SPEC §12): all cash, fully invested long target, rate k:
 * E = capital - k * E  =>  E = capital / (1 + k). */
Test(portfolio, first_allocation_costs_capital_over_one_plus_k)
{
    bal_portfolio p;
    bal_error err = BAL_ERROR_INIT;
    double w[2] = { 0.6, 0.4 }, rate[2] = { 0.001, 0.001 }, e = 0;
    unsigned char trade[2] = { 1, 1 };

    cr_assert_eq(bal_portfolio_init(&p, 2, 1e6, &err), 0);
    p.price[0] = 2.385;
    p.price[1] = 131.7;
    cr_assert_eq(bal_portfolio_fill_close(&p, &e, w, trade, rate, 0, 0,
                                          BAL_TRIG_INITIAL, &err), 0);
    assert_rel(e, 1e6 / 1.001, 1e-15);
    assert_rel(p.units[0] * 2.385, 0.6 * 1e6 / 1.001, 1e-15);
    assert_rel(p.total_costs, 1e6 - 1e6 / 1.001, 1e-9);
    cr_assert_eq(p.n_trades, 2);
    assert_rel(p.trades[0].cost + p.trades[1].cost, p.total_costs, 1e-15);
    cr_assert_eq(p.turnover_sum, 0, "initial allocation is not turnover");
    bal_portfolio_release(&p);
}

/* Hand case 2: holdings v = (700000, 250000), cash 50000, E_pre = 1e6,
 * targets (0.5, 0.5), rates 10 and 20 bps, fee 5 per traded asset.
 * Asset 1 sells (0.5E < 700000), asset 2 buys (0.5E > 250000):
 *   E = 1e6 - 0.001 (700000 - 0.5E) - 0.002 (0.5E - 250000) - 10
 *     = 999790 - 0.0005 E   =>   E = 999790 / 1.0005. */
Test(portfolio, rebalance_solves_the_cost_equation_exactly)
{
    bal_portfolio p;
    bal_error err = BAL_ERROR_INIT;
    double w[2] = { 0.5, 0.5 }, rate[2] = { 0.001, 0.002 }, e = 0;
    double want = 999790 / 1.0005;
    unsigned char trade[2] = { 1, 1 };

    cr_assert_eq(bal_portfolio_init(&p, 2, 50000, &err), 0);
    p.price[0] = 2.385;
    p.price[1] = 131.7;
    p.units[0] = 700000 / 2.385;
    p.units[1] = 250000 / 131.7;
    cr_assert_eq(bal_portfolio_fill_close(&p, &e, w, trade, rate, 5, 0,
                                          BAL_TRIG_SCHEDULE, &err), 0);
    assert_rel(e, want, 1e-14);
    assert_rel(p.units[0] * 2.385, 0.5 * want, 1e-14);
    assert_rel(p.units[1] * 131.7, 0.5 * want, 1e-14);
    assert_rel(p.total_costs,
               0.001 * (700000 - 0.5 * want) + 0.002 * (0.5 * want - 250000)
                   + 10, 1e-9);
    cr_assert(p.trades[0].units < 0 && p.trades[1].units > 0);
    /* turnover: (|dv1| + |dv2|) / (2 E_pre) */
    assert_rel(p.turnover_sum,
               ((700000 - 0.5 * want) + (0.5 * want - 250000)) / 2e6, 1e-12);
    bal_portfolio_release(&p);
}

Test(portfolio, untraded_assets_keep_their_holdings)
{
    bal_portfolio p;
    bal_error err = BAL_ERROR_INIT;
    double w[2] = { 0.5, 0.5 }, rate[2] = { 0.001, 0.001 }, e = 0;
    unsigned char trade[2] = { 1, 0 };

    cr_assert_eq(bal_portfolio_init(&p, 2, 100000, &err), 0);
    p.price[0] = 10;
    p.price[1] = 20;
    p.units[1] = 1000;                  /* 20000 held, not tradable */
    /* E = 120000 - 0.001 * 0.5 E  =>  E = 120000 / 1.0005 */
    cr_assert_eq(bal_portfolio_fill_close(&p, &e, w, trade, rate, 0, 0, 0,
                                          &err), 0);
    assert_rel(e, 120000 / 1.0005, 1e-15);
    cr_assert_eq(p.units[1], 1000);
    cr_assert_eq(p.n_trades, 1);
    bal_portfolio_release(&p);
}

/* Selling 1000 of value with cash -500 (E_pre = 500) at a 60 % cost:
 * E = 500 - 0.6 * 1000 = -100, no positive root. */
Test(portfolio, costs_above_equity_are_an_error)
{
    bal_portfolio p;
    bal_error err = BAL_ERROR_INIT;
    double w[1] = { 0 }, rate[1] = { 0.6 }, e = 0;
    unsigned char trade[1] = { 1 };

    cr_assert_eq(bal_portfolio_init(&p, 1, -500, &err), 0);
    p.price[0] = 4;
    p.units[0] = 250;
    cr_assert_eq(bal_portfolio_fill_close(&p, &e, w, trade, rate, 0, 0, 0,
                                          &err), BAL_ENUMERIC);
    cr_assert_str_eq(err.msg, "trading costs exceed the equity they are "
                              "paid from");
    bal_portfolio_release(&p);
}

/* next_open: order decided at E = 1e6, filled at open 2.5 with 10 bps
 * and a fee of 1.25: cost = 0.001 * |du| * 2.5 + 1.25. */
Test(portfolio, order_fills_at_the_open_with_costs)
{
    bal_portfolio p;
    bal_error err = BAL_ERROR_INIT;
    double du = 120000;

    cr_assert_eq(bal_portfolio_init(&p, 1, 1e6, &err), 0);
    p.price[0] = 2.4;
    bal_portfolio_order(&p, 0, du, 100, 1e6, BAL_TRIG_SCHEDULE);
    cr_assert_eq(bal_portfolio_pending(&p), 1);
    cr_assert_eq(bal_portfolio_fill_order(&p, 0, 2.5, 0.001, 1.25, 200,
                                          &err), 0);
    cr_assert_eq(bal_portfolio_pending(&p), 0);
    assert_rel(p.cash, 1e6 - du * 2.5 - (0.001 * du * 2.5 + 1.25), 1e-15);
    cr_assert_eq(p.trades[0].decided, 100);
    cr_assert_eq(p.trades[0].time, 200);
    assert_rel(p.turnover_sum, du * 2.5 / 2e6, 1e-15);
    /* a later fill with no order does nothing */
    cr_assert_eq(bal_portfolio_fill_order(&p, 0, 2.6, 0.001, 1.25, 300,
                                          &err), 0);
    cr_assert_eq(p.n_trades, 1);
    bal_portfolio_release(&p);
}
