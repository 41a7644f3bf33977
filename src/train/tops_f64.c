/* The float64 instance of the training ops: what the gradient-check tests run. */
#include <math.h>
#include <string.h>

#include "train/tops.h"

#define R double
#define TR(name) tr_##name##_f64
#define R_EXP exp
#include "train/tops_impl.h"
