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
    BAL_TRIG_UNIVERSE = 1u << 4     /* an asset turned warm (late_assets) */
};
#define BAL_TRIG_COUNT 5

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
} bal_rebalance_options;

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
