/* Config loader: defaults of SPEC §11, every validation error with its
 * exact message, --set, strict JSON with error positions, dates, and the
 * normalised JSON round trip. */
#include "ballast/config.h"
#include "ballast/numfmt.h"
#include "helpers.h"

#include <cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FULL "tests/data/config/full.json"

/* Test JSON is written with ' for " to stay readable. */
static char *dq(const char *s)
{
    size_t n = strlen(s), i;
    char *p = malloc(n + 1);

    cr_assert(p);
    for (i = 0; i <= n; i++)
        p[i] = s[i] == '\'' ? '"' : s[i];
    return p;
}

static int parse_q(bal_config *c, const char *json, const char *const *sets,
                   size_t n_sets, bal_error *err)
{
    char *t = dq(json);
    int rc = bal_config_parse(c, t, "config.json", "cfg", sets, n_sets,
                              err);

    free(t);
    return rc;
}

static const char *fmt_err(const bal_error *e)
{
    static char buf[1024];

    return bal_error_format(e, buf, sizeof(buf));
}

#define ASSETS2 "'data':{'assets':[{'symbol':'EURUSD','file':'e.csv'}," \
                "{'symbol':'GBPUSD','file':'g.csv'}]}"
#define MIN2 "{" ASSETS2 "}"
/* U+00E9 (2 bytes in UTF-8) once and five times */
#define E1 "\xc3\xa9"
#define E5 E1 E1 E1 E1 E1

/* ---- defaults ------------------------------------------------------ */

Test(config, minimal_config_gets_every_default_of_spec_11)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;
    const bal_asset_config *a;
    size_t k;

    cr_assert_eq(parse_q(&c, "{'data':{'assets':[{'symbol':'EURUSD',"
                         "'file':'EURUSD.csv'}]}}", NULL, 0, &e), 0, "%s",
                 fmt_err(&e));
    cr_assert_str_eq(c.name, "default");
    cr_assert_eq(c.n_assets, 1);
    a = &c.assets[0];
    cr_assert_str_eq(a->symbol, "EURUSD");
    cr_assert_str_eq(a->file, "EURUSD.csv");
    cr_assert_str_eq(a->path, "cfg/EURUSD.csv");
    cr_assert_eq(a->asset_class, BAL_CLASS_FOREX);
    cr_assert_str_eq(a->quote, "USD");
    cr_assert_eq(a->tz, BAL_TZ_NONE);
    cr_assert_eq(a->tz_offset, 0);
    cr_assert_null(a->date_format);
    cr_assert_eq(a->columns.set, 0);
    for (k = 0; k < BAL_COLMAP_N; k++) {
        cr_assert_null(a->columns.name[k]);
        cr_assert_eq(a->columns.index[k], -1);
    }
    cr_assert_eq(a->price_field, BAL_PRICE_CLOSE);
    assert_nan(a->bars_per_year);
    assert_nan(a->lot_size);
    assert_nan(a->cost_bps);
    cr_assert_eq(a->duplicates, BAL_DUP_LAST);
    cr_assert_eq(a->bad_bars, BAL_BAD_REPAIR);
    cr_assert_eq(a->spike_k, 10);
    cr_assert_eq(a->spike_repair, 0);

    cr_assert_str_eq(c.data.dir, ".");
    cr_assert_str_eq(c.data.dir_path, "cfg");
    cr_assert_eq(c.data.calendar, BAL_CAL_UNION);
    cr_assert_eq(c.data.has_start, 0);
    cr_assert_eq(c.data.has_end, 0);
    cr_assert_eq(c.data.late_assets, BAL_LATE_WAIT);
    cr_assert_eq(c.data.duplicates, BAL_DUP_LAST);
    cr_assert_eq(c.data.bad_bars, BAL_BAD_REPAIR);
    cr_assert_eq(c.data.spike_k, 10);
    cr_assert_eq(c.data.spike_repair, 0);
    cr_assert_eq(c.data.n_fx, 0);
    cr_assert_null(c.data.fx);
    cr_assert_null(c.data.benchmark);
    cr_assert_eq(c.data.benchmark_asset, -1);
    cr_assert_null(c.data.benchmark_path);

    cr_assert_eq(c.capital, 1000000);
    cr_assert_str_eq(c.account_currency, "USD");
    cr_assert_eq(c.periods_per_year, 0);           /* "auto" */
    cr_assert_eq(c.risk_free, 0);
    cr_assert_eq(c.mar, 0);

    cr_assert_eq(c.engine.atr_window, 14);
    cr_assert_eq(c.engine.vol_window, 60);
    cr_assert_eq(c.engine.corr_window, 60);
    cr_assert_eq(c.engine.returns, BAL_RET_LOG);
    cr_assert_eq(c.engine.corr, BAL_EST_ROLLING);
    cr_assert_eq(c.engine.vol, BAL_EST_ROLLING);
    cr_assert_eq(c.engine.ewma_lambda, 0.94);
    cr_assert_eq(c.engine.shrinkage, 0);
    cr_assert_eq(c.engine.shrinkage_ledoit_wolf, 0);
    cr_assert_eq(c.engine.shrinkage_target, BAL_SHRINK_DIAGONAL);
    cr_assert_eq(c.engine.psd_floor, 1e-8);
    cr_assert_eq(c.engine.stress_quantile, 0.1);
    cr_assert_eq(c.engine.stress_blend, 0);

    cr_assert_eq(c.regime.short_window, 5);
    cr_assert_eq(c.regime.long_window, 60);
    cr_assert_eq(c.regime.shock_ratio, 2.0);
    cr_assert_eq(c.regime.shock_atr, 3.0);
    cr_assert_eq(c.regime.er_window, 20);
    cr_assert_eq(c.regime.er_threshold, 0.3);
    cr_assert_eq(c.regime.corr_spike, 0.6);
    cr_assert_eq(c.regime.shock_share, 0.5);

    cr_assert_eq(c.direction.mode, BAL_DIR_LONG);
    cr_assert_eq(c.direction.lookback, 60);
    cr_assert_eq(c.direction.fast, 0);
    cr_assert_eq(c.direction.slow, 0);
    cr_assert_null(c.direction.signals);
    cr_assert_null(c.direction.signals_path);

    cr_assert_eq(c.sizing.method, BAL_METHOD_ERC);
    cr_assert_null(c.sizing.targets);
    cr_assert_eq(c.sizing.linkage, BAL_LINK_SINGLE);
    cr_assert_eq(c.sizing.hrp_distance, BAL_HRP_CONDENSED);
    cr_assert_eq(c.sizing.max_weight, 1.0);
    for (k = 0; k < BAL_N_CLASSES; k++) {
        assert_nan(c.sizing.class_caps[k]);
        assert_nan(c.execution.class_cost_bps[k]);
    }
    assert_nan(c.sizing.cluster_risk_cap);
    cr_assert_eq(c.sizing.target_vol, 0.10);
    cr_assert_eq(c.sizing.max_gross, 2.0);
    cr_assert_eq(c.sizing.regime_scale.trending, 1.0);
    cr_assert_eq(c.sizing.regime_scale.ranging, 1.0);
    cr_assert_eq(c.sizing.regime_scale.shock, 1.0);
    cr_assert_eq(c.sizing.drawdown.enabled, 0);

    cr_assert_eq(c.rebalance.schedule, BAL_CFG_SCHED_MONTHLY);
    cr_assert_eq(c.rebalance.schedule_steps, 0);
    assert_nan(c.rebalance.drift);
    assert_nan(c.rebalance.drift_rel);
    assert_nan(c.rebalance.vol_shift);
    assert_nan(c.rebalance.corr_shift);
    assert_nan(c.rebalance.target_shift);
    cr_assert_eq(c.rebalance.target_check, 1);
    cr_assert_eq(c.rebalance.regime_change, 0);
    assert_nan(c.rebalance.drawdown_step);
    cr_assert_eq(c.rebalance.cooldown, 0);
    cr_assert_eq(c.rebalance.min_trade, 0);

    cr_assert_eq(c.execution.fill, BAL_FILL_NEXT_OPEN);
    cr_assert_eq(c.execution.cost_bps, 0);
    cr_assert_eq(c.execution.spread_bps, 0);
    cr_assert_eq(c.execution.fixed_fee, 0);
    cr_assert_eq(c.execution.slippage_atr, 0);
    cr_assert_eq(c.execution.cash_rate, 0);
    cr_assert_eq(c.execution.borrow_rate, 0);

    cr_assert_eq(c.output.curves, BAL_CURVES_REBALANCES);
    cr_assert_eq(c.output.series, 0);
    cr_assert_eq(c.output.html, 1);
    bal_config_release(&c);
}

Test(config, drawdown_object_takes_the_documented_defaults)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(parse_q(&c, "{" ASSETS2 ",'sizing':{'drawdown':{}}}",
                         NULL, 0, &e), 0, "%s", fmt_err(&e));
    cr_assert_eq(c.sizing.drawdown.enabled, 1);
    cr_assert_eq(c.sizing.drawdown.start, 0.05);
    cr_assert_eq(c.sizing.drawdown.max, 0.25);
    cr_assert_eq(c.sizing.drawdown.floor, 0.25);
    cr_assert_eq(c.sizing.drawdown.recovery_rate, 0.01);
    assert_nan(c.sizing.drawdown.halt);
    assert_nan(c.sizing.drawdown.resume);
    bal_config_release(&c);
}

Test(config, data_level_policies_are_the_per_asset_defaults)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(parse_q(&c, "{'data':{'duplicates':'first','bad_bars':"
                         "'skip','spike_k':4.75,'spike_repair':true,"
                         "'assets':[{'symbol':'A','file':'a'},{'symbol':'B',"
                         "'file':'b','duplicates':'error','spike_k':0}]}}",
                         NULL, 0, &e), 0, "%s", fmt_err(&e));
    cr_assert_eq(c.assets[0].duplicates, BAL_DUP_FIRST);
    cr_assert_eq(c.assets[0].bad_bars, BAL_BAD_SKIP);
    cr_assert_eq(c.assets[0].spike_k, 4.75);
    cr_assert_eq(c.assets[0].spike_repair, 1);
    cr_assert_eq(c.assets[1].duplicates, BAL_DUP_ERROR);
    cr_assert_eq(c.assets[1].bad_bars, BAL_BAD_SKIP);
    cr_assert_eq(c.assets[1].spike_k, 0);           /* 0 = off */
    bal_config_release(&c);
}

/* ---- classes, quotes, paths --------------------------------------- */

Test(config, class_and_quote_follow_the_documented_rules)
{
    static const struct {
        const char *symbol, *extra;
        bal_asset_class cls;
        const char *quote;
    } cases[] = {
        { "EURUSD", "", BAL_CLASS_FOREX, "USD" },
        { "USDJPY", "", BAL_CLASS_FOREX, "JPY" },
        { "eurchf", "", BAL_CLASS_FOREX, "CHF" },
        { "GBP/NZD", "", BAL_CLASS_FOREX, "NZD" },
        { "AUD_CAD", "", BAL_CLASS_FOREX, "CAD" },
        { "XAUUSD", "", BAL_CLASS_METAL, "EUR" },
        { "XAGEUR", "", BAL_CLASS_METAL, "EUR" },
        { "BTCUSDT", "", BAL_CLASS_CRYPTO, "EUR" },
        { "ETH-USD", "", BAL_CLASS_CRYPTO, "EUR" },
        { "PEPEUSDC", "", BAL_CLASS_CRYPTO, "EUR" },
        { "AAPL", "", BAL_CLASS_OTHER, "EUR" },
        { "ABCDEF", "", BAL_CLASS_OTHER, "EUR" },    /* not ISO codes */
        { "USDXYZ", ",'class':'forex'", BAL_CLASS_FOREX, "XYZ" },
        { "SPY", ",'class':'equity'", BAL_CLASS_EQUITY, "EUR" },
        { "EURUSD", ",'class':'other'", BAL_CLASS_OTHER, "EUR" },
        { "EURUSD", ",'quote':'GBP'", BAL_CLASS_FOREX, "GBP" },
        { "BTCUSDT", ",'quote':'USDT'", BAL_CLASS_CRYPTO, "USDT" },
    };
    static const char *const class_spelling[] = {
        "forex", "crypto", "metal", "equity", "other"
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[256];
        bal_config c;
        bal_error e = BAL_ERROR_INIT;

        snprintf(json, sizeof(json), "{'account_currency':'EUR','data':{"
                 "'assets':[{'symbol':'%s','file':'f'%s}]}}",
                 cases[i].symbol, cases[i].extra);
        cr_assert_eq(parse_q(&c, json, NULL, 0, &e), 0, "%s: %s",
                     cases[i].symbol, fmt_err(&e));
        cr_expect_eq(c.assets[0].asset_class, cases[i].cls, "%s%s",
                     cases[i].symbol, cases[i].extra);
        cr_expect_str_eq(c.assets[0].quote, cases[i].quote, "%s%s",
                         cases[i].symbol, cases[i].extra);
        cr_expect_str_eq(bal_config_class_name(c.assets[0].asset_class),
                         class_spelling[cases[i].cls]);
        bal_config_release(&c);
    }
}

Test(config, files_resolve_against_config_dir_and_data_dir)
{
    static const struct {
        const char *base, *dir, *file, *want;
    } cases[] = {
        { "cfg", NULL, "a.csv", "cfg/a.csv" },
        { "cfg/", NULL, "a.csv", "cfg/a.csv" },
        { "cfg", "../prices", "a.csv", "cfg/../prices/a.csv" },
        { "cfg", "/data", "a.csv", "/data/a.csv" },
        { "cfg", "prices", "/abs/a.csv", "/abs/a.csv" },
        { "", "prices", "a.csv", "prices/a.csv" },
        { NULL, NULL, "sub/a.csv", "sub/a.csv" },
        { "/", NULL, "a.csv", "/a.csv" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[256], dir[64] = "";
        bal_config c;
        bal_error e = BAL_ERROR_INIT;
        char *t;
        int rc;

        if (cases[i].dir)
            snprintf(dir, sizeof(dir), "'dir':'%s',", cases[i].dir);
        snprintf(json, sizeof(json), "{'data':{%s'assets':[{'symbol':'A',"
                 "'file':'%s'}],'benchmark':'bench.csv','fx':[{'symbol':"
                 "'EURUSD','file':'%s'}]}}", dir, cases[i].file,
                 cases[i].file);
        t = dq(json);
        rc = bal_config_parse(&c, t, "x.json", cases[i].base, NULL, 0, &e);
        free(t);
        cr_assert_eq(rc, 0, "%s", fmt_err(&e));
        cr_expect_str_eq(c.assets[0].path, cases[i].want, "case %zu", i);
        cr_expect_str_eq(c.data.fx[0].path, cases[i].want, "case %zu", i);
        cr_expect_str_eq(c.assets[0].file, cases[i].file);
        cr_expect_eq(c.data.benchmark_asset, -1);
        cr_expect_not_null(c.data.benchmark_path);
        bal_config_release(&c);
    }
}

Test(config, full_fixture_loads_with_every_value)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;
    const bal_asset_config *a;

    cr_assert_eq(bal_config_load(&c, FULL, NULL, 0, &e), 0, "%s",
                 fmt_err(&e));
    cr_assert_str_eq(c.name, "full-example");
    cr_assert_eq(c.n_assets, 4);
    a = &c.assets[0];
    cr_assert_str_eq(a->path, "tests/data/config/../prices/EURUSD.csv");
    cr_assert_eq(a->tz, BAL_TZ_FIXED);
    cr_assert_eq(a->tz_offset, 2 * 3600);
    cr_assert_str_eq(a->date_format, "%d.%m.%Y %H:%M:%S");
    cr_assert_eq(a->columns.set, 1);
    cr_assert_eq(a->columns.index[BAL_COLMAP_DATE], 0);
    cr_assert_str_eq(a->columns.name[BAL_COLMAP_TIME], "Time");
    cr_assert_eq(a->columns.index[BAL_COLMAP_CLOSE], 4);
    cr_assert_eq(a->columns.index[BAL_COLMAP_OPEN], -1);
    cr_assert_null(a->columns.name[BAL_COLMAP_OPEN]);
    cr_assert_eq(a->bars_per_year, 6240);
    cr_assert_eq(a->lot_size, 1000);
    cr_assert_eq(a->cost_bps, 0.35);
    cr_assert_eq(a->duplicates, BAL_DUP_FIRST);
    cr_assert_eq(a->bad_bars, BAL_BAD_SKIP);
    cr_assert_eq(a->spike_k, 7.5);
    cr_assert_eq(a->spike_repair, 0);
    a = &c.assets[1];
    cr_assert_str_eq(a->path, "/srv/fx/USDJPY.csv");
    cr_assert_eq(a->tz, BAL_TZ_FX_SERVER);
    cr_assert_str_eq(a->quote, "JPY");
    cr_assert_eq(a->duplicates, BAL_DUP_ERROR);     /* from data.* */
    cr_assert_eq(a->spike_k, 12.25);
    cr_assert_eq(a->spike_repair, 1);
    a = &c.assets[2];
    cr_assert_eq(a->tz_offset, -(5 * 3600 + 30 * 60));
    cr_assert_eq(a->price_field, BAL_PRICE_ADJ_CLOSE);
    cr_assert_eq(a->asset_class, BAL_CLASS_EQUITY);
    cr_assert_str_eq(a->quote, "EUR");
    cr_assert_eq(c.assets[3].asset_class, BAL_CLASS_CRYPTO);

    cr_assert_eq(c.data.calendar, BAL_CAL_INTERSECTION);
    /* 1551657600 = `date -u -d 2019-03-04 +%s`;
     * 1701361800 = `date -u -d '2023-11-30 16:30:00' +%s` */
    cr_assert_eq(c.data.start, 1551657600);
    cr_assert_eq(c.data.start_date_only, 1);
    cr_assert_eq(c.data.end, 1701361800);
    cr_assert_eq(c.data.end_date_only, 0);
    cr_assert_eq(c.data.late_assets, BAL_LATE_ZERO);
    cr_assert_eq(c.data.n_fx, 1);
    cr_assert_str_eq(c.data.fx[0].symbol, "EURGBP");
    cr_assert_str_eq(c.data.fx[0].path,
                     "tests/data/config/../prices/EURGBP.csv");
    cr_assert_str_eq(c.data.benchmark, "SPY");
    cr_assert_eq(c.data.benchmark_asset, 2);
    cr_assert_null(c.data.benchmark_path);

    cr_assert_eq(c.capital, 250000.5);
    cr_assert_str_eq(c.account_currency, "EUR");
    cr_assert_eq(c.periods_per_year, 252);
    cr_assert_eq(c.risk_free, 0.0215);
    cr_assert_eq(c.mar, 0.01);
    cr_assert_eq(c.engine.atr_window, 21);
    cr_assert_eq(c.engine.returns, BAL_RET_SIMPLE);
    cr_assert_eq(c.engine.corr, BAL_EST_EWMA);
    cr_assert_eq(c.engine.ewma_lambda, 0.97);
    cr_assert_eq(c.engine.shrinkage_ledoit_wolf, 1);
    assert_nan(c.engine.shrinkage);
    cr_assert_eq(c.engine.shrinkage_target, BAL_SHRINK_CONSTANT_CORR);
    cr_assert_eq(c.engine.psd_floor, 1e-6);
    cr_assert_eq(c.regime.long_window, 120);
    assert_nan(c.regime.shock_atr);
    cr_assert_eq(c.direction.mode, BAL_DIR_TREND);
    cr_assert_eq(c.direction.fast, 20);
    cr_assert_eq(c.direction.slow, 100);
    cr_assert_str_eq(c.direction.signals_path,
                     "tests/data/config/signals.csv");

    cr_assert_eq(c.sizing.method, BAL_METHOD_FIXED);
    cr_assert_eq(c.sizing.targets[0], 0.3);
    cr_assert_eq(c.sizing.targets[1], 0.2);
    cr_assert_eq(c.sizing.targets[2], 0.35);
    assert_nan(c.sizing.targets[3]);
    cr_assert_eq(c.sizing.linkage, BAL_LINK_WARD);
    cr_assert_eq(c.sizing.hrp_distance, BAL_HRP_LDP);
    cr_assert_eq(c.sizing.class_caps[BAL_CLASS_CRYPTO], 0.1);
    cr_assert_eq(c.sizing.class_caps[BAL_CLASS_FOREX], 0.6);
    assert_nan(c.sizing.class_caps[BAL_CLASS_METAL]);
    assert_nan(c.sizing.target_vol);
    cr_assert_eq(c.sizing.regime_scale.shock, 0.3);
    cr_assert_eq(c.sizing.drawdown.enabled, 1);
    cr_assert_eq(c.sizing.drawdown.halt, 0.35);
    cr_assert_eq(c.sizing.drawdown.resume, 0.15);

    cr_assert_eq(c.rebalance.schedule, BAL_CFG_SCHED_STEPS);
    cr_assert_eq(c.rebalance.schedule_steps, 21);
    cr_assert_eq(c.rebalance.drift, 0.03);
    cr_assert_eq(c.rebalance.target_check, 5);
    cr_assert_eq(c.rebalance.regime_change, 1);
    cr_assert_eq(c.rebalance.cooldown, 3);
    cr_assert_eq(c.execution.fill, BAL_FILL_CLOSE);
    cr_assert_eq(c.execution.class_cost_bps[BAL_CLASS_CRYPTO], 10);
    cr_assert_eq(c.execution.class_cost_bps[BAL_CLASS_EQUITY], 0.5);
    assert_nan(c.execution.class_cost_bps[BAL_CLASS_FOREX]);
    cr_assert_eq(c.execution.borrow_rate, 0.045);
    cr_assert_eq(c.output.curves, BAL_CURVES_ALL);
    cr_assert_eq(c.output.series, 1);
    cr_assert_eq(c.output.html, 0);
    cr_assert_eq(bal_config_asset_index(&c, "SPY"), 2);
    cr_assert_eq(bal_config_asset_index(&c, "spy"), -1);
    cr_assert_eq(bal_config_asset_index(&c, "EURGBP"), -1);
    bal_config_release(&c);
}

/* ---- dates ---------------------------------------------------------- */

Test(config, start_and_end_parse_to_utc_seconds)
{
    static const struct {
        const char *text;
        int is_end;
        int64_t want;           /* from `date -u -d ... +%s` */
        int date_only;
    } cases[] = {
        { "2021-03-04", 0, 1614816000, 1 },
        { "2021-03-04", 1, 1614902399, 1 },         /* 23:59:59 */
        { "2021-03-04T05:06:07Z", 0, 1614834367, 0 },
        { "2021-03-04T05:06:07Z", 1, 1614834367, 0 },
        { "2021-03-04 05:06:07", 0, 1614834367, 0 },
        { "2021-03-04T05:06:07+02:00", 0, 1614827167, 0 },
        { "2021-03-04T05:06", 0, 1614834360, 0 },
        { "2020-02-29", 0, 1582934400, 1 },
        { "2000-02-29T12:00Z", 0, 951825600, 0 },
        { "1969-12-31T23:59:59", 0, -1, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[256];
        bal_config c;
        bal_error e = BAL_ERROR_INIT;
        int64_t t;

        snprintf(json, sizeof(json), "{'data':{'%s':'%s','assets':"
                 "[{'symbol':'A','file':'a'}]}}",
                 cases[i].is_end ? "end" : "start", cases[i].text);
        cr_assert_eq(parse_q(&c, json, NULL, 0, &e), 0, "%s",
                     fmt_err(&e));
        t = cases[i].is_end ? c.data.end : c.data.start;
        cr_expect_eq(t, cases[i].want, "%s: %lld", cases[i].text,
                     (long long)t);
        cr_expect_eq(cases[i].is_end ? c.data.end_date_only
                                     : c.data.start_date_only,
                     cases[i].date_only, "%s", cases[i].text);
        cr_expect_eq(cases[i].is_end ? c.data.has_end : c.data.has_start,
                     1);
        bal_config_release(&c);
    }
}

Test(config, date_only_end_is_the_last_second_of_that_day)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(parse_q(&c, "{'data':{'start':'2016-02-29','end':"
                         "'2016-02-29','assets':[{'symbol':'A','file':"
                         "'a'}]}}", NULL, 0, &e), 0, "%s", fmt_err(&e));
    cr_assert_eq(c.data.start, bal_days_from_civil(2016, 2, 29) * 86400);
    cr_assert_eq(c.data.end, bal_days_from_civil(2016, 3, 1) * 86400 - 1);
    bal_config_release(&c);
}

/* ---- errors --------------------------------------------------------- */

struct err_case {
    const char *json;           /* ' for " */
    const char *set1, *set2;
    const char *want;           /* the whole bal_error_format line */
};

static void check_errors(const struct err_case *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *sets[2] = { cases[i].set1, cases[i].set2 };
        size_t n_sets = cases[i].set2 ? 2 : cases[i].set1 ? 1 : 0;
        bal_config c;
        bal_error e = BAL_ERROR_INIT;
        int rc = parse_q(&c, cases[i].json, sets, n_sets, &e);

        cr_expect_eq(rc, BAL_ECONFIG, "case %zu (%s): rc %d", i,
                     cases[i].want, rc);
        cr_expect_eq(e.code, BAL_ECONFIG);
        cr_expect_str_eq(e.path, "config.json");
        cr_expect_str_eq(fmt_err(&e), cases[i].want, "case %zu", i);
        cr_expect_null(c.assets, "case %zu: config not left empty", i);
        cr_expect_null(c.name);
        bal_config_release(&c);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(config, type_and_range_errors_have_exact_messages)
{
    static const struct err_case cases[] = {
        { "{" ASSETS2 ",'sizing':{'target_vol':'ten'}}", NULL, NULL,
          "config.json: sizing.target_vol: expected a number > 0, got "
          "\"ten\"" },
        { "{'data':{'calendar':'both','assets':[{'symbol':'A','file':"
          "'a'}]}}", NULL, NULL,
          "config.json: data.calendar: expected one of union|intersection, "
          "got \"both\"" },
        { "{" ASSETS2 ",'engine':{'vol_window':1.5}}", NULL, NULL,
          "config.json: engine.vol_window: expected an integer >= 2, got "
          "1.5" },
        { "{" ASSETS2 ",'engine':{'atr_window':0}}", NULL, NULL,
          "config.json: engine.atr_window: expected an integer >= 1, got "
          "0" },
        { "{" ASSETS2 ",'engine':{'ewma_lambda':1}}", NULL, NULL,
          "config.json: engine.ewma_lambda: expected a number in (0, 1), "
          "got 1" },
        { "{" ASSETS2 ",'engine':{'shrinkage':1.5}}", NULL, NULL,
          "config.json: engine.shrinkage: expected a number in [0, 1] or "
          "\"ledoit_wolf\", got 1.5" },
        { "{" ASSETS2 ",'engine':{'shrinkage':'lw'}}", NULL, NULL,
          "config.json: engine.shrinkage: expected a number in [0, 1] or "
          "\"ledoit_wolf\", got \"lw\"" },
        { "{" ASSETS2 ",'engine':5}", NULL, NULL,
          "config.json: engine: expected an object, got 5" },
        { "{" ASSETS2 ",'capital':null}", NULL, NULL,
          "config.json: capital: expected a number > 0, got null" },
        { "{" ASSETS2 ",'capital':1e999}", NULL, NULL,
          "config.json: capital: expected a number > 0, got inf" },
        { "{" ASSETS2 ",'capital':-0}", NULL, NULL,
          "config.json: capital: expected a number > 0, got -0" },
        { "{" ASSETS2 ",'periods_per_year':0}", NULL, NULL,
          "config.json: periods_per_year: expected a number > 0 or "
          "\"auto\", got 0" },
        { "{" ASSETS2 ",'risk_free':-1}", NULL, NULL,
          "config.json: risk_free: expected a number > -1, got -1" },
        { "{" ASSETS2 ",'account_currency':'US'}", NULL, NULL,
          "config.json: account_currency: expected a currency code (3 to 6 "
          "uppercase letters or digits), got \"US\"" },
        { "{" ASSETS2 ",'name':'a/b'}", NULL, NULL,
          "config.json: name: expected a name without '/', '\\' or control "
          "characters, other than \".\" and \"..\", got \"a/b\"" },
        { "{" ASSETS2 ",'name':''}", NULL, NULL,
          "config.json: name: expected a non-empty string, got \"\"" },
        { "{'data':{'spike_k':-1,'assets':[{'symbol':'A','file':'a'}]}}",
          NULL, NULL,
          "config.json: data.spike_k: expected a number >= 0, got -1" },
        { "{'data':{'spike_repair':'yes','assets':[{'symbol':'A','file':"
          "'a'}]}}", NULL, NULL,
          "config.json: data.spike_repair: expected true or false, got "
          "\"yes\"" },
        { "{'data':{'benchmark':'','assets':[{'symbol':'A','file':'a'}]}}",
          NULL, NULL,
          "config.json: data.benchmark: expected a non-empty string or "
          "null, got \"\"" },
        { "{" ASSETS2 ",'rebalance':{'schedule':'yearly'}}", NULL, NULL,
          "config.json: rebalance.schedule: expected one of "
          "daily|weekly|monthly|none or an integer >= 1, got \"yearly\"" },
        { "{" ASSETS2 ",'rebalance':{'schedule':0}}", NULL, NULL,
          "config.json: rebalance.schedule: expected one of "
          "daily|weekly|monthly|none or an integer >= 1, got 0" },
        { "{" ASSETS2 ",'rebalance':{'schedule':2.5}}", NULL, NULL,
          "config.json: rebalance.schedule: expected one of "
          "daily|weekly|monthly|none or an integer >= 1, got 2.5" },
        { "{" ASSETS2 ",'rebalance':{'cooldown':-1}}", NULL, NULL,
          "config.json: rebalance.cooldown: expected an integer >= 0, got "
          "-1" },
        { "{" ASSETS2 ",'rebalance':{'corr_shift':2.5}}", NULL, NULL,
          "config.json: rebalance.corr_shift: expected a number in [0, 2], "
          "got 2.5" },
        { "{" ASSETS2 ",'rebalance':{'regime_change':1}}", NULL, NULL,
          "config.json: rebalance.regime_change: expected true or false, "
          "got 1" },
        { "{" ASSETS2 ",'sizing':{'max_weight':0}}", NULL, NULL,
          "config.json: sizing.max_weight: expected a number in (0, 1], "
          "got 0" },
        { "{" ASSETS2 ",'sizing':{'method':'kelly'}}", NULL, NULL,
          "config.json: sizing.method: expected one of fixed|equal|"
          "inverse_vol|inverse_atr|erc|hrp|min_variance, got \"kelly\"" },
        { "{" ASSETS2 ",'sizing':{'drawdown':'x'}}", NULL, NULL,
          "config.json: sizing.drawdown: expected an object or null, got "
          "\"x\"" },
        { "{" ASSETS2 ",'regime':{'corr_spike':-1.25}}", NULL, NULL,
          "config.json: regime.corr_spike: expected a number in [-1, 1], "
          "got -1.25" },
        { "{" ASSETS2 ",'output':{'curves':'some'}}", NULL, NULL,
          "config.json: output.curves: expected one of rebalances|all, got "
          "\"some\"" },
        { "{" ASSETS2 ",'execution':{'fill':'open'}}", NULL, NULL,
          "config.json: execution.fill: expected one of close|next_open, "
          "got \"open\"" },
        { "{" ASSETS2 ",'execution':{'cash_rate':'3%'}}", NULL, NULL,
          "config.json: execution.cash_rate: expected a number > -1, got "
          "\"3%\"" },
    };

    check_errors(cases, N(cases));
}

Test(config, offending_values_are_rendered_compactly)
{
    static const struct err_case cases[] = {
        /* strings: quoted, escaped, cut after 39 bytes */
        { "{" ASSETS2 ",'sizing':{'target_vol':'abcdefghijklmnopqrstuvwxyz"
          "abcdefghijklmnopqrstuvwxyz'}}", NULL, NULL,
          "config.json: sizing.target_vol: expected a number > 0, got "
          "\"abcdefghijklmnopqrstuvwxyzabcdefghijklm...\"" },
        { "{" ASSETS2 ",'sizing':{'target_vol':'a\\\"b\\n'}}", NULL, NULL,
          "config.json: sizing.target_vol: expected a number > 0, got "
          "\"a\\\"b\\u000a\"" },
        /* never inside a UTF-8 character */
        { "{" ASSETS2 ",'sizing':{'target_vol':'abcdefghijklmnopqrstuvwxyz"
          "abcdefghijkl\xc3\xa9xyz'}}", NULL, NULL,
          "config.json: sizing.target_vol: expected a number > 0, got "
          "\"abcdefghijklmnopqrstuvwxyzabcdefghijkl...\"" },
        { "{" ASSETS2 ",'sizing':{'target_vol':{'kk':'" E5 E5 E5 E5 "'}}}",
          NULL, NULL, "config.json: sizing.target_vol: expected a number > "
          "0, got {\"kk\":\"" E5 E5 E5 E1 "..." },
        /* JSON: unformatted, cut after 40 bytes */
        { "{" ASSETS2 ",'sizing':{'target_vol':{'a':[1,2,3,4,5,6,7,8,9,10,"
          "11,12,13,14,15,16]}}}", NULL, NULL,
          "config.json: sizing.target_vol: expected a number > 0, got "
          "{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,1..." },
        { "{" ASSETS2 ",'sizing':{'target_vol':[0.1]}}", NULL, NULL,
          "config.json: sizing.target_vol: expected a number > 0, got "
          "[0.1]" },
        { "{" ASSETS2 ",'sizing':{'target_vol':true}}", NULL, NULL,
          "config.json: sizing.target_vol: expected a number > 0, got "
          "true" },
        /* whole numbers in plain digits, others shortest round-trip */
        { "{" ASSETS2 ",'engine':{'ewma_lambda':60}}", NULL, NULL,
          "config.json: engine.ewma_lambda: expected a number in (0, 1), "
          "got 60" },
        { "{" ASSETS2 ",'engine':{'ewma_lambda':1.0000000000000002}}", NULL,
          NULL, "config.json: engine.ewma_lambda: expected a number in "
          "(0, 1), got 1.0000000000000002" },
    };

    check_errors(cases, N(cases));
}

Test(config, unknown_and_duplicate_keys_are_errors_with_did_you_mean)
{
    static const struct err_case cases[] = {
        { "{" ASSETS2 ",'engine':{'vol_windw':3}}", NULL, NULL,
          "config.json: engine.vol_windw: unknown key (did you mean "
          "'vol_window'?)" },
        { "{" ASSETS2 ",'engine':{'VOL_WINDOW':3}}", NULL, NULL,
          "config.json: engine.VOL_WINDOW: unknown key (did you mean "
          "'vol_window'?)" },
        { "{" ASSETS2 ",'engine':{'volwindw':3}}", NULL, NULL,
          "config.json: engine.volwindw: unknown key (did you mean "
          "'vol_window'?)" },                         /* distance 2 */
        { "{" ASSETS2 ",'engine':{'vlwindw':3}}", NULL, NULL,
          "config.json: engine.vlwindw: unknown key" },  /* distance 3 */
        { "{" ASSETS2 ",'engine':{'lambda_ewma':3}}", NULL, NULL,
          "config.json: engine.lambda_ewma: unknown key" },
        { "{" ASSETS2 ",'Capital':5}", NULL, NULL,
          "config.json: Capital: unknown key (did you mean 'capital'?)" },
        { "{" ASSETS2 ",'siznig':{}}", NULL, NULL,   /* transposition */
          "config.json: siznig: unknown key (did you mean 'sizing'?)" },
        { "{" ASSETS2 ",'zzz':1}", NULL, NULL,
          "config.json: zzz: unknown key" },
        { "{" ASSETS2 ",'id':1}", NULL, NULL,          /* not 'fx' */
          "config.json: id: unknown key" },
        { "{'data':{'asets':[]}}", NULL, NULL,
          "config.json: data.asets: unknown key (did you mean 'assets'?)" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','cost':1}]}}", NULL,
          NULL, "config.json: data.assets[0].cost: unknown key" },
        { "{" ASSETS2 ",'sizing':{'regime_scale':{'shok':0.5}}}", NULL,
          NULL, "config.json: sizing.regime_scale.shok: unknown key (did "
          "you mean 'shock'?)" },
        { "{" ASSETS2 ",'sizing':{'drawdown':{'floor':0.1,'strat':0.1}}}",
          NULL, NULL, "config.json: sizing.drawdown.strat: unknown key "
          "(did you mean 'start'?)" },
        { "{'data':{'assets':[{'symbol':'A','file':'a'},{'symbol':'B',"
          "'file':'b'},{'symbol':'C','symbol':'D','file':'c'}]}}", NULL,
          NULL, "config.json: data.assets[2].symbol: duplicate key" },
        { "{" ASSETS2 ",'capital':1,'capital':2}", NULL, NULL,
          "config.json: capital: duplicate key" },
        { "{" ASSETS2 ",'sizing':{'targets':{'EURUSD':0.2,'EURUSD':0.3}}}",
          NULL, NULL, "config.json: sizing.targets.EURUSD: duplicate key" },
        { "{" ASSETS2 ",'sizing':{'class_caps':{'forex':0.2,'forex':0.3}}}",
          NULL, NULL,
          "config.json: sizing.class_caps.forex: duplicate key" },
        { "{" ASSETS2 ",'sizing':{'class_caps':{'bonds':0.5}}}", NULL, NULL,
          "config.json: sizing.class_caps.bonds: unknown class (expected "
          "one of forex|crypto|metal|equity|other)" },
        { "{" ASSETS2 ",'execution':{'class_cost_bps':{'Forex':1}}}", NULL,
          NULL, "config.json: execution.class_cost_bps.Forex: unknown "
          "class (expected one of forex|crypto|metal|equity|other)" },
        { "{" ASSETS2 ",'sizing':{'class_caps':{'forex':1.5}}}", NULL, NULL,
          "config.json: sizing.class_caps.forex: expected a number in "
          "[0, 1], got 1.5" },
    };

    check_errors(cases, N(cases));
}

Test(config, asset_list_errors_name_the_element)
{
    static const struct err_case cases[] = {
        { "{}", NULL, NULL, "config.json: data.assets: missing required key" },
        { "{'data':{}}", NULL, NULL,
          "config.json: data.assets: missing required key" },
        { "{'data':{'assets':[]}}", NULL, NULL,
          "config.json: data.assets: expected a non-empty array of objects, "
          "got []" },
        { "{'data':{'assets':{'symbol':'A'}}}", NULL, NULL,
          "config.json: data.assets: expected a non-empty array of objects, "
          "got {\"symbol\":\"A\"}" },
        { "{'data':{'assets':[5]}}", NULL, NULL,
          "config.json: data.assets[0]: expected an object, got 5" },
        { "{'data':{'assets':[{'symbol':'A','file':'a'},{'file':'b'}]}}",
          NULL, NULL,
          "config.json: data.assets[1].symbol: missing required key" },
        { "{'data':{'assets':[{'symbol':'A'}]}}", NULL, NULL,
          "config.json: data.assets[0].file: missing required key" },
        { "{'data':{'assets':[{'symbol':'A','file':''}]}}", NULL, NULL,
          "config.json: data.assets[0].file: expected a non-empty string, "
          "got \"\"" },
        { "{'data':{'assets':[{'symbol':'EUR USD','file':'a'}]}}", NULL,
          NULL, "config.json: data.assets[0].symbol: expected a non-empty "
          "symbol of printable ASCII without spaces or any of ,|\"'=[]\\, "
          "got \"EUR USD\"" },
        { "{'data':{'assets':[{'symbol':'A|B','file':'a'}]}}", NULL, NULL,
          "config.json: data.assets[0].symbol: expected a non-empty "
          "symbol of printable ASCII without spaces or any of ,|\"'=[]\\, "
          "got \"A|B\"" },
        { "{'data':{'assets':[{'symbol':'EURUSD','file':'a'},{'symbol':"
          "'GBPUSD','file':'b'},{'symbol':'EURUSD','file':'c'}]}}", NULL,
          NULL, "config.json: data.assets[2].symbol: duplicate symbol "
          "'EURUSD' (also data.assets[0])" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','class':'bond'}]}}",
          NULL, NULL, "config.json: data.assets[0].class: expected one of "
          "forex|crypto|metal|equity|other, got \"bond\"" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','quote':'usd'}]}}",
          NULL, NULL, "config.json: data.assets[0].quote: expected a "
          "currency code (3 to 6 uppercase letters or digits) or null, got "
          "\"usd\"" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','tz_offset':'+5'}]}}",
          NULL, NULL, "config.json: data.assets[0].tz_offset: expected "
          "\"+hh:mm\", \"-hh:mm\" (at most 18:00), \"fx_server\" or null, "
          "got \"+5\"" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','tz_offset':"
          "'+18:30'}]}}", NULL, NULL, "config.json: data.assets[0]."
          "tz_offset: expected \"+hh:mm\", \"-hh:mm\" (at most 18:00), "
          "\"fx_server\" or null, got \"+18:30\"" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','price_field':"
          "'Close'}]}}", NULL, NULL, "config.json: data.assets[0]."
          "price_field: expected one of close|adj close, got \"Close\"" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','date_format':"
          "'%Y-%Q'}]}}", NULL, NULL, "config.json: data.assets[0]."
          "date_format: expected a date format made of %Y %m %d %H %I %M "
          "%S %p %z %f %% and other characters, got \"%Y-%Q\"" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','lot_size':0}]}}",
          NULL, NULL, "config.json: data.assets[0].lot_size: expected a "
          "number > 0, got 0" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','columns':"
          "{'clsoe':4}}]}}", NULL, NULL, "config.json: data.assets[0]."
          "columns.clsoe: unknown key (did you mean 'close'?)" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','columns':"
          "{'date':0,'close':-1}}]}}", NULL, NULL, "config.json: "
          "data.assets[0].columns.close: expected a column name or a "
          "0-based index, got -1" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','columns':"
          "{'open':2,'close':2}}]}}", NULL, NULL, "config.json: "
          "data.assets[0].columns.close: same column as 'open'" },
        { "{'data':{'assets':[{'symbol':'A','file':'a','columns':"
          "{'time':'Time'}}]}}", NULL, NULL, "config.json: "
          "data.assets[0].columns.time: needs a 'date' column too (the "
          "time of day is joined to the date)" },
        { "{'data':{'assets':[{'symbol':'A','file':'a'}],'fx':[{'symbol':"
          "'EURUSD'}]}}", NULL, NULL,
          "config.json: data.fx[0].file: missing required key" },
        { "{'data':{'assets':[{'symbol':'EURUSD','file':'a'}],'fx':"
          "[{'symbol':'EURUSD','file':'b'}]}}", NULL, NULL,
          "config.json: data.fx[0].symbol: duplicate symbol 'EURUSD' (also "
          "data.assets[0])" },
        { "{'data':{'assets':[{'symbol':'A','file':'a'}],'fx':{}}}", NULL,
          NULL, "config.json: data.fx: expected an array of objects, got "
          "{}" },
    };

    check_errors(cases, N(cases));
}

Test(config, cross_field_rules_blame_the_key_that_was_written)
{
    static const struct err_case cases[] = {
        { "{" ASSETS2 ",'regime':{'long_window':5}}", NULL, NULL,
          "config.json: regime.long_window: expected a value > "
          "regime.short_window (5), got 5" },
        { "{" ASSETS2 ",'regime':{'short_window':80}}", NULL, NULL,
          "config.json: regime.short_window: expected a value < "
          "regime.long_window (60), got 80" },
        { "{" ASSETS2 ",'direction':{'fast':20}}", NULL, NULL,
          "config.json: direction.slow: required when direction.fast is "
          "set" },
        { "{" ASSETS2 ",'direction':{'slow':20,'fast':null}}", NULL, NULL,
          "config.json: direction.fast: required when direction.slow is "
          "set" },
        { "{" ASSETS2 ",'direction':{'fast':20,'slow':10}}", NULL, NULL,
          "config.json: direction.slow: expected a value > direction.fast "
          "(20), got 10" },
        { "{" ASSETS2 ",'direction':{'mode':'signals'}}", NULL, NULL,
          "config.json: direction.signals: required when direction.mode is "
          "signals" },
        { "{" ASSETS2 ",'sizing':{'drawdown':{'start':0.3,'max':0.2}}}",
          NULL, NULL, "config.json: sizing.drawdown.max: expected a value "
          "> sizing.drawdown.start (0.3), got 0.2" },
        { "{" ASSETS2 ",'sizing':{'drawdown':{'start':0.3}}}", NULL, NULL,
          "config.json: sizing.drawdown.start: expected a value < "
          "sizing.drawdown.max (0.25), got 0.3" },
        { "{" ASSETS2 ",'sizing':{'drawdown':{'halt':0.3}}}", NULL, NULL,
          "config.json: sizing.drawdown.resume: required when "
          "sizing.drawdown.halt is set" },
        { "{" ASSETS2 ",'sizing':{'drawdown':{'halt':0.3,'resume':0.4}}}",
          NULL, NULL, "config.json: sizing.drawdown.resume: expected a "
          "value < sizing.drawdown.halt (0.3), got 0.4" },
        { "{'data':{'start':'2021-06-02','end':'2021-06-01','assets':"
          "[{'symbol':'A','file':'a'}]}}", NULL, NULL,
          "config.json: data.end: must not be before data.start" },
        { "{'data':{'start':'2021-02-29','assets':[{'symbol':'A','file':"
          "'a'}]}}", NULL, NULL, "config.json: data.start: expected an ISO "
          "date or datetime (YYYY-MM-DD[THH:MM[:SS][Z]]) or null, got "
          "\"2021-02-29\"" },
        { "{'data':{'end':'2021-01-01T24:00','assets':[{'symbol':'A',"
          "'file':'a'}]}}", NULL, NULL, "config.json: data.end: expected "
          "an ISO date or datetime (YYYY-MM-DD[THH:MM[:SS][Z]]) or null, "
          "got \"2021-01-01T24:00\"" },
        { "{'data':{'end':'2021-01-01T10:00:00.5Z','assets':[{'symbol':"
          "'A','file':'a'}]}}", NULL, NULL, "config.json: data.end: "
          "expected an ISO date or datetime (YYYY-MM-DD[THH:MM[:SS][Z]]) "
          "or null, got \"2021-01-01T10:00:00.5Z\"" },
    };

    check_errors(cases, N(cases));
}

Test(config, targets_are_checked_against_the_assets)
{
    static const struct err_case cases[] = {
        { "{" ASSETS2 ",'sizing':{'targets':{'EURUSX':0.5}}}", NULL, NULL,
          "config.json: sizing.targets.EURUSX: unknown symbol (did you "
          "mean 'EURUSD'?)" },
        { "{" ASSETS2 ",'sizing':{'targets':{'XYZ':0.5}}}", NULL, NULL,
          "config.json: sizing.targets.XYZ: unknown symbol (not in "
          "data.assets)" },
        { "{" ASSETS2 ",'sizing':{'targets':{'EURUSD':0.75,'GBPUSD':"
          "0.5}}}", NULL, NULL, "config.json: sizing.targets: weights sum "
          "to 1.25, expected a sum in (0, 1]" },
        { "{" ASSETS2 ",'sizing':{'targets':{'EURUSD':0,'GBPUSD':0}}}",
          NULL, NULL, "config.json: sizing.targets: weights sum to 0, "
          "expected a sum in (0, 1]" },
        { "{" ASSETS2 ",'sizing':{'targets':{'EURUSD':-0.2}}}", NULL, NULL,
          "config.json: sizing.targets.EURUSD: expected a number in [0, 1], "
          "got -0.2" },
        { "{" ASSETS2 ",'sizing':{'method':'fixed'}}", NULL, NULL,
          "config.json: sizing.targets: required (a non-empty object) when "
          "sizing.method is fixed" },
        { "{" ASSETS2 ",'sizing':{'method':'fixed','targets':{}}}", NULL,
          NULL, "config.json: sizing.targets: required (a non-empty "
          "object) when sizing.method is fixed" },
        { "{" ASSETS2 ",'sizing':{'targets':[0.5,0.5]}}", NULL, NULL,
          "config.json: sizing.targets: expected an object or null, got "
          "[0.5,0.5]" },
    };

    check_errors(cases, N(cases));
}

Test(config, targets_may_leave_cash_and_tolerate_rounding)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    /* (0.33 + 0.56) + 0.11 is 1.0000000000000002 in binary (Python
     * prints it so): within the 1e-9 tolerance */
    cr_assert_gt(0.33 + 0.56 + 0.11, 1.0);
    cr_assert_eq(parse_q(&c, "{'data':{'assets':[{'symbol':'A','file':"
                         "'a'},{'symbol':'B','file':'b'},{'symbol':'C',"
                         "'file':'c'}]},'sizing':{'method':'fixed',"
                         "'targets':{'A':0.33,'B':0.56,'C':0.11}}}", NULL,
                         0, &e), 0, "%s", fmt_err(&e));
    bal_config_release(&c);
    cr_assert_eq(parse_q(&c, "{" ASSETS2 ",'sizing':{'method':'fixed',"
                         "'targets':{'GBPUSD':0.35}}}", NULL, 0, &e), 0,
                 "%s", fmt_err(&e));
    assert_nan(c.sizing.targets[0]);
    cr_assert_eq(c.sizing.targets[1], 0.35);
    bal_config_release(&c);
    /* an empty object is fine when the method does not read it */
    cr_assert_eq(parse_q(&c, "{" ASSETS2 ",'sizing':{'targets':{}}}", NULL,
                         0, &e), 0, "%s", fmt_err(&e));
    cr_assert_not_null(c.sizing.targets);
    assert_nan(c.sizing.targets[0]);
    bal_config_release(&c);
}

/* ---- invalid JSON --------------------------------------------------- */

Test(config, invalid_json_reports_line_and_column)
{
    static const struct {
        const char *text;
        size_t line, col;
        const char *msg;
    } cases[] = {
        { "{\"a\": 1,\n}", 1, 8, "trailing comma" },
        { "[1,\n 2,]", 2, 3, "trailing comma" },
        { "{\n  \"a\": 1 // note\n}", 2, 10,
          "comments are not allowed in JSON" },
        { "/* c */ {}", 1, 1, "comments are not allowed in JSON" },
        { "{\n\t\"a\": 007\n}", 2, 7, "invalid number (leading zero)" },
        { "{\"a\": 1.}", 1, 7, "invalid number" },
        { "{\"a\": -}", 1, 7, "invalid number" },
        { "{\"a\": 1e}", 1, 7, "invalid number" },
        { "{\"a\": .5}", 1, 7, "expected a value, got '.'" },
        { "{\"a\": \"abc", 1, 7, "unterminated string" },
        { "", 1, 1, "expected a value, got end of input" },
        { "  \n ", 2, 2, "expected a value, got end of input" },
        { "{\"a\" 1}", 1, 6, "expected ':' after the key, got '1'" },
        { "{\"a\": 1 \"b\": 2}", 1, 9, "expected ',' or '}', got '\"'" },
        { "{a: 1}", 1, 2, "expected a string key, got 'a'" },
        { "[1 2]", 1, 4, "expected ',' or ']', got '2'" },
        { "{} x", 1, 4, "expected end of input, got 'x'" },
        { "{\"\xc3\xa9\": 01}", 1, 7, "invalid number (leading zero)" },
        { "{\"a\": \"\xff\"}", 1, 8, "invalid UTF-8 in string" },
        { "{\"a\": \"\xed\xa0\x80\"}", 1, 8, "invalid UTF-8 in string" },
        { "{\"a\": \"\xe0\x80\x80\"}", 1, 8, "invalid UTF-8 in string" },
        { "{\"a\": \"\xf4\x90\x80\x80\"}", 1, 8,
          "invalid UTF-8 in string" },
        { "{\"a\": \"\xc3\"}", 1, 8, "invalid UTF-8 in string" },
        { "{\"\xf0\x9f\x98\x80\": 01}", 1, 7,
          "invalid number (leading zero)" },
        { "{\"a\": \"\\ud800\"}", 1, 8, "unpaired surrogate in \\u escape" },
        { "{\"a\": \"\\udc00\"}", 1, 8, "unpaired surrogate in \\u escape" },
        { "{\"a\": \"\\u00zz\"}", 1, 8, "invalid \\u escape" },
        { "{\"a\": \"\\u0000\"}", 1, 8, "\\u0000 is not supported" },
        { "{\"a\": \"x\\qy\"}", 1, 9, "invalid escape '\\q'" },
        { "{\"a\": \"x\ny\"}", 1, 9, "unescaped newline in string" },
        { "{\"a\": \"x\ty\"}", 1, 9, "unescaped control character in "
          "string" },
        { "{\"a\": tru}", 1, 7,
          "invalid literal (expected true, false or null)" },
        { "{\"a\": NaN}", 1, 7, "expected a value, got 'N'" },
        { "{\"a\": \x01}", 1, 7, "expected a value, got byte 0x01" },
        { "\xef\xbb\xbf{\"a\" 1}", 1, 6,
          "expected ':' after the key, got '1'" },
    };
    size_t i;

    for (i = 0; i < N(cases); i++) {
        bal_config c;
        bal_error e = BAL_ERROR_INIT;
        char want[256];
        int rc = bal_config_parse(&c, cases[i].text, "config.json", "",
                                  NULL, 0, &e);

        snprintf(want, sizeof(want), "config.json:%zu:%zu: invalid JSON: "
                 "%s", cases[i].line, cases[i].col, cases[i].msg);
        cr_expect_eq(rc, BAL_ECONFIG, "case %zu", i);
        cr_expect_eq(e.line, cases[i].line, "case %zu", i);
        cr_expect_eq(e.column, cases[i].col, "case %zu", i);
        cr_expect_str_eq(fmt_err(&e), want, "case %zu", i);
        bal_config_release(&c);
    }
}

Test(config, nesting_deeper_than_the_limit_is_refused)
{
    char text[700];
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    memset(text, '[', 600);
    text[600] = '\0';
    cr_assert_eq(bal_config_parse(&c, text, "config.json", "", NULL, 0, &e),
                 BAL_ECONFIG);
    /* 512 levels open; the 513th '[' (column 513) is refused */
    cr_assert_str_eq(fmt_err(&e), "config.json:1:513: invalid JSON: "
                     "nesting too deep");
    bal_config_release(&c);
}

Test(config, top_level_must_be_an_object)
{
    static const struct err_case cases[] = {
        { "[1,2]", NULL, NULL, "config.json: expected a JSON object at the "
          "top level, got [1,2]" },
        { "'x'", NULL, NULL, "config.json: expected a JSON object at the "
          "top level, got \"x\"" },
    };

    check_errors(cases, N(cases));
}

Test(config, a_utf8_bom_is_accepted)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;
    int rc = bal_config_parse(&c, "\xef\xbb\xbf{\"data\":{\"assets\":[{"
                              "\"symbol\":\"A\",\"file\":\"a\"}]}}", "x", "",
                              NULL, 0, &e);

    cr_assert_eq(rc, 0, "%s", fmt_err(&e));
    cr_assert_str_eq(c.assets[0].symbol, "A");
    bal_config_release(&c);
}

/* ---- files ---------------------------------------------------------- */

static char *write_temp(const char *data, size_t len)
{
    char *path = malloc(64);
    int fd;

    cr_assert(path);
    snprintf(path, 64, "/tmp/bal-config-XXXXXX");
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

Test(config, unreadable_files_are_io_errors)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(bal_config_load(&c, "tests/data/config/missing.json", NULL,
                                 0, &e), BAL_EIO);
    cr_assert_eq(e.code, BAL_EIO);
    cr_assert_str_eq(e.path, "");
    cr_assert_str_eq(fmt_err(&e), "cannot read 'tests/data/config/"
                     "missing.json': No such file or directory");
    cr_assert_null(c.assets);
    bal_config_release(&c);
    cr_assert_eq(bal_config_load(&c, "tests/data/config", NULL, 0, &e),
                 BAL_EIO);
    cr_assert_str_eq(fmt_err(&e), "cannot read 'tests/data/config': Is a "
                     "directory");
}

Test(config, load_reports_errors_under_the_file_path)
{
    static const char text[] = "{\"data\": {\"assets\": [\n"
                               "  {\"symbol\": \"A\", \"file\": \"a\"}]},\n"
                               " \"capital\": 0}\n";
    char *path = write_temp(text, sizeof(text) - 1);
    char want[256];
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(bal_config_load(&c, path, NULL, 0, &e), BAL_ECONFIG);
    snprintf(want, sizeof(want), "%s: capital: expected a number > 0, got "
             "0", path);
    cr_assert_str_eq(fmt_err(&e), want);
    cr_assert_eq(e.line, 0);
    unlink(path);
    free(path);
}

Test(config, a_nul_byte_in_the_file_is_a_syntax_error)
{
    static const char text[] = "{\"data\": 1}\0 ";
    char *path = write_temp(text, sizeof(text) - 1);
    char want[256];
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(bal_config_load(&c, path, NULL, 0, &e), BAL_ECONFIG);
    snprintf(want, sizeof(want), "%s:1:12: invalid JSON: expected end of "
             "input, got a NUL byte", path);
    cr_assert_str_eq(fmt_err(&e), want);
    unlink(path);
    free(path);
}

Test(config, load_resolves_against_the_file_directory)
{
    static const char text[] = "{\"data\": {\"dir\": \"px\", \"assets\": "
                               "[{\"symbol\": \"A\", \"file\": \"a.csv\"}]},"
                               " \"direction\": {\"signals\": \"s.csv\"}}";
    char *path = write_temp(text, sizeof(text) - 1);
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(bal_config_load(&c, path, NULL, 0, &e), 0, "%s",
                 fmt_err(&e));
    cr_assert_str_eq(c.assets[0].path, "/tmp/px/a.csv");
    cr_assert_str_eq(c.direction.signals_path, "/tmp/s.csv");
    bal_config_release(&c);
    unlink(path);
    free(path);
}

/* ---- --set ---------------------------------------------------------- */

Test(config, set_overrides_nested_per_asset_and_created_keys)
{
    const char *sets[] = {
        "sizing.target_vol=0.125",
        "engine.vol_window=20",
        "data.assets.GBPUSD.cost_bps=3.5",
        "data.assets[0].lot_size=1000",
        "name=my run",                      /* not JSON: a string */
        "account_currency=\"EUR\"",         /* a JSON string */
        "sizing.drawdown.start=0.125",      /* drawdown was absent */
        "rebalance.drift=null",
        "rebalance.drift=0.04",             /* the later one wins */
        "sizing.targets={\"EURUSD\":0.6,\"GBPUSD\":0.4}",
        "sizing.method=fixed",
        "data.calendar=intersection",
        "rebalance.schedule=10",
    };
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(parse_q(&c, "{" ASSETS2 ",'sizing':{'target_vol':0.2},"
                         "'engine':{'vol_window':90}}", sets, N(sets), &e),
                 0, "%s", fmt_err(&e));
    cr_assert_eq(c.sizing.target_vol, 0.125);
    cr_assert_eq(c.engine.vol_window, 20);
    assert_nan(c.assets[0].cost_bps);
    cr_assert_eq(c.assets[1].cost_bps, 3.5);
    cr_assert_eq(c.assets[0].lot_size, 1000);
    cr_assert_str_eq(c.name, "my run");
    cr_assert_str_eq(c.account_currency, "EUR");
    cr_assert_eq(c.sizing.drawdown.enabled, 1);
    cr_assert_eq(c.sizing.drawdown.start, 0.125);
    cr_assert_eq(c.sizing.drawdown.max, 0.25);
    cr_assert_eq(c.rebalance.drift, 0.04);
    cr_assert_eq(c.sizing.method, BAL_METHOD_FIXED);
    cr_assert_eq(c.sizing.targets[0], 0.6);
    cr_assert_eq(c.sizing.targets[1], 0.4);
    cr_assert_eq(c.data.calendar, BAL_CAL_INTERSECTION);
    cr_assert_eq(c.rebalance.schedule, BAL_CFG_SCHED_STEPS);
    cr_assert_eq(c.rebalance.schedule_steps, 10);
    bal_config_release(&c);
}

Test(config, set_addresses_symbols_with_dots_longest_first)
{
    const char *sets[] = {
        "data.assets.BRK.B.cost_bps=2",
        "data.assets.BRK.cost_bps=1",
        "sizing.targets.BRK.B=0.25",        /* member exists: matched */
    };
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(parse_q(&c, "{'data':{'assets':[{'symbol':'BRK.B','file':"
                         "'b'},{'symbol':'BRK','file':'a'}]},'sizing':{"
                         "'targets':{'BRK.B':0.5}}}", sets, N(sets), &e), 0,
                 "%s", fmt_err(&e));
    cr_assert_eq(c.assets[0].cost_bps, 2);
    cr_assert_eq(c.assets[1].cost_bps, 1);
    cr_assert_eq(c.sizing.targets[0], 0.25);
    bal_config_release(&c);
}

Test(config, set_errors_name_the_assignment)
{
    static const struct err_case cases[] = {
        { MIN2, "engine.vol_windw=3", NULL,
          "config.json: --set engine.vol_windw: unknown key (did you mean "
          "'vol_window'?)" },
        { MIN2, "enigne.vol_window=3", NULL,
          "config.json: --set enigne: unknown key (did you mean "
          "'engine'?)" },
        { MIN2, "sizing.target_vol=ten", NULL,
          "config.json: --set sizing.target_vol: expected a number > 0, got "
          "\"ten\"" },
        { MIN2, "sizing.target_vol=0.2", "sizing.target_vol=x",
          "config.json: --set sizing.target_vol: expected a number > 0, got "
          "\"x\"" },
        { MIN2, "data.assets.GBPUSD.cost_bps=-3", NULL,
          "config.json: --set data.assets.GBPUSD.cost_bps: expected a "
          "number >= 0, got -3" },
        { MIN2, "data.assets.GBPUSD.cst_bps=3", NULL,
          "config.json: --set data.assets.GBPUSD.cst_bps: unknown key (did "
          "you mean 'cost_bps'?)" },
        { MIN2, "data.assets.XYZ.cost_bps=3", NULL,
          "config.json: --set data.assets.XYZ.cost_bps: no element of "
          "'data.assets' has symbol 'XYZ'" },
        { MIN2, "data.assets[5].file=a", NULL,
          "config.json: --set data.assets[5].file: index 5 is out of range "
          "('data.assets' has 2 elements)" },
        { MIN2, "data.assets[x].file=a", NULL,
          "config.json: --set data.assets[x].file: bad array index after "
          "'data.assets'" },
        { MIN2, "data.assets=[]", NULL,
          "config.json: --set data.assets: expected a non-empty array of "
          "objects, got []" },
        { MIN2, "data.assets[1]={\"symbol\":\"EURUSD\",\"file\":\"x\"}",
          NULL, "config.json: --set data.assets[1].symbol: duplicate "
          "symbol 'EURUSD' (also data.assets[0])" },
        { MIN2, "capital.x=3", NULL,
          "config.json: --set capital: expected a number > 0, got "
          "{\"x\":3}" },
        { "{" ASSETS2 ",'capital':5}", "capital.x=3", NULL,
          "config.json: --set capital.x: 'capital' is not an object" },
        { MIN2, "name[0]=x", NULL,
          "config.json: --set name[0]: 'name' is not an array" },
        { MIN2, "capital", NULL,
          "config.json: --set capital: expected KEY=VALUE" },
        { MIN2, "=3", NULL, "config.json: --set '=3': empty key" },
        { MIN2, "a..b=1", NULL,
          "config.json: --set a..b: empty key segment" },
        { MIN2, "sizing.=1", NULL,
          "config.json: --set sizing.: empty key segment" },
        { MIN2, "sizing.drawdown={\"start\":2}", NULL,
          "config.json: --set sizing.drawdown.start: expected a number in "
          "[0, 1), got 2" },
        { MIN2, "sizing.drawdown.max=0.01", NULL,
          "config.json: --set sizing.drawdown.max: expected a value > "
          "sizing.drawdown.start (0.05), got 0.01" },
        /* a problem in the file itself is not blamed on a --set */
        { "{" ASSETS2 ",'capital':0}", "sizing.target_vol=0.2", NULL,
          "config.json: capital: expected a number > 0, got 0" },
        /* nor one about a parent the --set did not create */
        { "{" ASSETS2 ",'sizing':{'targets':{'GBPUSD':0.5}}}",
          "sizing.targets.EURUSD=0.75", NULL,
          "config.json: sizing.targets: weights sum to 1.25, expected a "
          "sum in (0, 1]" },
    };

    check_errors(cases, N(cases));
}

Test(config, apply_set_edits_a_tree_or_leaves_it_unchanged)
{
    cJSON *root = cJSON_Parse("{\"a\":{\"b\":1},\"list\":[{\"symbol\":"
                              "\"X\",\"v\":1},{\"symbol\":\"Y\"}],"
                              "\"n\":null}");
    char *before, *after;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_not_null(root);
    cr_assert_eq(bal_config_apply_set(root, "a.b=[1,\"x\"]", &e), 0);
    cr_assert_eq(bal_config_apply_set(root, "list.Y.v=2.5", &e), 0);
    cr_assert_eq(bal_config_apply_set(root, "list[0].v=true", &e), 0);
    cr_assert_eq(bal_config_apply_set(root, "n.p.q=x=y", &e), 0);
    cr_assert_eq(bal_config_apply_set(root, "new=", &e), 0);
    before = cJSON_PrintUnformatted(root);
    cr_assert_str_eq(before, "{\"a\":{\"b\":[1,\"x\"]},\"list\":[{\"symbol\""
                     ":\"X\",\"v\":true},{\"symbol\":\"Y\",\"v\":2.5}],"
                     "\"n\":{\"p\":{\"q\":\"x=y\"}},\"new\":\"\"}");
    cr_assert_eq(bal_config_apply_set(root, "a.b[0].c=1", &e), BAL_ECONFIG);
    cr_assert_str_eq(e.path, "");
    cr_assert_str_eq(fmt_err(&e), "--set a.b[0].c: 'a.b[0]' is not an "
                     "object");
    cr_assert_eq(bal_config_apply_set(root, "a.b.c=1", &e), BAL_ECONFIG);
    cr_assert_str_eq(fmt_err(&e), "--set a.b.c: no element of 'a.b' has "
                     "symbol 'c'");
    cr_assert_eq(bal_config_apply_set(root, "zz.y[0]=1", &e), BAL_ECONFIG);
    cr_assert_str_eq(fmt_err(&e), "--set zz.y[0]: 'zz.y' is not an array");
    cr_assert_eq(bal_config_apply_set(root, "zz.y.=1", &e), BAL_ECONFIG);
    cr_assert_eq(bal_config_apply_set(root, "list.Z=1", &e), BAL_ECONFIG);
    cr_assert_str_eq(fmt_err(&e), "--set list.Z: no element of 'list' has "
                     "symbol 'Z'");
    after = cJSON_PrintUnformatted(root);
    cr_assert_str_eq(after, before);
    cJSON_free(before);
    cJSON_free(after);
    cJSON_Delete(root);
}

/* ---- normalised JSON ------------------------------------------------ */

static int same_num(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#define EXPECT_NUM(f) cr_expect(same_num(x->f, y->f), "%s: %.17g vs %.17g", \
                                #f, (double)x->f, (double)y->f)
#define EXPECT_INT(f) cr_expect_eq(x->f, y->f, "%s", #f)
#define EXPECT_STR(f) cr_expect(same_str(x->f, y->f), "%s", #f)

static void expect_same_config(const bal_config *x, const bal_config *y)
{
    size_t i, k;

    EXPECT_STR(name);
    EXPECT_INT(n_assets);
    for (i = 0; i < x->n_assets && i < y->n_assets; i++) {
        const bal_asset_config *p = &x->assets[i], *q = &y->assets[i];

        cr_expect(same_str(p->symbol, q->symbol));
        cr_expect(same_str(p->file, q->file));
        cr_expect(same_str(p->path, q->path));
        cr_expect_eq(p->asset_class, q->asset_class);
        cr_expect_str_eq(p->quote, q->quote);
        cr_expect_eq(p->tz, q->tz);
        cr_expect_eq(p->tz_offset, q->tz_offset);
        cr_expect(same_str(p->date_format, q->date_format));
        cr_expect_eq(p->columns.set, q->columns.set);
        for (k = 0; k < BAL_COLMAP_N; k++) {
            cr_expect(same_str(p->columns.name[k], q->columns.name[k]));
            cr_expect_eq(p->columns.index[k], q->columns.index[k]);
        }
        cr_expect_eq(p->price_field, q->price_field);
        cr_expect(same_num(p->bars_per_year, q->bars_per_year));
        cr_expect(same_num(p->lot_size, q->lot_size));
        cr_expect(same_num(p->cost_bps, q->cost_bps));
        cr_expect_eq(p->duplicates, q->duplicates);
        cr_expect_eq(p->bad_bars, q->bad_bars);
        cr_expect(same_num(p->spike_k, q->spike_k));
        cr_expect_eq(p->spike_repair, q->spike_repair);
        if (x->sizing.targets && y->sizing.targets)
            cr_expect(same_num(x->sizing.targets[i], y->sizing.targets[i]));
    }
    EXPECT_STR(data.dir);
    EXPECT_STR(data.dir_path);
    EXPECT_INT(data.calendar);
    EXPECT_INT(data.has_start);
    EXPECT_INT(data.start_date_only);
    EXPECT_INT(data.start);
    EXPECT_INT(data.has_end);
    EXPECT_INT(data.end_date_only);
    EXPECT_INT(data.end);
    EXPECT_INT(data.late_assets);
    EXPECT_INT(data.duplicates);
    EXPECT_INT(data.bad_bars);
    EXPECT_NUM(data.spike_k);
    EXPECT_INT(data.spike_repair);
    EXPECT_INT(data.n_fx);
    for (i = 0; i < x->data.n_fx && i < y->data.n_fx; i++) {
        cr_expect(same_str(x->data.fx[i].symbol, y->data.fx[i].symbol));
        cr_expect(same_str(x->data.fx[i].path, y->data.fx[i].path));
    }
    EXPECT_STR(data.benchmark);
    EXPECT_INT(data.benchmark_asset);
    EXPECT_STR(data.benchmark_path);
    EXPECT_NUM(capital);
    cr_expect_str_eq(x->account_currency, y->account_currency);
    EXPECT_NUM(periods_per_year);
    EXPECT_NUM(risk_free);
    EXPECT_NUM(mar);
    EXPECT_INT(engine.atr_window);
    EXPECT_INT(engine.vol_window);
    EXPECT_INT(engine.corr_window);
    EXPECT_INT(engine.returns);
    EXPECT_INT(engine.corr);
    EXPECT_INT(engine.vol);
    EXPECT_NUM(engine.ewma_lambda);
    EXPECT_NUM(engine.shrinkage);
    EXPECT_INT(engine.shrinkage_ledoit_wolf);
    EXPECT_INT(engine.shrinkage_target);
    EXPECT_NUM(engine.psd_floor);
    EXPECT_NUM(engine.stress_quantile);
    EXPECT_NUM(engine.stress_blend);
    EXPECT_INT(regime.short_window);
    EXPECT_INT(regime.long_window);
    EXPECT_NUM(regime.shock_ratio);
    EXPECT_NUM(regime.shock_atr);
    EXPECT_INT(regime.er_window);
    EXPECT_NUM(regime.er_threshold);
    EXPECT_NUM(regime.corr_spike);
    EXPECT_NUM(regime.shock_share);
    EXPECT_INT(direction.mode);
    EXPECT_INT(direction.lookback);
    EXPECT_INT(direction.fast);
    EXPECT_INT(direction.slow);
    EXPECT_STR(direction.signals);
    EXPECT_STR(direction.signals_path);
    EXPECT_INT(sizing.method);
    cr_expect_eq(!x->sizing.targets, !y->sizing.targets);
    EXPECT_INT(sizing.linkage);
    EXPECT_INT(sizing.hrp_distance);
    EXPECT_NUM(sizing.max_weight);
    for (k = 0; k < BAL_N_CLASSES; k++) {
        EXPECT_NUM(sizing.class_caps[k]);
        EXPECT_NUM(execution.class_cost_bps[k]);
    }
    EXPECT_NUM(sizing.cluster_risk_cap);
    EXPECT_NUM(sizing.target_vol);
    EXPECT_NUM(sizing.max_gross);
    EXPECT_NUM(sizing.regime_scale.trending);
    EXPECT_NUM(sizing.regime_scale.ranging);
    EXPECT_NUM(sizing.regime_scale.shock);
    EXPECT_INT(sizing.drawdown.enabled);
    if (x->sizing.drawdown.enabled && y->sizing.drawdown.enabled) {
        EXPECT_NUM(sizing.drawdown.start);
        EXPECT_NUM(sizing.drawdown.max);
        EXPECT_NUM(sizing.drawdown.floor);
        EXPECT_NUM(sizing.drawdown.recovery_rate);
        EXPECT_NUM(sizing.drawdown.halt);
        EXPECT_NUM(sizing.drawdown.resume);
    }
    EXPECT_INT(rebalance.schedule);
    EXPECT_INT(rebalance.schedule_steps);
    EXPECT_NUM(rebalance.drift);
    EXPECT_NUM(rebalance.drift_rel);
    EXPECT_NUM(rebalance.vol_shift);
    EXPECT_NUM(rebalance.corr_shift);
    EXPECT_NUM(rebalance.target_shift);
    EXPECT_INT(rebalance.target_check);
    EXPECT_INT(rebalance.regime_change);
    EXPECT_NUM(rebalance.drawdown_step);
    EXPECT_INT(rebalance.cooldown);
    EXPECT_NUM(rebalance.min_trade);
    EXPECT_INT(execution.fill);
    EXPECT_NUM(execution.cost_bps);
    EXPECT_NUM(execution.spread_bps);
    EXPECT_NUM(execution.fixed_fee);
    EXPECT_NUM(execution.slippage_atr);
    EXPECT_NUM(execution.cash_rate);
    EXPECT_NUM(execution.borrow_rate);
    EXPECT_INT(output.curves);
    EXPECT_INT(output.series);
    EXPECT_INT(output.html);
}

/* parse(to_json(c)) == c, and printing it again gives the same bytes. */
static void check_round_trip(const bal_config *c)
{
    cJSON *j1 = bal_config_to_json(c), *j2;
    char *t1, *t2;
    bal_config d;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_not_null(j1);
    t1 = cJSON_PrintUnformatted(j1);
    cr_assert_not_null(t1);
    cr_assert_eq(bal_config_parse(&d, t1, "round-trip", "tests/data/config",
                                  NULL, 0, &e), 0, "%s\n%s", fmt_err(&e),
                 t1);
    expect_same_config(c, &d);
    j2 = bal_config_to_json(&d);
    t2 = cJSON_PrintUnformatted(j2);
    cr_assert_str_eq(t2, t1);
    cJSON_free(t1);
    cJSON_free(t2);
    cJSON_Delete(j1);
    cJSON_Delete(j2);
    bal_config_release(&d);
}

Test(config, full_config_round_trips_through_to_json)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(bal_config_load(&c, FULL, NULL, 0, &e), 0, "%s",
                 fmt_err(&e));
    check_round_trip(&c);
    bal_config_release(&c);
}

Test(config, minimal_config_round_trips_through_to_json)
{
    const char *sets[] = { "data.start=\"2020-01-02T03:04:05+01:00\"",
                           "sizing.drawdown.halt=0.4",
                           "sizing.drawdown.resume=0.1",
                           "engine.shrinkage=0.3",
                           "rebalance.schedule=weekly" };
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    cr_assert_eq(bal_config_parse(&c, "{\"data\":{\"assets\":[{\"symbol\":"
                                  "\"EURUSD\",\"file\":\"e.csv\"}]}}", "x",
                                  "tests/data/config", sets, N(sets), &e), 0,
                 "%s", fmt_err(&e));
    check_round_trip(&c);
    bal_config_release(&c);
}

Test(config, to_json_writes_keys_in_spec_order_with_exact_numbers)
{
    static const char *const top[] = {
        "name", "data", "capital", "account_currency", "periods_per_year",
        "risk_free", "mar", "engine", "regime", "direction", "sizing",
        "rebalance", "execution", "output"
    };
    bal_config c;
    bal_error e = BAL_ERROR_INIT;
    const cJSON *it;
    cJSON *j;
    char *t;
    size_t i = 0;

    cr_assert_eq(bal_config_load(&c, FULL, NULL, 0, &e), 0, "%s",
                 fmt_err(&e));
    j = bal_config_to_json(&c);
    cr_assert_not_null(j);
    for (it = j->child; it; it = it->next, i++) {
        cr_assert_lt(i, N(top));
        cr_expect_str_eq(it->string, top[i]);
    }
    cr_assert_eq(i, N(top));
    t = cJSON_PrintUnformatted(j);
    /* values as written in full.json, re-spelled canonically */
    cr_expect_not_null(strstr(t, "\"capital\":250000.5,"));
    cr_expect_not_null(strstr(t, "\"periods_per_year\":252,"));
    cr_expect_not_null(strstr(t, "\"risk_free\":0.0215,"));
    cr_expect_not_null(strstr(t, "\"vol_window\":40,"));
    cr_expect_not_null(strstr(t, "\"psd_floor\":1e-06,"));
    cr_expect_not_null(strstr(t, "\"shrinkage\":\"ledoit_wolf\","));
    cr_expect_not_null(strstr(t, "\"start\":\"2019-03-04\","));
    cr_expect_not_null(strstr(t, "\"end\":\"2023-11-30T16:30:00Z\","));
    cr_expect_not_null(strstr(t, "\"tz_offset\":\"-05:30\","));
    cr_expect_not_null(strstr(t, "\"tz_offset\":\"fx_server\","));
    cr_expect_not_null(strstr(t, "\"columns\":{\"date\":0,\"time\":\"Time\""
                              ",\"close\":4},"));
    cr_expect_not_null(strstr(t, "\"targets\":{\"EURUSD\":0.3,\"USDJPY\":"
                              "0.2,\"SPY\":0.35},"));
    cr_expect_not_null(strstr(t, "\"class_caps\":{\"forex\":0.6,\"crypto\":"
                              "0.1},"));
    cr_expect_not_null(strstr(t, "\"schedule\":21,"));
    cr_expect_not_null(strstr(t, "\"fast\":20,\"slow\":100,"));
    cr_expect_not_null(strstr(t, "\"target_vol\":null,"));
    cr_expect_not_null(strstr(t, "\"file\":\"/srv/fx/USDJPY.csv\","));
    cr_expect_not_null(strstr(t, "\"quote\":\"JPY\","));
    cr_expect_not_null(strstr(t, "\"drawdown\":{\"start\":0.08,\"max\":0.3,"
                              "\"floor\":0.2,\"recovery_rate\":0.02,"
                              "\"halt\":0.35,\"resume\":0.15}"));
    cJSON_free(t);
    cJSON_Delete(j);
    bal_config_release(&c);
}

Test(config, release_is_null_safe_and_idempotent)
{
    bal_config c;
    bal_error e = BAL_ERROR_INIT;

    bal_config_release(NULL);
    cr_assert_eq(parse_q(&c, MIN2, NULL, 0, &e), 0);
    bal_config_release(&c);
    cr_assert_null(c.assets);
    cr_assert_eq(c.n_assets, 0);
    bal_config_release(&c);
    cr_assert_eq(bal_config_asset_index(&c, "EURUSD"), -1);
    cr_assert_str_eq(bal_config_class_name(BAL_CLASS_METAL), "metal");
    cr_assert_str_eq(bal_config_class_name((bal_asset_class)7), "?");
}
