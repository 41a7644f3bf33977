/* Workload, fleet and profile JSON (formats in docs/fleet.md, "Inputs"). Every value is checked
 * for type and range, unknown fields are refused (a misspelt field would otherwise be silently
 * replaced by its default), and every message names the field by its path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "plan/plan.h"

static bb_status field_err(bb_error *err, const char *path, const char *key, const char *fmt,
                           double v) {
    char msg[160];
    snprintf(msg, sizeof msg, fmt, v);
    return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s%s%s: %s", path, key ? "." : "", key ? key : "",
                   msg);
}

/* Refuses fields not in the NULL-terminated list. */
static bb_status known_fields(const cJSON *o, const char *path, const char *const *keys,
                              bb_error *err) {
    if (!cJSON_IsObject(o))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s: expected an object", path);
    for (const cJSON *c = o->child; c; c = c->next) {
        bool ok = false;
        for (const char *const *k = keys; *k && !ok; k++)
            ok = c->string && !strcmp(c->string, *k);
        if (!ok)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.%s: unknown field", path,
                           c->string ? c->string : "?");
    }
    return BB_OK;
}

/* A number in [lo, hi]; *present tells whether it was given (NULL: required). */
static bb_status num(const cJSON *o, const char *path, const char *key, double lo, double hi,
                     bool *present, double *out, bb_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (present) *present = v != NULL && !cJSON_IsNull(v);
    if (!v || cJSON_IsNull(v)) {
        if (present) return BB_OK;
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.%s: missing", path, key);
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.%s: expected a number", path, key);
    double x = v->valuedouble;
    if (x < lo || x > hi) {
        char range[96];
        snprintf(range, sizeof range, "must be in [%g, %g], got %%g", lo, hi);
        return field_err(err, path, key, range, x);
    }
    *out = x;
    return BB_OK;
}

static bb_status opt_num(const cJSON *o, const char *path, const char *key, double lo, double hi,
                         double *out, bb_error *err) {
    bool present;
    return num(o, path, key, lo, hi, &present, out, err);
}

static bb_status integer(const cJSON *o, const char *path, const char *key, double lo, double hi,
                         bool *present, int32_t *out, bb_error *err) {
    double x = 0;
    bool given = true;
    bb_status st = num(o, path, key, lo, hi, present ? &given : NULL, &x, err);
    if (st || !given) return st;
    if (x != floor(x)) return field_err(err, path, key, "expected an integer, got %g", x);
    *out = (int32_t)x;
    return BB_OK;
}

static bb_status string(const cJSON *o, const char *path, const char *key, bool required, char *out,
                        size_t cap, bb_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (!required) return BB_OK;
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.%s: missing", path, key);
    }
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.%s: expected a non-empty string", path,
                       key);
    if (strlen(v->valuestring) >= cap)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.%s: longer than %zu bytes", path, key,
                       cap - 1);
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return BB_OK;
}

static bb_status boolean(const cJSON *o, const char *path, const char *key, bool *out,
                         bb_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return BB_OK;
    if (!cJSON_IsBool(v))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.%s: expected true or false", path, key);
    *out = cJSON_IsTrue(v);
    return BB_OK;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        bb_status st_ = (x);                                                                       \
        if (st_ != BB_OK) return st_;                                                              \
    } while (0)

/* ---------------------------------------------------------------- the model */

static bb_status parse_model(const cJSON *o, const char *path, plan_model *m, bb_error *err) {
    static const char *const keys[] = {"name",
                                       "params",
                                       "matmul_flops_per_token",
                                       "weight_bytes",
                                       "bits_per_weight",
                                       "n_layer",
                                       "n_head",
                                       "n_head_kv",
                                       "head_dim",
                                       "kv_bytes_per_element",
                                       "compute",
                                       NULL};
    TRY(known_fields(o, path, keys, err));
    memset(m, 0, sizeof *m);
    TRY(string(o, path, "name", false, m->name, sizeof m->name, err));
    double params = 0, flops = 0, wbytes = 0, bits = 0, layers, heads, kv_heads, hd, elem = 2;
    bool has_params, has_flops, has_bytes, has_bits;
    TRY(num(o, path, "params", 1, 1e14, &has_params, &params, err));
    TRY(num(o, path, "matmul_flops_per_token", 1, 1e15, &has_flops, &flops, err));
    TRY(num(o, path, "weight_bytes", 1, 1e15, &has_bytes, &wbytes, err));
    TRY(num(o, path, "bits_per_weight", 1, 32, &has_bits, &bits, err));
    if (!has_params && !(has_flops && has_bytes))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "%s.params: missing (or give both matmul_flops_per_token and weight_bytes)",
                       path);
    if (!has_bytes && !has_bits)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "%s.bits_per_weight: missing (or give weight_bytes)", path);
    TRY(num(o, path, "n_layer", 1, 4096, NULL, &layers, err));
    TRY(num(o, path, "n_head", 1, 4096, NULL, &heads, err));
    TRY(num(o, path, "n_head_kv", 1, 4096, NULL, &kv_heads, err));
    TRY(num(o, path, "head_dim", 1, 65536, NULL, &hd, err));
    TRY(opt_num(o, path, "kv_bytes_per_element", 0.125, 8, &elem, err));
    if (kv_heads > heads)
        return field_err(err, path, "n_head_kv", "must not exceed n_head (%g)", heads);
    char compute[16] = "fp16";
    TRY(string(o, path, "compute", false, compute, sizeof compute, err));
    if (strcmp(compute, "fp16") && strcmp(compute, "int8"))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.compute: expected \"fp16\" or \"int8\"",
                       path);
    m->int8 = !strcmp(compute, "int8");
    /* 2 FLOPs per matrix weight and token (the embedding lookup, counted in params, is no
     * product; the difference is small for large models and `matmul_flops_per_token` is there
     * when it matters). */
    m->matmul_flops = has_flops ? flops : 2 * params;
    m->weight_bytes = has_bytes ? wbytes : params * bits / 8;
    m->attn_flops_per_key = 2.0 * layers * heads * 2 * hd;       /* QK and AV, 2 FLOPs each */
    m->kv_bytes_per_token = 2.0 * layers * kv_heads * hd * elem; /* K and V */
    return BB_OK;
}

/* ---------------------------------------------------------------- the workload */

bb_status plan_workload_parse(const cJSON *j, plan_workload *w, bb_error *err) {
    static const char *const keys[] = {"name",
                                       "monthly_active_users",
                                       "daily_active_users",
                                       "peak_hour_share",
                                       "conversations_per_user_per_day",
                                       "turns_per_conversation",
                                       "prompt_tokens_per_turn",
                                       "output_tokens_per_turn",
                                       "persona_prefix_tokens",
                                       "history_cached",
                                       "slo",
                                       "model",
                                       NULL};
    static const char *const slo_keys[] = {"ttft_p99_s", "inter_token_p99_ms", NULL};
    const char *P = "workload";
    memset(w, 0, sizeof *w);
    TRY(known_fields(j, P, keys, err));
    TRY(string(j, P, "name", false, w->name, sizeof w->name, err));
    TRY(num(j, P, "monthly_active_users", 1, 1e11, NULL, &w->monthly_users, err));
    TRY(num(j, P, "daily_active_users", 1, w->monthly_users, NULL, &w->daily_users, err));
    /* the busiest hour holds at least an even 1/24 of the day */
    TRY(num(j, P, "peak_hour_share", 1.0 / 24, 1, NULL, &w->peak_hour_share, err));
    TRY(num(j, P, "conversations_per_user_per_day", 1e-3, 1e4, NULL, &w->conversations_per_user_day,
            err));
    TRY(integer(j, P, "turns_per_conversation", 1, 1000, NULL, &w->turns, err));
    TRY(num(j, P, "prompt_tokens_per_turn", 1, 1e6, NULL, &w->prompt_tokens, err));
    TRY(num(j, P, "output_tokens_per_turn", 1, 1e6, NULL, &w->output_tokens, err));
    TRY(opt_num(j, P, "persona_prefix_tokens", 0, 1e7, &w->persona_tokens, err));
    TRY(boolean(j, P, "history_cached", &w->history_cached, err));
    const cJSON *slo = cJSON_GetObjectItemCaseSensitive(j, "slo");
    if (!slo) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "workload.slo: missing");
    TRY(known_fields(slo, "workload.slo", slo_keys, err));
    TRY(num(slo, "workload.slo", "ttft_p99_s", 1e-3, 3600, NULL, &w->ttft_p99_s, err));
    TRY(num(slo, "workload.slo", "inter_token_p99_ms", 0.01, 1e5, NULL, &w->itl_p99_ms, err));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (!m) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "workload.model: missing");
    TRY(parse_model(m, "workload.model", &w->model, err));
    double ctx = w->persona_tokens + w->turns * (w->prompt_tokens + w->output_tokens);
    if (ctx > 1e7)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "workload.turns_per_conversation: a conversation reaches %.0f tokens of "
                       "context (at most 10 million)",
                       ctx);
    return BB_OK;
}

/* ---------------------------------------------------------------- profiles */

bb_status plan_read_json(const char *path, cJSON **out, bb_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return bb_fail(err, BB_ERR_IO, "%s: cannot open", path);
    /* Inputs are small hand-written files; 16 MiB bounds what is read. */
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        if (cap >= (size_t)16 << 20) {
            free(buf);
            fclose(f);
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s: larger than 16 MiB", path);
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    buf[n] = 0;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(buf, &end, 1);
    if (!j) {
        size_t at = end && end >= buf ? (size_t)(end - buf) : 0;
        free(buf);
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s: not valid JSON (near byte %zu)", path,
                       at);
    }
    free(buf);
    *out = j;
    return BB_OK;
}

bb_status plan_profile_parse(const cJSON *j, plan_profile *p, bb_error *err) {
    static const char *const keys[] = {"kind",          "version",    "model",       "machine",
                                       "prompt_tokens", "gen_tokens", "step_tokens", "prefill_tps",
                                       "kv_capacity",   "curve",      NULL};
    static const char *const mkeys[] = {"name",
                                        "weight_bytes",
                                        "matmul_flops_per_token",
                                        "attn_flops_per_key",
                                        "kv_bytes_per_token",
                                        "compute",
                                        NULL};
    static const char *const hkeys[] = {
        "device", "n_threads", "mem_read_gbs", "int8_gops", "fp32_gflops", "memory_bytes", NULL};
    static const char *const kkeys[] = {"seq_len", "sequences", NULL};
    static const char *const ckeys[] = {"concurrency", "tokens_per_s", "ttft_p50_s", "ttft_p99_s",
                                        "itl_p50_ms",  "itl_p99_ms",   "requests",   NULL};
    const char *P = "profile";
    memset(p, 0, sizeof *p);
    TRY(known_fields(j, P, keys, err));
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "beanbag.serve_profile"))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "profile.kind: expected \"beanbag.serve_profile\"");
    int32_t version = 0;
    TRY(integer(j, P, "version", 1, 1, NULL, &version, err));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (!m) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "profile.model: missing");
    TRY(known_fields(m, "profile.model", mkeys, err));
    TRY(string(m, "profile.model", "name", false, p->model.name, sizeof p->model.name, err));
    TRY(num(m, "profile.model", "weight_bytes", 1, 1e15, NULL, &p->model.weight_bytes, err));
    TRY(num(m, "profile.model", "matmul_flops_per_token", 1, 1e15, NULL, &p->model.matmul_flops,
            err));
    TRY(num(m, "profile.model", "attn_flops_per_key", 0, 1e12, NULL, &p->model.attn_flops_per_key,
            err));
    TRY(num(m, "profile.model", "kv_bytes_per_token", 0, 1e12, NULL, &p->model.kv_bytes_per_token,
            err));
    char compute[16] = "int8";
    TRY(string(m, "profile.model", "compute", false, compute, sizeof compute, err));
    if (strcmp(compute, "fp16") && strcmp(compute, "int8"))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "profile.model.compute: expected \"fp16\" or \"int8\"");
    p->model.int8 = !strcmp(compute, "int8");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "machine");
    if (!h) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "profile.machine: missing");
    TRY(known_fields(h, "profile.machine", hkeys, err));
    TRY(string(h, "profile.machine", "device", false, p->device, sizeof p->device, err));
    TRY(integer(h, "profile.machine", "n_threads", 1, 65536, NULL, &p->n_threads, err));
    TRY(num(h, "profile.machine", "mem_read_gbs", 1e-3, 1e6, NULL, &p->mem_read_gbs, err));
    TRY(num(h, "profile.machine", "int8_gops", 1e-3, 1e9, NULL, &p->int8_gops, err));
    TRY(num(h, "profile.machine", "fp32_gflops", 1e-3, 1e9, NULL, &p->fp32_gflops, err));
    TRY(num(h, "profile.machine", "memory_bytes", 0, 1e15, NULL, &p->memory_bytes, err));
    TRY(integer(j, P, "prompt_tokens", 1, 1 << 24, NULL, &p->prompt_tokens, err));
    TRY(integer(j, P, "gen_tokens", 1, 1 << 24, NULL, &p->gen_tokens, err));
    TRY(integer(j, P, "step_tokens", 1, 1 << 24, NULL, &p->step_tokens, err));
    TRY(num(j, P, "prefill_tps", 1e-6, 1e12, NULL, &p->prefill_tps, err));
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(j, "kv_capacity");
    if (!kv) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "profile.kv_capacity: missing");
    TRY(known_fields(kv, "profile.kv_capacity", kkeys, err));
    TRY(integer(kv, "profile.kv_capacity", "seq_len", 1, 1 << 30, NULL, &p->kv_seq_len, err));
    TRY(num(kv, "profile.kv_capacity", "sequences", 0, 1e12, NULL, &p->kv_sequences, err));
    const cJSON *curve = cJSON_GetObjectItemCaseSensitive(j, "curve");
    if (!cJSON_IsArray(curve) || cJSON_GetArraySize(curve) < 1 ||
        cJSON_GetArraySize(curve) > PLAN_MAX_POINTS)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "profile.curve: expected 1 to %d points",
                       PLAN_MAX_POINTS);
    int32_t i = 0;
    for (const cJSON *c = curve->child; c; c = c->next, i++) {
        char path[48];
        snprintf(path, sizeof path, "profile.curve[%d]", i);
        plan_point *q = &p->points[i];
        double requests;
        TRY(known_fields(c, path, ckeys, err));
        TRY(integer(c, path, "concurrency", 1, 65536, NULL, &q->concurrency, err));
        TRY(num(c, path, "tokens_per_s", 1e-9, 1e12, NULL, &q->tokens_per_s, err));
        TRY(num(c, path, "ttft_p50_s", 0, 1e6, NULL, &q->ttft_p50_s, err));
        TRY(num(c, path, "ttft_p99_s", 0, 1e6, NULL, &q->ttft_p99_s, err));
        TRY(num(c, path, "itl_p50_ms", 0, 1e9, NULL, &q->itl_p50_ms, err));
        TRY(num(c, path, "itl_p99_ms", 0, 1e9, NULL, &q->itl_p99_ms, err));
        TRY(opt_num(c, path, "requests", 0, 1e12, &requests, err));
    }
    p->n_points = i;
    return BB_OK;
}

/* ---------------------------------------------------------------- the fleet */

static bb_status parse_device(const cJSON *o, const char *path, const char *base_dir,
                              plan_device *d, bb_error *err) {
    static const char *const keys[] = {"type",
                                       "name",
                                       "group",
                                       "memory_gb",
                                       "bandwidth_gbs",
                                       "fp16_tflops",
                                       "int8_tops",
                                       "price_usd",
                                       "power_w",
                                       "bw_efficiency",
                                       "compute_efficiency",
                                       "decode_efficiency",
                                       "memory_usable",
                                       "max_per_replica",
                                       "tp_efficiency",
                                       "prefill_chunk",
                                       "max_devices",
                                       "profile",
                                       NULL};
    TRY(known_fields(o, path, keys, err));
    char type[PLAN_NAME_MAX] = "";
    TRY(string(o, path, "type", false, type, sizeof type, err));
    if (type[0]) {
        const plan_device *b = plan_builtin_find(type);
        if (!b) {
            char names[256] = "";
            for (int32_t i = 0; i < plan_builtin_count(); i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                         plan_builtin(i)->name);
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "%s.type: no built-in device '%s' (there are: %s)", path, type, names);
        }
        *d = *b;
    } else {
        *d = plan_device_default();
    }
    TRY(string(o, path, "name", !type[0], d->name, sizeof d->name, err));
    TRY(string(o, path, "group", false, d->group, sizeof d->group, err));
    TRY(string(o, path, "profile", false, d->profile_path, sizeof d->profile_path, err));
    plan_profile prof;
    if (d->profile_path[0]) {
        char full[600];
        if (d->profile_path[0] == '/' || !base_dir)
            snprintf(full, sizeof full, "%s", d->profile_path);
        else
            snprintf(full, sizeof full, "%s/%s", base_dir, d->profile_path);
        cJSON *pj;
        bb_status st = plan_read_json(full, &pj, err);
        if (st == BB_OK) {
            st = plan_profile_parse(pj, &prof, err);
            cJSON_Delete(pj);
        }
        if (st != BB_OK) {
            char inner[sizeof err->message];
            snprintf(inner, sizeof inner, "%s", err->message);
            return bb_fail(err, st, "%s.profile: %s", path, inner);
        }
        /* the machine's measured limits are its spec unless the file gives others */
        d->bandwidth_gbs = prof.mem_read_gbs;
        d->int8_tops = prof.int8_gops / 1000;
        d->fp16_tflops = prof.fp32_gflops / 1000;
        d->memory_gb = prof.memory_bytes / 1e9;
        d->prefill_chunk = prof.step_tokens;
    }
    TRY(opt_num(o, path, "memory_gb", 1e-3, 1e6, &d->memory_gb, err));
    TRY(opt_num(o, path, "bandwidth_gbs", 1e-3, 1e7, &d->bandwidth_gbs, err));
    TRY(opt_num(o, path, "fp16_tflops", 1e-6, 1e6, &d->fp16_tflops, err));
    TRY(opt_num(o, path, "int8_tops", 1e-6, 1e6, &d->int8_tops, err));
    TRY(opt_num(o, path, "price_usd", 0, 1e9, &d->price_usd, err));
    TRY(opt_num(o, path, "power_w", 0, 1e6, &d->power_w, err));
    TRY(opt_num(o, path, "bw_efficiency", 0.01, 1, &d->bw_efficiency, err));
    TRY(opt_num(o, path, "compute_efficiency", 0.01, 1, &d->compute_efficiency, err));
    TRY(opt_num(o, path, "decode_efficiency", 0.01, 1, &d->decode_efficiency, err));
    TRY(opt_num(o, path, "memory_usable", 0.01, 1, &d->memory_usable, err));
    TRY(opt_num(o, path, "tp_efficiency", 0.01, 1, &d->tp_efficiency, err));
    TRY(opt_num(o, path, "max_devices", 0, 1e9, &d->max_devices, err));
    bool given;
    TRY(integer(o, path, "max_per_replica", 1, 64, &given, &d->max_per_replica, err));
    TRY(integer(o, path, "prefill_chunk", 1, 1 << 20, &given, &d->prefill_chunk, err));
    const char *need[] = {"memory_gb", "bandwidth_gbs"};
    double have[] = {d->memory_gb, d->bandwidth_gbs};
    for (int i = 0; i < 2; i++)
        if (have[i] <= 0)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "%s.%s: missing (no built-in type or profile gives it)", path, need[i]);
    if (d->fp16_tflops <= 0 && d->int8_tops <= 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "%s.fp16_tflops: missing (give fp16_tflops or int8_tops)", path);
    if (d->fp16_tflops <= 0) d->fp16_tflops = d->int8_tops / 2;
    if (d->int8_tops <= 0) d->int8_tops = d->fp16_tflops; /* no int8 units: runs at FP16 */
    if (d->profile_path[0]) {
        bb_status st = plan_calibrate(d, &prof, err);
        if (st != BB_OK) {
            char inner[sizeof err->message];
            snprintf(inner, sizeof inner, "%s", err->message);
            return bb_fail(err, st, "%s.profile: %s", path, inner);
        }
    }
    return BB_OK;
}

bb_status plan_fleet_parse(const cJSON *j, const char *base_dir, plan_fleet *f, bb_error *err) {
    static const char *const keys[] = {"devices",
                                       "constraints",
                                       "target_utilization",
                                       "amortization_years",
                                       "electricity_usd_per_kwh",
                                       "pue",
                                       "max_batch",
                                       NULL};
    static const char *const ckeys[] = {"group", "min_share", NULL};
    const char *P = "fleet";
    memset(f, 0, sizeof *f);
    f->target_utilization = 0.8;
    f->amortization_years = 4;
    f->electricity_usd_per_kwh = 0.1;
    f->pue = 1.3;
    f->max_batch = 256;
    TRY(known_fields(j, P, keys, err));
    TRY(opt_num(j, P, "target_utilization", 0.01, 1, &f->target_utilization, err));
    TRY(opt_num(j, P, "amortization_years", 0.1, 30, &f->amortization_years, err));
    TRY(opt_num(j, P, "electricity_usd_per_kwh", 0, 100, &f->electricity_usd_per_kwh, err));
    TRY(opt_num(j, P, "pue", 1, 5, &f->pue, err));
    bool given;
    TRY(integer(j, P, "max_batch", 1, PLAN_MAX_BATCH_LIMIT, &given, &f->max_batch, err));
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(j, "devices");
    if (!cJSON_IsArray(devs) || cJSON_GetArraySize(devs) < 1 ||
        cJSON_GetArraySize(devs) > PLAN_MAX_DEVICES)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "fleet.devices: expected 1 to %d devices",
                       PLAN_MAX_DEVICES);
    for (const cJSON *d = devs->child; d; d = d->next) {
        char path[48];
        snprintf(path, sizeof path, "fleet.devices[%d]", f->n_devices);
        TRY(parse_device(d, path, base_dir, &f->devices[f->n_devices], err));
        for (int32_t i = 0; i < f->n_devices; i++)
            if (!strcmp(f->devices[i].name, f->devices[f->n_devices].name))
                return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                               "%s.name: '%s' is already fleet.devices[%d]", path,
                               f->devices[i].name, i);
        f->n_devices++;
    }
    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(j, "constraints");
    if (cons && !cJSON_IsArray(cons))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "fleet.constraints: expected an array");
    if (cons && cJSON_GetArraySize(cons) > PLAN_MAX_GROUPS)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "fleet.constraints: at most %d",
                       PLAN_MAX_GROUPS);
    double total = 0;
    for (const cJSON *c = cons ? cons->child : NULL; c; c = c->next) {
        char path[48];
        snprintf(path, sizeof path, "fleet.constraints[%d]", f->n_constraints);
        plan_constraint *k = &f->constraints[f->n_constraints];
        TRY(known_fields(c, path, ckeys, err));
        TRY(string(c, path, "group", true, k->group, sizeof k->group, err));
        TRY(num(c, path, "min_share", 0, 1, NULL, &k->min_share, err));
        bool found = false;
        for (int32_t i = 0; i < f->n_devices; i++)
            found |= !strcmp(f->devices[i].group, k->group);
        if (!found)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "%s.group: no device in the fleet is in group '%s'", path, k->group);
        for (int32_t i = 0; i < f->n_constraints; i++)
            if (!strcmp(f->constraints[i].group, k->group))
                return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s.group: '%s' is constrained twice",
                               path, k->group);
        total += k->min_share;
        f->n_constraints++;
    }
    if (total > 1 + 1e-9)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "fleet.constraints: the minimum shares add up to %.2f, more than 1", total);
    return BB_OK;
}
