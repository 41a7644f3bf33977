/* The plan as text, JSON (schema in docs/fleet.md, "Output"), markdown tables or an SVG bar
 * chart of the mix. */
#include <stdio.h>
#include <string.h>

#include "plan/plan.h"

static double group_share(const plan_fleet *f, const plan_result *r, const char *g,
                          double *devices) {
    double s = 0;
    *devices = 0;
    for (int32_t i = 0; i < f->n_devices; i++)
        if (!strcmp(f->devices[i].group, g)) {
            s += r->mix[i].share;
            *devices += r->mix[i].devices;
        }
    return s;
}

/* The distinct groups, in the fleet's order. */
static int32_t groups(const plan_fleet *f, const char **out) {
    int32_t n = 0;
    for (int32_t i = 0; i < f->n_devices; i++) {
        bool seen = false;
        for (int32_t k = 0; k < n; k++)
            seen |= !strcmp(out[k], f->devices[i].group);
        if (!seen) out[n++] = f->devices[i].group;
    }
    return n;
}

static void json_report(const plan_workload *w, const plan_fleet *f, const plan_result *r,
                        bb_strbuf *out) {
    cJSON *root = cJSON_CreateObject();
    cJSON *wl = cJSON_AddObjectToObject(root, "workload");
    cJSON_AddStringToObject(wl, "name", w->name);
    cJSON_AddNumberToObject(wl, "peak_turns_per_s", r->turns.peak_turns_s);
    cJSON_AddNumberToObject(wl, "peak_output_tokens_per_s",
                            r->turns.peak_turns_s * w->output_tokens);
    cJSON_AddNumberToObject(wl, "daily_turns", r->turns.daily_turns);
    cJSON_AddNumberToObject(wl, "prefill_tokens_per_turn", r->turns.new_tokens);
    cJSON_AddNumberToObject(wl, "decode_context_tokens", r->turns.decode_ctx);
    cJSON *devs = cJSON_AddArrayToObject(root, "devices");
    for (int32_t i = 0; i < f->n_devices; i++) {
        const plan_estimate *e = &r->est[i];
        const plan_device *d = &f->devices[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddStringToObject(o, "group", d->group);
        cJSON_AddBoolToObject(o, "calibrated", d->calibrated);
        cJSON_AddBoolToObject(o, "feasible", e->feasible);
        if (!e->feasible) {
            cJSON_AddStringToObject(o, "why", e->why);
        } else {
            cJSON_AddNumberToObject(o, "devices_per_replica", e->per_replica);
            cJSON_AddNumberToObject(o, "batch", e->batch);
            cJSON_AddNumberToObject(o, "batch_kv_limit", e->batch_kv);
            cJSON_AddNumberToObject(o, "batch_slo_limit", e->batch_slo);
            cJSON_AddStringToObject(o, "binding", plan_bound_name(e->binding));
            cJSON_AddStringToObject(o, "step_bound", plan_bound_name(e->step_bound));
            cJSON_AddNumberToObject(o, "step_ms", e->step_s * 1000);
            cJSON_AddNumberToObject(o, "itl_p99_ms", e->itl_p99_s * 1000);
            cJSON_AddNumberToObject(o, "prefill_s", e->prefill_s);
            cJSON_AddNumberToObject(o, "ttft_p99_s", e->ttft_p99_s);
            cJSON_AddNumberToObject(o, "utilization", e->utilization);
            cJSON_AddNumberToObject(o, "replica_memory_gb", e->replica_memory_gb);
            cJSON_AddNumberToObject(o, "turns_per_s_per_device", e->turns_s_per_device);
            cJSON_AddNumberToObject(o, "tokens_per_s_per_device", e->tokens_s_per_device);
            cJSON_AddNumberToObject(o, "standalone_devices", e->standalone_devices);
        }
        cJSON_AddNumberToObject(o, "cost_per_hour_usd", e->cost_per_hour);
        cJSON_AddItemToArray(devs, o);
    }
    cJSON *mix = cJSON_AddArrayToObject(root, "mix");
    for (int32_t i = 0; i < f->n_devices; i++) {
        if (r->mix[i].devices <= 0) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", f->devices[i].name);
        cJSON_AddStringToObject(o, "group", f->devices[i].group);
        cJSON_AddNumberToObject(o, "share", r->mix[i].share);
        cJSON_AddNumberToObject(o, "devices", r->mix[i].devices);
        cJSON_AddItemToArray(mix, o);
    }
    cJSON *gs = cJSON_AddArrayToObject(root, "groups");
    const char *names[PLAN_MAX_DEVICES];
    int32_t ng = groups(f, names);
    for (int32_t k = 0; k < ng; k++) {
        double devices, share = group_share(f, r, names[k], &devices);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "group", names[k]);
        cJSON_AddNumberToObject(o, "share", share);
        cJSON_AddNumberToObject(o, "devices", devices);
        for (int32_t c = 0; c < f->n_constraints; c++)
            if (!strcmp(f->constraints[c].group, names[k]))
                cJSON_AddNumberToObject(o, "min_share", f->constraints[c].min_share);
        cJSON_AddItemToArray(gs, o);
    }
    cJSON *t = cJSON_AddObjectToObject(root, "totals");
    cJSON_AddNumberToObject(t, "devices", r->devices);
    cJSON_AddNumberToObject(t, "cost_per_month_usd", r->cost_per_month);
    cJSON_AddNumberToObject(t, "power_kw", r->power_kw);
    cJSON_AddNumberToObject(t, "usd_per_million_tokens", r->cost_per_mtok);
    cJSON_AddNumberToObject(t, "usd_per_million_output_tokens", r->cost_per_mtok_out);
    cJSON_AddNumberToObject(t, "kwh_per_million_tokens", r->kwh_per_mtok);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) {
        out->failed = true;
        return;
    }
    bb_strbuf_printf(out, "%s\n", s);
    cJSON_free(s);
}

static void text_report(const plan_workload *w, const plan_fleet *f, const plan_result *r, bool md,
                        bb_strbuf *b) {
    const plan_turns *t = &r->turns;
    if (md)
        bb_strbuf_printf(b, "## Plan: %s\n\n", w->name[0] ? w->name : "workload");
    else
        bb_strbuf_printf(b, "plan: %s\n", w->name[0] ? w->name : "workload");
    bb_strbuf_printf(b,
                     "%speak %.0f turns/s (%.0f output tokens/s) from %.3g daily users; %.0f "
                     "prompt tokens prefilled per turn, mean decode context %.0f tokens\n",
                     md ? "" : "  ", t->peak_turns_s, t->peak_turns_s * w->output_tokens,
                     w->daily_users, t->new_tokens, t->decode_ctx);
    bb_strbuf_printf(b, "%sobjectives: TTFT p99 %.2f s, inter-token p99 %.0f ms\n\n",
                     md ? "" : "  ", w->ttft_p99_s, w->itl_p99_ms);
    if (md)
        bb_strbuf_printf(b, "| device | group | per replica | batch | binding | step ms | ITL p99 "
                            "ms | TTFT p99 s | tok/s per device | alone: devices |\n"
                            "|---|---|---:|---:|---|---:|---:|---:|---:|---:|\n");
    else
        bb_strbuf_printf(b, "each type alone:\n  %-14s %-9s %4s %6s %-16s %8s %8s %8s %10s %9s\n",
                         "device", "group", "tp", "batch", "binding", "step ms", "ITL p99",
                         "TTFT p99", "tok/s/dev", "devices");
    for (int32_t i = 0; i < f->n_devices; i++) {
        const plan_estimate *e = &r->est[i];
        const plan_device *d = &f->devices[i];
        char name[PLAN_NAME_MAX + 4];
        snprintf(name, sizeof name, "%s%s", d->name, d->calibrated ? "*" : "");
        if (!e->feasible) {
            if (md)
                bb_strbuf_printf(b, "| %s | %s | — | — | cannot serve: %s | | | | | |\n", name,
                                 d->group, e->why);
            else
                bb_strbuf_printf(b, "  %-14s %-9s cannot serve: %s\n", name, d->group, e->why);
            continue;
        }
        if (md)
            bb_strbuf_printf(b, "| %s | %s | %d | %d | %s | %.1f | %.1f | %.2f | %.0f | %.0f |\n",
                             name, d->group, e->per_replica, e->batch, plan_bound_name(e->binding),
                             e->step_s * 1000, e->itl_p99_s * 1000, e->ttft_p99_s,
                             e->tokens_s_per_device, e->standalone_devices);
        else
            bb_strbuf_printf(b, "  %-14s %-9s %4d %6d %-16s %8.1f %8.1f %8.2f %10.0f %9.0f\n", name,
                             d->group, e->per_replica, e->batch, plan_bound_name(e->binding),
                             e->step_s * 1000, e->itl_p99_s * 1000, e->ttft_p99_s,
                             e->tokens_s_per_device, e->standalone_devices);
    }
    bool any_cal = false;
    for (int32_t i = 0; i < f->n_devices; i++)
        any_cal |= f->devices[i].calibrated;
    if (any_cal)
        bb_strbuf_printf(b, "%s* efficiencies fitted to a measured profile\n", md ? "\n" : "  ");
    if (md)
        bb_strbuf_printf(b, "\n| mix | group | share of peak | devices | cost/h per device |\n"
                            "|---|---|---:|---:|---:|\n");
    else
        bb_strbuf_printf(b, "\nmix (cheapest meeting the constraints):\n");
    for (int32_t i = 0; i < f->n_devices; i++) {
        if (r->mix[i].devices <= 0) continue;
        if (md)
            bb_strbuf_printf(b, "| %s | %s | %.1f %% | %.0f | $%.2f |\n", f->devices[i].name,
                             f->devices[i].group, 100 * r->mix[i].share, r->mix[i].devices,
                             r->est[i].cost_per_hour);
        else
            bb_strbuf_printf(b, "  %-14s %-9s %5.1f %% of peak  %8.0f devices  $%.2f/h each\n",
                             f->devices[i].name, f->devices[i].group, 100 * r->mix[i].share,
                             r->mix[i].devices, r->est[i].cost_per_hour);
    }
    const char *names[PLAN_MAX_DEVICES];
    int32_t ng = groups(f, names);
    bb_strbuf_printf(b, "%sgroups:", md ? "\n" : "  ");
    for (int32_t k = 0; k < ng; k++) {
        double devices, share = group_share(f, r, names[k], &devices);
        bb_strbuf_printf(b, "%s %s %.1f %%", k ? "," : "", names[k], 100 * share);
        for (int32_t c = 0; c < f->n_constraints; c++)
            if (!strcmp(f->constraints[c].group, names[k]))
                bb_strbuf_printf(b, " (>= %.0f %% required)", 100 * f->constraints[c].min_share);
    }
    bb_strbuf_printf(b,
                     "\n%stotal: %.0f devices, %.0f kW, $%.0f per month; $%.4f per million "
                     "tokens ($%.4f per million output tokens), %.3f kWh per million tokens\n",
                     md ? "\n" : "  ", r->devices, r->power_kw, r->cost_per_month, r->cost_per_mtok,
                     r->cost_per_mtok_out, r->kwh_per_mtok);
}

static void svg_escape(bb_strbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '<')
            bb_strbuf_printf(b, "&lt;");
        else if (*s == '>')
            bb_strbuf_printf(b, "&gt;");
        else if (*s == '&')
            bb_strbuf_printf(b, "&amp;");
        else if (*s == '"')
            bb_strbuf_printf(b, "&quot;");
        else
            bb_strbuf_append(b, s, 1);
    }
}

/* Bars of devices per type in the mix, coloured by group. */
static void svg_report(const plan_workload *w, const plan_fleet *f, const plan_result *r,
                       bb_strbuf *b) {
    static const char *const colours[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                          "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};
    const char *names[PLAN_MAX_DEVICES];
    int32_t ng = groups(f, names);
    double max = 1;
    int32_t rows = 0;
    for (int32_t i = 0; i < f->n_devices; i++) {
        if (r->mix[i].devices > max) max = r->mix[i].devices;
        rows += r->mix[i].devices > 0;
    }
    int32_t h = 70 + rows * 34 + 30;
    bb_strbuf_printf(b,
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"%d\" "
                     "font-family=\"sans-serif\" font-size=\"13\">\n"
                     "<text x=\"10\" y=\"22\" font-size=\"16\">Fleet for ",
                     h);
    svg_escape(b, w->name[0] ? w->name : "workload");
    bb_strbuf_printf(b, ": %.0f devices, $%.4f per million tokens</text>\n", r->devices,
                     r->cost_per_mtok);
    int32_t y = 50;
    for (int32_t i = 0; i < f->n_devices; i++) {
        if (r->mix[i].devices <= 0) continue;
        int32_t g = 0;
        for (int32_t k = 0; k < ng; k++)
            if (!strcmp(names[k], f->devices[i].group)) g = k;
        double wbar = 420 * r->mix[i].devices / max;
        bb_strbuf_printf(b, "<text x=\"10\" y=\"%d\">", y + 17);
        svg_escape(b, f->devices[i].name);
        bb_strbuf_printf(b,
                         "</text>\n<rect x=\"150\" y=\"%d\" width=\"%.1f\" height=\"24\" "
                         "fill=\"%s\"/>\n<text x=\"%.1f\" y=\"%d\">%.0f (%.1f %% of peak)</text>\n",
                         y, wbar < 1 ? 1 : wbar, colours[g % 8], 156 + wbar, y + 17,
                         r->mix[i].devices, 100 * r->mix[i].share);
        y += 34;
    }
    int32_t x = 10;
    for (int32_t k = 0; k < ng; k++) {
        double devices, share = group_share(f, r, names[k], &devices);
        bb_strbuf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", x,
                         y + 6, colours[k % 8]);
        bb_strbuf_printf(b, "<text x=\"%d\" y=\"%d\">", x + 16, y + 17);
        svg_escape(b, names[k]);
        bb_strbuf_printf(b, " %.1f %%</text>\n", 100 * share);
        x += 170;
    }
    bb_strbuf_printf(b, "</svg>\n");
}

void plan_report(const plan_workload *w, const plan_fleet *f, const plan_result *r, plan_format fmt,
                 bb_strbuf *out) {
    switch (fmt) {
    case PLAN_JSON:
        json_report(w, f, r, out);
        break;
    case PLAN_MARKDOWN:
        text_report(w, f, r, true, out);
        break;
    case PLAN_SVG:
        svg_report(w, f, r, out);
        break;
    case PLAN_TEXT:
        text_report(w, f, r, false, out);
        break;
    }
}
