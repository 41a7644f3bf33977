/* The engine's backend over a real bb_context. */
#include "engine/engine.h"

static bb_status ctx_decode(void *self, const bb_batch *batch, bb_error *err) {
    return bb_decode(self, batch, err);
}

static const float *ctx_logits(void *self, int32_t i) {
    return bb_get_logits(self, i);
}

static void ctx_seq_clear(void *self, int32_t seq_id) {
    /* Removing a whole sequence cannot fail for a valid id, which the engine guarantees. */
    bb_kv_seq_rm(self, seq_id, 0, -1, NULL);
}

static uint32_t ctx_free_tokens(void *self) {
    return bb_kv_free_tokens(self);
}

static int32_t ctx_seq_reuse(void *self, int32_t seq_id, const bb_token *tokens, int32_t n) {
    return bb_kv_seq_reuse_prefix(self, seq_id, tokens, n);
}

static int32_t ctx_prefix_held(void *self, const bb_token *tokens, int32_t n) {
    return bb_kv_prefix_held(self, tokens, n);
}

static void ctx_prefix_stats(void *self, bb_kv_prefix_info *out) {
    bb_kv_prefix_stats(self, out);
}

engine_backend engine_backend_context(bb_context *ctx) {
    return (engine_backend){.self = ctx,
                            .decode = ctx_decode,
                            .logits = ctx_logits,
                            .seq_clear = ctx_seq_clear,
                            .free_tokens = ctx_free_tokens,
                            .seq_reuse = ctx_seq_reuse,
                            .prefix_held = ctx_prefix_held,
                            .prefix_stats = ctx_prefix_stats};
}
