/* Download progress: on a terminal one line redrawn in place (size, percent, speed, ETA), at
 * most ten times a second; otherwise a plain line at every tenth of the file, for logs. */
#include <stdio.h>
#include <time.h>

#include "hub/hub_internal.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void human(double bytes, char *out, size_t cap) {
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void eta_text(double s, char *out, size_t cap) {
    if (s < 0 || s > 1e7) {
        snprintf(out, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

void hub_progress_begin(hub_progress *p, int mode, const char *label, uint64_t total,
                        uint64_t start) {
    *p = (hub_progress){.mode = mode,
                        .label = label,
                        .total = total,
                        .done = start,
                        .start = start,
                        .t0 = now_s(),
                        .last_step = -1};
    if (mode == 0) {
        char t[32], s[32];
        human((double)total, t, sizeof t);
        human((double)start, s, sizeof s);
        if (start)
            fprintf(stderr, "%s: resuming at %s of %s\n", label, s, total ? t : "?");
        else
            fprintf(stderr, "%s: downloading %s\n", label, total ? t : "(size unknown)");
    }
}

static void draw(hub_progress *p, bool final) {
    double t = now_s(), dt = t - p->t0;
    double speed = dt > 0 ? (double)(p->done - p->start) / dt : 0;
    char done[32], total[32], sp[32], eta[32];
    human((double)p->done, done, sizeof done);
    human((double)p->total, total, sizeof total);
    human(speed, sp, sizeof sp);
    eta_text(final                             ? 0
             : speed > 0 && p->total > p->done ? (double)(p->total - p->done) / speed
                                               : -1,
             eta, sizeof eta);
    int pct = p->total ? (int)(100.0 * (double)p->done / (double)p->total) : -1;
    if (pct > 100) pct = 100;
    if (p->mode == 1) {
        char bar[31];
        int fill = pct < 0 ? 0 : pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        if (pct >= 0)
            fprintf(stderr, "\r\033[K%.40s %3d%% [%s] %s / %s  %s/s  ETA %s", p->label, pct, bar,
                    done, total, sp, eta);
        else
            fprintf(stderr, "\r\033[K%.40s %s  %s/s", p->label, done, sp);
        if (final) fputc('\n', stderr);
    } else {
        if (pct >= 0)
            fprintf(stderr, "%s: %d%% (%s of %s, %s/s, ETA %s)\n", p->label, pct, done, total, sp,
                    eta);
        else
            fprintf(stderr, "%s: %s (%s/s)\n", p->label, done, sp);
    }
    fflush(stderr);
}

void hub_progress_update(hub_progress *p, uint64_t done) {
    p->done = done;
    if (p->mode < 0) return;
    double t = now_s();
    if (p->mode == 1) {
        if (t - p->t_last < 0.1) return;
        p->t_last = t;
        draw(p, false);
        return;
    }
    int step = p->total ? (int)(10.0 * (double)done / (double)p->total) : (int)(done >> 27);
    if (step <= p->last_step) return;
    if (p->last_step < 0) {
        p->last_step = step; /* the starting point was announced already */
        return;
    }
    p->last_step = step;
    draw(p, false);
}

void hub_progress_end(hub_progress *p, bool ok) {
    if (p->mode == 1) {
        if (ok)
            draw(p, true);
        else
            fputc('\n', stderr);
    } else if (p->mode == 0 && ok && p->last_step < 10) {
        draw(p, true);
    }
}
