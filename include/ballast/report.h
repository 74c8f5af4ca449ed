#ifndef BAL_REPORT_H
#define BAL_REPORT_H
#include <stdio.h>
#include <cjson/cJSON.h>
#include "ballast/engine.h"

/* Output folder and report writer (SPEC §7).
 *
 * Every file goes first into DIR/.tmp-<pid>/ and is renamed into place by
 * bal_outdir_commit, report.json last, so a killed run leaves either the
 * previous complete set or the new one. Files an earlier run left that
 * this run does not produce are removed. */

typedef struct bal_outdir bal_outdir;

/* Creates DIR (and parents) and its temporary folder. Caller owns *out:
 * free with bal_outdir_free, which discards uncommitted files. BAL_EIO. */
int bal_outdir_open(bal_outdir **out, const char *dir, bal_error *err);
/* NULL-safe; removes the temporary folder if not committed. */
void bal_outdir_free(bal_outdir *od);

/* Opens NAME ("equity.csv", "series/atr.csv") for writing inside the
 * temporary folder. The stream stays owned by od. NULL on failure with err
 * set (BAL_EIO). */
FILE *bal_outdir_file(bal_outdir *od, const char *name, bal_error *err);

/* Closes every open file and computes its XXH3-128 hash. BAL_EIO when a
 * write failed. */
int bal_outdir_seal(bal_outdir *od, bal_error *err);

/* Sealed files: count, name and 32-hex-digit XXH3-128 (borrowed). */
size_t bal_outdir_count(const bal_outdir *od);
const char *bal_outdir_name(const bal_outdir *od, size_t i);
const char *bal_outdir_hash(const bal_outdir *od, size_t i);

/* Renames every file into DIR in the order they were opened (so open
 * report.json last), removes stale outputs of earlier runs and the
 * temporary folder. BAL_EIO. */
int bal_outdir_commit(bal_outdir *od, bal_error *err);

/* Writes equity.csv, weights.csv and trades.csv of a result (formats as
 * SPEC §7, numbers in shortest round-trip form). */
int bal_report_write_csv(bal_outdir *od, const bal_result *res,
                         const char *const *symbols, bal_error *err);

/* What report.json describes besides the result. */
typedef struct bal_report_input {
    const char *version;            /* tool version */
    cJSON *config;                  /* normalised config, borrowed */
    const char *const *symbols;     /* n */
    const char *const *files;       /* n, the asset files as given */
    bal_series *const *series;      /* n, as used by the run */
    const char *const *hashes;      /* n XXH3-64 hex of the files, or NULL */
    /* n: repairs the loader made (bars fixed by bad_bars "repair",
     * closes replaced by spike_repair; a bar fixed for two defects counts
     * twice), or NULL */
    const size_t *repairs;
    const char *calendar;           /* "union" | "intersection" */
    const bal_outdir *outdir;       /* sealed files to list, or NULL */
} bal_report_input;

/* Builds report.json as a new cJSON tree (fixed key order, numbers in
 * shortest round-trip form, non-finite as null). Caller frees it with
 * cJSON_Delete. NULL on ENOMEM. */
cJSON *bal_report_json(const bal_report_input *in, const bal_result *res);

/* Adds a number to a cJSON object in shortest round-trip form (non-finite
 * -> null). Returns the item or NULL on ENOMEM. */
cJSON *bal_json_add_number(cJSON *obj, const char *key, double x);
/* Adds a whole number (a count) as plain digits. */
cJSON *bal_json_add_count(cJSON *obj, const char *key, long long n);
/* The same for arrays. */
int bal_json_push_number(cJSON *arr, double x);

#endif /* BAL_REPORT_H */
