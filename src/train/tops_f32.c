/* The float32 instance of the training ops: what the trainer runs. */
#include <math.h>
#include <string.h>

#include "train/tops.h"

#define R float
#define TR(name) tr_##name##_f32
#define R_EXP expf
#include "train/tops_impl.h"
