/* ballast data: generate a synthetic market, inspect price files. */
#include "cli.h"

#include "ballast/datagen.h"
#include "ballast/loader.h"
#include "ballast/numfmt.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char data_usage[] =
    "usage: ballast data inspect [--json] FILE...\n"
    "       ballast data gen [--preset sample] [--assets N] [--steps T]\n"
    "                        [--bar 1d|1h] [--seed S] [--start DATE] -o DIR\n"
    "\n"
    "  inspect   format, range, bar size and defects of price files\n"
    "  gen       a deterministic synthetic market with its true regimes\n";

static const char gen_usage[] =
    "usage: ballast data gen [--preset sample] [--assets N] [--steps T]\n"
    "                        [--bar 1d|1h] [--seed S] [--start DATE] -o DIR\n"
    "\n"
    "Writes DIR/<SYMBOL>.csv per asset, DIR/regimes.csv (the true regime\n"
    "of every calendar step: calm, trending or shock) and DIR/assets.json.\n"
    "The same options give byte-identical files.\n"
    "\n"
    "  -p, --preset NAME   sample (8 assets: 4 forex, 2 metals, 2 crypto,\n"
    "                      2019-01-01..2024-12-31 daily, seed 42)\n"
    "  -n, --assets N      number of assets (default 8)\n"
    "  -t, --steps T       calendar bars: days or hours (default 2192\n"
    "                      days, or 52608 hours with --bar 1h)\n"
    "  -b, --bar SIZE      1d (default) or 1h\n"
    "  -s, --seed S        random seed (default 42)\n"
    "      --start DATE    first calendar day, YYYY-MM-DD (default\n"
    "                      2019-01-01)\n"
    "  -o, --out DIR       output folder (required)\n"
    "  -h, --help          this help\n";

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;

    if (*s == '-' || *s == '\0')
        return 0;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v == 0)
        return 0;
    *out = (size_t)v;
    return 1;
}

static int parse_date(const char *s, int64_t *out)
{
    int y, m, d, used = 0;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3
        || (size_t)used != strlen(s) || m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    *out = bal_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400;
    return 1;
}

static int cmd_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "preset", required_argument, NULL, 'p' },
        { "assets", required_argument, NULL, 'n' },
        { "steps",  required_argument, NULL, 't' },
        { "bar",    required_argument, NULL, 'b' },
        { "seed",   required_argument, NULL, 's' },
        { "start",  required_argument, NULL, 'S' },
        { "out",    required_argument, NULL, 'o' },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bal_datagen_options o = BAL_DATAGEN_OPTIONS_INIT;
    bal_error err = BAL_ERROR_INIT;
    const char *out = NULL;
    size_t seed;
    int c, steps_given = 0;

    while ((c = getopt_long(argc, argv, "p:n:t:b:s:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (strcmp(optarg, "sample"))
                return cli_usage_error("data gen", "--preset: unknown "
                                       "preset '%s' (known: sample)",
                                       optarg);
            break;
        case 'n':
            if (!parse_size(optarg, &o.n_assets))
                return cli_usage_error("data gen", "--assets: expected a "
                                       "whole number >= 1, got '%s'",
                                       optarg);
            break;
        case 't':
            if (!parse_size(optarg, &o.steps))
                return cli_usage_error("data gen", "--steps: expected a "
                                       "whole number >= 1, got '%s'",
                                       optarg);
            steps_given = 1;
            break;
        case 'b':
            if (!strcmp(optarg, "1d"))
                o.bar_seconds = 86400;
            else if (!strcmp(optarg, "1h"))
                o.bar_seconds = 3600;
            else
                return cli_usage_error("data gen", "--bar: expected 1d or "
                                       "1h, got '%s'", optarg);
            break;
        case 's':
            if (!strcmp(optarg, "0"))
                seed = 0;
            else if (!parse_size(optarg, &seed))
                return cli_usage_error("data gen", "--seed: expected a "
                                       "whole number, got '%s'", optarg);
            o.seed = (unsigned long)seed;
            break;
        case 'S':
            if (!parse_date(optarg, &o.start))
                return cli_usage_error("data gen", "--start: expected "
                                       "YYYY-MM-DD, got '%s'", optarg);
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            fputs(gen_usage, stdout);
            return BAL_EXIT_OK;
        default:
            return cli_usage_error("data gen", NULL);
        }
    }
    if (optind != argc)
        return cli_usage_error("data gen", "unexpected argument '%s'",
                               argv[optind]);
    if (!out)
        return cli_usage_error("data gen", "-o DIR is required");
    if (!steps_given && o.bar_seconds == 3600)
        o.steps *= 24;                  /* the same six years, hourly */
    if (bal_datagen_write(out, &o, &err) < 0)
        return cli_fail(&err);
    cli_info("wrote %zu assets and regimes.csv to %s", o.n_assets, out);
    return BAL_EXIT_OK;
}

int cmd_data(int argc, char **argv)
{
    char name[64];

    if (argc < 2) {
        fputs(data_usage, stderr);
        return BAL_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(data_usage, stdout);
        return BAL_EXIT_OK;
    }
    if (!strcmp(argv[1], "gen")) {
        snprintf(name, sizeof(name), "ballast data gen");
        argv[1] = name;
        return cmd_gen(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "inspect")) {
        snprintf(name, sizeof(name), "ballast data inspect");
        argv[1] = name;
        return cmd_inspect(argc - 1, argv + 1);
    }
    return cli_usage_error("data", "unknown subcommand '%s' (gen or "
                           "inspect)", argv[1]);
}
