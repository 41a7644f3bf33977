#include "quant/quant_impl.h"

void bb_quant_fill_legacy_avx512(bb_type_traits *t) { (void)t; }
