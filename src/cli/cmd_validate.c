/* ballast validate: check a config and the data files it names. */
#include "cli.h"

#include "ballast/config.h"
#include "ballast/engine.h"
#include "ballast/loader.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char validate_usage[] =
    "usage: ballast validate CONFIG [--set KEY=VALUE]...\n"
    "\n"
    "Parses CONFIG (with the overrides), checks every key and value, and\n"
    "reads each data file (assets, data.fx, signals), without running the\n"
    "backtest. Exit 0\n"
    "when everything is usable, 2 for a config error, 3 for a data error.\n"
    "\n"
    "  -s, --set KEY=VALUE   override a config key (repeatable)\n"
    "  -q, --quiet           print nothing on success\n"
    "  -h, --help            this help\n";

int cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        { "set",   required_argument, NULL, 's' },
        { "quiet", no_argument,       NULL, 'q' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char **sets;
    size_t n_sets = 0, i;
    bal_config cfg;
    bal_engine_setup es;
    bal_error err = BAL_ERROR_INIT;
    int c, quiet = 0, code = BAL_EXIT_OK;

    sets = calloc((size_t)argc, sizeof(*sets));
    if (!sets)
        return BAL_EXIT_RUNTIME;
    while ((c = getopt_long(argc, argv, "s:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sets[n_sets++] = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(validate_usage, stdout);
            free(sets);
            return BAL_EXIT_OK;
        default:
            free(sets);
            return cli_usage_error("validate", NULL);
        }
    }
    if (optind != argc - 1) {
        free(sets);
        return cli_usage_error("validate", "expected exactly one CONFIG "
                               "file");
    }
    memset(&cfg, 0, sizeof(cfg));
    memset(&es, 0, sizeof(es));
    if (bal_config_load(&cfg, argv[optind], sets, n_sets, &err) < 0) {
        code = cli_fail(&err);
        if (err.code == BAL_EIO)
            code = BAL_EXIT_USAGE;      /* a config that cannot be read */
        goto done;
    }
    if (bal_engine_setup_init(&es, &cfg, &err) < 0) {
        snprintf(err.path, sizeof(err.path), "%s", argv[optind]);
        code = cli_fail(&err);
        goto done;
    }
    for (i = 0; i < cfg.n_assets; i++) {
        bal_load_options lo = BAL_LOAD_OPTIONS_INIT;
        bal_series s = BAL_SERIES_INIT;

        cli_load_options(&lo, &cfg.assets[i]);
        if (bal_series_load(&s, cfg.assets[i].path, &lo, &err) < 0) {
            bal_series_release(&s);
            code = cli_fail(&err);
            if (err.code == BAL_EIO)
                code = BAL_EXIT_DATA;   /* an unreadable input file */
            goto done;
        }
        if (!quiet)
            printf("%s: %zu bars from %s\n", cfg.assets[i].symbol, s.n,
                   cfg.assets[i].file);
        bal_series_release(&s);
    }
    for (i = 0; i < es.n_fx_files; i++) {
        bal_load_options lo = BAL_LOAD_OPTIONS_INIT;
        bal_series s = BAL_SERIES_INIT;

        if (bal_series_load(&s, es.fx_paths[i], &lo, &err) < 0) {
            bal_series_release(&s);
            code = cli_fail(&err);
            if (err.code == BAL_EIO)
                code = BAL_EXIT_DATA;
            goto done;
        }
        bal_series_release(&s);
    }
    if (cfg.direction.mode == BAL_DIR_SIGNALS
        && bal_signals_load(&es.signals, cfg.direction.signals_path,
                            es.symbols, cfg.n_assets, &err) < 0) {
        code = cli_fail(&err);
        if (err.code == BAL_EIO)
            code = BAL_EXIT_DATA;
        goto done;
    }
    if (!quiet)
        printf("%s: valid (%zu asset%s)\n", argv[optind], cfg.n_assets,
               cfg.n_assets == 1 ? "" : "s");
done:
    bal_engine_setup_release(&es);
    bal_config_release(&cfg);
    free(sets);
    return code;
}
