/* Repacked K-quant layouts (Q4_K, Q6_K): not written yet; these types run on their
 * row-at-a-time kernels. */
#include "quant/repack.h"

void bb_repack_fill_kquants_ref(bb_repack_traits *t) {
    (void)t;
}

void bb_repack_fill_kquants_avx2(bb_repack_traits *t) {
    (void)t;
}
