/* The built-in spec table: the chips the operators named. Every figure and its public source
 * is listed in docs/fleet.md ("Built-in devices"); those marked there as estimates are not
 * from a vendor datasheet, and prices are rough street prices. A fleet file can override any
 * field of a built-in device. */
#include <string.h>

#include "plan/plan.h"

/* The figures of a device; then the efficiencies and serving parameters of an accelerator
 * stack (plan_device_default). */
#define SPEC(n, g, mem, bw, fp16, int8, price, power)                                              \
    .name = n, .group = g, .memory_gb = mem, .bandwidth_gbs = bw, .fp16_tflops = fp16,             \
    .int8_tops = int8, .price_usd = price, .power_w = power
#define ACCEL_DEFAULTS                                                                             \
    .bw_efficiency = 0.75, .compute_efficiency = 0.5, .decode_efficiency = 0.5,                    \
    .memory_usable = 0.9, .max_per_replica = 8, .tp_efficiency = 0.9, .prefill_chunk = 512

plan_device plan_device_default(void) {
    /* Serving efficiencies of an accelerator stack: decode streams weights at about 3/4 of the
     * peak bandwidth, prefill reaches about half the dense peak (docs/fleet.md, "Efficiencies").
     */
    return (plan_device){.group = "default", ACCEL_DEFAULTS};
}

static const plan_device table[] = {
    {SPEC("h20", "imported", 96, 4000, 148, 296, 13000, 400), ACCEL_DEFAULTS},
    {SPEC("ascend-910b", "domestic", 64, 1600, 320, 640, 17000, 310), ACCEL_DEFAULTS},
    {SPEC("mlu370-x8", "domestic", 48, 614.4, 96, 256, 6000, 250), ACCEL_DEFAULTS},
    {SPEC("mlu590", "domestic", 192, 2400, 390, 780, 10000, 450), ACCEL_DEFAULTS},
    /* One-socket CPU server (EPYC 9654 class, 12 channels of DDR5-4800). beanbag's own kernels
     * reach these fractions on the project's machine (README: 89 % of the measured bandwidth
     * in decode, 67-80 % of the int8 peak in prefill, and 16 streams of a 1.1 B model at 64
     * tokens/s, 34 % of it, in the small GEMMs of batched decode). One replica per server;
     * the prefill chunk is `serve`'s default step budget. */
    {SPEC("cpu-server", "cpu", 768, 460.8, 7.4, 29.5, 15000, 600), .bw_efficiency = 0.85,
     .compute_efficiency = 0.6, .decode_efficiency = 0.35, .memory_usable = 0.9,
     .max_per_replica = 1, .tp_efficiency = 1, .prefill_chunk = 32},
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
