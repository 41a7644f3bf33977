/* Strict command-line value parsing shared by the subcommands: every number is checked for
 * syntax and range, and a bad one gets a message naming the flag. */
#ifndef BB_CLI_ARGS_H
#define BB_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* The value after flag argv[*i] (advancing *i), or NULL with a message when missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
bool cli_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi,
             long long *out);
bool cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);
/* "1,450,4996" -> a new array (free()); false with a message on bad syntax or range. */
bool cli_int_list(const char *cmd, const char *flag, const char *s, int32_t lo, int32_t hi,
                  int32_t **out, int *n);

#endif
