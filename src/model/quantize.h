/* Model quantization (`beanbag quantize`): an F32/F16/BF16 GGUF to a quantized mix, choosing
 * per-tensor types the way llama.cpp's llama-quantize does for the same mix names. */
#ifndef BB_MODEL_QUANTIZE_H
#define BB_MODEL_QUANTIZE_H

#include "beanbag.h"

/* mix: "Q8_0", "Q4_0", "Q4_K_M", "Q6_K" (also "F16", "BF16"). Progress lines go to stderr
 * when verbose. */
bb_status bb_quantize_file(const char *in_path, const char *out_path, const char *mix,
                           int n_threads, bool verbose, bb_error *err);

#endif
