/* The traits table and the one-time choice of kernels by CPU features. */
#include "quant/quant_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { LEVEL_SCALAR, LEVEL_AVX2, LEVEL_AVX512, LEVEL_COUNT };
static const char *const level_names[LEVEL_COUNT] = {"scalar", "avx2", "avx512"};

static bb_type_traits tables[LEVEL_COUNT][BB_TYPE_COUNT];
static int cpu_max_level; /* highest level this CPU supports */
static int best_level;    /* cpu_max_level capped by BB_CPU */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int detect_cpu_level(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return LEVEL_AVX512;
    /* every AVX2 CPU also has F16C (clang cannot query "f16c" by name) */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return LEVEL_AVX2;
#endif
    return LEVEL_SCALAR;
}

static void init_tables(void) {
    bb_type_traits *ref = tables[LEVEL_SCALAR];
    bb_quant_fill_legacy_ref(ref);
    bb_quant_fill_kquants_ref(ref);
    bb_quant_fill_mxfp4_ref(ref);
    cpu_max_level = detect_cpu_level();
    for (int l = LEVEL_AVX2; l <= cpu_max_level; l++) {
        memcpy(tables[l], tables[l - 1], sizeof tables[l]);
        if (l == LEVEL_AVX2) {
            bb_quant_fill_legacy_avx2(tables[l]);
            bb_quant_fill_kquants_avx2(tables[l]);
            bb_quant_fill_mxfp4_avx2(tables[l]);
        } else {
            bb_quant_fill_legacy_avx512(tables[l]);
            bb_quant_fill_kquants_avx512(tables[l]);
        }
    }
    best_level = cpu_max_level;
    const char *cap = getenv("BB_CPU");
    if (cap) {
        for (int l = 0; l < LEVEL_COUNT; l++)
            if (strcmp(cap, level_names[l]) == 0 && l < best_level) best_level = l;
    }
}

static const bb_type_traits *lookup(int level, int type) {
    pthread_once(&init_once, init_tables);
    if (type < 0 || type >= BB_TYPE_COUNT || tables[level][type].name == NULL) return NULL;
    return &tables[level][type];
}

const bb_type_traits *bb_type_get(int type) {
    pthread_once(&init_once, init_tables);
    return lookup(best_level, type);
}

const bb_type_traits *bb_type_get_ref(int type) {
    return lookup(LEVEL_SCALAR, type);
}

const bb_type_traits *bb_type_get_level(int type, const char *level) {
    pthread_once(&init_once, init_tables);
    for (int l = 0; l <= cpu_max_level; l++)
        if (strcmp(level, level_names[l]) == 0) return lookup(l, type);
    return NULL;
}

const char *bb_cpu_level(void) {
    pthread_once(&init_once, init_tables);
    return level_names[best_level];
}

size_t bb_row_size(int type, int64_t n) {
    const bb_type_traits *t = bb_type_get_ref(type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    size_t out;
    if (__builtin_mul_overflow((size_t)(n / t->block_size), t->type_size, &out)) return 0;
    return out;
}
