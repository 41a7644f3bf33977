/* The roofline model of one device type serving a workload (formulas derived in
 * docs/fleet.md, section "The model"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "plan/plan.h"

const char *plan_bound_name(plan_bound b) {
    switch (b) {
    case PLAN_BANDWIDTH:
        return "bandwidth";
    case PLAN_COMPUTE:
        return "compute";
    case PLAN_KV_MEMORY:
        return "kv_memory";
    case PLAN_ITL_SLO:
        return "inter_token_slo";
    case PLAN_TTFT_SLO:
        return "ttft_slo";
    }
    return "?";
}

/* Turn t (1-based) of a conversation: the prompt holds the persona S, the t - 1 earlier turns
 * (p + o each) and the new message p. With history_cached the earlier turns are still in the
 * replica's prefix cache and only p is read; otherwise everything after the persona is. */
void plan_turns_derive(const plan_workload *w, plan_turns *out) {
    double S = w->persona_tokens, p = w->prompt_tokens, o = w->output_tokens;
    int32_t T = w->turns;
    double new_sum = 0, keys_sum = 0, ctx_sum = 0;
    for (int32_t t = 1; t <= T; t++) {
        double hist = (double)(t - 1) * (p + o);
        double n = w->history_cached ? p : hist + p;
        double k0 = w->history_cached ? S + hist : S; /* keys already cached before them */
        new_sum += n;
        keys_sum += n * k0 + n * (n + 1) / 2;  /* causal: token i attends to k0 + i + 1 keys */
        ctx_sum += S + hist + p + (o + 1) / 2; /* generated token j attends to C_t + j + 1 */
    }
    out->new_tokens = new_sum / T;
    out->prefill_keys = keys_sum / T;
    out->decode_ctx = ctx_sum / T;
    out->daily_turns = w->daily_users * w->conversations_per_user_day * T;
    out->peak_turns_s = out->daily_turns * w->peak_hour_share / 3600.0;
}

void plan_replica_peaks(const plan_device *d, const plan_model *m, int32_t k, plan_peaks *out) {
    double scale = k * (k > 1 ? d->tp_efficiency : 1.0);
    double peak = (m->int8 ? d->int8_tops : d->fp16_tflops) * 1e12 * scale;
    out->bw = d->bandwidth_gbs * 1e9 * d->bw_efficiency * scale;
    out->decode_flops = peak * d->decode_efficiency;
    out->prefill_flops = peak * d->compute_efficiency;
}

/* The b streams' tokens run at the decode efficiency, the prompt tokens beside them at the
 * prefill one. */
double plan_step_time(const plan_model *m, const plan_peaks *p, double b, double ctx, double extra,
                      plan_bound *bound) {
    double bytes = m->weight_bytes + b * ctx * m->kv_bytes_per_token;
    double t_mem = bytes / p->bw;
    double per_token = m->matmul_flops + m->attn_flops_per_key * ctx;
    double t_cmp = b * per_token / p->decode_flops + extra * per_token / p->prefill_flops;
    if (bound) *bound = t_cmp > t_mem ? PLAN_COMPUTE : PLAN_BANDWIDTH;
    return t_cmp > t_mem ? t_cmp : t_mem;
}

/* ln(100): the 99th percentile of an exponential distribution in units of its mean. */
#define LN100 4.605170185988091

typedef struct replica_eval {
    bool feasible;
    char why[192];
    int32_t batch, batch_kv, batch_slo;
    plan_bound binding, step_bound;
    double step_s, itl_s, prefill_s, ttft_s, c_turn, rho, mem_bytes;
} replica_eval;

static void eval_replica(const plan_workload *w, const plan_fleet *f, const plan_device *d,
                         const plan_turns *t, int32_t k, replica_eval *r) {
    const plan_model *m = &w->model;
    memset(r, 0, sizeof *r);
    plan_peaks pk;
    plan_replica_peaks(d, m, k, &pk);
    double mem = k * d->memory_gb * 1e9 * d->memory_usable;
    double L = t->decode_ctx;
    double kv_shared = w->persona_tokens * m->kv_bytes_per_token; /* one copy per replica */
    double kv_seq = (L - w->persona_tokens) * m->kv_bytes_per_token;
    double room = mem - m->weight_bytes - kv_shared;
    if (room <= 0) {
        snprintf(r->why, sizeof r->why,
                 "%.1f GB of weights and persona cache do not fit in %d x %.0f GB",
                 (m->weight_bytes + kv_shared) / 1e9, k, d->memory_gb);
        return;
    }
    double bkv = kv_seq > 0 ? floor(room / kv_seq) : PLAN_MAX_BATCH_LIMIT;
    if (bkv > PLAN_MAX_BATCH_LIMIT) bkv = PLAN_MAX_BATCH_LIMIT;
    r->batch_kv = (int32_t)bkv;
    if (r->batch_kv < 1) {
        snprintf(r->why, sizeof r->why,
                 "no room for one sequence's KV cache (%.2f GB) on %d x "
                 "%.0f GB",
                 kv_seq / 1e9, k, d->memory_gb);
        return;
    }
    /* Inter-token p99: a step that carries a prefill chunk beside the b streams. */
    double chunk = d->prefill_chunk < t->new_tokens ? d->prefill_chunk : t->new_tokens;
    double itl_slo = w->itl_p99_ms / 1000.0;
    int32_t cap = f->max_batch < r->batch_kv ? f->max_batch : r->batch_kv;
    int32_t bslo = 0;
    for (int32_t b = 1; b <= cap; b++) {
        if (plan_step_time(m, &pk, b, L, chunk, NULL) > itl_slo) break;
        bslo = b;
    }
    double itl1 = plan_step_time(m, &pk, 1, L, chunk, NULL);
    if (bslo < 1) {
        snprintf(r->why, sizeof r->why,
                 "one stream's step with a %.0f-token prefill chunk takes %.1f ms, over the %.0f "
                 "ms inter-token objective",
                 chunk, itl1 * 1000, w->itl_p99_ms);
        return;
    }
    r->batch_slo = bslo;
    int32_t b = bslo;
    r->batch = b;
    r->mem_bytes = m->weight_bytes + kv_shared + b * kv_seq;
    r->step_s = plan_step_time(m, &pk, b, L, 0, &r->step_bound);
    r->itl_s = plan_step_time(m, &pk, b, L, chunk, NULL);
    r->prefill_s = (m->matmul_flops * t->new_tokens + m->attn_flops_per_key * t->prefill_keys) /
                   pk.prefill_flops;
    r->c_turn = r->prefill_s + w->output_tokens * r->step_s / b;
    /* TTFT p99 = ln(100) t_pf / (1 - rho) + itl: the largest utilisation that meets it. */
    double slack = w->ttft_p99_s - r->itl_s;
    double rho_ttft = slack > 0 ? 1 - LN100 * r->prefill_s / slack : -1;
    if (rho_ttft <= 0) {
        snprintf(r->why, sizeof r->why,
                 "a %.0f-token prefill takes %.2f s: the %.2f s TTFT objective cannot be met",
                 t->new_tokens, r->prefill_s, w->ttft_p99_s);
        return;
    }
    r->rho = rho_ttft < f->target_utilization ? rho_ttft : f->target_utilization;
    r->ttft_s = LN100 * r->prefill_s / (1 - r->rho) + r->itl_s;
    if (rho_ttft < f->target_utilization)
        r->binding = PLAN_TTFT_SLO;
    else if (b < cap)
        r->binding = PLAN_ITL_SLO;
    else if (r->batch_kv <= f->max_batch)
        r->binding = PLAN_KV_MEMORY;
    else
        r->binding = r->step_bound; /* the batch cap: the step's own limit binds */
    r->feasible = true;
}

void plan_estimate_device(const plan_workload *w, const plan_fleet *f, const plan_device *d,
                          const plan_turns *t, plan_estimate *out) {
    memset(out, 0, sizeof *out);
    replica_eval best = {0}, r;
    int32_t best_k = 0;
    double best_cost = 0;
    char first_why[192] = "";
    /* Tensor-parallel degrees 1, 2, 4, ...: the one needing fewest devices per turn/s. */
    for (int32_t k = 1; k <= d->max_per_replica; k *= 2) {
        eval_replica(w, f, d, t, k, &r);
        if (!r.feasible) {
            if (!first_why[0] || best_k == 0) snprintf(first_why, sizeof first_why, "%s", r.why);
            continue;
        }
        double cost = k * r.c_turn / r.rho;
        if (best_k == 0 || cost < best_cost * (1 - 1e-9)) {
            best = r;
            best_k = k;
            best_cost = cost;
        }
    }
    out->cost_per_hour = 0;
    if (best_k == 0) {
        snprintf(out->why, sizeof out->why, "%s", first_why);
        return;
    }
    out->feasible = true;
    out->per_replica = best_k;
    out->batch = best.batch;
    out->batch_kv = best.batch_kv;
    out->batch_slo = best.batch_slo;
    out->binding = best.binding;
    out->step_bound = best.step_bound;
    out->step_s = best.step_s;
    out->itl_p99_s = best.itl_s;
    out->prefill_s = best.prefill_s;
    out->ttft_p99_s = best.ttft_s;
    out->utilization = best.rho;
    out->replica_memory_gb = best.mem_bytes / 1e9;
    out->device_s_per_turn = best_k * best.c_turn;
    out->turns_s_per_device = best.rho / out->device_s_per_turn;
    out->tokens_s_per_device = out->turns_s_per_device * w->output_tokens;
    double replicas = ceil(t->peak_turns_s / (out->turns_s_per_device * best_k) - 1e-9);
    out->standalone_devices = (replicas < 1 ? 1 : replicas) * best_k;
}

double plan_streams_tps(const plan_model *m, const plan_peaks *pk, int32_t concurrency,
                        int32_t prompt, int32_t gen) {
    double P = prompt, N = gen, c = concurrency;
    /* All prompts are read (compute) and then N steps of c streams run at mean context
     * P + (N + 1) / 2; chunked prefill interleaves the two without changing the sum. */
    double t_pf =
        (m->matmul_flops * P + m->attn_flops_per_key * P * (P + 1) / 2) / pk->prefill_flops;
    double t_step = plan_step_time(m, pk, c, P + (N + 1) / 2, 0, NULL);
    return c * N / (c * t_pf + N * t_step);
}

bb_status plan_calibrate(plan_device *d, const plan_profile *p, bb_error *err) {
    const plan_model *m = &p->model;
    const plan_point *one = NULL;
    for (int32_t i = 0; i < p->n_points; i++)
        if (p->points[i].concurrency == 1) one = &p->points[i];
    if (!one || p->prefill_tps <= 0 || p->gen_tokens < 1)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "profile: calibration needs a concurrency-1 point and prefill_tps");
    double P = p->prompt_tokens, N = p->gen_tokens;
    double peak = (m->int8 ? d->int8_tops : d->fp16_tflops) * 1e12;
    if (peak <= 0 || d->bandwidth_gbs <= 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "profile: the device has no peaks to scale");
    /* prefill: tokens/s = P / t_pf */
    double flops_pf = m->matmul_flops * P + m->attn_flops_per_key * P * (P + 1) / 2;
    double t_pf = P / p->prefill_tps;
    d->compute_efficiency = flops_pf / t_pf / peak;
    /* one stream's inter-token gap is one bandwidth-bound decode step */
    double t_step = one->itl_p50_ms / 1000;
    double ctx = P + (N + 1) / 2;
    double bytes = m->weight_bytes + ctx * m->kv_bytes_per_token;
    if (t_step <= 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "profile: the concurrency-1 point has no inter-token time");
    d->bw_efficiency = bytes / t_step / (d->bandwidth_gbs * 1e9);
    /* A model small enough to stay in the caches runs faster than memory bandwidth allows; the
     * fit is capped at the peaks so that a larger model is never planned above them. */
    if (d->bw_efficiency > 1) d->bw_efficiency = 1;
    if (d->compute_efficiency > 1) d->compute_efficiency = 1;
    /* The most streams measured: when their step takes longer than reading the weights, it
     * is compute-bound, and its median gap gives the decode efficiency. */
    const plan_point *hi = one;
    for (int32_t i = 0; i < p->n_points; i++)
        if (p->points[i].concurrency > hi->concurrency) hi = &p->points[i];
    double c = hi->concurrency, t_hi = hi->itl_p50_ms / 1000;
    double t_mem = (m->weight_bytes + c * ctx * m->kv_bytes_per_token) /
                   (d->bandwidth_gbs * 1e9 * d->bw_efficiency);
    if (c > 1 && t_hi > t_mem) {
        d->decode_efficiency = c * (m->matmul_flops + m->attn_flops_per_key * ctx) / t_hi / peak;
        if (d->decode_efficiency > 1) d->decode_efficiency = 1;
    }
    d->calibrated = true;
    return BB_OK;
}
