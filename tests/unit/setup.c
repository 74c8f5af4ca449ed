/* Shared set-up for the unit runner (Criterion supplies main). */
#include <gsl/gsl_errno.h>

void bal_test_setup(void) __attribute__((constructor));

/* GSL's default handler aborts; the library checks every status itself. */
void bal_test_setup(void)
{
    gsl_set_error_handler_off();
}
