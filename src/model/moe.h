/* Internal: the mixture-of-experts FFN of a layer (moe.c). */
#ifndef BB_MODEL_MOE_H
#define BB_MODEL_MOE_H

#include "model/context.h"

/* The FFN of layer L over the T normalized rows in ctx->xn, its output into ctx->xn. */
bb_status bb_moe_ffn(bb_context *ctx, const bb_layer *L, int T, bb_error *err);

#endif
