/* ballast run: backtest one config and write its outputs. */
#include "cli.h"

#include "ballast/cache.h"
#include "ballast/config.h"
#include "ballast/engine.h"
#include "ballast/html.h"
#include "ballast/loader.h"
#include "ballast/numfmt.h"
#include "ballast/report.h"
#include "ballast/version.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char run_usage[] =
    "usage: ballast run CONFIG [-o DIR] [--set KEY=VALUE]... [--series]\n"
    "                   [--curves rebalances|all] [--json]\n"
    "                   [--check BASE.json [--rtol X] [--atol X]]\n"
    "                   [--cache-dir D] [-q]\n"
    "\n"
    "Backtests CONFIG over its CSV inputs and writes report.json,\n"
    "equity.csv, weights.csv, trades.csv and report.html into DIR\n"
    "(default out/<config name>). Files appear atomically, report.json\n"
    "last.\n"
    "\n"
    "  -o, --out DIR         output folder\n"
    "  -s, --set KEY=VALUE   override a config key by its dotted path;\n"
    "                        VALUE is JSON, else a string (repeatable)\n"
    "      --series          also write series/atr.csv, vol.csv, corr.csv,\n"
    "                        regime.csv\n"
    "      --curves WHICH    weights.csv at every 'rebalances' (default)\n"
    "                        or at 'all' steps\n"
    "      --json            print the metrics as JSON instead of a table\n"
    "      --check BASE      compare the metrics with BASE.json (exit 1 on\n"
    "                        a regression)\n"
    "      --rtol X          relative tolerance for --check (1e-9)\n"
    "      --atol X          absolute tolerance for --check (1e-12)\n"
    "      --cache-dir D     folder for the parsed-data cache (default\n"
    "                        $XDG_CACHE_HOME/ballast or ~/.cache/ballast)\n"
    "      --no-cache        parse every file, write no cache entry\n"
    "  -q, --quiet           no progress messages\n"
    "  -h, --help            this help\n";

struct run_args {
    const char *config, *out, *curves, *check, *cache_dir;
    const char **sets;
    size_t n_sets;
    int series, json, no_cache;
    double rtol, atol;
};

static int parse_tol(const char *s, double *out)
{
    char *end;

    *out = strtod(s, &end);
    return end != s && *end == '\0' && *out >= 0 && isfinite(*out);
}

static int parse_args(struct run_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        { "out",       required_argument, NULL, 'o' },
        { "set",       required_argument, NULL, 's' },
        { "series",    no_argument,       NULL, 'S' },
        { "curves",    required_argument, NULL, 'c' },
        { "json",      no_argument,       NULL, 'j' },
        { "check",     required_argument, NULL, 'k' },
        { "rtol",      required_argument, NULL, 'r' },
        { "atol",      required_argument, NULL, 'a' },
        { "cache-dir", required_argument, NULL, 'C' },
        { "no-cache",  no_argument,       NULL, 'N' },
        { "quiet",     no_argument,       NULL, 'q' },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int c;

    a->rtol = 1e-9;
    a->atol = 1e-12;
    while ((c = getopt_long(argc, argv, "o:s:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            a->out = optarg;
            break;
        case 's':
            a->sets[a->n_sets++] = optarg;
            break;
        case 'S':
            a->series = 1;
            break;
        case 'c':
            if (strcmp(optarg, "rebalances") && strcmp(optarg, "all"))
                return cli_usage_error("run", "--curves: expected "
                                       "rebalances or all, got '%s'",
                                       optarg);
            a->curves = optarg;
            break;
        case 'j':
            a->json = 1;
            break;
        case 'k':
            a->check = optarg;
            break;
        case 'r':
            if (!parse_tol(optarg, &a->rtol))
                return cli_usage_error("run", "--rtol: expected a number "
                                       ">= 0, got '%s'", optarg);
            break;
        case 'a':
            if (!parse_tol(optarg, &a->atol))
                return cli_usage_error("run", "--atol: expected a number "
                                       ">= 0, got '%s'", optarg);
            break;
        case 'C':
            a->cache_dir = optarg;
            break;
        case 'N':
            a->no_cache = 1;
            break;
        case 'q':
            cli_quiet = 1;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return -1;
        default:                /* getopt_long has already said why */
            return cli_usage_error("run", NULL);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("run", "expected exactly one CONFIG file");
    a->config = argv[optind];
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double file_bytes(const bal_config *cfg)
{
    struct stat st;
    double total = 0;
    size_t i;

    for (i = 0; i < cfg->n_assets; i++)
        if (stat(cfg->assets[i].path, &st) == 0)
            total += (double)st.st_size;
    return total;
}

/* Loads every asset's series in config order (through the cache), then
 * the data.fx series, then the signals file when the direction reads one.
 * hashes[i] gets each asset file's XXH3-64. */
static int load_all(bal_series *series, char (*hashes)[17],
                    const bal_config *cfg, bal_engine_setup *es,
                    const char *cache_dir, bal_error *err)
{
    size_t i, hits = 0;
    int rc;

    for (i = 0; i < cfg->n_assets; i++) {
        const bal_asset_config *a = &cfg->assets[i];
        bal_load_options lo = BAL_LOAD_OPTIONS_INIT;
        bal_cache_info info = BAL_CACHE_INFO_INIT;

        cli_load_options(&lo, a);
        rc = bal_cache_load(&series[i], a->path, &lo, cache_dir, &info, err);
        if (rc < 0)
            return rc;
        memcpy(hashes[i], info.hash_hex, sizeof(hashes[i]));
        hits += info.state == BAL_CACHE_HIT;
    }
    for (i = 0; i < es->n_fx_files; i++) {
        bal_load_options lo = BAL_LOAD_OPTIONS_INIT;

        rc = bal_cache_load(&series[cfg->n_assets + i], es->fx_paths[i],
                            &lo, cache_dir, NULL, err);
        if (rc < 0)
            return rc;
    }
    if (cache_dir)
        cli_info("cache: %zu of %zu assets read from %s", hits,
                 cfg->n_assets, cache_dir);
    if (cfg->direction.mode == BAL_DIR_SIGNALS)
        return bal_signals_load(&es->signals, cfg->direction.signals_path,
                                es->symbols, cfg->n_assets, err);
    return BAL_OK;
}

static void print_row(const char *label, const char *value)
{
    printf("  %-24s %s\n", label, value);
}

static void print_pct(const char *label, double x)
{
    char buf[64];

    if (isnan(x))
        snprintf(buf, sizeof(buf), "-");
    else
        snprintf(buf, sizeof(buf), "%.2f %%", 100 * x);
    print_row(label, buf);
}

static void print_num(const char *label, double x, int prec)
{
    char buf[64];

    if (isnan(x))
        snprintf(buf, sizeof(buf), "-");
    else
        snprintf(buf, sizeof(buf), "%.*f", prec, x);
    print_row(label, buf);
}

static void print_summary(const bal_config *cfg, const bal_result *res,
                          const char *out_dir)
{
    const bal_metrics *m = &res->metrics;
    char t0[BAL_NUMFMT_LEN], t1[BAL_NUMFMT_LEN], buf[128];

    printf("ballast run: %s\n", cfg->name);
    snprintf(buf, sizeof(buf), "%s .. %s (%zu steps)",
             bal_timefmt(t0, res->time[0], res->date_only),
             bal_timefmt(t1, res->time[res->n_rows - 1], res->date_only),
             res->n_rows);
    print_row("period", buf);
    print_num("final equity", res->equity[res->n_rows - 1], 2);
    print_pct("total return", m->total_return);
    print_pct("CAGR", m->cagr);
    print_pct("volatility", m->volatility);
    print_num("Sharpe", m->sharpe, 3);
    print_num("Sortino", m->sortino, 3);
    print_pct("max drawdown", m->max_drawdown);
    print_num("Calmar", m->calmar, 3);
    print_pct("VaR 95 (per step)", m->var_95);
    print_pct("turnover (annual)", res->turnover);
    print_num("total costs", res->book.total_costs, 2);
    snprintf(buf, sizeof(buf), "%zu", res->rebalances);
    print_row("rebalances", buf);
    snprintf(buf, sizeof(buf), "%zu", res->book.n_trades);
    print_row("trades", buf);
    if (res->ruined)
        print_row("RUINED", "equity reached 0");
    print_row("outputs", out_dir);
}

static int write_outputs(bal_outdir *od, const bal_config *cfg,
                         bal_series *const *ptrs, const char **hashes,
                         const bal_engine_setup *es,
                         const bal_result *res, cJSON **report_out,
                         char **metrics_text, bal_error *err)
{
    bal_report_input in;
    const char **files = NULL;
    size_t *repairs = NULL;
    cJSON *cfg_json = NULL, *report = NULL;
    char *text = NULL;
    FILE *f;
    size_t i;
    int rc;

    rc = bal_report_write_csv(od, res, es->symbols, err);
    if (rc < 0)
        return rc;
    files = calloc(cfg->n_assets, sizeof(*files));
    cfg_json = bal_config_to_json(cfg);
    if (!files || !cfg_json) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < cfg->n_assets; i++)
        files[i] = cfg->assets[i].file;
    memset(&in, 0, sizeof(in));
    in.version = BAL_VERSION;
    in.config = cfg_json;
    in.symbols = es->symbols;
    in.files = files;
    in.series = ptrs;
    in.hashes = hashes;
    repairs = calloc(cfg->n_assets, sizeof(*repairs));
    if (!repairs) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < cfg->n_assets; i++) {
        const bal_defects *d = &ptrs[i]->defects;

        if (cfg->assets[i].bad_bars == BAL_BAD_REPAIR)
            repairs[i] += d->high_low + d->open_close_outside;
        if (cfg->assets[i].spike_repair)
            repairs[i] += d->spikes;
    }
    in.repairs = repairs;
    in.calendar = cfg->data.calendar == BAL_CAL_INTERSECTION
                      ? "intersection" : "union";
    if (cfg->output.html) {
        f = bal_outdir_file(od, "report.html", err);
        if (!f) {
            rc = err->code;
            goto done;
        }
        rc = bal_report_html(f, &in, res, err);
        if (rc < 0)
            goto done;
    }
    /* every other file is complete: hash them for report.json */
    rc = bal_outdir_seal(od, err);
    if (rc < 0)
        goto done;
    in.outdir = od;
    report = bal_report_json(&in, res);
    text = report ? cJSON_Print(report) : NULL;
    if (!text) {
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        goto done;
    }
    f = bal_outdir_file(od, "report.json", err);
    if (!f) {
        rc = err->code;
        goto done;
    }
    fputs(text, f);
    fputc('\n', f);
    rc = bal_outdir_commit(od, err);
    if (rc < 0)
        goto done;
    /* the caller keeps the report for --json / --check; parsed back from
     * the text so numbers are numbers, not raw items */
    *report_out = cJSON_Parse(text);
    /* --json prints the metrics with our exact number formatting */
    *metrics_text = cJSON_Print(cJSON_GetObjectItemCaseSensitive(report,
                                                                 "metrics"));
    if (!*report_out || !*metrics_text)
        rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
done:
    free(text);
    cJSON_Delete(report);
    cJSON_Delete(cfg_json);
    free(files);
    free(repairs);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_args a;
    bal_config cfg;
    bal_engine_setup es;
    bal_result res;
    bal_series *series = NULL, **ptrs = NULL;
    bal_outdir *od = NULL;
    bal_engine_streams streams = { NULL, NULL, NULL, NULL };
    bal_error err = BAL_ERROR_INIT;
    cJSON *report = NULL;
    char *metrics_text = NULL;
    char out_buf[512], cache_buf[4096];
    char (*hashes)[17] = NULL;
    const char **hash_ptrs = NULL;
    double t_start, t_loaded;
    size_t i, n_series = 0;
    int rc, code = BAL_EXIT_OK;

    memset(&a, 0, sizeof(a));
    memset(&cfg, 0, sizeof(cfg));
    memset(&es, 0, sizeof(es));
    memset(&res, 0, sizeof(res));
    a.sets = calloc((size_t)argc, sizeof(*a.sets));
    if (!a.sets) {
        cli_warn("out of memory");
        return BAL_EXIT_RUNTIME;
    }
    rc = parse_args(&a, argc, argv);
    if (rc != 0) {
        free(a.sets);
        return rc < 0 ? BAL_EXIT_OK : rc;
    }
    rc = bal_config_load(&cfg, a.config, a.sets, a.n_sets, &err);
    if (rc < 0) {
        code = cli_fail(&err);
        if (err.code == BAL_EIO)
            code = BAL_EXIT_USAGE;      /* a config that cannot be read */
        goto done;
    }
    if (a.series)
        cfg.output.series = 1;
    if (a.curves)
        cfg.output.curves = strcmp(a.curves, "all") ? BAL_CURVES_REBALANCES
                                                    : BAL_CURVES_ALL;
    rc = bal_engine_setup_init(&es, &cfg, &err);
    if (rc < 0) {
        snprintf(err.path, sizeof(err.path), "%s", a.config);
        goto fail;
    }
    n_series = cfg.n_assets + es.n_fx_files;
    series = calloc(n_series, sizeof(*series));
    ptrs = calloc(n_series, sizeof(*ptrs));
    if (!series || !ptrs) {
        rc = bal_error_set(&err, BAL_ENOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < n_series; i++)
        ptrs[i] = &series[i];
    cli_info("loading %zu asset%s", cfg.n_assets, cfg.n_assets == 1 ? "" : "s");
    hashes = calloc(cfg.n_assets, sizeof(*hashes));
    hash_ptrs = calloc(cfg.n_assets, sizeof(*hash_ptrs));
    if (!hashes || !hash_ptrs) {
        rc = bal_error_set(&err, BAL_ENOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < cfg.n_assets; i++)
        hash_ptrs[i] = hashes[i];
    if (!a.no_cache && !a.cache_dir
        && bal_cache_default_dir(cache_buf, sizeof(cache_buf),
                                 getenv("XDG_CACHE_HOME"),
                                 getenv("HOME")) == 0)
        a.cache_dir = cache_buf;
    t_start = now_seconds();
    rc = load_all(series, hashes, &cfg, &es, a.no_cache ? NULL : a.cache_dir,
                  &err);
    if (rc < 0) {
        /* an input file that cannot be read is bad input data, not a
         * runtime failure */
        code = cli_fail(&err);
        if (code == BAL_EXIT_RUNTIME && err.code == BAL_EIO)
            code = BAL_EXIT_DATA;
        goto done;
    }
    if (!a.out) {
        snprintf(out_buf, sizeof(out_buf), "out/%s", cfg.name);
        a.out = out_buf;
    }
    rc = bal_outdir_open(&od, a.out, &err);
    if (rc < 0)
        goto fail;
    if (cfg.output.series) {
        streams.atr = bal_outdir_file(od, "series/atr.csv", &err);
        streams.vol = streams.atr ? bal_outdir_file(od, "series/vol.csv",
                                                    &err) : NULL;
        streams.corr = streams.vol ? bal_outdir_file(od, "series/corr.csv",
                                                     &err) : NULL;
        streams.regime = streams.corr ? bal_outdir_file(od,
                                                        "series/regime.csv",
                                                        &err) : NULL;
        if (!streams.regime) {
            rc = err.code;
            goto fail;
        }
        fputs("time,symbol,value\n", streams.atr);
        fputs("time,symbol,value\n", streams.vol);
        fputs("time,pair,value\n", streams.corr);
        fputs("time,symbol,value\n", streams.regime);
    }
    t_loaded = now_seconds();
    cli_info("loaded %.1f MB in %.3f s (%.0f MB/s)", file_bytes(&cfg) / 1e6,
             t_loaded - t_start, file_bytes(&cfg) / 1e6 / (t_loaded
                                                           - t_start));
    rc = bal_engine_run(&res, &es.opt, ptrs,
                        cfg.output.series ? &streams : NULL, &err);
    if (rc < 0)
        goto fail;
    cli_info("backtest of %zu steps x %zu assets in %.3f s", res.n_steps,
             cfg.n_assets, now_seconds() - t_loaded);
    rc = write_outputs(od, &cfg, ptrs, hash_ptrs, &es, &res, &report,
                       &metrics_text, &err);
    if (rc < 0)
        goto fail;
    if (a.json) {
        puts(metrics_text);
    } else {
        print_summary(&cfg, &res, a.out);
    }
    if (a.check)
        /* stdout carries the table or the JSON: the check goes to stderr */
        code = cli_check_report(report, a.check, a.rtol, a.atol, NULL,
                                a.json, stderr);
    goto done;
fail:
    code = cli_fail(&err);
done:
    free(metrics_text);
    cJSON_Delete(report);
    bal_outdir_free(od);
    bal_result_release(&res);
    if (series)
        for (i = 0; i < n_series; i++)
            bal_series_release(&series[i]);
    free(series);
    free(ptrs);
    free(hashes);
    free(hash_ptrs);
    bal_engine_setup_release(&es);
    bal_config_release(&cfg);
    free(a.sets);
    return code;
}
