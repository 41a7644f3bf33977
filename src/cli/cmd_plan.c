/* beanbag plan --workload W.json --fleet F.json [--format text|json|markdown|svg]
 * beanbag plan --check PROFILE.json
 * beanbag plan --devices
 *
 * Fleet capacity planning (src/plan/, docs/fleet.md). --check puts the roofline's spec-based
 * estimate for the profiled machine, given only its measured bandwidth and peaks and the
 * built-in CPU efficiencies, against what `bench --serve` measured there. */
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "plan/plan.h"

static void usage(FILE *f) {
    fprintf(
        f, "usage: beanbag plan --workload W.json --fleet F.json [--format FMT] [-o FILE]\n"
           "       beanbag plan --check PROFILE.json [--json]\n"
           "       beanbag plan --devices\n"
           "\n"
           "Devices needed per type at the workload's peak hour, the cheapest mix meeting the\n"
           "fleet's share constraints, cost and energy per million tokens, and the limit that\n"
           "binds (bandwidth, compute, kv_memory, inter_token_slo, ttft_slo). The model is a\n"
           "roofline over the device specs, or over a profile measured by\n"
           "`beanbag bench --serve --json`; formats and formulas: docs/fleet.md.\n"
           "\n"
           "  --workload FILE   users, turns, tokens per turn, persona prefix, SLOs, the model\n"
           "  --fleet FILE      device types (built-in `type` or a spec, or a `profile`),\n"
           "                    constraints such as {\"group\": \"domestic\", \"min_share\": 0.6}\n"
           "  --format FMT      text (default), json, markdown or svg\n"
           "  -o FILE           write the report there instead of stdout\n"
           "  --check PROFILE   the spec-based estimate for the profiled machine (its measured\n"
           "                    bandwidth and peaks, the cpu-server efficiencies) against the\n"
           "                    measured tokens/s at each concurrency\n"
           "  --devices         the built-in device table\n");
}

static cJSON *read_or_die(const char *path) {
    bb_error err = {0};
    cJSON *j = NULL;
    if (plan_read_json(path, &j, &err)) fprintf(stderr, "beanbag plan: %s\n", err.message);
    return j;
}

static int list_devices(void) {
    printf("%-12s %-9s %7s %8s %8s %8s %8s %5s %6s %6s %6s\n", "type", "group", "mem GB", "GB/s",
           "FP16 TF", "INT8 TOP", "price $", "W", "bw", "pf", "dec");
    for (int32_t i = 0; i < plan_builtin_count(); i++) {
        const plan_device *d = plan_builtin(i);
        printf("%-12s %-9s %7.0f %8.1f %8.1f %8.1f %8.0f %5.0f %6.2f %6.2f %6.2f\n", d->name,
               d->group, d->memory_gb, d->bandwidth_gbs, d->fp16_tflops, d->int8_tops, d->price_usd,
               d->power_w, d->bw_efficiency, d->compute_efficiency, d->decode_efficiency);
    }
    printf("\nefficiencies: bandwidth in decode, compute in prefill (pf) and in decode steps "
           "(dec)\nsources and which figures are estimates: docs/fleet.md\n");
    return 0;
}

static int check(const char *path, bool json) {
    cJSON *j = read_or_die(path);
    if (!j) return 1;
    bb_error err = {0};
    plan_profile p;
    bb_status st = plan_profile_parse(j, &p, &err);
    cJSON_Delete(j);
    if (st) {
        fprintf(stderr, "beanbag plan: %s: %s\n", path, err.message);
        return 1;
    }
    plan_device d = *plan_builtin_find("cpu-server");
    d.bandwidth_gbs = p.mem_read_gbs;
    d.int8_tops = p.int8_gops / 1000;
    d.fp16_tflops = p.fp32_gflops / 1000;
    double worst = 0;
    plan_peaks pk;
    plan_replica_peaks(&d, &p.model, 1, &pk);
    cJSON *out = cJSON_CreateObject(), *pts = NULL;
    if (json) {
        cJSON_AddStringToObject(out, "profile", path);
        cJSON_AddNumberToObject(out, "mem_read_gbs", p.mem_read_gbs);
        cJSON_AddNumberToObject(out, "peak_gops", p.model.int8 ? p.int8_gops : p.fp32_gflops);
        cJSON_AddNumberToObject(out, "bw_efficiency", d.bw_efficiency);
        cJSON_AddNumberToObject(out, "compute_efficiency", d.compute_efficiency);
        cJSON_AddNumberToObject(out, "decode_efficiency", d.decode_efficiency);
        pts = cJSON_AddArrayToObject(out, "points");
    } else
        printf("spec estimate from the measured %.1f GB/s and %.0f GOP/s (efficiencies: bandwidth "
               "%.2f, prefill %.2f, decode %.2f), prompt %d, %d generated per stream\n\n"
               "| streams | measured tok/s | estimate tok/s | error |\n|---:|---:|---:|---:|\n",
               p.mem_read_gbs, p.model.int8 ? p.int8_gops : p.fp32_gflops, d.bw_efficiency,
               d.compute_efficiency, d.decode_efficiency, p.prompt_tokens, p.gen_tokens);
    for (int32_t i = 0; i < p.n_points; i++) {
        const plan_point *q = &p.points[i];
        double est = plan_streams_tps(&p.model, &pk, q->concurrency, p.prompt_tokens, p.gen_tokens);
        double e = est / q->tokens_per_s - 1;
        if (fabs(e) > worst) worst = fabs(e);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "concurrency", q->concurrency);
            cJSON_AddNumberToObject(o, "measured", q->tokens_per_s);
            cJSON_AddNumberToObject(o, "estimate", est);
            cJSON_AddNumberToObject(o, "error", e);
            cJSON_AddItemToArray(pts, o);
        } else
            printf("| %d | %.1f | %.1f | %+.1f %% |\n", q->concurrency, q->tokens_per_s, est,
                   100 * e);
    }
    if (json) {
        cJSON_AddNumberToObject(out, "worst_error", worst);
        char *text = cJSON_Print(out);
        if (text) printf("%s\n", text);
        cJSON_free(text);
    } else {
        printf("\nworst error %.1f %%\n", 100 * worst);
    }
    cJSON_Delete(out);
    return 0;
}

int cmd_plan(int argc, char **argv) {
    const char *wpath = NULL, *fpath = NULL, *cpath = NULL, *opath = NULL;
    plan_format fmt = PLAN_TEXT;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--devices")) return list_devices();
        if (!strcmp(a, "--json")) {
            json = true;
            fmt = PLAN_JSON;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "beanbag plan: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--workload")) {
            wpath = v;
        } else if (!strcmp(a, "--fleet")) {
            fpath = v;
        } else if (!strcmp(a, "--check")) {
            cpath = v;
        } else if (!strcmp(a, "-o")) {
            opath = v;
        } else if (!strcmp(a, "--format")) {
            if (!strcmp(v, "text"))
                fmt = PLAN_TEXT;
            else if (!strcmp(v, "json"))
                fmt = PLAN_JSON;
            else if (!strcmp(v, "markdown") || !strcmp(v, "md"))
                fmt = PLAN_MARKDOWN;
            else if (!strcmp(v, "svg"))
                fmt = PLAN_SVG;
            else {
                fprintf(stderr,
                        "beanbag plan: --format expects text, json, markdown or svg, got "
                        "'%s'\n",
                        v);
                return 2;
            }
        } else {
            fprintf(stderr, "beanbag plan: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (cpath) return check(cpath, json);
    if (!wpath || !fpath) {
        fprintf(stderr, "beanbag plan: --workload FILE and --fleet FILE are required\n");
        return 2;
    }
    cJSON *wj = read_or_die(wpath), *fj = wj ? read_or_die(fpath) : NULL;
    if (!fj) {
        cJSON_Delete(wj);
        return 1;
    }
    bb_error err = {0};
    static plan_workload w;
    static plan_fleet f;
    static plan_result r;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", fpath);
    bb_status st = plan_workload_parse(wj, &w, &err);
    const char *which = wpath;
    if (st == BB_OK) {
        which = fpath;
        st = plan_fleet_parse(fj, dirname(dir), &f, &err);
    }
    if (st == BB_OK) st = plan_run(&w, &f, &r, &err);
    cJSON_Delete(wj);
    cJSON_Delete(fj);
    if (st) {
        fprintf(stderr, "beanbag plan: %s: %s\n", which, err.message);
        return 1;
    }
    bb_strbuf out = {0};
    plan_report(&w, &f, &r, fmt, &out);
    if (out.failed) {
        fprintf(stderr, "beanbag plan: out of memory\n");
        bb_strbuf_release(&out);
        return 1;
    }
    FILE *o = opath ? fopen(opath, "w") : stdout;
    if (!o) {
        fprintf(stderr, "beanbag plan: cannot write %s\n", opath);
        bb_strbuf_release(&out);
        return 1;
    }
    fwrite(out.data ? out.data : "", 1, out.len, o);
    if (opath) fclose(o);
    bb_strbuf_release(&out);
    return 0;
}
