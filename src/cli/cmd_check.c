/* ballast check: compare a report's metrics with a baseline. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char check_usage[] =
    "usage: ballast check REPORT.json --baseline BASE.json [--rtol X]\n"
    "                     [--atol X] [--only a,b] [--update-baseline]\n"
    "\n"
    "Passes a metric iff |now - base| <= atol + rtol * |base|; a metric\n"
    "missing on either side fails. Exit 0 when every metric passes, 1 on a\n"
    "regression, 3 when a report is malformed.\n"
    "\n"
    "  -b, --baseline FILE     the baseline report.json\n"
    "      --rtol X            relative tolerance (default 1e-9)\n"
    "      --atol X            absolute tolerance (default 1e-12)\n"
    "      --only LIST         compare only these metrics (comma-separated;\n"
    "                          a group name such as rebalances selects its\n"
    "                          members)\n"
    "      --update-baseline   copy REPORT over BASE and exit 0\n"
    "  -q, --quiet             print failures only\n"
    "  -h, --help              this help\n";

static int parse_tol(const char *s, double *out)
{
    char *end;

    *out = strtod(s, &end);
    return end != s && *end == '\0' && *out >= 0 && isfinite(*out);
}

static int copy_file(const char *from, const char *to)
{
    char tmp[4096], buf[65536];
    FILE *in, *out;
    size_t got;
    int bad = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", to);
    in = fopen(from, "rb");
    if (!in)
        return -1;
    out = fopen(tmp, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    while ((got = fread(buf, 1, sizeof(buf), in)) > 0)
        bad |= fwrite(buf, 1, got, out) != got;
    bad |= ferror(in);
    fclose(in);
    bad |= fclose(out) != 0;
    if (bad || rename(tmp, to) < 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        { "baseline",        required_argument, NULL, 'b' },
        { "rtol",            required_argument, NULL, 'r' },
        { "atol",            required_argument, NULL, 'a' },
        { "only",            required_argument, NULL, 'O' },
        { "update-baseline", no_argument,       NULL, 'U' },
        { "quiet",           no_argument,       NULL, 'q' },
        { "help",            no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *baseline = NULL, *only = NULL, *report_path;
    double rtol = 1e-9, atol = 1e-12;
    int c, update = 0, quiet = 0, code = 0;
    cJSON *report;

    while ((c = getopt_long(argc, argv, "b:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            baseline = optarg;
            break;
        case 'r':
            if (!parse_tol(optarg, &rtol))
                return cli_usage_error("check", "--rtol: expected a number "
                                       ">= 0, got '%s'", optarg);
            break;
        case 'a':
            if (!parse_tol(optarg, &atol))
                return cli_usage_error("check", "--atol: expected a number "
                                       ">= 0, got '%s'", optarg);
            break;
        case 'O':
            only = optarg;
            break;
        case 'U':
            update = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(check_usage, stdout);
            return BAL_EXIT_OK;
        default:
            return cli_usage_error("check", NULL);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("check", "expected exactly one REPORT file");
    if (!baseline)
        return cli_usage_error("check", "--baseline is required");
    report_path = argv[optind];
    report = cli_read_json(report_path, &code);
    if (!report)
        return code;
    if (update) {
        cJSON_Delete(report);
        if (copy_file(report_path, baseline) < 0) {
            cli_warn("cannot write '%s'", baseline);
            return BAL_EXIT_RUNTIME;
        }
        if (!quiet)
            fprintf(stderr, "ballast: baseline '%s' updated\n", baseline);
        return BAL_EXIT_OK;
    }
    code = cli_check_report(report, baseline, rtol, atol, only, quiet,
                            stdout);
    cJSON_Delete(report);
    return code;
}
