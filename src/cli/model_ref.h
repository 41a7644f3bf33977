/* What every `-m` accepts: a GGUF path, a model store name (`beanbag list`), or a hub name or
 * URL that is pulled into the store first. */
#ifndef BB_CLI_MODEL_REF_H
#define BB_CLI_MODEL_REF_H

#include <stddef.h>

/* The file to load for arg: arg itself when it is a file (or names nothing the store or a hub
 * knows, so that the loader says what is wrong with it), else the store's file, pulling it
 * first when it is a hub name. NULL after printing a message prefixed with "beanbag CMD". */
const char *cli_model_path(const char *cmd, const char *arg, char *buf, size_t cap);

#endif
