/* The double instance of the per-sequence model pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "train/model.h"
#include "train/rng.h"
#include "train/tops.h"

#define R double
#define TR(name) tr_##name##_f64
#include "train/model_impl.h"
