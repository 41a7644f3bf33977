/* The fleet mix: the cheapest split of the peak traffic over the device types that meets the
 * groups' minimum shares and the devices available.
 *
 * A type serving share x of the peak costs x times its cost per unit of traffic (devices per
 * turn/s x cost per device-hour), so the problem is a linear program over the shares. With
 * every type in exactly one group and only lower bounds per group, the greedy order is
 * optimal: each constrained group first takes its minimum from its own types, cheapest first;
 * what is left goes to the cheapest capacity anywhere (an exchange argument: moving share
 * from a cheaper to a dearer type never helps, and each group's minimum has to be placed in
 * that group in any solution). */
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "plan/plan.h"

static double device_cost_per_hour(const plan_fleet *f, const plan_device *d) {
    double capex = d->price_usd / (f->amortization_years * 24 * 365);
    double energy = d->power_w / 1000 * f->pue * f->electricity_usd_per_kwh;
    return capex + energy;
}

/* Places up to `want` of the share on the feasible types of `group` (NULL: any), cheapest
 * unit cost first, within each type's room; returns what it placed. */
static double place(const plan_fleet *f, plan_result *r, const double *unit, const double *room,
                    const char *group, double want) {
    double placed = 0;
    bool used[PLAN_MAX_DEVICES] = {false};
    while (want - placed > 1e-12) {
        int32_t best = -1;
        for (int32_t i = 0; i < f->n_devices; i++) {
            if (used[i] || !r->est[i].feasible) continue;
            if (group && strcmp(f->devices[i].group, group)) continue;
            if (room[i] - r->mix[i].share <= 1e-12) continue;
            if (best < 0 || unit[i] < unit[best]) best = i;
        }
        if (best < 0) break;
        used[best] = true;
        double take = room[best] - r->mix[best].share;
        if (take > want - placed) take = want - placed;
        r->mix[best].share += take;
        placed += take;
    }
    return placed;
}

bb_status plan_run(const plan_workload *w, const plan_fleet *f, plan_result *r, bb_error *err) {
    memset(r, 0, sizeof *r);
    plan_turns_derive(w, &r->turns);
    double D = r->turns.peak_turns_s;
    double unit[PLAN_MAX_DEVICES], room[PLAN_MAX_DEVICES];
    int32_t n_feasible = 0;
    for (int32_t i = 0; i < f->n_devices; i++) {
        plan_estimate *e = &r->est[i];
        plan_estimate_device(w, f, &f->devices[i], &r->turns, e);
        e->cost_per_hour = device_cost_per_hour(f, &f->devices[i]);
        if (!e->feasible) continue;
        n_feasible++;
        unit[i] = e->cost_per_hour / e->turns_s_per_device;
        /* the share its available devices can carry */
        room[i] = f->devices[i].max_devices > 0
                      ? f->devices[i].max_devices * e->turns_s_per_device / D
                      : 1e300;
    }
    if (n_feasible == 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "no device type in the fleet can serve this workload (%s: %s)",
                       f->devices[0].name, r->est[0].why);
    for (int32_t k = 0; k < f->n_constraints; k++) {
        const plan_constraint *c = &f->constraints[k];
        double got = place(f, r, unit, room, c->group, c->min_share);
        if (got < c->min_share - 1e-9)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "fleet.constraints[%d]: group '%s' can carry only %.1f %% of the peak "
                           "(%.1f %% required): its types cannot serve the workload or too few "
                           "are available",
                           k, c->group, 100 * got, 100 * c->min_share);
    }
    double placed = 0;
    for (int32_t i = 0; i < f->n_devices; i++)
        placed += r->mix[i].share;
    placed += place(f, r, unit, room, NULL, 1 - placed);
    if (placed < 1 - 1e-9)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "fleet: the devices available carry only %.1f %% of the peak (%.1f "
                       "turns/s); raise max_devices",
                       100 * placed, D);
    /* Whole replicas of every type used; the fleet runs all day, sized for the peak hour. */
    double cost_h = 0, power_w = 0;
    for (int32_t i = 0; i < f->n_devices; i++) {
        plan_estimate *e = &r->est[i];
        if (r->mix[i].share <= 0) continue;
        double k = e->per_replica;
        double replicas = ceil(r->mix[i].share * D / (e->turns_s_per_device * k) - 1e-9);
        r->mix[i].devices = (replicas < 1 ? 1 : replicas) * k;
        r->devices += r->mix[i].devices;
        cost_h += r->mix[i].devices * e->cost_per_hour;
        power_w += r->mix[i].devices * f->devices[i].power_w;
    }
    double daily_out = r->turns.daily_turns * w->output_tokens;
    double daily_all = r->turns.daily_turns * (r->turns.new_tokens + w->output_tokens);
    r->cost_per_month = cost_h * 24 * 365 / 12;
    r->power_kw = power_w / 1000;
    r->cost_per_mtok = cost_h * 24 / (daily_all / 1e6);
    r->cost_per_mtok_out = cost_h * 24 / (daily_out / 1e6);
    r->kwh_per_mtok = r->power_kw * f->pue * 24 / (daily_all / 1e6);
    return BB_OK;
}
