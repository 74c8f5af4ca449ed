/* ballast: command dispatch. */
#include "cli.h"

#include "ballast/version.h"

#include <gsl/gsl_errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_quiet;

static const struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cmds[] = {
    { "run",      cmd_run,      "backtest a config over its CSV inputs" },
    { "validate", cmd_validate, "check a config and its data headers" },
    { "check",    cmd_check,    "compare a report's metrics to a baseline" },
    { "data",     cmd_data,     "inspect price files or generate a market" },
    { "weights",  cmd_weights,  "allocate weights for a covariance or returns" },
    { NULL, NULL, NULL }
};

static void usage(FILE *f)
{
    const struct cli_cmd *c;

    fputs("usage: ballast COMMAND [OPTIONS]\n"
          "       ballast --help | --version\n\ncommands:\n", f);
    for (c = cmds; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fputs("\nEvery command takes --help. Exit codes: 0 ok, 1 regression "
          "found by check,\n2 usage or config error, 3 input data error, "
          "4 runtime failure.\n", f);
}

int cli_exit_code(int status)
{
    switch (status) {
    case BAL_OK:
        return BAL_EXIT_OK;
    case BAL_EPARSE:
        return BAL_EXIT_DATA;
    case BAL_ECONFIG:
    case BAL_EINVAL:
        return BAL_EXIT_USAGE;
    default:
        return BAL_EXIT_RUNTIME;
    }
}

int cli_fail(const bal_error *err)
{
    char buf[1024];

    fprintf(stderr, "ballast: %s\n", bal_error_format(err, buf, sizeof(buf)));
    return cli_exit_code(err->code);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    if (fmt) {
        fputs("ballast: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    fprintf(stderr, "try 'ballast%s%s --help'\n", cmd ? " " : "",
            cmd ? cmd : "");
    return BAL_EXIT_USAGE;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;

    fputs("ballast: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_info(const char *fmt, ...)
{
    va_list ap;

    if (cli_quiet)
        return;
    fputs("ballast: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    const struct cli_cmd *c;
    char name[64];

    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return BAL_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")
        || !strcmp(argv[1], "help")) {
        usage(stdout);
        return BAL_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ballast %s\n", BAL_VERSION);
        return BAL_EXIT_OK;
    }
    for (c = cmds; c->name; c++) {
        if (strcmp(argv[1], c->name))
            continue;
        /* getopt's own messages then name the command */
        snprintf(name, sizeof(name), "ballast %s", c->name);
        argv[1] = name;
        return c->run(argc - 1, argv + 1);
    }
    return cli_usage_error(NULL, "'%s' is not a ballast command", argv[1]);
}
