#ifndef BAL_REBALANCE_H
#define BAL_REBALANCE_H
#include <stddef.h>
#include <stdint.h>

/* When to trade (SPEC §5): the schedule and the drift band. The decision
 * at the close of step t reads data up to t and the timeline's timestamps,
 * which are known in advance (so "the next step is in a new month" is not
 * look-ahead). */

enum bal_schedule {
    BAL_SCHED_DAILY,        /* every step */
    BAL_SCHED_WEEKLY,       /* last step of an ISO week */
    BAL_SCHED_MONTHLY,      /* last step of a calendar month */
    BAL_SCHED_NONE,
    BAL_SCHED_STEPS         /* steps t0 + kN, k >= 1 */
};

/* Trigger bits; a rebalance records every trigger that fired. */
enum bal_trigger {
    BAL_TRIG_INITIAL = 1u << 0,     /* the first allocation at t0 */
    BAL_TRIG_SCHEDULE = 1u << 1,
    BAL_TRIG_DRIFT = 1u << 2,
    BAL_TRIG_DRIFT_REL = 1u << 3,
    BAL_TRIG_UNIVERSE = 1u << 4,    /* an asset turned warm (late_assets) */
    BAL_TRIG_VOL_SHIFT = 1u << 5,
    BAL_TRIG_CORR_SHIFT = 1u << 6,
    BAL_TRIG_TARGET_SHIFT = 1u << 7,
    BAL_TRIG_REGIME_CHANGE = 1u << 8,
    BAL_TRIG_DRAWDOWN_STEP = 1u << 9,
    BAL_TRIG_HALT = 1u << 10,       /* the drawdown governor halts */
    BAL_TRIG_RESUME = 1u << 11      /* ... and resumes trading */
};
#define BAL_TRIG_COUNT 12

/* "initial", "schedule", "drift", ... for bit number k (0-based). */
const char *bal_trigger_name(unsigned k);

/* Writes the names of the bits set in `bits` joined by '+' into buf
 * (at most len bytes, NUL-terminated); returns buf. */
char *bal_trigger_join(char *buf, size_t len, unsigned bits);

typedef struct bal_rebalance_options {
    int schedule;           /* enum bal_schedule */
    size_t every;           /* BAL_SCHED_STEPS: N >= 1 */
    double drift;           /* absolute band; NaN = off */
    double drift_rel;       /* relative band; NaN = off */
    size_t cooldown;        /* steps; triggers at t - t_last < cooldown drop */
    double vol_shift;       /* max |sigma_t / sigma_last - 1|; NaN = off */
    double corr_shift;      /* max |rho_t - rho_last|; NaN = off */
    double target_shift;    /* max |w*_fresh - w*_last|; NaN = off */
    size_t target_check;    /* evaluate target_shift every N steps */
    int regime_change;      /* portfolio regime differs from the last */
    double drawdown_step;   /* |m_t - m_last| of the governor; NaN = off */
} bal_rebalance_options;

/* Largest relative change max_i |now_i / last_i - 1| over the entries
 * where both are finite and last_i > 0 (0 when there is none). */
double bal_max_rel_change(const double *now, const double *last, size_t n);

/* Largest absolute change max |now_k - last_k| over the entries where both
 * are finite (0 when there is none). */
double bal_max_abs_change(const double *now, const double *last, size_t n);

/* 1 when the schedule fires at step t. t0 is the first allocation step,
 * `now` the time of step t and `next` that of step t+1 (the caller never
 * asks at the final step). Weeks are ISO weeks (Monday first), months
 * calendar months, both in UTC. */
int bal_schedule_due(const bal_rebalance_options *opt, size_t t, size_t t0,
                     int64_t now, int64_t next);

/* The drift triggers: BAL_TRIG_DRIFT when max_i |w_i - target_i| > drift,
 * BAL_TRIG_DRIFT_REL when max over target_i != 0 of
 * |w_i - target_i| / |target_i| > drift_rel (strict inequalities; NaN
 * thresholds are off). */
unsigned bal_drift_triggers(const bal_rebalance_options *opt,
                            const double *w, const double *target, size_t n);

/* ISO-week and month keys of a UTC time: equal keys, same week/month. */
int64_t bal_week_key(int64_t t);
int64_t bal_month_key(int64_t t);

#endif /* BAL_REBALANCE_H */
