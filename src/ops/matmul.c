#include "ops/matmul.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

/* Weight rows per task: enough work per task to amortize claiming it, few enough rows
 * (tens of KB) that they stay in L2 while every token row of a prefill batch is applied. */
#define ROWS_PER_TASK 16

void bb_acts_init(bb_acts *a) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < BB_ACTS_SLOTS; i++)
        a->slots[i].type = -1;
}

void bb_acts_release(bb_acts *a) {
    for (int i = 0; i < BB_ACTS_SLOTS; i++)
        free(a->slots[i].data);
    bb_acts_init(a);
}

void bb_acts_set(bb_acts *a, const float *x, int T, int64_t n) {
    a->x = x;
    a->T = T;
    a->n = n;
    for (int i = 0; i < BB_ACTS_SLOTS; i++)
        a->slots[i].type = -1;
}

typedef struct quantize_job {
    const bb_type_traits *vt;
    const float *x;
    int64_t n;
    void *out;
    size_t row_bytes;
} quantize_job;

static void quantize_task(void *arg, int t, int thread) {
    (void)thread;
    quantize_job *j = arg;
    j->vt->from_float(j->x + (size_t)t * j->n, (char *)j->out + (size_t)t * j->row_bytes, j->n);
}

/* The activation rows in `type`, quantizing them on first use. */
static bb_status acts_get(bb_pool *pool, bb_acts *a, int type, const void **out, bb_error *err) {
    if (type == BB_TYPE_F32) {
        *out = a->x;
        return BB_OK;
    }
    int free_slot = -1;
    for (int i = 0; i < BB_ACTS_SLOTS; i++) {
        if (a->slots[i].type == type) {
            *out = a->slots[i].data;
            return BB_OK;
        }
        if (a->slots[i].type < 0 && free_slot < 0) free_slot = i;
    }
    if (free_slot < 0) free_slot = 0;
    bb_acts_slot *s = &a->slots[free_slot];
    size_t row_bytes = bb_row_size(type, a->n);
    const bb_type_traits *vt = bb_type_get(type);
    if (row_bytes == 0 || !vt || !vt->from_float)
        return bb_fail(err, BB_ERR_UNSUPPORTED, "cannot quantize activations to type %d", type);
    size_t need = row_bytes * (size_t)a->T;
    if (need > s->cap) {
        void *p = realloc(s->data, need);
        if (!p) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for activations");
        s->data = p;
        s->cap = need;
    }
    quantize_job j = {vt, a->x, a->n, s->data, row_bytes};
    bb_pool_run(pool, quantize_task, &j, a->T);
    s->type = type;
    *out = s->data;
    return BB_OK;
}

/* One matrix of a (possibly fused) product: its activations and output, and where its
 * tasks start in the job's task numbering. */
typedef struct matmul_part {
    const bb_weight *w;
    const void *xq;
    size_t x_row_bytes;
    float *y;
    int64_t groups_per_task; /* repacked weights */
    int first_task;
} matmul_part;

#define MAX_PARTS 4

typedef struct matmul_job {
    matmul_part parts[MAX_PARTS];
    int n_parts;
    int T;
} matmul_job;

/* Repacked weights: a task is a run of consecutive row groups against every token row;
 * the kernel tiles the tokens itself. A group (8 rows, 9-17 KB for a 2048-wide Q4_0/Q8_0
 * row) stays in L1 while all token rows stream past it. Runs are long (about TASKS_PER_THREAD
 * per thread and matrix) because each thread streams its run from DRAM during decode: the
 * kernels' prefetch runs ahead into the next group, which is only useful when that group is
 * the same thread's next one; short runs handed out in turn would waste it at every step. */
#define TASKS_PER_THREAD 8

static int64_t groups_per_task(const bb_weight *w, int n_threads) {
    int64_t n_groups = w->n_out / BB_RP_ROWS;
    int64_t per = n_groups / ((int64_t)TASKS_PER_THREAD * n_threads);
    return per < 1 ? 1 : per;
}

static int part_tasks(const matmul_part *p) {
    const bb_weight *w = p->w;
    if (w->packed) {
        int64_t n_groups = w->n_out / BB_RP_ROWS;
        return (int)((n_groups + p->groups_per_task - 1) / p->groups_per_task);
    }
    return (int)((w->n_out + ROWS_PER_TASK - 1) / ROWS_PER_TASK);
}

/* Token rows per pass over a task's groups in prefill: a chunk of activations (at most
 * ACT_CHUNK_BYTES) stays in L2 while the task's groups stream past it, instead of every
 * group pulling all T rows from L3 (2 MB of F32 rows for 256 tokens of 2048). Chunking only
 * regroups kernel calls; each output element's operations are the same. */
#define ACT_CHUNK_BYTES (192u << 10)

static void packed_rows(const matmul_part *p, int T, int task) {
    const bb_weight *w = p->w;
    int64_t n_groups = w->n_out / BB_RP_ROWS;
    int64_t g0 = (int64_t)task * p->groups_per_task;
    int64_t g1 = g0 + p->groups_per_task < n_groups ? g0 + p->groups_per_task : n_groups;
    int chunk = (int)(ACT_CHUNK_BYTES / p->x_row_bytes);
    chunk = chunk < 4 ? 4 : chunk - chunk % 4; /* whole kernel tiles */
    for (int t0 = 0; t0 < T; t0 += chunk) {
        int nt = T - t0 < chunk ? T - t0 : chunk;
        const char *x = (const char *)p->xq + (size_t)t0 * p->x_row_bytes;
        float *y = p->y + (size_t)t0 * w->n_out;
        for (int64_t g = g0; g < g1; g++)
            w->rp->gemm(w->n_in, (const char *)w->packed + (size_t)g * w->group_bytes, x,
                        p->x_row_bytes, nt, y + g * BB_RP_ROWS, (size_t)w->n_out);
    }
}

static void plain_rows(const matmul_part *p, int T, int task) {
    const bb_weight *w = p->w;
    int64_t r0 = (int64_t)task * ROWS_PER_TASK;
    int64_t r1 = r0 + ROWS_PER_TASK < w->n_out ? r0 + ROWS_PER_TASK : w->n_out;
    bb_vec_dot_fn dot = w->tt->vec_dot;
    bb_vec_dot_x4_fn dot4 = w->tt->vec_dot_x4;
    int t = 0;
    /* groups of four tokens share each weight row's unpacking; the kernels guarantee the
     * same bits as one token at a time */
    for (; dot4 && t + 4 <= T; t += 4) {
        const char *x = (const char *)p->xq + (size_t)t * p->x_row_bytes;
        float *y = p->y + (size_t)t * w->n_out;
        for (int64_t r = r0; r < r1; r++) {
            float s[4];
            dot4(w->n_in, s, (const char *)w->data + (size_t)r * w->row_bytes, x, p->x_row_bytes);
            for (int k = 0; k < 4; k++)
                y[(size_t)k * w->n_out + r] = s[k];
        }
    }
    for (; t < T; t++) {
        const char *x = (const char *)p->xq + (size_t)t * p->x_row_bytes;
        float *y = p->y + (size_t)t * w->n_out;
        for (int64_t r = r0; r < r1; r++)
            dot(w->n_in, &y[r], (const char *)w->data + (size_t)r * w->row_bytes, x);
    }
}

static void matmul_task(void *arg, int task, int thread) {
    (void)thread;
    const matmul_job *j = arg;
    int k = j->n_parts - 1;
    while (k > 0 && task < j->parts[k].first_task)
        k--;
    const matmul_part *p = &j->parts[k];
    if (p->w->packed)
        packed_rows(p, j->T, task - p->first_task);
    else
        plain_rows(p, j->T, task - p->first_task);
}

bb_status bb_matmul_n(bb_pool *pool, const bb_weight *const *ws, float *const *ys, int n,
                      bb_acts *a, bb_error *err) {
    if (n < 1 || n > MAX_PARTS)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "fused matmul of %d matrices", n);
    matmul_job j = {.n_parts = n, .T = a->T};
    int tasks = 0;
    for (int k = 0; k < n; k++) {
        const bb_weight *w = ws[k];
        int act_type = w->packed ? w->rp->act_type : w->tt->vec_dot_type;
        const void *xq = NULL;
        bb_status st = acts_get(pool, a, act_type, &xq, err);
        if (st != BB_OK) return st;
        j.parts[k] = (matmul_part){w,
                                   xq,
                                   bb_row_size(act_type, a->n),
                                   ys[k],
                                   groups_per_task(w, bb_pool_n_threads(pool)),
                                   tasks};
        tasks += part_tasks(&j.parts[k]);
    }
    bb_pool_run(pool, matmul_task, &j, tasks);
    return BB_OK;
}

bb_status bb_matmul(bb_pool *pool, const bb_weight *w, bb_acts *a, float *y, bb_error *err) {
    return bb_matmul_n(pool, &w, &y, 1, a, err);
}

size_t bb_weight_packed_bytes(const bb_weight *w) {
    const bb_repack_traits *rp = bb_repack_get(w->type);
    if (!rp || w->n_out % BB_RP_ROWS != 0 || w->n_out <= 0) return 0;
    size_t gb = rp->group_bytes(w->n_in), total;
    if (gb == 0 || __builtin_mul_overflow(gb, (size_t)(w->n_out / BB_RP_ROWS), &total))
        return SIZE_MAX;
    return total;
}

void bb_weight_repack_into(bb_weight *w, void *dst) {
    const bb_repack_traits *rp = bb_repack_get(w->type);
    size_t gb = rp->group_bytes(w->n_in), n_groups = (size_t)(w->n_out / BB_RP_ROWS);
    for (size_t g = 0; g < n_groups; g++)
        rp->pack((const char *)w->data + g * BB_RP_ROWS * w->row_bytes, w->row_bytes, w->n_in,
                 (char *)dst + g * gb);
    w->packed = dst;
    w->rp = rp;
    w->group_bytes = gb;
}

bb_status bb_weight_repack(bb_weight *w, bb_error *err) {
    if (w->packed) return BB_OK;
    size_t total = bb_weight_packed_bytes(w);
    if (total == 0) return BB_OK;
    if (total == SIZE_MAX)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "weight of %lld x %lld is too large to repack",
                       (long long)w->n_out, (long long)w->n_in);
    /* 64-byte aligned: groups are read with 32-byte vector loads */
    void *p = NULL;
    if (posix_memalign(&p, 64, total) != 0)
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory repacking a %zu-byte weight",
                       total);
    bb_weight_repack_into(w, p);
    return BB_OK;
}

void bb_weight_row(const bb_weight *w, int64_t r, float *out) {
    w->tt->to_float((const char *)w->data + (size_t)r * w->row_bytes, out, w->n_in);
}
