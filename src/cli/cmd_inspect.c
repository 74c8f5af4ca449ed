/* ballast data inspect: how each price file reads. */
#include "cli.h"

#include "ballast/loader.h"
#include "ballast/numfmt.h"
#include "ballast/report.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char inspect_usage[] =
    "usage: ballast data inspect [--json] FILE...\n"
    "\n"
    "Reads each price file as `ballast run` would (default policies) and\n"
    "reports the detected delimiter, the column roles, data rows read, bars\n"
    "kept, first and last time, bar size and defect counts. Exit 3 at the\n"
    "first file that cannot be read.\n"
    "\n"
    "  -j, --json    a JSON array, one object per file\n"
    "  -h, --help    this help\n";

static const char *const role_names[BAL_COL_COUNT] = {
    "unix", "date", "time", "open", "high", "low", "close", "adj close",
    "volume"
};

static const char *delim_name(char d)
{
    static char buf[2];

    switch (d) {
    case '\t':
        return "\\t";
    case 0:
        return "";
    default:
        buf[0] = d;
        return buf;
    }
}

static cJSON *file_json(const char *path, const bal_series *s)
{
    char t[BAL_NUMFMT_LEN];
    cJSON *o = cJSON_CreateObject(), *cols, *def;
    size_t k;

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "file", path);
    bal_json_add_count(o, "rows", (long long)s->rows);
    bal_json_add_count(o, "bars", (long long)s->n);
    if (s->n) {
        cJSON_AddStringToObject(o, "first",
                                bal_timefmt(t, s->time[0], s->all_midnight));
        cJSON_AddStringToObject(o, "last", bal_timefmt(t, s->time[s->n - 1],
                                                       s->all_midnight));
    } else {
        cJSON_AddNullToObject(o, "first");
        cJSON_AddNullToObject(o, "last");
    }
    bal_json_add_count(o, "bar_seconds", (long long)s->bar_seconds);
    {
        char d[2] = { s->delimiter, '\0' };

        cJSON_AddStringToObject(o, "delimiter", d);
    }
    cols = cJSON_AddObjectToObject(o, "columns");
    for (k = 0; cols && k < BAL_COL_COUNT; k++)
        if (s->col[k] >= 0)
            bal_json_add_count(cols, role_names[k], s->col[k]);
    def = cJSON_AddObjectToObject(o, "defects");
    if (def) {
        const bal_defects *d = &s->defects;

        bal_json_add_count(def, "duplicates", (long long)d->duplicates);
        bal_json_add_count(def, "unsorted", (long long)d->unsorted);
        bal_json_add_count(def, "high_low", (long long)d->high_low);
        bal_json_add_count(def, "open_close_outside", (long long)d->open_close_outside);
        bal_json_add_count(def, "non_positive", (long long)d->non_positive);
        bal_json_add_count(def, "missing", (long long)d->missing);
        bal_json_add_count(def, "spikes", (long long)d->spikes);
        bal_json_add_count(def, "gaps", (long long)d->gaps);
        bal_json_add_count(def, "time_mismatch", (long long)d->time_mismatch);
    }
    return o;
}

static void print_text(const char *path, const bal_series *s)
{
    char a[BAL_NUMFMT_LEN], b[BAL_NUMFMT_LEN];
    const bal_defects *d = &s->defects;
    size_t k;

    printf("%s\n", path);
    printf("  delimiter    '%s'%s\n", delim_name(s->delimiter),
           s->header_line ? "" : " (no header)");
    printf("  columns     ");
    for (k = 0; k < BAL_COL_COUNT; k++)
        if (s->col[k] >= 0)
            printf(" %s=%d", role_names[k], s->col[k]);
    printf("\n  rows         %zu read, %zu bars kept\n", s->rows, s->n);
    if (s->n)
        printf("  range        %s .. %s\n",
               bal_timefmt(a, s->time[0], s->all_midnight),
               bal_timefmt(b, s->time[s->n - 1], s->all_midnight));
    printf("  bar size     %lld s\n", (long long)s->bar_seconds);
    printf("  defects      duplicates %zu, unsorted %zu, high<low %zu, "
           "open/close outside %zu,\n               non-positive %zu, "
           "missing %zu, spikes %zu, gaps %zu, time mismatch %zu\n",
           d->duplicates, d->unsorted, d->high_low, d->open_close_outside,
           d->non_positive, d->missing, d->spikes, d->gaps,
           d->time_mismatch);
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int c, json = 0, code = BAL_EXIT_OK;
    cJSON *arr = NULL;
    bal_error err = BAL_ERROR_INIT;

    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(inspect_usage, stdout);
            return BAL_EXIT_OK;
        default:
            return cli_usage_error("data inspect", NULL);
        }
    }
    if (optind >= argc)
        return cli_usage_error("data inspect", "expected at least one FILE");
    if (json) {
        arr = cJSON_CreateArray();
        if (!arr)
            return BAL_EXIT_RUNTIME;
    }
    for (; optind < argc; optind++) {
        bal_load_options lo = BAL_LOAD_OPTIONS_INIT;
        bal_series s = BAL_SERIES_INIT;

        if (bal_series_load(&s, argv[optind], &lo, &err) < 0) {
            bal_series_release(&s);
            code = cli_fail(&err);
            if (err.code == BAL_EIO)
                code = BAL_EXIT_DATA;   /* an unreadable input file */
            break;
        }
        if (json)
            cJSON_AddItemToArray(arr, file_json(argv[optind], &s));
        else
            print_text(argv[optind], &s);
        bal_series_release(&s);
    }
    if (json && code == BAL_EXIT_OK) {
        char *text = cJSON_Print(arr);

        if (text)
            puts(text);
        free(text);
    }
    cJSON_Delete(arr);
    return code;
}
