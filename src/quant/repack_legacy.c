#include "quant/repack.h"

void bb_repack_fill_legacy_ref(bb_repack_traits *t) {
    (void)t;
}

void bb_repack_fill_legacy_avx2(bb_repack_traits *t) {
    (void)t;
}
