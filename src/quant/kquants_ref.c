#include "quant/quant_impl.h"

void bb_quant_fill_kquants_ref(bb_type_traits *t) { (void)t; }
