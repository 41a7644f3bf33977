#include "quant/quant_impl.h"

void bb_quant_fill_legacy_ref(bb_type_traits *t) { (void)t; }
