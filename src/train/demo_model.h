/* The demo model compiled into the binary (assets/demo-model.gguf, trained by
 * scripts/train-demo.sh), so `beanbag chat` and `beanbag serve` work without -m and without a
 * download: load it with bb_model_load_from_memory(data, size, ...). */
#ifndef BB_TRAIN_DEMO_MODEL_H
#define BB_TRAIN_DEMO_MODEL_H

#include <stddef.h>

/* The GGUF image (static storage, 64-byte aligned), or NULL with *size = 0 when the build
 * had no assets/demo-model.gguf. */
const unsigned char *bb_demo_model_data(size_t *size);

/* The model id the server reports for it. */
#define BB_DEMO_MODEL_ID "beanbag-demo"

#endif
