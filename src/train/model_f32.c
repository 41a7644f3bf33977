/* The float instance of the per-sequence model pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "train/model.h"
#include "train/rng.h"
#include "train/tops.h"

#define R float
#define TR(name) tr_##name##_f32
#include "train/model_impl.h"
