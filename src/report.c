#include "ballast/report.h"

#include "ballast/numfmt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Every file a run may produce: what a new run does not write again is
 * removed, so a folder never mixes two runs. */
static const char *const known_outputs[] = {
    "equity.csv", "weights.csv", "trades.csv", "report.html",
    "series/atr.csv", "series/vol.csv", "series/corr.csv",
    "series/regime.csv", "report.json", NULL
};

#define MAX_FILES 16

struct out_file {
    char name[64];
    FILE *f;
    char hash[33];
};

struct bal_outdir {
    char *dir, *tmp;
    struct out_file files[MAX_FILES];
    size_t n;
    int committed;
};

static char *join(const char *a, const char *b)
{
    size_t len = strlen(a) + strlen(b) + 2;
    char *s = malloc(len);

    if (s)
        snprintf(s, len, "%s/%s", a, b);
    return s;
}

static int mkdir_p(const char *path, bal_error *err)
{
    char buf[4096];
    size_t i, len = strlen(path);

    if (len >= sizeof(buf))
        return bal_error_set(err, BAL_EIO, "path too long: '%s'", path);
    memcpy(buf, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return bal_error_set(err, BAL_EIO, "cannot create '%s': %s", buf,
                                 strerror(errno));
        buf[i] = path[i];
    }
    return BAL_OK;
}

int bal_outdir_open(bal_outdir **out, const char *dir, bal_error *err)
{
    bal_outdir *od;
    char name[64];
    int rc;

    *out = NULL;
    od = calloc(1, sizeof(*od));
    if (!od)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    snprintf(name, sizeof(name), ".tmp-%ld", (long)getpid());
    od->dir = strdup(dir);
    od->tmp = join(dir, name);
    if (!od->dir || !od->tmp) {
        bal_outdir_free(od);
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    }
    rc = mkdir_p(od->tmp, err);
    if (rc < 0) {
        bal_outdir_free(od);
        return rc;
    }
    *out = od;
    return BAL_OK;
}

static void remove_tree(const char *tmp, const bal_outdir *od)
{
    char *p;
    size_t i;

    for (i = 0; i < od->n; i++) {
        p = join(tmp, od->files[i].name);
        if (p)
            unlink(p);
        free(p);
    }
    p = join(tmp, "series");
    if (p)
        rmdir(p);
    free(p);
    rmdir(tmp);
}

void bal_outdir_free(bal_outdir *od)
{
    size_t i;

    if (!od)
        return;
    for (i = 0; i < od->n; i++)
        if (od->files[i].f)
            fclose(od->files[i].f);
    if (!od->committed && od->tmp)
        remove_tree(od->tmp, od);
    free(od->dir);
    free(od->tmp);
    free(od);
}

FILE *bal_outdir_file(bal_outdir *od, const char *name, bal_error *err)
{
    struct out_file *of;
    char *path;
    const char *slash = strrchr(name, '/');

    if (od->n == MAX_FILES || strlen(name) >= sizeof(of->name)) {
        bal_error_set(err, BAL_EIO, "too many output files");
        return NULL;
    }
    of = &od->files[od->n];
    if (slash) {
        char sub[64];

        snprintf(sub, sizeof(sub), "%.*s", (int)(slash - name), name);
        path = join(od->tmp, sub);
        if (!path || mkdir_p(path, err) < 0) {
            free(path);
            if (!path)
                bal_error_set(err, BAL_ENOMEM, "out of memory");
            return NULL;
        }
        free(path);
    }
    path = join(od->tmp, name);
    if (!path) {
        bal_error_set(err, BAL_ENOMEM, "out of memory");
        return NULL;
    }
    of->f = fopen(path, "wb");
    if (!of->f) {
        bal_error_set(err, BAL_EIO, "cannot create '%s': %s", path,
                      strerror(errno));
        free(path);
        return NULL;
    }
    free(path);
    snprintf(of->name, sizeof(of->name), "%s", name);
    od->n++;
    return of->f;
}

static int hash_file(char hex[33], const char *path, bal_error *err)
{
    XXH3_state_t *st = XXH3_createState();
    XXH128_canonical_t canon;
    unsigned char buf[1 << 16];
    size_t got, i;
    FILE *f;

    if (!st)
        return bal_error_set(err, BAL_ENOMEM, "out of memory");
    f = fopen(path, "rb");
    if (!f) {
        XXH3_freeState(st);
        return bal_error_set(err, BAL_EIO, "cannot read '%s': %s", path,
                             strerror(errno));
    }
    XXH3_128bits_reset(st);
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        XXH3_128bits_update(st, buf, got);
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    if (ferror(f)) {
        fclose(f);
        return bal_error_set(err, BAL_EIO, "cannot read '%s'", path);
    }
    fclose(f);
    for (i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", canon.digest[i]);
    return BAL_OK;
}

int bal_outdir_seal(bal_outdir *od, bal_error *err)
{
    size_t i;
    int rc;

    for (i = 0; i < od->n; i++) {
        struct out_file *of = &od->files[i];
        char *path;
        int bad;

        if (!of->f)
            continue;
        bad = ferror(of->f);
        bad |= fclose(of->f) != 0;
        of->f = NULL;
        path = join(od->tmp, of->name);
        if (!path)
            return bal_error_set(err, BAL_ENOMEM, "out of memory");
        if (bad) {
            rc = bal_error_set(err, BAL_EIO, "cannot write '%s'", path);
            free(path);
            return rc;
        }
        rc = hash_file(of->hash, path, err);
        free(path);
        if (rc < 0)
            return rc;
    }
    return BAL_OK;
}

size_t bal_outdir_count(const bal_outdir *od)
{
    return od->n;
}

const char *bal_outdir_name(const bal_outdir *od, size_t i)
{
    return od->files[i].name;
}

const char *bal_outdir_hash(const bal_outdir *od, size_t i)
{
    return od->files[i].hash;
}

/* Unlinks DIR/name (a missing file is fine). */
static void unlink_in(const char *dir, const char *name)
{
    char *p = join(dir, name);

    if (p)
        unlink(p);
    free(p);
}

int bal_outdir_commit(bal_outdir *od, bal_error *err)
{
    size_t i, j;
    int rc = bal_outdir_seal(od, err);

    if (rc < 0)
        return rc;
    /* The old report.json goes first: until the new one lands, the
     * folder holds no report describing files that are changing, so a
     * killed run never leaves a report next to another run's files. */
    unlink_in(od->dir, "report.json");
    for (i = 0; i < od->n; i++) {
        const char *name = od->files[i].name;
        char *from = join(od->tmp, name), *to = join(od->dir, name);

        rc = BAL_OK;
        if (!from || !to)
            rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        else if (strchr(name, '/')) {
            char *sub = join(od->dir, "series");

            if (!sub)
                rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
            else
                rc = mkdir_p(sub, err);
            free(sub);
        }
        if (rc == BAL_OK && strcmp(name, "report.json") && rename(from, to) < 0)
            rc = bal_error_set(err, BAL_EIO, "cannot rename '%s' to '%s': "
                               "%s", from, to, strerror(errno));
        free(from);
        free(to);
        if (rc < 0)
            return rc;
    }
    /* outputs of an earlier run that this one does not write */
    for (i = 0; known_outputs[i]; i++) {
        int produced = 0;

        for (j = 0; j < od->n; j++)
            produced |= !strcmp(od->files[j].name, known_outputs[i]);
        if (!produced)
            unlink_in(od->dir, known_outputs[i]);
    }
    for (i = 0; i < od->n; i++) {
        char *from, *to;

        if (strcmp(od->files[i].name, "report.json"))
            continue;
        from = join(od->tmp, "report.json");
        to = join(od->dir, "report.json");
        rc = BAL_OK;
        if (!from || !to)
            rc = bal_error_set(err, BAL_ENOMEM, "out of memory");
        else if (rename(from, to) < 0)
            rc = bal_error_set(err, BAL_EIO, "cannot rename '%s' to '%s': "
                               "%s", from, to, strerror(errno));
        free(from);
        free(to);
        if (rc < 0)
            return rc;
    }
    od->committed = 1;
    remove_tree(od->tmp, od);
    return BAL_OK;
}

/* ---- CSV ----------------------------------------------------------- */

static int csv_fail(bal_error *err, const char *name)
{
    return bal_error_set(err, BAL_EIO, "cannot write '%s'", name);
}

int bal_report_write_csv(bal_outdir *od, const bal_result *res,
                         const char *const *symbols, bal_error *err)
{
    char t[BAL_NUMFMT_LEN], t2[BAL_NUMFMT_LEN], a[BAL_NUMFMT_LEN];
    char b[BAL_NUMFMT_LEN], c[BAL_NUMFMT_LEN], d[BAL_NUMFMT_LEN];
    char e[BAL_NUMFMT_LEN], f[BAL_NUMFMT_LEN], g[BAL_NUMFMT_LEN];
    FILE *out;
    size_t i;

    out = bal_outdir_file(od, "equity.csv", err);
    if (!out)
        return err ? err->code : BAL_EIO;
    fputs("time,equity,cash,gross,net,drawdown,regime,dd_multiplier\n", out);
    for (i = 0; i < res->n_rows; i++) {
        const char *regime = bal_regime_name(res->regime[i]);

        fprintf(out, "%s,%s,%s,%s,%s,%s,%s,%s\n",
                bal_timefmt(t, res->time[i], res->date_only),
                bal_numfmt(a, res->equity[i], ""),
                bal_numfmt(b, res->cash[i], ""),
                bal_numfmt(c, res->gross[i], ""),
                bal_numfmt(d, res->net[i], ""),
                bal_numfmt(e, res->drawdown[i], ""),
                regime ? regime : "", bal_numfmt(f, res->dd_mult[i], ""));
    }
    if (ferror(out))
        return csv_fail(err, "equity.csv");

    out = bal_outdir_file(od, "weights.csv", err);
    if (!out)
        return err ? err->code : BAL_EIO;
    fputs("time,symbol,target,actual\n", out);
    for (i = 0; i < res->n_weights; i++) {
        const bal_weight_row *w = &res->weights[i];

        fprintf(out, "%s,%s,%s,%s\n",
                bal_timefmt(t, w->time, res->date_only), symbols[w->asset],
                bal_numfmt(a, w->target, ""), bal_numfmt(b, w->actual, ""));
    }
    if (ferror(out))
        return csv_fail(err, "weights.csv");

    out = bal_outdir_file(od, "trades.csv", err);
    if (!out)
        return err ? err->code : BAL_EIO;
    fputs("time,decided,symbol,side,units,price,notional,cost,triggers\n",
          out);
    for (i = 0; i < res->book.n_trades; i++) {
        const bal_trade *tr = &res->book.trades[i];
        char trig[128];
        double units = tr->units < 0 ? -tr->units : tr->units;

        fprintf(out, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
                bal_timefmt(t, tr->time, res->date_only),
                bal_timefmt(t2, tr->decided, res->date_only),
                symbols[tr->asset], tr->units < 0 ? "sell" : "buy",
                bal_numfmt(a, units, ""), bal_numfmt(b, tr->price, ""),
                bal_numfmt(c, units * tr->price, ""),
                bal_numfmt(g, tr->cost, ""),
                bal_trigger_join(trig, sizeof(trig), tr->triggers));
    }
    if (ferror(out))
        return csv_fail(err, "trades.csv");
    return BAL_OK;
}

/* ---- JSON ---------------------------------------------------------- */

cJSON *bal_json_add_number(cJSON *obj, const char *key, double x)
{
    char buf[BAL_NUMFMT_LEN];

    return cJSON_AddRawToObject(obj, key, bal_numfmt(buf, x, "null"));
}

cJSON *bal_json_add_count(cJSON *obj, const char *key, long long n)
{
    char buf[BAL_NUMFMT_LEN];

    snprintf(buf, sizeof(buf), "%lld", n);
    return cJSON_AddRawToObject(obj, key, buf);
}

int bal_json_push_number(cJSON *arr, double x)
{
    char buf[BAL_NUMFMT_LEN];
    cJSON *item = cJSON_CreateRaw(bal_numfmt(buf, x, "null"));

    if (!item)
        return BAL_ENOMEM;
    cJSON_AddItemToArray(arr, item);
    return BAL_OK;
}

static void add_time(cJSON *obj, const char *key, int64_t t, int date_only)
{
    char buf[BAL_NUMFMT_LEN];

    cJSON_AddStringToObject(obj, key, bal_timefmt(buf, t, date_only));
}

static void add_count(cJSON *obj, const char *key, size_t n)
{
    bal_json_add_count(obj, key, (long long)n);
}

static cJSON *defects_json(const bal_defects *d)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    add_count(o, "duplicates", d->duplicates);
    add_count(o, "unsorted", d->unsorted);
    add_count(o, "high_low", d->high_low);
    add_count(o, "open_close_outside", d->open_close_outside);
    add_count(o, "non_positive", d->non_positive);
    add_count(o, "missing", d->missing);
    add_count(o, "spikes", d->spikes);
    add_count(o, "gaps", d->gaps);
    add_count(o, "time_mismatch", d->time_mismatch);
    return o;
}

static cJSON *data_json(const bal_report_input *in, const bal_result *res)
{
    cJSON *data = cJSON_CreateObject(), *assets;
    size_t i;

    if (!data)
        return NULL;
    cJSON_AddStringToObject(data, "calendar", in->calendar);
    add_count(data, "steps", res->n_steps);
    assets = cJSON_AddArrayToObject(data, "assets");
    for (i = 0; assets && i < res->n_assets; i++) {
        const bal_series *s = in->series[i];
        cJSON *a = cJSON_CreateObject();

        if (!a)
            break;
        cJSON_AddItemToArray(assets, a);
        cJSON_AddStringToObject(a, "symbol", in->symbols[i]);
        cJSON_AddStringToObject(a, "file", in->files[i]);
        add_count(a, "rows", s->rows);
        add_count(a, "bars", s->n);
        if (s->n) {
            add_time(a, "first", s->time[0], res->date_only);
            add_time(a, "last", s->time[s->n - 1], res->date_only);
        }
        bal_json_add_number(a, "bars_per_year",
                            res->assets[i].bars_per_year);
        if (in->hashes)
            cJSON_AddStringToObject(a, "hash", in->hashes[i]);
        cJSON_AddItemToObject(a, "defects", defects_json(&s->defects));
    }
    return data;
}

static cJSON *conventions_json(const bal_result *res)
{
    cJSON *c = cJSON_CreateObject();

    if (!c)
        return NULL;
    cJSON_AddStringToObject(c, "returns",
                            "r_t = E_t / E_{t-1} - 1 over equity.csv rows");
    bal_json_add_number(c, "periods_per_year",
                        res->metrics.periods_per_year);
    cJSON_AddStringToObject(c, "volatility", "sample sd (ddof 1) x sqrt(A)");
    cJSON_AddStringToObject(c, "sharpe",
                            "mean(r - rf_p) / sd(r - rf_p) x sqrt(A), "
                            "rf_p = (1 + rf)^(1/A) - 1");
    cJSON_AddStringToObject(c, "sortino",
                            "mean(r - mar_p) sqrt(A) / sqrt(sum min(r - "
                            "mar_p, 0)^2 / n)");
    cJSON_AddStringToObject(c, "drawdown",
                            "E_t / running max - 1; E_0 counts as a peak");
    cJSON_AddStringToObject(c, "var_cvar",
                            "historical, type-7 quantile at 5 %");
    cJSON_AddStringToObject(c, "moments", "skew and kurtosis with 1/n");
    cJSON_AddStringToObject(c, "turnover",
                            "(A/n) x sum over rebalances of half sum "
                            "|dv| / E_pre, initial allocation excluded");
    cJSON_AddStringToObject(c, "time", "UTC");
    return c;
}

static cJSON *metrics_json(const bal_result *res)
{
    const bal_metrics *m = &res->metrics;
    cJSON *o = cJSON_CreateObject(), *rb, *by;
    unsigned k;

    if (!o)
        return NULL;
    bal_json_add_number(o, "total_return", m->total_return);
    bal_json_add_number(o, "cagr", m->cagr);
    bal_json_add_number(o, "cagr_calendar", m->cagr_calendar);
    bal_json_add_number(o, "volatility", m->volatility);
    bal_json_add_number(o, "sharpe", m->sharpe);
    bal_json_add_number(o, "sortino", m->sortino);
    bal_json_add_number(o, "max_drawdown", m->max_drawdown);
    add_count(o, "max_drawdown_duration", m->max_drawdown_duration);
    bal_json_add_number(o, "max_drawdown_duration_days",
                        m->max_drawdown_duration_days);
    add_count(o, "longest_underwater", m->longest_underwater);
    bal_json_add_number(o, "longest_underwater_days",
                        m->longest_underwater_days);
    bal_json_add_number(o, "calmar", m->calmar);
    bal_json_add_number(o, "ulcer_index", m->ulcer_index);
    bal_json_add_number(o, "var_95", m->var_95);
    bal_json_add_number(o, "cvar_95", m->cvar_95);
    bal_json_add_number(o, "skew", m->skew);
    bal_json_add_number(o, "excess_kurtosis", m->excess_kurtosis);
    bal_json_add_number(o, "best_period", m->best_period);
    bal_json_add_number(o, "worst_period", m->worst_period);
    bal_json_add_number(o, "hit_rate", m->hit_rate);
    bal_json_add_number(o, "recovery_factor", m->recovery_factor);
    bal_json_add_number(o, "turnover", res->turnover);
    bal_json_add_number(o, "total_costs", res->book.total_costs);
    rb = cJSON_AddObjectToObject(o, "rebalances");
    if (rb) {
        add_count(rb, "count", res->rebalances);
        by = cJSON_AddObjectToObject(rb, "by_trigger");
        for (k = 1; by && k < BAL_TRIG_COUNT; k++)
            add_count(by, bal_trigger_name(k), res->by_trigger[k]);
    }
    bal_json_add_number(o, "avg_gross_exposure", res->avg_gross);
    bal_json_add_number(o, "max_gross_exposure", res->max_gross);
    bal_json_add_number(o, "time_in_market", res->time_in_market);
    add_count(o, "n_returns", m->n_returns);
    bal_json_add_number(o, "final_equity",
                        res->n_rows ? res->equity[res->n_rows - 1] : NAN);
    cJSON_AddBoolToObject(o, "ruined", res->ruined);
    return o;
}

static cJSON *episodes_json(const bal_result *res)
{
    const bal_metrics *m = &res->metrics;
    cJSON *arr = cJSON_CreateArray();
    size_t i;

    for (i = 0; arr && i < m->n_episodes; i++) {
        const bal_drawdown_episode *ep = &m->episodes[i];
        cJSON *o = cJSON_CreateObject();

        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
        add_time(o, "peak", ep->peak_time, res->date_only);
        add_time(o, "trough", ep->trough_time, res->date_only);
        if (ep->recovered)
            add_time(o, "recovery", ep->end_time, res->date_only);
        else
            cJSON_AddNullToObject(o, "recovery");
        bal_json_add_number(o, "depth", ep->depth);
        add_count(o, "length", ep->length);
        bal_json_add_number(o, "length_days", ep->length_days);
        add_count(o, "to_recover", ep->to_recover);
        bal_json_add_number(o, "to_recover_days", ep->to_recover_days);
    }
    return arr;
}

static cJSON *assets_json(const bal_report_input *in, const bal_result *res)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i;

    for (i = 0; arr && i < res->n_assets; i++) {
        const bal_asset_result *a = &res->assets[i];
        const bal_defects *d = &in->series[i]->defects;
        cJSON *o = cJSON_CreateObject();

        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "symbol", in->symbols[i]);
        bal_json_add_number(o, "avg_weight", a->avg_weight);
        bal_json_add_number(o, "final_weight", a->final_weight);
        bal_json_add_number(o, "pnl", a->pnl);
        bal_json_add_number(o, "costs", a->costs);
        bal_json_add_number(o, "risk_contribution", a->risk_contribution);
        bal_json_add_number(o, "realised_volatility", a->realised_vol);
        add_count(o, "trades", a->trades);
        if (in->repairs)
            add_count(o, "defects_repaired", in->repairs[i]);
        add_count(o, "defects_found",
                  d->duplicates + d->unsorted + d->high_low
                      + d->open_close_outside + d->non_positive + d->missing
                      + d->spikes + d->gaps + d->time_mismatch);
    }
    return arr;
}

static void add_matrix(cJSON *obj, const char *key, const double *m,
                       size_t n)
{
    cJSON *rows = cJSON_AddArrayToObject(obj, key);
    size_t i, j;

    for (i = 0; rows && i < n; i++) {
        cJSON *row = cJSON_CreateArray();

        if (!row)
            break;
        cJSON_AddItemToArray(rows, row);
        for (j = 0; j < n; j++)
            bal_json_push_number(row, m[i * n + j]);
    }
}

static cJSON *correlation_json(const bal_report_input *in,
                               const bal_result *res)
{
    cJSON *c = cJSON_CreateObject(), *syms, *pairs;
    size_t i, n = res->n_assets;

    if (!c)
        return NULL;
    syms = cJSON_AddArrayToObject(c, "symbols");
    for (i = 0; syms && i < n; i++)
        cJSON_AddItemToArray(syms, cJSON_CreateString(in->symbols[i]));
    add_matrix(c, "final", res->final_corr, n);
    add_matrix(c, "calm", res->calm_corr, n);
    add_matrix(c, "stress", res->stress_corr, n);
    pairs = cJSON_AddArrayToObject(c, "stress_pairs");
    for (i = 0; pairs && i < res->n_stress_pairs; i++) {
        size_t a = res->stress_i[i], b = res->stress_j[i];
        cJSON *o = cJSON_CreateObject();
        char name[128];

        if (!o)
            break;
        cJSON_AddItemToArray(pairs, o);
        snprintf(name, sizeof(name), "%s|%s", in->symbols[a],
                 in->symbols[b]);
        cJSON_AddStringToObject(o, "pair", name);
        bal_json_add_number(o, "calm", res->calm_corr[a * n + b]);
        bal_json_add_number(o, "stress", res->stress_corr[a * n + b]);
        bal_json_add_number(o, "rise", res->stress_diff[i]);
    }
    add_count(c, "stress_steps", res->stress_steps);
    add_count(c, "psd_repairs", res->psd_repairs);
    bal_json_add_number(c, "shrinkage", res->shrinkage);
    return c;
}

/* The HRP tree of the last decision: leaves in order and every merge
 * (ids as SPEC §12: leaves 0..n-1 in config order, merge k is n + k), or
 * null without HRP. */
static cJSON *clusters_json(const bal_report_input *in,
                            const bal_result *res)
{
    cJSON *c, *order, *merges;
    size_t i;

    if (res->n_leaves == 0)
        return cJSON_CreateNull();
    c = cJSON_CreateObject();
    if (!c)
        return NULL;
    order = cJSON_AddArrayToObject(c, "order");
    for (i = 0; order && i < res->n_leaves; i++)
        cJSON_AddItemToArray(order, cJSON_CreateString(
                                        in->symbols[res->leaf_order[i]]));
    merges = cJSON_AddArrayToObject(c, "merges");
    for (i = 0; merges && i + 1 < res->n_leaves; i++) {
        const bal_alloc_merge *m = &res->merges[i];
        cJSON *o = cJSON_CreateObject();

        if (!o)
            break;
        cJSON_AddItemToArray(merges, o);
        add_count(o, "id", res->n_assets + i);
        add_count(o, "left", m->left);
        add_count(o, "right", m->right);
        bal_json_add_number(o, "distance", m->distance);
        add_count(o, "size", m->size);
    }
    return c;
}

cJSON *bal_report_json(const bal_report_input *in, const bal_result *res)
{
    cJSON *root = cJSON_CreateObject(), *tool, *files;
    size_t i;

    if (!root)
        return NULL;
    tool = cJSON_AddObjectToObject(root, "tool");
    if (tool) {
        cJSON_AddStringToObject(tool, "name", "ballast");
        cJSON_AddStringToObject(tool, "version", in->version);
    }
    if (in->config)
        cJSON_AddItemReferenceToObject(root, "config", in->config);
    cJSON_AddItemToObject(root, "data", data_json(in, res));
    cJSON_AddItemToObject(root, "conventions", conventions_json(res));
    if (res->n_rows) {
        add_time(root, "start", res->time[0], res->date_only);
        add_time(root, "end", res->time[res->n_rows - 1], res->date_only);
    }
    cJSON_AddItemToObject(root, "metrics", metrics_json(res));
    cJSON_AddItemToObject(root, "assets", assets_json(in, res));
    cJSON_AddItemToObject(root, "drawdown_episodes", episodes_json(res));
    cJSON_AddItemToObject(root, "correlation", correlation_json(in, res));
    cJSON_AddItemToObject(root, "clusters", clusters_json(in, res));
    files = cJSON_AddObjectToObject(root, "files");
    for (i = 0; files && in->outdir && i < bal_outdir_count(in->outdir); i++)
        cJSON_AddStringToObject(files, bal_outdir_name(in->outdir, i),
                                bal_outdir_hash(in->outdir, i));
    return root;
}
