/* Shared by the store (store.c) and the downloads (pull.c). */
#ifndef BB_HUB_INTERNAL_H
#define BB_HUB_INTERNAL_H

#include "hub/hub.h"

/* mkdir -p */
bb_status hub_mkdirs(const char *path, bb_error *err);
/* STORE/<escaped name> */
bb_status hub_model_dir(const char *name, char *out, size_t cap, bb_error *err);
/* Writes the manifest of a model whose files (local[i] in its directory) are verified and in
 * place: from then on the model exists. */
bb_status hub_store_commit(const char *name, const char *source, const hub_file *files,
                           const char (*local)[512], size_t n, bb_error *err);

/* Progress display of one file's transfer (progress.c). */
typedef struct hub_progress {
    int mode; /* 1: bar redrawn in place, 0: plain lines, -1: none */
    const char *label;
    uint64_t total, done, start; /* bytes; start: what was there before this pull */
    double t0, t_last;
    int last_step; /* plain mode: the last tenth printed */
} hub_progress;

void hub_progress_begin(hub_progress *p, int mode, const char *label, uint64_t total,
                        uint64_t start);
void hub_progress_update(hub_progress *p, uint64_t done);
void hub_progress_end(hub_progress *p, bool ok);

#endif
