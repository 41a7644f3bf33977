/* AdamW (Loshchilov & Hutter 2019: Adam with decoupled weight decay), the learning-rate
 * schedule (linear warm-up, then cosine decay to a floor) and global-norm clipping. */
#ifndef BB_TRAIN_ADAMW_H
#define BB_TRAIN_ADAMW_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_adamw {
    float beta1, beta2, eps;
} tr_adamw;

/* One update of n parameters at 1-based step t: the gradient is g * gscale (gscale applies
 * clipping), decay is lr * wd * p applied outside the adaptive term. */
void tr_adamw_update(float *p, const float *g, float *m, float *v, size_t n, const tr_adamw *hp,
                     float lr, float wd, float gscale, int64_t t);

/* Learning rate at 0-based step: lr_max * (step+1)/warmup during warm-up, then a cosine
 * from lr_max down to lr_min at the last step. */
float tr_lr_at(int64_t step, int64_t total, int64_t warmup, float lr_max, float lr_min);

/* The factor that scales a gradient of global L2 norm `norm` down to `clip` (1 when
 * already within, or when clip <= 0). */
float tr_clip_scale(double norm, float clip);

#endif
