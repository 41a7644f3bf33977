/* Internal to src/quant (and its tests): what the four-row kernels (bb_vec_dot_x4_fn,
 * quant.h) add beyond the traits table. */
#ifndef BB_QUANT_QUANT_X4_H
#define BB_QUANT_QUANT_X4_H

#include "quant/quant.h"

/* For tests: the AVX-512 K-quant x4 kernels without and with AVX512_VNNI, the twins of
 * bb_kq_avx512_variants's single kernels (each output bit-identical to its twin's). NULL
 * where there is none or this CPU cannot run it. */
void bb_kq_avx512_x4_variants(int type, bb_vec_dot_x4_fn *plain, bb_vec_dot_x4_fn *vnni);

#endif
