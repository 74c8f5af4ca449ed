/* Differential libFuzzer target: bal_series_parse_number against strtod
 * (`make fuzz`, `make fuzz-run`). The input is the text. It must be
 * accepted exactly when it has the form [+-](d+[.d*]|.d+)([eE][+-]?d+)?
 * (checked here by a separate hand-written matcher) and strtod reads it
 * to a finite value, and then give strtod's double bit for bit; anything
 * else aborts. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ballast/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t digits(const char *s, size_t i)
{
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* The accepted form, over the NUL-terminated s. */
static int form(const char *s)
{
    size_t i = 0, a, b = 0, j;

    if (s[i] == '+' || s[i] == '-')
        i++;
    j = digits(s, i);
    a = j - i;
    i = j;
    if (s[i] == '.') {
        j = digits(s, i + 1);
        b = j - i - 1;
        i = j;
    }
    if (a + b == 0)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        j = digits(s, i);
        if (j == i)
            return 0;
        i = j;
    }
    return s[i] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    double got = 0, want = 0;
    int rc, ok;

    if (size > 4096 || memchr(data, '\0', size))
        return 0;               /* strtod stops at a NUL */
    text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    rc = bal_series_parse_number(&got, text, size, NULL);
    ok = form(text);
    if (ok) {
        char *end;

        want = strtod(text, &end);
        ok = *end == '\0' && isfinite(want);
    }
    if ((rc == 0) != ok)
        abort();
    if (ok && memcmp(&got, &want, sizeof(got)) != 0)
        abort();
    free(text);
    return 0;
}
