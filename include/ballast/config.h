#ifndef BAL_CONFIG_H
#define BAL_CONFIG_H
#include "ballast/asset.h"      /* class, duplicates, bad_bars enums */
#include "ballast/error.h"              /* brings <stddef.h> */

#include <stdint.h>

/* The run configuration (SPEC §11): a JSON file, overridden by `--set`
 * assignments, parsed into one transparent, fully defaulted and validated
 * struct. Every key of §11 is read, including those the engine does not use
 * yet, so any config written against the SPEC validates.
 *
 * Conventions for the fields below:
 * - A numeric option that is `null` or off is NaN (`isnan` tests it); the
 *   comment on each field says which ones may be.
 * - Ranges use interval notation: (0, 1] means 0 < x <= 1. Every number is
 *   finite. Counts and windows are size_t and were whole numbers in JSON.
 * - Strings are owned by the struct (freed by bal_config_release); NULL
 *   means the key was null or absent where that is allowed.
 * - Enumerations follow the order of the JSON spellings given beside them.
 *
 * Errors are BAL_ECONFIG with err->path = the config name (the file path
 * for bal_config_load) and err->msg = "<json.path>: <what is wrong>", for
 * example
 *     config.json: sizing.target_vol: expected a number > 0, got "ten"
 *     config.json: engine.vol_windw: unknown key (did you mean 'vol_window'?)
 *     config.json: data.assets[2].symbol: duplicate key
 *     config.json: sizing.targets.XYZ: unknown symbol (not in data.assets)
 * JSON paths are dotted keys with 0-based array indices. A problem in a
 * value that came from a `--set` names the assignment's key instead:
 *     config.json: --set engine.vol_windw: unknown key (did you mean ...)
 * Syntax errors (strict RFC 8259: no comments, no trailing commas, no
 * leading zeros, no raw control characters in strings) also set
 * err->line/column (1-based, column in characters) of the offending byte:
 *     config.json:4:17: invalid JSON: trailing comma
 * Keys are case-sensitive; unknown and duplicate keys are errors. */

struct cJSON;

enum bal_calendar { BAL_CAL_UNION, BAL_CAL_INTERSECTION };

/* Classes come from asset.h, spelled forex | crypto | metal | equity |
 * other; duplicates (last | first | error) and bad_bars (repair | skip |
 * error) too. Arrays indexed by class have BAL_N_CLASSES entries. */
#ifndef BAL_N_CLASSES
#define BAL_N_CLASSES (BAL_CLASS_OTHER + 1)
#endif

/* fixed | equal | inverse_vol | inverse_atr | erc | hrp | min_variance */
enum bal_method {
    BAL_METHOD_FIXED,
    BAL_METHOD_EQUAL,
    BAL_METHOD_INVERSE_VOL,
    BAL_METHOD_INVERSE_ATR,
    BAL_METHOD_ERC,
    BAL_METHOD_HRP,
    BAL_METHOD_MIN_VARIANCE
};

enum bal_returns { BAL_RET_LOG, BAL_RET_SIMPLE };          /* log | simple */
enum bal_estimator { BAL_EST_ROLLING, BAL_EST_EWMA };   /* rolling | ewma */
/* diagonal | constant_correlation */
enum bal_shrink_target { BAL_SHRINK_DIAGONAL, BAL_SHRINK_CONSTANT_CORR };
/* single | average | complete | ward */
enum bal_linkage {
    BAL_LINK_SINGLE,
    BAL_LINK_AVERAGE,
    BAL_LINK_COMPLETE,
    BAL_LINK_WARD
};
enum bal_hrp_distance { BAL_HRP_CONDENSED, BAL_HRP_LDP }; /* condensed|ldp */
/* long | trend | signals */
enum bal_direction_mode { BAL_DIR_LONG, BAL_DIR_TREND, BAL_DIR_SIGNALS };
/* daily | weekly | monthly | none | a whole number N >= 1
 * (BAL_CFG_SCHED_STEPS, N in rebalance.schedule_steps). Same order as
 * rebalance.h's enum bal_schedule, so the value converts with a cast. */
enum bal_cfg_schedule {
    BAL_CFG_SCHED_DAILY,
    BAL_CFG_SCHED_WEEKLY,
    BAL_CFG_SCHED_MONTHLY,
    BAL_CFG_SCHED_NONE,
    BAL_CFG_SCHED_STEPS
};
enum bal_fill { BAL_FILL_CLOSE, BAL_FILL_NEXT_OPEN };    /* close|next_open */
enum bal_curves { BAL_CURVES_REBALANCES, BAL_CURVES_ALL }; /* rebalances|all */
enum bal_late_assets { BAL_LATE_WAIT, BAL_LATE_ZERO };   /* wait | zero */
/* "close" | "adj close" */
enum bal_price_field { BAL_PRICE_CLOSE, BAL_PRICE_ADJ_CLOSE };
/* tz_offset: null | "+hh:mm"/"-hh:mm" | "fx_server" (UTC+2, UTC+3 while US
 * daylight saving is on; the loader applies the rule) */
enum bal_tz_kind { BAL_TZ_NONE, BAL_TZ_FIXED, BAL_TZ_FX_SERVER };

/* Roles of the per-asset `columns` map, spelled "unix", "date", "time",
 * "open", "high", "low", "close", "adj close", "volume", in the order of
 * loader.h's enum bal_column (so an index converts with a cast). "date"
 * is the date or date-time column, "time" a time-of-day column joined to
 * it (it needs "date"), "unix" epoch seconds, ms or us. */
enum bal_colmap_role {
    BAL_COLMAP_UNIX,
    BAL_COLMAP_DATE,
    BAL_COLMAP_TIME,
    BAL_COLMAP_OPEN,
    BAL_COLMAP_HIGH,
    BAL_COLMAP_LOW,
    BAL_COLMAP_CLOSE,
    BAL_COLMAP_ADJ_CLOSE,
    BAL_COLMAP_VOLUME,
    BAL_COLMAP_N
};

/* The `columns` map of one asset. Each role is given either by header name
 * (a non-empty string, matched exactly) or by 0-based column index (a whole
 * number >= 0); no two roles may name the same column. Roles left out are
 * found by header detection as usual. */
typedef struct bal_asset_columns {
    int set;                        /* 0: "columns" was null/absent */
    char *name[BAL_COLMAP_N];       /* header name, or NULL */
    long index[BAL_COLMAP_N];       /* 0-based column index, or -1 */
} bal_asset_columns;

/* One entry of data.assets. */
typedef struct bal_asset_config {
    /* Non-empty printable ASCII without spaces or any of , | " ' = [ ] \ ;
     * unique in data.assets (case-sensitive). */
    char *symbol;
    char *file;                     /* as written in the config */
    /* `file` resolved: an absolute file as is; else the config's directory
     * joined with data.dir (unless absolute) and file. */
    char *path;
    /* Default when absent, matched case-insensitively on the symbol, first
     * rule that applies:
     *   metal:  starts with XAU, XAG, XPT or XPD;
     *   forex:  two 3-letter currency codes, optionally separated by one of
     *           / _ - . (EURUSD, EUR/USD), both from USD EUR JPY GBP CHF AUD
     *           NZD CAD SEK NOK DKK PLN HUF CZK TRY ZAR MXN SGD HKD CNH CNY
     *           ILS RUB INR KRW THB BRL;
     *   crypto: ends with USDT, USDC or BUSD, or starts with BTC, ETH, SOL,
     *           XRP, ADA, DOGE, LTC, BNB, DOT, AVAX, LINK, BCH, TRX, XLM;
     *   other:  everything else (equities must be marked by hand). */
    enum bal_asset_class asset_class;
    /* Quote currency: 3 to 6 uppercase letters or digits. Default: the
     * last 3 letters of a forex pair symbol as above (USDJPY -> JPY) when the
     * class is forex, else account_currency. */
    char quote[8];
    enum bal_tz_kind tz;
    long tz_offset;                 /* BAL_TZ_FIXED: seconds east of UTC,
                                       |offset| <= 18:00; else 0 */
    /* NULL = detect, else strptime-style as loader.h reads it: %Y %m %d
     * %H %I %M %S %p %z %f %% and literal characters. */
    char *date_format;
    bal_asset_columns columns;
    enum bal_price_field price_field;
    double bars_per_year;           /* > 0, NaN = auto (SPEC §3) */
    double lot_size;                /* > 0, NaN = fractional units */
    double cost_bps;                /* >= 0, NaN = class / global cost */
    /* Per-asset data-quality policy; absent keys take data.<key>. */
    enum bal_duplicates duplicates;
    enum bal_bad_bars bad_bars;
    double spike_k;                 /* >= 0, 0 = no spike checks */
    int spike_repair;
} bal_asset_config;

/* One entry of data.fx: an extra FX series used only for conversion.
 * symbol follows the asset symbol rules and is unique among data.assets and
 * data.fx; path is resolved like an asset's. */
typedef struct bal_fx_config {
    char *symbol;
    char *file;
    char *path;
} bal_fx_config;

/* sizing.drawdown: multiplier 1 while dd <= start, falling linearly to
 * floor at max. */
typedef struct bal_drawdown_config {
    int enabled;                    /* 0: "drawdown" was null; rest unset */
    double start;                   /* [0, 1), < max; default 0.05 */
    double max;                     /* (0, 1]; default 0.25 */
    double floor;                   /* [0, 1]; default 0.25 */
    double recovery_rate;           /* (0, 1] per step, NaN = no limit;
                                       default 0.01 */
    double halt;                    /* (0, 1], NaN = no halt (default) */
    double resume;                  /* [0, 1), < halt; required with halt,
                                       NaN otherwise allowed */
} bal_drawdown_config;

/* The whole configuration; defaults are §11's except where noted. */
typedef struct bal_config {
    /* Non-empty, no '/' or '\', not "." or "..", no control characters
     * (it names the default output directory out/<name>). Default
     * "default". */
    char *name;

    /* data.assets, in config order (required, non-empty). */
    bal_asset_config *assets;
    size_t n_assets;

    struct {
        /* As written; default "." (the config's own directory): note §11
         * shows "data/sample" as an example, not as a default. */
        char *dir;
        char *dir_path;             /* dir resolved against the config */
        enum bal_calendar calendar;
        /* start/end: ISO "YYYY-MM-DD" or "YYYY-MM-DD[T ]HH:MM[:SS]" with
         * an optional "Z" or "+hh:mm"/"-hh:mm" (no zone = UTC), as UTC
         * seconds. A date-only start is 00:00:00 of that day; a date-only
         * end is 23:59:59 of that day (inclusive). end >= start. */
        int has_start, start_date_only;
        int64_t start;
        int has_end, end_date_only;
        int64_t end;
        enum bal_late_assets late_assets;
        enum bal_duplicates duplicates;
        enum bal_bad_bars bad_bars;
        double spike_k;             /* >= 0 (0 = off); default 10 */
        int spike_repair;
        bal_fx_config *fx;          /* NULL when n_fx is 0 */
        size_t n_fx;
        /* null, a symbol of data.assets (benchmark_asset = its index,
         * benchmark_path NULL), or else a file resolved like an asset's
         * (benchmark_asset = -1). */
        char *benchmark;
        long benchmark_asset;
        char *benchmark_path;
    } data;

    double capital;                 /* > 0; default 1e6 */
    /* 3 to 6 uppercase letters or digits; default "USD". */
    char account_currency[8];
    double periods_per_year;        /* > 0, or 0 = "auto" (default) */
    double risk_free;               /* > -1 (annual); default 0 */
    double mar;                     /* > -1 (annual); default 0 */

    struct {
        size_t atr_window;          /* >= 1; default 14 */
        size_t vol_window;          /* >= 2; default 60 */
        size_t corr_window;         /* >= 2; default 60 */
        enum bal_returns returns;
        enum bal_estimator corr;
        enum bal_estimator vol;
        double ewma_lambda;         /* (0, 1); default 0.94 */
        /* [0, 1]; NaN when "ledoit_wolf" (shrinkage_ledoit_wolf = 1). */
        double shrinkage;
        int shrinkage_ledoit_wolf;
        enum bal_shrink_target shrinkage_target;
        double psd_floor;           /* [0, 1); default 1e-8 */
        double stress_quantile;     /* (0, 1); default 0.1 */
        double stress_blend;        /* [0, 1]; default 0 */
    } engine;

    struct {
        size_t short_window;        /* >= 2; default 5 */
        size_t long_window;         /* >= 2, > short_window; default 60 */
        double shock_ratio;         /* > 0, NaN = criterion off; 2.0 */
        double shock_atr;           /* > 0, NaN = criterion off; 3.0 */
        size_t er_window;           /* >= 1; default 20 */
        double er_threshold;        /* [0, 1]; default 0.3 */
        double corr_spike;          /* [-1, 1], NaN = criterion off; 0.6 */
        double shock_share;         /* [0, 1]; default 0.5 */
    } regime;

    struct {
        enum bal_direction_mode mode;
        size_t lookback;            /* >= 1; default 60 */
        /* Moving-average windows, >= 1, both set or both 0 (null);
         * fast < slow. */
        size_t fast, slow;
        /* Signals CSV, non-empty; required when mode is signals. As
         * written, and resolved against the config's directory (not
         * data.dir). */
        char *signals;
        char *signals_path;
    } direction;

    struct {
        enum bal_method method;
        /* NULL when "targets" is null; else n_assets weights aligned with
         * assets, each in [0, 1], NaN where the symbol is absent (weight 0
         * for method fixed). The given weights sum to a value in
         * (0, 1 + 1e-9] (a sum below 1 leaves the rest in cash); an empty
         * object is allowed unless method is fixed, which requires
         * targets. */
        double *targets;
        enum bal_linkage linkage;
        enum bal_hrp_distance hrp_distance;
        double max_weight;          /* (0, 1]; default 1 */
        double class_caps[BAL_N_CLASSES];   /* [0, 1], NaN = no cap */
        double cluster_risk_cap;    /* (0, 1], NaN = off (default) */
        double target_vol;          /* > 0, NaN = no vol target; 0.10 */
        double max_gross;           /* > 0; default 2 */
        struct {
            double trending, ranging, shock;    /* >= 0; default 1 */
        } regime_scale;
        bal_drawdown_config drawdown;
    } sizing;

    struct {
        enum bal_cfg_schedule schedule;     /* default monthly */
        size_t schedule_steps;      /* N >= 1 with BAL_CFG_SCHED_STEPS,
                                       else 0 */
        double drift;               /* >= 0, NaN = off (default) */
        double drift_rel;           /* >= 0, NaN = off (default) */
        double vol_shift;           /* >= 0, NaN = off (default) */
        double corr_shift;          /* [0, 2], NaN = off (default) */
        double target_shift;        /* >= 0, NaN = off (default) */
        size_t target_check;        /* >= 1; default 1 */
        int regime_change;
        double drawdown_step;       /* [0, 1], NaN = off (default) */
        size_t cooldown;            /* >= 0 steps; default 0 */
        double min_trade;           /* >= 0; default 0 */
    } rebalance;

    struct {
        enum bal_fill fill;         /* default next_open */
        double cost_bps;            /* >= 0; default 0 */
        double class_cost_bps[BAL_N_CLASSES];   /* >= 0, NaN = not set */
        double spread_bps;          /* >= 0 (full spread); default 0 */
        double fixed_fee;           /* >= 0 per trade; default 0 */
        double slippage_atr;        /* >= 0; default 0 */
        double cash_rate;           /* > -1 (annual); default 0 */
        double borrow_rate;         /* > -1 (annual); default 0 */
    } execution;

    struct {
        enum bal_curves curves;     /* default rebalances */
        int series;                 /* default 0 */
        int html;                   /* default 1 */
    } output;
} bal_config;

/* Reads the JSON config file at `path`, applies `sets` (n_sets strings
 * "dotted.key=VALUE", in order, see bal_config_apply_set), fills defaults
 * and validates into *out. Relative files resolve against the directory of
 * `path`. Caller owns *out: release with bal_config_release (also after a
 * failure, where *out is left empty). Returns 0; BAL_ECONFIG for any
 * config problem (see the top of this file); BAL_EIO when the file cannot
 * be read (err->msg "cannot read 'x': No such file or directory", path
 * empty); BAL_ENOMEM. */
int bal_config_load(bal_config *out, const char *path,
                    const char *const *sets, size_t n_sets, bal_error *err);

/* Same as bal_config_load from the NUL-terminated `text`. `name` (NULL:
 * "config") goes into err->path; `base_dir` (NULL or "": the current
 * directory) is the directory relative files resolve against. Neither
 * function keeps global state, but cJSON's parser resets cJSON's global
 * error pointer on every call: call them from one thread at a time. */
int bal_config_parse(bal_config *out, const char *text, const char *name,
                     const char *base_dir, const char *const *sets,
                     size_t n_sets, bal_error *err);

/* Frees everything *c owns and zeroes it. NULL-safe and idempotent; a
 * zeroed struct is a valid empty one. */
void bal_config_release(bal_config *c);

/* The normalised config as a new cJSON object (caller frees it with
 * cJSON_Delete): every key of §11 in §11's order with its effective value
 * (defaults filled in, inferred class and quote written out, per-asset
 * duplicates/bad_bars/spike_k/spike_repair after the asset keys, tz_offset
 * as "+hh:mm", dates as "YYYY-MM-DD" when given date-only, else
 * "YYYY-MM-DDTHH:MM:SSZ"; NaN options as null). Files appear as written,
 * not resolved. Numbers are raw items in shortest round-trip form
 * (bal_numfmt; counts as plain integers), so bal_config_parse of the
 * printed object gives back an identical struct.
 * Returns NULL on ENOMEM. */
struct cJSON *bal_config_to_json(const bal_config *c);

/* The index of `symbol` in c->assets (exact match, O(n_assets)), or -1. */
long bal_config_asset_index(const bal_config *c, const char *symbol);

/* Applies one override "KEY=VALUE" to a parsed config tree. KEY is a
 * dotted path ("sizing.target_vol"); a segment may carry array indices
 * ("data.assets[1].file"), and after an array of objects a segment naming
 * the element's "symbol" picks that element ("data.assets.EURUSD.cost_bps";
 * symbols containing dots are matched longest first; so is an existing
 * member whose name holds dots, as in "sizing.targets.BRK.B"). VALUE is
 * parsed as JSON; if it is not valid JSON it is taken as a string. Missing
 * or null intermediate objects are created; the last segment is replaced
 * or added.
 * The key names are not checked here: validation (bal_config_parse) does
 * that. Returns 0, BAL_ECONFIG with err->msg "--set KEY: what is wrong" and
 * an empty err->path (no '=', empty segment, bad index, no element with
 * that symbol, a non-object on the way), or BAL_ENOMEM. `root` is
 * unchanged on failure. */
int bal_config_apply_set(struct cJSON *root, const char *assignment,
                         bal_error *err);

/* The JSON spelling of a class ("forex", ...); "?" when out of range. */
const char *bal_config_class_name(enum bal_asset_class c);

#endif /* BAL_CONFIG_H */
