#ifndef BAL_ERROR_H
#define BAL_ERROR_H
#include <stddef.h>

/* Status codes returned by every fallible library function. */
typedef enum {
    BAL_OK = 0,
    BAL_ERROR = -1,
    BAL_ENOMEM = -2,
    BAL_EIO = -3,
    BAL_EPARSE = -4,    /* bad input data: path/line/column are set */
    BAL_EINVAL = -5,    /* bad argument or config value */
    BAL_ENUMERIC = -6,  /* a numerical routine failed */
    BAL_ECONFIG = -7    /* config error: path holds the JSON path */
} bal_status;

#if defined(__GNUC__) || defined(__clang__)
#define BAL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define BAL_PRINTF(fmt, args)
#endif

/* Caller-owned error record; written only on failure. */
typedef struct bal_error {
    int code;
    char path[256];     /* file, or "file: json.path" for config errors */
    size_t line, column; /* 1-based; 0 = unknown */
    char msg[512];      /* lowercase, no final period */
} bal_error;
#define BAL_ERROR_INIT { BAL_OK, "", 0, 0, "" }

/* Both return `code`, so a failing path reads `return bal_error_set(...)`.
 * A NULL err is allowed and only the code is returned. */
int bal_error_set(bal_error *err, int code, const char *fmt, ...)
    BAL_PRINTF(3, 4);
int bal_error_set_at(bal_error *err, int code, const char *path, size_t line,
                     size_t column, const char *fmt, ...) BAL_PRINTF(6, 7);

/* Renders "prices.csv:3:2: cannot parse 'n/a' as a price" into buf (and
 * returns buf); parts that are unknown are left out. */
const char *bal_error_format(const bal_error *err, char *buf, size_t len);

/* A programming error, never bad input: stays on in release builds. */
void bal__assert_fail(const char *expr, const char *file, int line);
#define BAL_ASSERT(cond) \
    ((cond) ? (void)0 : bal__assert_fail(#cond, __FILE__, __LINE__))

#endif /* BAL_ERROR_H */
