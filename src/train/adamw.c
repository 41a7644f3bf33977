#include "train/adamw.h"

#include <math.h>

void tr_adamw_update(float *p, const float *g, float *m, float *v, size_t n, const tr_adamw *hp,
                     float lr, float wd, float gscale, int64_t t) {
    /* Bias corrections of the moment estimates (Kingma & Ba 2015, Algorithm 1). */
    float c1 = (float)(1.0 / (1.0 - pow(hp->beta1, (double)t)));
    float c2 = (float)(1.0 / (1.0 - pow(hp->beta2, (double)t)));
    float b1 = hp->beta1, b2 = hp->beta2, eps = hp->eps;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] -= lr * (m[i] * c1 / (sqrtf(v[i] * c2) + eps) + wd * p[i]);
    }
}

float tr_lr_at(int64_t step, int64_t total, int64_t warmup, float lr_max, float lr_min) {
    if (step < warmup) return lr_max * (float)(step + 1) / (float)warmup;
    int64_t span = total - warmup - 1;
    if (span <= 0) return lr_max;
    double frac = (double)(step - warmup) / (double)span;
    if (frac > 1) frac = 1;
    return lr_min + (lr_max - lr_min) * (float)(0.5 * (1 + cos(3.141592653589793 * frac)));
}

float tr_clip_scale(double norm, float clip) {
    if (clip <= 0 || !(norm > clip)) return 1.0f;
    return (float)(clip / norm);
}
