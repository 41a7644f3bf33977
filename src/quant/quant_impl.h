/* Internal to src/quant: each kernel family fills the rows of the traits table it owns.
 * The *_ref fillers set every field of their types (name, sizes, vec_dot_type, scalar
 * kernels); the SIMD fillers replace only the kernel pointers they implement, and are
 * called only when the CPU has that level. */
#ifndef BB_QUANT_IMPL_H
#define BB_QUANT_IMPL_H

#include "quant/quant.h"

void bb_quant_fill_legacy_ref(bb_type_traits *t);  /* F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 */
void bb_quant_fill_kquants_ref(bb_type_traits *t); /* Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K */
void bb_quant_fill_legacy_avx2(bb_type_traits *t);
void bb_quant_fill_kquants_avx2(bb_type_traits *t);
void bb_quant_fill_legacy_avx512(bb_type_traits *t);
void bb_quant_fill_kquants_avx512(bb_type_traits *t);
void bb_quant_fill_mxfp4_ref(bb_type_traits *t); /* MXFP4 */
void bb_quant_fill_mxfp4_avx2(bb_type_traits *t);

#endif
