#ifndef BAL_PORTFOLIO_H
#define BAL_PORTFOLIO_H
#include "ballast/error.h"
#include <stdint.h>

/* Holdings, cash, orders and fills (SPEC §5). Units are fractional;
 * equity = cash + sum units_i * price_i, with price_i the asset's last
 * close (a stale asset keeps its last close). All prices here are in the
 * account currency. */

typedef struct bal_trade {
    int64_t time;           /* fill time */
    int64_t decided;        /* decision time */
    size_t asset;
    double units;           /* signed change of holdings */
    double price;           /* fill price */
    double cost;            /* everything the fill paid, account currency */
    unsigned triggers;      /* enum bal_trigger bits of the decision */
} bal_trade;

typedef struct bal_portfolio {
    size_t n;
    double cash;
    double *units;          /* n holdings */
    double *price;          /* n last closes (mark prices); NaN before the
                               asset's first bar */
    double *order;          /* n target units of unfilled orders; NaN =
                               no order */
    int64_t *order_decided;
    unsigned *order_triggers;
    double *order_equity;   /* equity at the order's decision (turnover) */
    bal_trade *trades;      /* every fill, in order; grows on fills only */
    size_t n_trades, cap_trades;
    double total_costs;
    double turnover_sum;    /* sum over fills of |dv| / (2 E_decision),
                               the initial allocation excluded */
} bal_portfolio;
#define BAL_PORTFOLIO_INIT { 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, \
                             NULL, 0, 0, 0, 0 }

/* Sets up n assets with `capital` in cash. BAL_ENOMEM on failure (p is
 * then safe to release). */
int bal_portfolio_init(bal_portfolio *p, size_t n, double capital,
                       bal_error *err);
void bal_portfolio_release(bal_portfolio *p);

/* cash + sum units * price (assets without a price yet hold 0 units). */
double bal_portfolio_equity(const bal_portfolio *p);

/* Number of assets with an unfilled order. */
size_t bal_portfolio_pending(const bal_portfolio *p);

/* Rebalance at the decision close (fill "close"). Assets with trade[i]
 * set move to target weight w[i] of the post-trade equity E, where E is
 * the root of E = E_pre - sum_i (rate[i] |w[i] E - v_i| + fee) over the
 * traded assets whose holdings change (SPEC §5); the others are left as
 * they are. rate[i] is the proportional cost (cost, half spread and
 * slippage as a fraction of notional). Records one trade per asset whose
 * units change and returns E via *equity_out. BAL_ENUMERIC when costs
 * leave no positive root (sum of rate |w| >= 1), BAL_ENOMEM. */
int bal_portfolio_fill_close(bal_portfolio *p, double *equity_out,
                             const double *w, const unsigned char *trade,
                             const double *rate, double fee, int64_t time,
                             unsigned triggers, bal_error *err);

/* The post-trade equity E of bal_portfolio_fill_close without trading
 * (the same root), e.g. to size lot-rounded orders. Same errors. */
int bal_portfolio_post_equity(const bal_portfolio *p, double *equity_out,
                              const double *w, const unsigned char *trade,
                              const double *rate, double fee,
                              bal_error *err);

/* Places an order for asset i: hold `units` after its next fill. A newer
 * order replaces an unfilled one. */
void bal_portfolio_order(bal_portfolio *p, size_t i, double units,
                         int64_t decided, double equity, unsigned triggers);

/* Fills asset i's order, if any, at `price` (its open): pays
 * rate |du| price + fee when du != 0. BAL_ENOMEM. */
int bal_portfolio_fill_order(bal_portfolio *p, size_t i, double price,
                             double rate, double fee, int64_t time,
                             bal_error *err);

/* Closes every position at its mark price without costs (ruin). */
void bal_portfolio_liquidate(bal_portfolio *p);

#endif /* BAL_PORTFOLIO_H */
