/* The repacked-layout table and its one-time choice by CPU level (as types.c does for the
 * kernels of the original layouts). */
#include "quant/repack.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

enum { LEVEL_SCALAR, LEVEL_AVX2, LEVEL_AVX512, LEVEL_COUNT };
static const char *const level_names[LEVEL_COUNT] = {"scalar", "avx2", "avx512"};

static bb_repack_traits tables[LEVEL_COUNT][BB_TYPE_COUNT];
static int cpu_max_level, best_level;
static int disabled; /* BB_REPACK=0 */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int level_index(const char *name) {
    for (int l = 0; l < LEVEL_COUNT; l++)
        if (strcmp(name, level_names[l]) == 0) return l;
    return -1;
}

static void init_tables(void) {
    bb_repack_fill_float_ref(tables[LEVEL_SCALAR]);
    bb_repack_fill_legacy_ref(tables[LEVEL_SCALAR]);
    bb_repack_fill_kquants_ref(tables[LEVEL_SCALAR]);
    cpu_max_level = LEVEL_SCALAR;
    /* bb_type_get_level answers only for levels this CPU runs */
    if (bb_type_get_level(BB_TYPE_F32, "avx512"))
        cpu_max_level = LEVEL_AVX512;
    else if (bb_type_get_level(BB_TYPE_F32, "avx2"))
        cpu_max_level = LEVEL_AVX2;
    for (int l = LEVEL_AVX2; l <= cpu_max_level; l++) {
        /* AVX-512 CPUs run the AVX2 kernels until a level of its own pays */
        memcpy(tables[l], tables[l - 1], sizeof tables[l]);
        if (l == LEVEL_AVX2) {
            bb_repack_fill_float_avx2(tables[l]);
            bb_repack_fill_legacy_avx2(tables[l]);
            bb_repack_fill_kquants_avx2(tables[l]);
        }
    }
    best_level = level_index(bb_cpu_level());
    if (best_level < 0) best_level = LEVEL_SCALAR;
    const char *env = getenv("BB_REPACK");
    disabled = env && strcmp(env, "0") == 0;
}

static const bb_repack_traits *lookup(int level, int type) {
    if (level < 0 || level > cpu_max_level || type < 0 || type >= BB_TYPE_COUNT) return NULL;
    const bb_repack_traits *t = &tables[level][type];
    return t->gemm ? t : NULL;
}

const bb_repack_traits *bb_repack_get(int type) {
    pthread_once(&init_once, init_tables);
    return disabled ? NULL : lookup(best_level, type);
}

const bb_repack_traits *bb_repack_get_level(int type, const char *level) {
    pthread_once(&init_once, init_tables);
    return lookup(level_index(level), type);
}
