#include "server/metrics.h"

#include <inttypes.h>

void http_count(http_counters *c, unsigned status) {
    if (status < 600) atomic_fetch_add(&c->by_status[status], 1);
}

static void header(bb_strbuf *b, const char *name, const char *type, const char *help) {
    bb_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(bb_strbuf *b, const char *name, const char *type, const char *help,
                   uint64_t value) {
    header(b, name, type, help);
    bb_strbuf_printf(b, "%s %" PRIu64 "\n", name, value);
}

static void hist_in(bb_strbuf *b, const char *name, const char *help, const histogram *h,
                    const double *bounds) {
    header(b, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < HIST_N_BOUNDS; i++) {
        cum += h->counts[i];
        bb_strbuf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cum);
    }
    bb_strbuf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
    bb_strbuf_printf(b, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->sum, name, h->count);
}

static void hist(bb_strbuf *b, const char *name, const char *help, const histogram *h) {
    hist_in(b, name, help, h, hist_bounds);
}

void metrics_render(bb_strbuf *b, http_counters *c, const engine_stats *s) {
    header(b, "beanbag_http_requests_total", "counter", "HTTP responses by status code.");
    for (unsigned code = 100; code < 600; code++) {
        uint64_t n = atomic_load(&c->by_status[code]);
        if (n)
            bb_strbuf_printf(b, "beanbag_http_requests_total{code=\"%u\"} %" PRIu64 "\n", code, n);
    }
    scalar(b, "beanbag_model_ready", "gauge", "1 once the model is loaded.", s != NULL);
    if (!s) return;
    scalar(b, "beanbag_prompt_tokens_total", "counter", "Prompt tokens of started requests.",
           s->prompt_tokens);
    scalar(b, "beanbag_generated_tokens_total", "counter", "Tokens generated.",
           s->generated_tokens);
    scalar(b, "beanbag_requests_waiting", "gauge", "Requests queued, not yet started.", s->waiting);
    scalar(b, "beanbag_requests_running", "gauge", "Requests being generated.", s->running);
    scalar(b, "beanbag_sequences_running", "gauge", "Sequences holding a batch slot.",
           s->running_seqs);
    scalar(b, "beanbag_kv_cache_used_tokens", "gauge", "KV cache tokens in use.", s->kv_used);
    scalar(b, "beanbag_kv_cache_capacity_tokens", "gauge", "KV cache size in tokens.", s->kv_total);
    scalar(b, "beanbag_preemptions_total", "counter",
           "Requests whose cache was dropped for lack of room, to be recomputed.", s->preemptions);
    scalar(b, "beanbag_engine_steps_total", "counter", "Forward passes run.", s->steps);
    scalar(b, "beanbag_engine_step_token_budget", "gauge",
           "Step token budget (--step-tokens): decode tokens, then prompt chunks up to it.",
           (uint64_t)s->step_budget);
    scalar(b, "beanbag_engine_prefill_tokens_total", "counter",
           "Prompt tokens fed to the model, recomputed ones included.", s->prefill_tokens);
    scalar(b, "beanbag_prefix_cache_hit_tokens_total", "counter",
           "Tokens of started sequences whose KV rows came from the prefix cache.",
           s->prefix_hit_tokens);
    scalar(b, "beanbag_prefix_cache_miss_tokens_total", "counter",
           "Tokens of started sequences the prefix cache did not hold (computed).",
           s->prefix_miss_tokens);
    scalar(b, "beanbag_prefix_cache_blocks", "gauge",
           "Full KV blocks in the prefix table (each holds beanbag_prefix_cache_block_tokens).",
           s->prefix_cached_blocks);
    scalar(b, "beanbag_prefix_cache_evictable_blocks", "gauge",
           "Cached blocks no sequence holds, evicted least recently used first.",
           s->prefix_evictable_blocks);
    scalar(b, "beanbag_prefix_cache_evictions_total", "counter",
           "Cached blocks reclaimed for new content.", s->prefix_evictions);
    scalar(b, "beanbag_prefix_cache_block_tokens", "gauge", "Token positions per KV block.",
           s->prefix_block_tokens);
    hist_in(b, "beanbag_engine_step_tokens", "Tokens per forward step, decode and prompt.",
            &s->step_tokens, hist_token_bounds);
    hist(b, "beanbag_engine_step_seconds", "Time of one step: forward pass and sampling.",
         &s->step_time);
    hist(b, "beanbag_time_to_first_token_seconds", "From request arrival to its first token.",
         &s->ttft);
    hist(b, "beanbag_inter_token_latency_seconds", "Between two tokens of one sequence.",
         &s->inter_token);
}
