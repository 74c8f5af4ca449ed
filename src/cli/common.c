/* Helpers shared by several commands. */
#include "cli.h"

#include "ballast/config.h"
#include "ballast/loader.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_load_options(struct bal_load_options *lo,
                      const struct bal_asset_config *a)
{
    size_t i;

    lo->asset_class = (int)a->asset_class;
    lo->tz_offset_seconds = a->tz == BAL_TZ_FIXED ? a->tz_offset : 0;
    lo->tz_fx_server = a->tz == BAL_TZ_FX_SERVER;
    lo->date_format = a->date_format;
    lo->use_adj_close = a->price_field == BAL_PRICE_ADJ_CLOSE;
    lo->duplicates = (int)a->duplicates;
    lo->bad_bars = (int)a->bad_bars;
    lo->spike_k = a->spike_k;
    lo->spike_repair = a->spike_repair;
    /* the config's roles are in the order of enum bal_column */
    _Static_assert((int)BAL_COLMAP_N == (int)BAL_COL_COUNT,
                   "config column roles must match the loader's");
    for (i = 0; i < BAL_COL_COUNT; i++) {
        lo->column_name[i] = a->columns.set ? a->columns.name[i] : NULL;
        lo->column_index[i] = a->columns.set && !a->columns.name[i]
                            ? a->columns.index[i] : -1;
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (!f)
        return NULL;
    do {
        if (cap - n < 65536) {
            char *nb = realloc(buf, cap + 65536 + 1);

            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

cJSON *cli_read_json(const char *path, int *code)
{
    size_t len = 0;
    char *text = slurp(path, &len);
    cJSON *root;

    if (!text) {
        cli_warn("cannot read '%s': %s", path, strerror(errno));
        *code = BAL_EXIT_RUNTIME;
        return NULL;
    }
    /* the whole file must be one JSON value: trailing bytes are an error */
    root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    if (!root || !cJSON_IsObject(root)) {
        cli_warn("%s: not a JSON report", path);
        cJSON_Delete(root);
        free(text);
        *code = BAL_EXIT_DATA;
        return NULL;
    }
    free(text);
    return root;
}

static int listed(const char *only, const char *name)
{
    size_t len = strlen(name);
    const char *p = only;

    if (!only)
        return 1;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);

        /* "rebalances" also selects "rebalances.count" */
        if (k <= len && !strncmp(p, name, k)
            && (name[k] == '\0' || name[k] == '.'))
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

struct check_ctx {
    double rtol, atol;
    const char *only;
    size_t checked, failed;
    FILE *out;
};

static void check_value(struct check_ctx *c, const char *name,
                        const cJSON *now, const cJSON *base)
{
    if (!listed(c->only, name))
        return;
    c->checked++;
    if (!now || !base) {
        c->failed++;
        fprintf(c->out, "regression: %s: missing in the %s\n", name,
               now ? "baseline" : "report");
        return;
    }
    if (cJSON_IsNumber(now) && cJSON_IsNumber(base)) {
        double x = now->valuedouble, b = base->valuedouble;
        double tol = c->atol + c->rtol * fabs(b);

        if (!(fabs(x - b) <= tol)) {
            c->failed++;
            fprintf(c->out, "regression: %s: %.17g, baseline %.17g (|diff| %.3g > "
                   "%.3g)\n", name, x, b, fabs(x - b), tol);
        }
        return;
    }
    if (cJSON_IsNull(now) && cJSON_IsNull(base))
        return;
    if (cJSON_IsBool(now) && cJSON_IsBool(base)
        && cJSON_IsTrue(now) == cJSON_IsTrue(base))
        return;
    c->failed++;
    fprintf(c->out, "regression: %s: values differ in kind or value\n",
            name);
}

/* Walks both metric objects; nested objects flatten to dotted names. */
static void check_object(struct check_ctx *c, const char *prefix,
                         const cJSON *now, const cJSON *base)
{
    const cJSON *it;
    char name[256];

    cJSON_ArrayForEach(it, base) {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(now,
                                                              it->string);

        snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "",
                 it->string);
        if (cJSON_IsObject(it) && cJSON_IsObject(other))
            check_object(c, name, other, it);
        else
            check_value(c, name, other, it);
    }
    cJSON_ArrayForEach(it, now) {
        if (cJSON_GetObjectItemCaseSensitive(base, it->string))
            continue;
        snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "",
                 it->string);
        check_value(c, name, it, NULL);
    }
}

int cli_check_report(const cJSON *report, const char *baseline, double rtol,
                     double atol, const char *only, int quiet, FILE *out)
{
    struct check_ctx c = { rtol, atol, only, 0, 0, NULL };
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(report, "metrics");
    const cJSON *base;
    cJSON *root;
    int code = 0;

    root = cli_read_json(baseline, &code);
    if (!root)
        return code;
    base = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    if (!cJSON_IsObject(base)) {
        cli_warn("%s: no \"metrics\" object", baseline);
        cJSON_Delete(root);
        return BAL_EXIT_DATA;
    }
    if (!cJSON_IsObject(now)) {
        cli_warn("report has no \"metrics\" object");
        cJSON_Delete(root);
        return BAL_EXIT_DATA;
    }
    c.out = out;
    check_object(&c, "", now, base);
    cJSON_Delete(root);
    if (only && c.checked == 0) {
        /* a gate that compares nothing must not pass */
        fprintf(out, "regression: --only '%s' matched no metric\n", only);
        c.failed++;
    }
    if (!quiet || c.failed)
        fprintf(out, "check: %zu of %zu metrics outside tolerance (rtol %g, "
                "atol %g)\n", c.failed, c.checked, rtol, atol);
    return c.failed ? BAL_EXIT_REGRESSION : BAL_EXIT_OK;
}
