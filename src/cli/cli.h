#ifndef BAL_CLI_H
#define BAL_CLI_H
#include "ballast/error.h"

#include <stdio.h>

/* Exit codes, SPEC §8. */
enum {
    BAL_EXIT_OK = 0,
    BAL_EXIT_REGRESSION = 1,    /* `check` found a regression */
    BAL_EXIT_USAGE = 2,         /* usage or config error */
    BAL_EXIT_DATA = 3,          /* input data error */
    BAL_EXIT_RUNTIME = 4        /* runtime, I/O or numeric failure */
};

/* Prints "ballast: <msg>" (when fmt is non-NULL) and "try 'ballast CMD
 * --help'" to stderr; returns BAL_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) BAL_PRINTF(2, 3);

/* Prints "ballast: <formatted err>" and returns the exit code for its
 * status: EPARSE -> 3, ECONFIG/EINVAL -> 2, others -> 4. */
int cli_fail(const bal_error *err);

/* The exit code for a library status. */
int cli_exit_code(int status);

/* "ballast: <msg>" on stderr. */
void cli_warn(const char *fmt, ...) BAL_PRINTF(1, 2);

/* Quiet mode (-q) silences cli_info. */
extern int cli_quiet;
void cli_info(const char *fmt, ...) BAL_PRINTF(1, 2);

struct cJSON;
struct bal_load_options;
struct bal_asset_config;

/* Loader options for one configured asset. */
void cli_load_options(struct bal_load_options *lo,
                      const struct bal_asset_config *a);

/* Reads and parses a JSON file; NULL after printing why (exit code in
 * *code: 3 for a malformed file, 4 when it cannot be read). */
struct cJSON *cli_read_json(const char *path, int *code);

/* Compares the metrics of `report` with those of the baseline report file
 * (SPEC §8 check rule). `only` is NULL or a comma-separated list of metric
 * names (one that matches nothing fails). Prints each failure (and a
 * summary unless quiet) to `out` and returns 0 (pass), 1 (regression) or
 * 3 (malformed baseline). */
int cli_check_report(const struct cJSON *report, const char *baseline,
                     double rtol, double atol, const char *only, int quiet,
                     FILE *out);

/* One entry per command: src/cli/cmd_<name>.c. argv[0] is "ballast NAME". */
int cmd_run(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_inspect(int argc, char **argv);     /* in cmd_inspect.c */
int cmd_weights(int argc, char **argv);

#endif /* BAL_CLI_H */
