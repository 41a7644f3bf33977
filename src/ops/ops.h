/* Element-wise and row-wise kernels of the forward pass. All operate on float32 rows.
 * Each result row depends only on its own input row, which keeps a token's computation
 * independent of what else is in the batch (batch invariance). */
#ifndef BB_OPS_OPS_H
#define BB_OPS_OPS_H

#include <stdint.h>

/* y = x / sqrt(mean(x^2) + eps) * w   (RMSNorm, Zhang & Sennrich 2019); w may be NULL. */
void bb_rmsnorm(float *y, const float *x, const float *w, int n, float eps);

/* RoPE (Su et al. 2021) on one head vector of head_dim floats, rotating the first n_rot
 * dimensions. NORM pairs adjacent dims (x[2i], x[2i+1]) as llama.cpp's GGUF llama weights
 * expect; NEOX pairs x[i] with x[i + n_rot/2] (GPT-NeoX, Qwen). theta_i = pos *
 * freq_scale * base^(-2i/n_rot) / factor[i] (factors from Llama-3 rope_freqs or LongRoPE, may
 * be NULL), or YaRN's blend of that and the unscaled angle (below). */
enum bb_rope_style { BB_ROPE_NORM = 0, BB_ROPE_NEOX = 2 };
typedef struct bb_rope {
    int style;
    int n_rot;
    float freq_base;
    float freq_scale;
    const float *factors; /* n_rot/2 entries or NULL */
    float mscale;         /* > 0: cos and sin multiplied by it (LongRoPE, YaRN) */
    /* YaRN (Peng et al. 2023) as ggml computes it: pair i's angle blends the interpolated
     * theta * freq_scale and the extrapolated theta with ramp r = 1 - clamp((i - lo) /
     * max(0.001, hi - lo), 0, 1): theta_i (1 - r) + theta r */
    int yarn;
    float yarn_lo, yarn_hi;
} bb_rope;
/* cos/sin of every rotated pair at position pos, into cs[0..n_rot) (cos, sin interleaved);
 * computed once per token and shared by all its heads. */
void bb_rope_cache(const bb_rope *r, int32_t pos, float *cs);
void bb_rope_rotate(const bb_rope *r, const float *cs, float *x);

/* y = silu(g) * u, element-wise (SwiGLU, Shazeer 2020). */
void bb_swiglu(float *y, const float *g, const float *u, int n);

/* y = gelu(g) * u, element-wise, GELU in its tanh form rounded as ggml rounds it (GeGLU,
 * Shazeer 2020; Gemma). */
void bb_geglu(float *y, const float *g, const float *u, int n);

/* x = cap * tanh(x / cap) in place (Gemma 2's logit soft-capping), cap > 0. */
void bb_softcap(float *x, int n, float cap);

/* In-place numerically stable softmax. */
void bb_softmax(float *x, int n);

#endif
