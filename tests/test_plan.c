/* The fleet planner (src/plan/): the roofline arithmetic on hand-computed cases, every limit
 * that can bind, the share-constrained mix, input validation (errors name the field), the JSON
 * output schema, profile calibration; then `beanbag bench --serve --json` on a fixture model
 * and `beanbag plan` reading the profile it wrote. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture_model.h"
#include "plan/plan.h"

static bool near(double a, double b) {
    return fabs(a - b) <= 1e-6 * fabs(b) + 1e-12;
}
#define NEAR(a, b) near((a), (b))

/* A 10 GB model, 2e10 FLOPs per token, no attention FLOPs, 1 MB of KV per token. */
static plan_workload base_workload(void) {
    plan_workload w = {.monthly_users = 1e6,
                       .daily_users = 1e5,
                       .peak_hour_share = 0.1,
                       .conversations_per_user_day = 1,
                       .turns = 1,
                       .prompt_tokens = 100,
                       .output_tokens = 100,
                       .ttft_p99_s = 10,
                       .itl_p99_ms = 1000};
    w.model = (plan_model){.weight_bytes = 1e10, .matmul_flops = 2e10, .kv_bytes_per_token = 1e6};
    return w;
}

static plan_device base_device(void) {
    plan_device d = plan_device_default();
    snprintf(d.name, sizeof d.name, "x");
    d.memory_gb = 20;
    d.bandwidth_gbs = 1000;
    d.fp16_tflops = 100;
    d.int8_tops = 200;
    d.bw_efficiency = d.compute_efficiency = d.decode_efficiency = d.memory_usable = 1;
    d.max_per_replica = 1;
    d.prefill_chunk = 512;
    d.price_usd = 8760; /* $0.25/h over 4 years */
    return d;
}

static plan_fleet base_fleet(void) {
    return (plan_fleet){.target_utilization = 0.8,
                        .amortization_years = 4,
                        .electricity_usd_per_kwh = 0,
                        .pue = 1,
                        .max_batch = 256};
}

static void test_turns(void) {
    plan_workload w = base_workload();
    w.persona_tokens = 100;
    w.prompt_tokens = 10;
    w.output_tokens = 20;
    w.turns = 2;
    plan_turns t;
    plan_turns_derive(&w, &t);
    /* turn 1: 10 new tokens after the persona's 100: 10*100 + 55 keys; context 120.5.
     * turn 2: history 30 re-read with the 10 new: 40*100 + 820 keys; context 150.5. */
    CHECKF(NEAR(t.new_tokens, 25) && NEAR(t.prefill_keys, 2937.5) && NEAR(t.decode_ctx, 135.5),
           "turns: %g %g %g", t.new_tokens, t.prefill_keys, t.decode_ctx);
    CHECK(NEAR(t.daily_turns, 2e5) && NEAR(t.peak_turns_s, 2e5 * 0.1 / 3600));
    w.history_cached = true; /* turn 2 reads only its 10 tokens, after 130 cached */
    plan_turns_derive(&w, &t);
    CHECKF(NEAR(t.new_tokens, 10) && NEAR(t.prefill_keys, (1055 + 1355) / 2.0),
           "cached history: %g %g", t.new_tokens, t.prefill_keys);
}

static void test_step(void) {
    plan_model m = {.weight_bytes = 1e9, .matmul_flops = 2e9, .kv_bytes_per_token = 1e3};
    plan_peaks pk = {.bw = 1e11, .decode_flops = 1e12, .prefill_flops = 1e12};
    plan_bound b;
    /* 1 stream: (1e9 + 100 * 1e3) / 1e11 = 10.001 ms of reading vs 2 ms of compute */
    CHECK(NEAR(plan_step_time(&m, &pk, 1, 100, 0, &b), 0.010001) && b == PLAN_BANDWIDTH);
    /* 10 streams: 20 ms of compute beats 10.01 ms of reading */
    CHECK(NEAR(plan_step_time(&m, &pk, 10, 100, 0, &b), 0.02) && b == PLAN_COMPUTE);
    /* a 5-token prefill chunk rides along: (1 + 5) * 2e9 / 1e12 = 12 ms */
    CHECK(NEAR(plan_step_time(&m, &pk, 1, 100, 5, &b), 0.012) && b == PLAN_COMPUTE);
    /* decode tokens at half the prefill rate: 10 * 4 ms + 5 * 2 ms */
    plan_peaks slow = {.bw = 1e11, .decode_flops = 5e11, .prefill_flops = 1e12};
    CHECK(NEAR(plan_step_time(&m, &slow, 10, 100, 5, &b), 0.05) && b == PLAN_COMPUTE);
    /* 4 streams of 100 + 100 tokens: 4 * 0.2 s of prefill + 100 steps of 10 ms */
    plan_model m0 = {.weight_bytes = 1e9, .matmul_flops = 2e9};
    CHECK(NEAR(plan_streams_tps(&m0, &pk, 4, 100, 100), 400 / 1.8));
}

static void test_kv_bound(void) {
    plan_workload w = base_workload();
    plan_fleet f = base_fleet();
    plan_device d = base_device();
    plan_turns t;
    plan_turns_derive(&w, &t);
    plan_estimate e;
    plan_estimate_device(&w, &f, &d, &t, &e);
    /* context 150.5: 150.5 MB per sequence, 10 GB of room: 66 sequences */
    double step = (1e10 + 66 * 150.5e6) / 1e12, c = 2e10 * 100 / 1e14 + 100 * step / 66;
    CHECKF(e.feasible && e.batch == 66 && e.binding == PLAN_KV_MEMORY &&
               e.step_bound == PLAN_BANDWIDTH,
           "kv: batch %d binding %s (%s)", e.batch, plan_bound_name(e.binding), e.why);
    CHECK(NEAR(e.step_s, step) && NEAR(e.itl_p99_s, 166 * 2e10 / 1e14) && NEAR(e.prefill_s, 0.02));
    CHECKF(NEAR(e.turns_s_per_device, 0.8 / c), "turns/s %g vs %g", e.turns_s_per_device, 0.8 / c);
    CHECK(NEAR(e.tokens_s_per_device, 80 / c) && e.utilization == 0.8);
    CHECK(NEAR(e.replica_memory_gb, (1e10 + 66 * 150.5e6) / 1e9));
    CHECK(e.standalone_devices == ceil(t.peak_turns_s / (0.8 / c)));
}

static void test_slo_bounds(void) {
    plan_workload w = base_workload();
    plan_fleet f = base_fleet();
    plan_device d = base_device();
    plan_turns t;
    plan_turns_derive(&w, &t);
    plan_estimate e;
    /* inter-token 25 ms: a step with the 100-token chunk costs (b + 100) * 0.2 ms: b <= 25 */
    w.itl_p99_ms = 25;
    plan_estimate_device(&w, &f, &d, &t, &e);
    CHECKF(e.feasible && e.batch == 25 && e.binding == PLAN_ITL_SLO, "itl: batch %d %s", e.batch,
           plan_bound_name(e.binding));
    /* TTFT 0.2 s: the utilisation drops until ln(100) t_pf / (1 - rho) + itl = 0.2 */
    w.itl_p99_ms = 1000;
    w.ttft_p99_s = 0.2;
    plan_estimate_device(&w, &f, &d, &t, &e);
    double rho = 1 - log(100) * 0.02 / (0.2 - 166 * 2e10 / 1e14);
    CHECKF(e.feasible && e.binding == PLAN_TTFT_SLO && NEAR(e.utilization, rho) &&
               fabs(e.ttft_p99_s - 0.2) < 1e-9,
           "ttft: %s rho %g vs %g ttft %g", plan_bound_name(e.binding), e.utilization, rho,
           e.ttft_p99_s);
    /* unreachable objectives say why */
    w.ttft_p99_s = 0.05;
    plan_estimate_device(&w, &f, &d, &t, &e);
    CHECKF(!e.feasible && strstr(e.why, "TTFT"), "ttft unreachable: %s", e.why);
    w.ttft_p99_s = 10;
    w.itl_p99_ms = 5;
    plan_estimate_device(&w, &f, &d, &t, &e);
    CHECKF(!e.feasible && strstr(e.why, "inter-token"), "itl unreachable: %s", e.why);
    /* the batch cap: both limits above it, the step's own bound binds */
    w.itl_p99_ms = 1000;
    w.model.kv_bytes_per_token = 1;
    f.max_batch = 8;
    plan_estimate_device(&w, &f, &d, &t, &e);
    CHECK(e.feasible && e.batch == 8 && e.binding == PLAN_BANDWIDTH);
}

static void test_tensor_parallel(void) {
    plan_workload w = base_workload();
    plan_fleet f = base_fleet();
    plan_device d = base_device();
    plan_turns t;
    plan_turns_derive(&w, &t);
    plan_estimate e;
    d.memory_gb = 6; /* 10 GB of weights: one device cannot hold them */
    plan_estimate_device(&w, &f, &d, &t, &e);
    CHECKF(!e.feasible && strstr(e.why, "do not fit"), "tp1: %s", e.why);
    d.max_per_replica = 8;
    plan_estimate_device(&w, &f, &d, &t, &e);
    CHECKF(e.feasible && e.per_replica >= 2 && (int)e.standalone_devices % e.per_replica == 0,
           "tp: %d per replica, %g devices", e.per_replica, e.standalone_devices);
}

static void test_mix(void) {
    plan_workload w = base_workload();
    w.daily_users = 1e7;
    plan_fleet f = base_fleet();
    f.n_devices = 2;
    f.devices[0] = base_device();
    f.devices[1] = base_device();
    snprintf(f.devices[0].name, PLAN_NAME_MAX, "cheap");
    snprintf(f.devices[0].group, PLAN_NAME_MAX, "imported");
    snprintf(f.devices[1].name, PLAN_NAME_MAX, "dear");
    snprintf(f.devices[1].group, PLAN_NAME_MAX, "domestic");
    f.devices[1].price_usd *= 3;
    plan_result r;
    bb_error err = {0};
    CHECK(plan_run(&w, &f, &r, &err) == BB_OK);
    CHECK(NEAR(r.mix[0].share, 1) && r.mix[1].devices == 0);
    f.n_constraints = 1;
    f.constraints[0] = (plan_constraint){.group = "domestic", .min_share = 0.6};
    CHECKF(plan_run(&w, &f, &r, &err) == BB_OK, "%s", err.message);
    CHECKF(NEAR(r.mix[0].share, 0.4) && NEAR(r.mix[1].share, 0.6), "shares %g %g", r.mix[0].share,
           r.mix[1].share);
    double per = r.est[0].turns_s_per_device, D = r.turns.peak_turns_s;
    CHECK(r.mix[0].devices == ceil(0.4 * D / per) && r.mix[1].devices == ceil(0.6 * D / per));
    double cost_h = r.mix[0].devices * 0.25 + r.mix[1].devices * 0.75;
    CHECKF(NEAR(r.cost_per_month, cost_h * 24 * 365 / 12), "cost %g vs %g", r.cost_per_month,
           cost_h * 24 * 365 / 12);
    CHECK(NEAR(r.cost_per_mtok, cost_h * 24 / (r.turns.daily_turns * 200 / 1e6)));
    /* too few domestic devices available: the constraint cannot be met, and says so */
    f.devices[1].max_devices = 1;
    CHECK(plan_run(&w, &f, &r, &err) != BB_OK && strstr(err.message, "fleet.constraints[0]"));
    /* the cheap one limited: the rest spills over to the dear one */
    f.n_constraints = 0;
    f.devices[1].max_devices = 0;
    f.devices[0].max_devices = 10;
    CHECK(plan_run(&w, &f, &r, &err) == BB_OK && r.mix[0].devices == 10 && r.mix[1].share > 0);
}

static char *fmt_err(const char *workload, const char *fleet) {
    static char msg[600];
    cJSON *wj = cJSON_Parse(workload), *fj = fleet ? cJSON_Parse(fleet) : NULL;
    plan_workload w;
    static plan_fleet f;
    bb_error err = {0};
    bb_status st = plan_workload_parse(wj, &w, &err);
    if (st == BB_OK && fj) st = plan_fleet_parse(fj, NULL, &f, &err);
    snprintf(msg, sizeof msg, "%s", st == BB_OK ? "" : err.message);
    cJSON_Delete(wj);
    cJSON_Delete(fj);
    return msg;
}

#define MODEL                                                                                      \
    "\"model\": {\"params\": 7e9, \"bits_per_weight\": 8, \"n_layer\": 32, \"n_head\": 32, "       \
    "\"n_head_kv\": 8, \"head_dim\": 128}"
#define SLO "\"slo\": {\"ttft_p99_s\": 2, \"inter_token_p99_ms\": 100}"
#define WL_TAIL                                                                                    \
    "\"conversations_per_user_per_day\": 2, \"turns_per_conversation\": 4, "                       \
    "\"prompt_tokens_per_turn\": 50, \"output_tokens_per_turn\": 200, "                            \
    "\"persona_prefix_tokens\": 500, " SLO ", " MODEL "}"
#define WL                                                                                         \
    "{\"monthly_active_users\": 1e6, \"daily_active_users\": 3e5, \"peak_hour_share\": "           \
    "0.1, " WL_TAIL

static void test_validation(void) {
    CHECKF(!fmt_err(WL, "{\"devices\": [{\"type\": \"h20\"}]}")[0], "valid: %s",
           fmt_err(WL, "{\"devices\": [{\"type\": \"h20\"}]}"));
    struct {
        const char *wl, *fleet, *want;
    } cases[] = {
        {"{\"monthly_active_users\": 1e6, \"peak_hour_share\": 0.1, " WL_TAIL, NULL,
         "workload.daily_active_users: missing"},
        {"{\"monthly_active_users\": 1e6, \"daily_active_users\": 3e6, \"peak_hour_share\": "
         "0.1, " WL_TAIL,
         NULL, "workload.daily_active_users: must be in"},
        {"{\"monthly_active_users\": 1e6, \"daily_active_users\": 3e5, \"peak_hour_share\": "
         "2, " WL_TAIL,
         NULL, "workload.peak_hour_share: must be in"},
        {"{\"monthly_active_users\": \"many\", \"daily_active_users\": 3e5, \"peak_hour_share\": "
         "0.1, " WL_TAIL,
         NULL, "workload.monthly_active_users: expected a number"},
        {"{\"monthly_active_users\": 1e6, \"daily_active_users\": 3e5, \"peak_hour_share\": 0.1, "
         "\"peak_share\": 1, " WL_TAIL,
         NULL, "workload.peak_share: unknown field"},
        {"{\"monthly_active_users\": 1e6, \"daily_active_users\": 3e5, \"peak_hour_share\": 0.1, "
         "\"conversations_per_user_per_day\": 2, \"turns_per_conversation\": 2.5, "
         "\"prompt_tokens_per_turn\": 50, \"output_tokens_per_turn\": 200, " SLO ", " MODEL "}",
         NULL, "workload.turns_per_conversation: expected an integer"},
        {"{\"monthly_active_users\": 1e6, \"daily_active_users\": 3e5, \"peak_hour_share\": 0.1, "
         "\"conversations_per_user_per_day\": 2, \"turns_per_conversation\": 2, "
         "\"prompt_tokens_per_turn\": 50, \"output_tokens_per_turn\": 200, \"slo\": "
         "{\"ttft_p99_s\": 2}, " MODEL "}",
         NULL, "workload.slo.inter_token_p99_ms: missing"},
        {"{\"monthly_active_users\": 1e6, \"daily_active_users\": 3e5, \"peak_hour_share\": 0.1, "
         "\"conversations_per_user_per_day\": 2, \"turns_per_conversation\": 2, "
         "\"prompt_tokens_per_turn\": 50, \"output_tokens_per_turn\": 200, " SLO
         ", \"model\": {\"params\": 7e9, \"n_layer\": 32, \"n_head\": 32, \"n_head_kv\": 8, "
         "\"head_dim\": 128}}",
         NULL, "workload.model.bits_per_weight: missing"},
        {"{\"monthly_active_users\": 1e6, \"daily_active_users\": 3e5, \"peak_hour_share\": 0.1, "
         "\"conversations_per_user_per_day\": 2, \"turns_per_conversation\": 2, "
         "\"prompt_tokens_per_turn\": 50, \"output_tokens_per_turn\": 200, " SLO
         ", \"model\": {\"params\": 7e9, \"bits_per_weight\": 4, \"n_layer\": 32, \"n_head\": 8, "
         "\"n_head_kv\": 32, \"head_dim\": 128}}",
         NULL, "workload.model.n_head_kv: must not exceed"},
        {WL, "{\"devices\": []}", "fleet.devices: expected 1 to"},
        {WL, "{\"devices\": [{\"type\": \"h100\"}]}", "fleet.devices[0].type: no built-in"},
        {WL, "{\"devices\": [{\"name\": \"mine\", \"memory_gb\": 10}]}",
         "fleet.devices[0].bandwidth_gbs: missing"},
        {WL, "{\"devices\": [{\"type\": \"h20\", \"bw_efficiency\": 1.5}]}",
         "fleet.devices[0].bw_efficiency: must be in"},
        {WL, "{\"devices\": [{\"type\": \"h20\"}, {\"type\": \"h20\"}]}",
         "fleet.devices[1].name: 'h20' is already"},
        {WL,
         "{\"devices\": [{\"type\": \"h20\"}], \"constraints\": [{\"group\": \"domestic\", "
         "\"min_share\": 0.6}]}",
         "fleet.constraints[0].group: no device"},
        {WL,
         "{\"devices\": [{\"type\": \"h20\"}, {\"type\": \"mlu590\"}], \"constraints\": "
         "[{\"group\": \"domestic\", \"min_share\": 0.7}, {\"group\": \"imported\", "
         "\"min_share\": 0.7}]}",
         "the minimum shares add up to 1.40"},
        {WL, "{\"devices\": [{\"type\": \"h20\", \"profile\": \"/nonexistent.json\"}]}",
         "fleet.devices[0].profile: /nonexistent.json: cannot open"},
        {WL, "{\"devices\": [{\"type\": \"h20\"}], \"pue\": 0.5}", "fleet.pue: must be in"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = fmt_err(cases[i].wl, cases[i].fleet);
        CHECKF(strstr(got, cases[i].want), "case %zu: want '%s', got '%s'", i, cases[i].want, got);
    }
}

static void test_json_schema(void) {
    cJSON *wj = cJSON_Parse(WL);
    cJSON *fj = cJSON_Parse("{\"devices\": [{\"type\": \"h20\"}, {\"type\": \"ascend-910b\"}, "
                            "{\"type\": \"mlu370-x8\"}], \"constraints\": [{\"group\": "
                            "\"domestic\", \"min_share\": 0.6}]}");
    static plan_workload w;
    static plan_fleet f;
    static plan_result r;
    bb_error err = {0};
    CHECK(plan_workload_parse(wj, &w, &err) == BB_OK && plan_fleet_parse(fj, NULL, &f, &err) == 0);
    CHECKF(plan_run(&w, &f, &r, &err) == BB_OK, "%s", err.message);
    bb_strbuf b = {0};
    plan_report(&w, &f, &r, PLAN_JSON, &b);
    cJSON *o = cJSON_Parse(b.data);
    CHECKF(o, "report is not JSON");
    const char *wkeys[] = {"peak_turns_per_s", "peak_output_tokens_per_s", "daily_turns",
                           "prefill_tokens_per_turn", "decode_context_tokens"};
    cJSON *wl = cJSON_GetObjectItem(o, "workload");
    for (size_t i = 0; i < 5; i++)
        CHECKF(cJSON_IsNumber(cJSON_GetObjectItem(wl, wkeys[i])), "workload.%s", wkeys[i]);
    cJSON *devs = cJSON_GetObjectItem(o, "devices");
    CHECK(cJSON_GetArraySize(devs) == 3);
    const char *dkeys[] = {"devices_per_replica",
                           "batch",
                           "batch_kv_limit",
                           "batch_slo_limit",
                           "step_ms",
                           "itl_p99_ms",
                           "prefill_s",
                           "ttft_p99_s",
                           "utilization",
                           "replica_memory_gb",
                           "turns_per_s_per_device",
                           "tokens_per_s_per_device",
                           "standalone_devices",
                           "cost_per_hour_usd"};
    for (cJSON *d = devs ? devs->child : NULL; d; d = d->next) {
        CHECK(cJSON_IsString(cJSON_GetObjectItem(d, "name")) &&
              cJSON_IsString(cJSON_GetObjectItem(d, "group")) &&
              cJSON_IsBool(cJSON_GetObjectItem(d, "feasible")));
        if (!cJSON_IsTrue(cJSON_GetObjectItem(d, "feasible"))) {
            CHECK(cJSON_IsString(cJSON_GetObjectItem(d, "why")));
            continue;
        }
        const char *bind = cJSON_GetStringValue(cJSON_GetObjectItem(d, "binding"));
        CHECK(bind && strstr(" bandwidth compute kv_memory inter_token_slo ttft_slo ", bind));
        for (size_t i = 0; i < sizeof dkeys / sizeof dkeys[0]; i++)
            CHECKF(cJSON_IsNumber(cJSON_GetObjectItem(d, dkeys[i])), "devices[].%s", dkeys[i]);
    }
    double share = 0, domestic = 0;
    cJSON *mix = cJSON_GetObjectItem(o, "mix");
    for (cJSON *m = mix ? mix->child : NULL; m; m = m->next) {
        share += cJSON_GetNumberValue(cJSON_GetObjectItem(m, "share"));
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(m, "devices")) >= 1);
    }
    CHECK(fabs(share - 1) < 1e-9);
    cJSON *groups = cJSON_GetObjectItem(o, "groups");
    for (cJSON *g = groups ? groups->child : NULL; g; g = g->next)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(g, "group")), "domestic"))
            domestic = cJSON_GetNumberValue(cJSON_GetObjectItem(g, "share"));
    CHECKF(domestic >= 0.6 - 1e-9, "domestic share %g", domestic);
    cJSON *t = cJSON_GetObjectItem(o, "totals");
    const char *tkeys[] = {"devices",
                           "cost_per_month_usd",
                           "power_kw",
                           "usd_per_million_tokens",
                           "usd_per_million_output_tokens",
                           "kwh_per_million_tokens"};
    for (size_t i = 0; i < 6; i++)
        CHECKF(cJSON_GetNumberValue(cJSON_GetObjectItem(t, tkeys[i])) > 0, "totals.%s", tkeys[i]);
    cJSON_Delete(o);
    bb_strbuf_release(&b);
    plan_report(&w, &f, &r, PLAN_SVG, &b);
    CHECK(b.data && !strncmp(b.data, "<svg", 4) && strstr(b.data, "</svg>"));
    bb_strbuf_release(&b);
    plan_report(&w, &f, &r, PLAN_MARKDOWN, &b);
    CHECK(b.data && strstr(b.data, "| mix |") && strstr(b.data, ">= 60 % required"));
    bb_strbuf_release(&b);
    cJSON_Delete(wj);
    cJSON_Delete(fj);
}

static void test_calibrate(void) {
    /* prefill 100 tokens at 250 tokens/s: 5e11 FLOP/s of a 1e12 peak; one stream of 100 tokens
     * in 2.4 s: 0.4 s of prefill + 100 steps of 20 ms: 1e9 bytes / 0.02 s = 50 of 100 GB/s */
    const char *prof =
        "{\"kind\": \"beanbag.serve_profile\", \"version\": 1, \"model\": {\"name\": \"t\", "
        "\"weight_bytes\": 1e9, \"matmul_flops_per_token\": 2e9, \"attn_flops_per_key\": 0, "
        "\"kv_bytes_per_token\": 0, \"compute\": \"int8\"}, \"machine\": {\"device\": \"cpu\", "
        "\"n_threads\": 2, \"mem_read_gbs\": 100, \"int8_gops\": 1000, \"fp32_gflops\": 500, "
        "\"memory_bytes\": 3.2e10}, \"prompt_tokens\": 100, \"gen_tokens\": 100, \"step_tokens\": "
        "32, \"prefill_tps\": 250, \"kv_capacity\": {\"seq_len\": 200, \"sequences\": 10}, "
        "\"curve\": [{\"concurrency\": 1, \"tokens_per_s\": 41.666666666666667, \"ttft_p50_s\": "
        "0.4, \"ttft_p99_s\": 0.4, \"itl_p50_ms\": 20, \"itl_p99_ms\": 21}, {\"concurrency\": 4, "
        "\"tokens_per_s\": 40, \"ttft_p50_s\": 1, \"ttft_p99_s\": 2, \"itl_p50_ms\": 80, "
        "\"itl_p99_ms\": 90}]}";
    char path[] = "/tmp/bb_test_plan_prof_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, prof, strlen(prof)) == (ssize_t)strlen(prof));
    close(fd);
    char fleet[512];
    snprintf(fleet, sizeof fleet, "{\"devices\": [{\"name\": \"box\", \"profile\": \"%s\"}]}",
             path);
    cJSON *fj = cJSON_Parse(fleet);
    static plan_fleet f;
    bb_error err = {0};
    CHECKF(plan_fleet_parse(fj, NULL, &f, &err) == BB_OK, "%s", err.message);
    const plan_device *d = &f.devices[0];
    /* 4 streams in 80 ms, 4 x 2e9 FLOPs (reading the weights takes 20 ms): 0.1 of the peak */
    CHECKF(NEAR(d->decode_efficiency, 0.1), "decode efficiency %g", d->decode_efficiency);
    CHECKF(d->calibrated && NEAR(d->compute_efficiency, 0.5) && NEAR(d->bw_efficiency, 0.5) &&
               NEAR(d->bandwidth_gbs, 100) && NEAR(d->int8_tops, 1) && NEAR(d->memory_gb, 32) &&
               d->prefill_chunk == 32,
           "calibrated %d: compute %g bw %g", d->calibrated, d->compute_efficiency,
           d->bw_efficiency);
    cJSON_Delete(fj);
    unlink(path);
}

/* bench --serve on a fixture model writes a profile that plan reads. */
static void test_commands(void) {
    const char *bin = getenv("BB_BIN");
    if (!bin) {
        printf("SKIP: command tests (BB_BIN not set)\n");
        return;
    }
    char dir[] = "/tmp/bb_test_plan_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char model[128], prof[128], wl[128], fl[128], cmd[1024];
    snprintf(model, sizeof model, "%s/m.gguf", dir);
    snprintf(prof, sizeof prof, "%s/p.json", dir);
    snprintf(wl, sizeof wl, "%s/w.json", dir);
    snprintf(fl, sizeof fl, "%s/f.json", dir);
    bb_error err = {0};
    fixture_model_params fp = fixture_model_default();
    CHECKF(fixture_model_write(&fp, model, &err) == BB_OK, "fixture: %s", err.message);
    snprintf(cmd, sizeof cmd,
             "%s bench --serve -m %s --concurrency 1,2 -p 8 -n 4 -t 1 --json -o %s > %s/out.json",
             bin, model, prof, dir);
    CHECK(system(cmd) == 0);
    cJSON *pj = NULL;
    plan_profile p;
    CHECKF(plan_read_json(prof, &pj, &err) == BB_OK && plan_profile_parse(pj, &p, &err) == BB_OK,
           "profile: %s", err.message);
    CHECK(p.n_points == 2 && p.points[1].concurrency == 2 && p.points[0].tokens_per_s > 0 &&
          p.prefill_tps > 0 && p.kv_sequences > 0 && p.model.weight_bytes > 0);
    cJSON_Delete(pj);
    FILE *f = fopen(wl, "w");
    fputs(WL, f);
    fclose(f);
    f = fopen(fl, "w");
    fprintf(f, "{\"devices\": [{\"type\": \"h20\"}, {\"type\": \"ascend-910b\"}, {\"name\": "
               "\"box\", \"group\": \"cpu\", \"profile\": \"p.json\", \"price_usd\": 5000}], "
               "\"constraints\": [{\"group\": \"domestic\", \"min_share\": 0.6}]}");
    fclose(f);
    const char *formats[] = {"text", "json", "markdown", "svg"};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "%s plan --workload %s --fleet %s --format %s > /dev/null", bin,
                 wl, fl, formats[i]);
        CHECKF(system(cmd) == 0, "plan --format %s", formats[i]);
    }
    char check_out[128];
    snprintf(check_out, sizeof check_out, "%s/check.json", dir);
    snprintf(cmd, sizeof cmd, "%s plan --check %s --json > %s", bin, prof, check_out);
    CHECK(system(cmd) == 0);
    cJSON *cj = NULL;
    CHECKF(plan_read_json(check_out, &cj, &err) == BB_OK, "check: %s", err.message);
    const cJSON *pts = cJSON_GetObjectItem(cj, "points");
    CHECK(cJSON_GetArraySize(pts) == 2 &&
          cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(pts, 1), "estimate")) &&
          cJSON_IsNumber(cJSON_GetObjectItem(cj, "worst_error")));
    cJSON_Delete(cj);
    snprintf(cmd, sizeof cmd, "%s plan --workload %s --fleet %s/missing.json 2>/dev/null", bin, wl,
             dir);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    test_turns();
    test_step();
    test_kv_bound();
    test_slo_bounds();
    test_tensor_parallel();
    test_mix();
    test_validation();
    test_json_schema();
    test_calibrate();
    test_commands();
    return tu_finish("test_plan");
}
