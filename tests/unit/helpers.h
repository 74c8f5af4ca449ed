#ifndef BAL_TEST_HELPERS_H
#define BAL_TEST_HELPERS_H
#include <criterion/criterion.h>
#include <math.h>

/* |got - want| <= rtol * max(|want|, tiny); prints both with %.17g. */
#define assert_rel(got, want, rtol)                                        \
    do {                                                                   \
        double g_ = (got), w_ = (want);                                    \
        double s_ = fabs(w_) > 1e-300 ? fabs(w_) : 1e-300;                 \
        cr_assert(fabs(g_ - w_) <= (rtol) * s_,                            \
                  "%s = %.17g, want %.17g (rtol %g)", #got, g_, w_,        \
                  (double)(rtol));                                         \
    } while (0)

/* |got - want| <= atol. */
#define assert_abs(got, want, atol)                                        \
    do {                                                                   \
        double g_ = (got), w_ = (want);                                    \
        cr_assert(fabs(g_ - w_) <= (atol),                                 \
                  "%s = %.17g, want %.17g (atol %g)", #got, g_, w_,        \
                  (double)(atol));                                         \
    } while (0)

#define assert_nan(got)                                                    \
    do {                                                                   \
        double g_ = (got);                                                 \
        cr_assert(isnan(g_), "%s = %.17g, want NaN", #got, g_);            \
    } while (0)

#endif
