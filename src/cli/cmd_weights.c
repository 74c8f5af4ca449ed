/* ballast weights: placeholder until the allocation module lands. */
#include "cli.h"

#include <stdio.h>

int cmd_weights(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("weights", "not implemented yet");
}
