/* Embeds assets/demo-model.gguf with the assembler's .incbin: the build passes the file's
 * absolute path as BB_DEMO_MODEL_PATH (see CMakeLists.txt) and recompiles this file when
 * the model changes. ELF targets only (the section directives below). */
#include "train/demo_model.h"

#ifdef BB_DEMO_MODEL_PATH
__asm__(".section .rodata\n"
        ".balign 64\n"
        ".hidden bb_demo_model_begin\n"
        "bb_demo_model_begin:\n"
        ".incbin \"" BB_DEMO_MODEL_PATH "\"\n"
        ".hidden bb_demo_model_end\n"
        "bb_demo_model_end:\n"
        ".previous\n");

extern const unsigned char bb_demo_model_begin[], bb_demo_model_end[];

const unsigned char *bb_demo_model_data(size_t *size) {
    *size = (size_t)(bb_demo_model_end - bb_demo_model_begin);
    return bb_demo_model_begin;
}
#else
const unsigned char *bb_demo_model_data(size_t *size) {
    *size = 0;
    return NULL;
}
#endif
