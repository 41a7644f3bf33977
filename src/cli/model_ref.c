/* `-m NAME`: files first, then the model store, then a pull. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/model_ref.h"
#include "hub/hub.h"

const char *cli_model_path(const char *cmd, const char *arg, char *buf, size_t cap) {
    struct stat st;
    if (!arg || stat(arg, &st) == 0) return arg;
    bb_error err = {0};
    hub_entry e;
    bool found = false;
    if (hub_store_find(arg, &e, &found, &err) != BB_OK) {
        fprintf(stderr, "beanbag %s: %s\n", cmd, err.message);
        return NULL;
    }
    if (!found) {
        if (!hub_is_remote(arg)) return arg;
        fprintf(stderr, "beanbag %s: %s is not in the model store: pulling it\n", cmd, arg);
        hub_pull_params p = hub_pull_default_params();
        p.progress = isatty(2) ? 1 : 0;
        if (hub_pull(arg, &p, &e, &err) != BB_OK) {
            fprintf(stderr, "beanbag %s: %s\n", cmd, err.message);
            return NULL;
        }
    }
    hub_store_touch(e.name);
    snprintf(buf, cap, "%s", e.path);
    return buf;
}
