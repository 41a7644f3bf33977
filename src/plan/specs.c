/* The built-in spec table: the chips the operators named. Every figure and its public source
 * is listed in docs/fleet.md ("Built-in devices"); those marked there as estimates are not
 * from a vendor datasheet, and prices are rough street prices. A fleet file can override any
 * field of a built-in device. */
#include <string.h>

#include "plan/plan.h"

plan_device plan_device_default(void) {
    /* Serving efficiencies of an accelerator stack: decode streams weights at about 3/4 of the
     * peak bandwidth, prefill reaches about half the dense peak (docs/fleet.md, "Efficiencies").
     */
    return (plan_device){.group = "default",
                         .bw_efficiency = 0.75,
                         .compute_efficiency = 0.5,
                         .memory_usable = 0.9,
                         .max_per_replica = 8,
                         .tp_efficiency = 0.9,
                         .prefill_chunk = 512};
}

/* name, group, memory GB, bandwidth GB/s, FP16 TFLOPS, INT8 TOPS, price USD, power W, then
 * the efficiencies, memory share, devices per replica, TP efficiency and prefill chunk. */
#define ACCEL(name, group, mem, bw, fp16, int8, price, power)                                      \
    { name, group, mem, bw, fp16, int8, price, power, 0.75, 0.5, 0.9, 8, 0.9, 512, 0, false, "" }

static const plan_device table[] = {
    ACCEL("h20", "imported", 96, 4000, 148, 296, 13000, 400),
    ACCEL("ascend-910b", "domestic", 64, 1600, 320, 640, 17000, 310),
    ACCEL("mlu370-x8", "domestic", 48, 614.4, 96, 256, 6000, 250),
    ACCEL("mlu590", "domestic", 192, 2400, 390, 780, 10000, 450),
    /* One-socket CPU server (EPYC 9654 class, 12 channels of DDR5-4800). beanbag's own kernels
     * reach these fractions on the project's machine (README: 89 % of the measured bandwidth
     * in decode, 67-80 % of the int8 peak in prefill). One replica per server; the prefill
     * chunk is `serve`'s default step budget. */
    {"cpu-server", "cpu", 768, 460.8, 7.4, 29.5, 15000, 600, 0.85, 0.6, 0.9, 1, 1.0, 32, 0, false,
     ""},
};

#define N_TABLE ((int32_t)(sizeof table / sizeof table[0]))

int32_t plan_builtin_count(void) {
    return N_TABLE;
}

const plan_device *plan_builtin(int32_t i) {
    return i >= 0 && i < N_TABLE ? &table[i] : NULL;
}

const plan_device *plan_builtin_find(const char *name) {
    for (int32_t i = 0; i < N_TABLE; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}
