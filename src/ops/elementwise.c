#include <math.h>

#include "ops/ops.h"
#include "quant/quant.h"

void bb_rmsnorm(float *y, const float *x, const float *w, int n, float eps) {
    /* accumulate in double: the sum of squares of thousands of floats loses digits in float */
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    if (w)
        for (int i = 0; i < n; i++)
            y[i] = x[i] * scale * w[i];
    else
        for (int i = 0; i < n; i++)
            y[i] = x[i] * scale;
}

/* Angles are computed in float by repeated multiplication, exactly as ggml's rope cache
 * does: matching the reference implementation's rounding keeps Q and K, and hence the
 * 8-bit activation quantization downstream, identical to llama.cpp's. */
void bb_rope_cache(const bb_rope *r, int32_t pos, float *cs) {
    int half = r->n_rot / 2;
    const float theta_scale = powf(r->freq_base, -2.0f / (float)r->n_rot);
    float theta = (float)pos;
    for (int i = 0; i < half; i++) {
        float t = theta / (r->factors ? r->factors[i] : 1.0f) * r->freq_scale;
        if (r->yarn) {
            float te = theta / (r->factors ? r->factors[i] : 1.0f);
            float y = ((float)i - r->yarn_lo) / fmaxf(0.001f, r->yarn_hi - r->yarn_lo);
            float ramp = 1.0f - fminf(1.0f, fmaxf(0.0f, y));
            t = t * (1.0f - ramp) + te * ramp;
        }
        cs[2 * i] = cosf(t);
        cs[2 * i + 1] = sinf(t);
        if (r->mscale > 0.0f) {
            cs[2 * i] *= r->mscale;
            cs[2 * i + 1] *= r->mscale;
        }
        theta *= theta_scale;
    }
}

void bb_rope_rotate(const bb_rope *r, const float *cs, float *x) {
    int half = r->n_rot / 2;
    for (int i = 0; i < half; i++) {
        int a = r->style == BB_ROPE_NEOX ? i : 2 * i;
        int b = r->style == BB_ROPE_NEOX ? i + half : 2 * i + 1;
        float c = cs[2 * i], s = cs[2 * i + 1];
        float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
}

void bb_swiglu(float *y, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++)
        y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* GELU's tanh approximation (Hendrycks & Gimpel 2016), as Gemma uses it:
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated the way ggml's CPU gelu does
 * (ggml-cpu vec.h, ggml_vec_gelu_f32): 0 below -10, x above 10, and in between the half-
 * precision value at x rounded to half precision (ggml reads it from an f16 table). The
 * reference logits of Gemma models are llama.cpp's; in the Q8_0 files, where the FFN input
 * is quantized to 8 bits again, float GELU drifts 0.16 of the logits' spread from them and
 * the rounded one 0.12. */
static float gelu_ggml(float x) {
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    float h = bb_fp16_to_fp32(bb_fp32_to_fp16(x));
    return bb_fp16_to_fp32(
        bb_fp32_to_fp16(0.5f * h * (1.0f + tanhf(c * h * (1.0f + 0.044715f * h * h)))));
}

void bb_geglu(float *y, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++)
        y[i] = gelu_ggml(g[i]) * u[i];
}

void bb_softcap(float *x, int n, float cap) {
    float inv = 1.0f / cap;
    for (int i = 0; i < n; i++)
        x[i] = cap * tanhf(x[i] * inv);
}

void bb_softmax(float *x, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > max) max = x[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}
