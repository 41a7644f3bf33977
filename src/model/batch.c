#include <stdlib.h>

#include "beanbag.h"

bb_batch bb_batch_new(int32_t capacity) {
    bb_batch b = {0};
    if (capacity <= 0) return b;
    b.token = malloc((size_t)capacity * sizeof *b.token);
    b.pos = malloc((size_t)capacity * sizeof *b.pos);
    b.seq_id = malloc((size_t)capacity * sizeof *b.seq_id);
    b.logits = malloc((size_t)capacity * sizeof *b.logits);
    if (!b.token || !b.pos || !b.seq_id || !b.logits) {
        bb_batch_free(&b);
        return b;
    }
    b.capacity = capacity;
    return b;
}

void bb_batch_free(bb_batch *b) {
    free(b->token);
    free(b->pos);
    free(b->seq_id);
    free(b->logits);
    *b = (bb_batch){0};
}

void bb_batch_clear(bb_batch *b) {
    b->n_tokens = 0;
}

bool bb_batch_add(bb_batch *b, bb_token token, int32_t pos, int32_t seq_id, bool logits) {
    if (b->n_tokens >= b->capacity) return false;
    int32_t i = b->n_tokens++;
    b->token[i] = token;
    b->pos[i] = pos;
    b->seq_id[i] = seq_id;
    b->logits[i] = logits ? 1 : 0;
    return true;
}
