/*
 * Fleet capacity planning: how many devices of which types serve a chat workload at its peak
 * hour within its latency objectives, and at what cost and power per million tokens.
 *
 * The estimate is a roofline (docs/fleet.md derives every formula used here):
 *
 *   decode step of B streams, mean context L:
 *     t_step(B) = max((W + B L kv) / BW, B (F + A L) / P)
 *   W weight bytes, kv KV-cache bytes per token, F matrix FLOPs per token, A attention FLOPs per
 *   key attended, BW and P the replica's effective bandwidth and compute peak;
 *   prefill of a turn: t_pf = (F N + A K) / P, N new prompt tokens, K keys they attend to;
 *   a replica serving B streams spends c(B) = t_pf + o t_step(B) / B device-seconds per turn
 *   (o output tokens); B is limited by the KV memory, by the inter-token objective (a step
 *   that also carries a prefill chunk must fit in it) and by a batch cap; time to first token
 *   is the prefill behind an M/M/1 queue at the replica's utilisation.
 *
 * A measured profile (`beanbag bench --serve`) calibrates a device: its bandwidth and compute
 * efficiencies are fitted to it (prefill tokens/s against the compute peak, one stream's
 * inter-token time against the bandwidth), capped at 1, instead of taken from spec defaults.
 */
#ifndef BB_PLAN_H
#define BB_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "beanbag.h"
#include "common/strbuf.h"

#define PLAN_NAME_MAX 64
#define PLAN_MAX_DEVICES 16
#define PLAN_MAX_GROUPS 8
#define PLAN_MAX_POINTS 16
#define PLAN_MAX_BATCH_LIMIT 65536

/* What one token costs, for the roofline. */
typedef struct plan_model {
    char name[PLAN_NAME_MAX];
    double weight_bytes;       /* read once per decode step */
    double matmul_flops;       /* per token: 2 per matrix weight */
    double attn_flops_per_key; /* per token and key attended: QK and AV over heads and layers */
    double kv_bytes_per_token; /* K and V of all layers */
    bool int8;                 /* matrix products run at the int8 peak, else the FP16 one */
} plan_model;

/* One concurrency level of a measured serving curve. */
typedef struct plan_point {
    int32_t concurrency;
    double tokens_per_s; /* aggregate generated tokens per second */
    double ttft_p50_s, ttft_p99_s;
    double itl_p50_ms, itl_p99_ms;
} plan_point;

/* A device profile written by `beanbag bench --serve --json`. */
typedef struct plan_profile {
    plan_model model;
    char device[PLAN_NAME_MAX];
    int32_t n_threads;
    double mem_read_gbs, int8_gops, fp32_gflops; /* the machine's measured limits */
    double memory_bytes;                         /* memory left for weights and KV */
    int32_t prompt_tokens, gen_tokens, step_tokens;
    double prefill_tps;
    int32_t kv_seq_len;
    double kv_sequences;
    int32_t n_points;
    plan_point points[PLAN_MAX_POINTS];
} plan_profile;

typedef struct plan_device {
    char name[PLAN_NAME_MAX];
    char group[PLAN_NAME_MAX]; /* for share constraints, e.g. "domestic" */
    double memory_gb;          /* per device */
    double bandwidth_gbs;
    double fp16_tflops, int8_tops; /* dense */
    double price_usd;              /* purchase, amortised over the fleet's years */
    double power_w;
    double bw_efficiency;      /* fraction of the peak bandwidth decode steps reach */
    double compute_efficiency; /* fraction of the compute peak prefill reaches */
    double decode_efficiency;  /* fraction of the compute peak decode steps reach (small GEMMs) */
    double memory_usable;      /* fraction of memory for weights and KV */
    int32_t max_per_replica;   /* tensor-parallel devices per replica, 1..64 */
    double tp_efficiency;  /* fraction of k devices' bandwidth and compute one replica of k gets */
    int32_t prefill_chunk; /* prompt tokens a decode step carries beside the streams */
    double max_devices;    /* how many are available; 0: no limit */
    bool calibrated;       /* efficiencies fitted to a profile */
    char profile_path[256];
} plan_device;

typedef struct plan_workload {
    char name[PLAN_NAME_MAX];
    double monthly_users, daily_users;
    double peak_hour_share; /* fraction of a day's turns in its busiest hour */
    double conversations_per_user_day;
    int32_t turns;
    double prompt_tokens, output_tokens; /* per turn */
    double persona_tokens;               /* shared system prompt, cached once per replica */
    bool history_cached; /* earlier turns stay in the replica's prefix cache (affinity) */
    double ttft_p99_s, itl_p99_ms;
    plan_model model;
} plan_workload;

typedef struct plan_constraint {
    char group[PLAN_NAME_MAX];
    double min_share; /* of the peak traffic */
} plan_constraint;

typedef struct plan_fleet {
    int32_t n_devices;
    plan_device devices[PLAN_MAX_DEVICES];
    int32_t n_constraints;
    plan_constraint constraints[PLAN_MAX_GROUPS];
    double target_utilization;
    double amortization_years;
    double electricity_usd_per_kwh;
    double pue;
    int32_t max_batch;
} plan_fleet;

/* Per-turn token counts that follow from the workload (means over a conversation's turns). */
typedef struct plan_turns {
    double new_tokens;   /* prompt tokens prefilled per turn */
    double prefill_keys; /* keys those tokens attend to, summed */
    double decode_ctx;   /* mean keys a generated token attends to */
    double peak_turns_s;
    double daily_turns;
} plan_turns;

typedef enum plan_bound {
    PLAN_BANDWIDTH = 0,
    PLAN_COMPUTE,
    PLAN_KV_MEMORY,
    PLAN_ITL_SLO,
    PLAN_TTFT_SLO,
} plan_bound;

const char *plan_bound_name(plan_bound b);

/* How one device type serves the workload on its own. */
typedef struct plan_estimate {
    bool feasible;
    char why[192]; /* when not feasible */
    int32_t per_replica;
    int32_t batch;
    int32_t batch_kv, batch_slo; /* the two limits on the batch */
    plan_bound binding;          /* what limits throughput */
    plan_bound step_bound;       /* bandwidth or compute, at the chosen batch */
    double step_s, itl_p99_s, prefill_s, ttft_p99_s;
    double device_s_per_turn; /* replica-seconds per turn x per_replica */
    double utilization;       /* the busy fraction planned for */
    double turns_s_per_device, tokens_s_per_device;
    double replica_memory_gb; /* weights, persona and the batch's KV: a replica's request */
    double cost_per_hour;     /* per device: amortised price and power */
    double standalone_devices;
} plan_estimate;

typedef struct plan_share {
    double share; /* of peak traffic */
    double devices;
} plan_share;

typedef struct plan_result {
    plan_turns turns;
    plan_estimate est[PLAN_MAX_DEVICES];
    plan_share mix[PLAN_MAX_DEVICES];
    double devices, cost_per_month, power_kw;
    double cost_per_mtok, cost_per_mtok_out, kwh_per_mtok;
} plan_result;

/* The built-in spec table (src/plan/specs.c; sources in docs/fleet.md). */
int32_t plan_builtin_count(void);
const plan_device *plan_builtin(int32_t i);
const plan_device *plan_builtin_find(const char *name);
/* A device with default efficiencies and no spec figures. */
plan_device plan_device_default(void);

/* Input (src/plan/input.c). Every error names the field, e.g. "workload.slo.ttft_p99_s". */
bb_status plan_workload_parse(const cJSON *j, plan_workload *out, bb_error *err);
/* base_dir: where relative "profile" paths are read from. */
bb_status plan_fleet_parse(const cJSON *j, const char *base_dir, plan_fleet *out, bb_error *err);
bb_status plan_profile_parse(const cJSON *j, plan_profile *out, bb_error *err);
bb_status plan_read_json(const char *path, cJSON **out, bb_error *err);

/* The model (src/plan/roofline.c). */
void plan_turns_derive(const plan_workload *w, plan_turns *out);
/* What a replica of k devices reaches: bytes/s, and FLOP/s in decode steps and in prefill. */
typedef struct plan_peaks {
    double bw, decode_flops, prefill_flops;
} plan_peaks;
void plan_replica_peaks(const plan_device *d, const plan_model *m, int32_t k, plan_peaks *out);
/* One decode step of b streams at mean context ctx, with extra prompt tokens riding along. */
double plan_step_time(const plan_model *m, const plan_peaks *p, double b, double ctx, double extra,
                      plan_bound *bound);
void plan_estimate_device(const plan_workload *w, const plan_fleet *f, const plan_device *d,
                          const plan_turns *t, plan_estimate *out);
/* Aggregate tokens/s of `concurrency` streams started together, each a prompt of `prompt`
 * tokens then `gen` generated ones: what `bench --serve` measures. */
double plan_streams_tps(const plan_model *m, const plan_peaks *p, int32_t concurrency,
                        int32_t prompt, int32_t gen);
/* Fits a device's efficiencies to a measured profile. */
bb_status plan_calibrate(plan_device *d, const plan_profile *p, bb_error *err);

/* The whole plan (src/plan/mix.c): every device type alone, then the cheapest mix that meets
 * the share constraints. */
bb_status plan_run(const plan_workload *w, const plan_fleet *f, plan_result *out, bb_error *err);

/* Output (src/plan/report.c). */
typedef enum plan_format { PLAN_TEXT, PLAN_JSON, PLAN_MARKDOWN, PLAN_SVG } plan_format;
void plan_report(const plan_workload *w, const plan_fleet *f, const plan_result *r, plan_format fmt,
                 bb_strbuf *out);

#endif
