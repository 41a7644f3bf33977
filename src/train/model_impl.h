/* Bodies of the per-sequence model pass for one precision; included by model_f32.c and
 * model_f64.c with R and TR(name) defined. See model_api.h for the contract.
 * No include guard on purpose. */

typedef struct TR(layer_acts) {
    R *h1, *rstd1, *q, *k, *v, *p, *ao, *xmid, *h2, *rstd2, *g, *u, *m;
} TR(layer_acts);

struct TR(acts) {
    const tr_layout *L;
    int t_max, T, n_sel, n_seq;
    int32_t *tok, *sel, *start;
    R **x; /* n_layer + 1 residual states [T][d] */
    TR(layer_acts) * la;
    R *xs, *hs, *rstds, *logits; /* the selected rows: final input, normed, rstd, logits */
    /* backward scratch */
    R *dx, *dh, *dao, *dq, *dk, *dv, *dm, *dg, *du, *dhs, *dxs, *scratch;
    R *block; /* one allocation holding every R array above */
};

bb_status TR(weights_init)(TR(weights) * w, const tr_layout *L, const R *params, bb_error *err) {
    const tr_hparams *hp = &L->hp;
    w->L = L;
    w->p = params;
    w->wt = malloc(L->n_params * sizeof *w->wt);
    w->rope = malloc((size_t)hp->n_ctx * (size_t)L->head_dim * sizeof *w->rope);
    if (!w->wt || !w->rope) {
        TR(weights_free)(w);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the model weights");
    }
    TR(rope_table)(w->rope, hp->n_ctx, L->head_dim, hp->rope_base);
    TR(weights_refresh)(w, 0, L->n_tensors);
    return BB_OK;
}

void TR(weights_refresh)(TR(weights) * w, int t0, int t1) {
    for (int i = t0; i < t1; i++) {
        const tr_tensor *t = &w->L->tensors[i];
        if (!t->matrix) continue;
        const R *src = w->p + t->offset;
        R *dst = w->wt + t->offset;
        for (int o = 0; o < t->n_out; o++)
            for (int j = 0; j < t->n_in; j++)
                dst[(size_t)j * t->n_out + o] = src[(size_t)o * t->n_in + j];
    }
}

void TR(weights_free)(TR(weights) * w) {
    free(w->wt);
    free(w->rope);
    w->wt = w->rope = NULL;
}

/* Carves n reals from the block; with block NULL only counts. */
static R *TR(carve)(R *block, size_t *used, size_t n) {
    R *p = block ? block + *used : NULL;
    *used += n;
    return p;
}

static size_t TR(acts_layout)(TR(acts) * a, R *block) {
    const tr_layout *L = a->L;
    size_t T = (size_t)a->t_max, d = (size_t)L->hp.n_embd, kv = (size_t)L->kv_dim;
    size_t f = (size_t)L->hp.n_ff, V = (size_t)L->hp.n_vocab, H = (size_t)L->hp.n_head;
    /* A sequence is at most n_ctx long, so its probabilities take at most T * n_ctx. */
    size_t Ts = T < (size_t)L->hp.n_ctx ? T : (size_t)L->hp.n_ctx, used = 0;
    for (int l = 0; l <= L->hp.n_layer; l++)
        a->x[l] = TR(carve)(block, &used, T * d);
    for (int l = 0; l < L->hp.n_layer; l++) {
        TR(layer_acts) *la = &a->la[l];
        la->h1 = TR(carve)(block, &used, T * d);
        la->rstd1 = TR(carve)(block, &used, T);
        la->q = TR(carve)(block, &used, T * d);
        la->k = TR(carve)(block, &used, T * kv);
        la->v = TR(carve)(block, &used, T * kv);
        la->p = TR(carve)(block, &used, H * T * Ts);
        la->ao = TR(carve)(block, &used, T * d);
        la->xmid = TR(carve)(block, &used, T * d);
        la->h2 = TR(carve)(block, &used, T * d);
        la->rstd2 = TR(carve)(block, &used, T);
        la->g = TR(carve)(block, &used, T * f);
        la->u = TR(carve)(block, &used, T * f);
        la->m = TR(carve)(block, &used, T * f);
    }
    a->xs = TR(carve)(block, &used, T * d);
    a->hs = TR(carve)(block, &used, T * d);
    a->rstds = TR(carve)(block, &used, T);
    a->logits = TR(carve)(block, &used, T * V);
    a->dx = TR(carve)(block, &used, T * d);
    a->dh = TR(carve)(block, &used, T * d);
    a->dao = TR(carve)(block, &used, T * d);
    a->dq = TR(carve)(block, &used, T * d);
    a->dk = TR(carve)(block, &used, T * kv);
    a->dv = TR(carve)(block, &used, T * kv);
    a->dm = TR(carve)(block, &used, T * f);
    a->dg = TR(carve)(block, &used, T * f);
    a->du = TR(carve)(block, &used, T * f);
    a->dhs = TR(carve)(block, &used, T * d);
    a->dxs = TR(carve)(block, &used, T * d);
    a->scratch = TR(carve)(block, &used, TR_ATTN_SCRATCH(Ts, L->head_dim));
    return used;
}

TR(acts) * TR(acts_new)(const tr_layout *L, int t_max) {
    TR(acts) *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->L = L;
    a->t_max = t_max;
    a->tok = malloc((size_t)t_max * sizeof *a->tok);
    a->sel = malloc((size_t)t_max * sizeof *a->sel);
    a->start = malloc(((size_t)t_max + 1) * sizeof *a->start);
    a->x = calloc((size_t)L->hp.n_layer + 1, sizeof *a->x);
    a->la = calloc((size_t)L->hp.n_layer, sizeof *a->la);
    if (a->tok && a->sel && a->start && a->x && a->la) {
        size_t n = TR(acts_layout)(a, NULL);
        a->block = malloc(n * sizeof *a->block);
        if (a->block) {
            TR(acts_layout)(a, a->block);
            return a;
        }
    }
    TR(acts_free)(a);
    return NULL;
}

void TR(acts_free)(TR(acts) * a) {
    if (!a) return;
    free(a->tok);
    free(a->sel);
    free(a->start);
    free(a->x);
    free(a->la);
    free(a->block);
    free(a);
}

R *TR(acts_logits)(TR(acts) * a) {
    return a->logits;
}

static void TR(zero)(R *p, size_t n) {
    memset(p, 0, n * sizeof *p);
}

/* RoPE and attention run per sequence of the pack (positions restart at 0). */
static void TR(attend)(const TR(weights) * w, TR(acts) * a, TR(layer_acts) * la) {
    const tr_layout *L = w->L;
    int H = L->hp.n_head, Hkv = L->hp.n_head_kv, hd = L->head_dim;
    size_t qs = (size_t)H * hd, ks = (size_t)L->kv_dim, po = 0;
    for (int s = 0; s < a->n_seq; s++) {
        size_t r0 = (size_t)a->start[s];
        int T = a->start[s + 1] - a->start[s];
        TR(rope_fwd)(la->q + r0 * qs, w->rope, T, H, hd);
        TR(rope_fwd)(la->k + r0 * ks, w->rope, T, Hkv, hd);
        TR(attn_fwd)
        (la->ao + r0 * qs, la->p + po, la->q + r0 * qs, la->k + r0 * ks, la->v + r0 * ks, T, H, Hkv,
         hd, a->scratch);
        po += (size_t)H * T * T;
    }
}

void TR(forward)(const TR(weights) * w, TR(acts) * a, const int32_t *tok, const int32_t *start,
                 int n_seq, const int32_t *sel, int n_sel) {
    const tr_layout *L = w->L;
    const tr_hparams *hp = &L->hp;
    const R *p = w->p, *wt = w->wt;
    int T = start[n_seq], d = hp->n_embd, kv = L->kv_dim, f = hp->n_ff;
    size_t Td = (size_t)T * d;
    a->T = T;
    a->n_sel = n_sel;
    a->n_seq = n_seq;
    memcpy(a->tok, tok, (size_t)T * sizeof *tok);
    memcpy(a->sel, sel, (size_t)n_sel * sizeof *sel);
    memcpy(a->start, start, ((size_t)n_seq + 1) * sizeof *start);
    TR(embed_fwd)(a->x[0], p + L->embd, tok, T, d);
    for (int l = 0; l < hp->n_layer; l++) {
        const tr_layer_offsets *o = &L->layers[l];
        TR(layer_acts) *la = &a->la[l];
        TR(rmsnorm_fwd)(la->h1, la->rstd1, a->x[l], p + o->attn_norm, T, d, (R)hp->norm_eps);
        TR(linear_fwd)(la->q, la->h1, wt + o->wq, T, d, d, false);
        TR(linear_fwd)(la->k, la->h1, wt + o->wk, T, d, kv, false);
        TR(linear_fwd)(la->v, la->h1, wt + o->wv, T, d, kv, false);
        TR(attend)(w, a, la);
        memcpy(la->xmid, a->x[l], Td * sizeof(R));
        TR(linear_fwd)(la->xmid, la->ao, wt + o->wo, T, d, d, true);
        TR(rmsnorm_fwd)(la->h2, la->rstd2, la->xmid, p + o->ffn_norm, T, d, (R)hp->norm_eps);
        TR(linear_fwd)(la->g, la->h2, wt + o->wg, T, d, f, false);
        TR(linear_fwd)(la->u, la->h2, wt + o->wu, T, d, f, false);
        TR(swiglu_fwd)(la->m, la->g, la->u, (size_t)T * f);
        memcpy(a->x[l + 1], la->xmid, Td * sizeof(R));
        TR(linear_fwd)(a->x[l + 1], la->m, wt + o->wd, T, f, d, true);
    }
    for (int s = 0; s < n_sel; s++)
        memcpy(a->xs + (size_t)s * d, a->x[hp->n_layer] + (size_t)sel[s] * d, d * sizeof(R));
    TR(rmsnorm_fwd)(a->hs, a->rstds, a->xs, p + L->out_norm, n_sel, d, (R)hp->norm_eps);
    TR(linear_fwd)(a->logits, a->hs, wt + L->output, n_sel, d, hp->n_vocab, false);
}

double TR(loss)(TR(acts) * a, const int32_t *tgt, R scale) {
    return TR(xent)(a->logits, tgt, a->n_sel, a->L->hp.n_vocab, scale);
}

static void TR(backward_layer)(const TR(weights) * w, TR(acts) * a, int l, R *grad) {
    const tr_layout *L = w->L;
    const tr_hparams *hp = &L->hp;
    const tr_layer_offsets *o = &L->layers[l];
    const TR(layer_acts) *la = &a->la[l];
    const R *p = w->p;
    int T = a->T, d = hp->n_embd, kv = L->kv_dim, f = hp->n_ff, hd = L->head_dim;
    size_t Td = (size_t)T * d, Tf = (size_t)T * f, Tkv = (size_t)T * kv;
    /* feed-forward half: x_out = xmid + Wd (silu(Wg h2) * Wu h2) */
    TR(zero)(a->dm, Tf);
    TR(linear_bwd)(a->dm, grad + o->wd, a->dx, la->m, p + o->wd, T, f, d);
    TR(zero)(a->dg, Tf);
    TR(zero)(a->du, Tf);
    TR(swiglu_bwd)(a->dg, a->du, a->dm, la->g, la->u, Tf);
    TR(zero)(a->dh, Td);
    TR(linear_bwd)(a->dh, grad + o->wg, a->dg, la->h2, p + o->wg, T, d, f);
    TR(linear_bwd)(a->dh, grad + o->wu, a->du, la->h2, p + o->wu, T, d, f);
    TR(rmsnorm_bwd)(a->dx, grad + o->ffn_norm, a->dh, la->xmid, p + o->ffn_norm, la->rstd2, T, d);
    /* attention half: xmid = x_in + Wo attn(...) */
    TR(zero)(a->dao, Td);
    TR(linear_bwd)(a->dao, grad + o->wo, a->dx, la->ao, p + o->wo, T, d, d);
    TR(zero)(a->dq, Td);
    TR(zero)(a->dk, Tkv);
    TR(zero)(a->dv, Tkv);
    size_t po = 0;
    for (int s = 0; s < a->n_seq; s++) {
        size_t r0 = (size_t)a->start[s], qo = r0 * d, ko = r0 * kv;
        int Ts = a->start[s + 1] - a->start[s];
        TR(attn_bwd)
        (a->dq + qo, a->dk + ko, a->dv + ko, a->dao + qo, la->p + po, la->q + qo, la->k + ko,
         la->v + ko, Ts, hp->n_head, hp->n_head_kv, hd, a->scratch);
        TR(rope_bwd)(a->dq + qo, w->rope, Ts, hp->n_head, hd);
        TR(rope_bwd)(a->dk + ko, w->rope, Ts, hp->n_head_kv, hd);
        po += (size_t)hp->n_head * Ts * Ts;
    }
    TR(zero)(a->dh, Td);
    TR(linear_bwd)(a->dh, grad + o->wq, a->dq, la->h1, p + o->wq, T, d, d);
    TR(linear_bwd)(a->dh, grad + o->wk, a->dk, la->h1, p + o->wk, T, d, kv);
    TR(linear_bwd)(a->dh, grad + o->wv, a->dv, la->h1, p + o->wv, T, d, kv);
    TR(rmsnorm_bwd)(a->dx, grad + o->attn_norm, a->dh, a->x[l], p + o->attn_norm, la->rstd1, T, d);
}

void TR(backward)(const TR(weights) * w, TR(acts) * a, R *grad) {
    const tr_layout *L = w->L;
    const tr_hparams *hp = &L->hp;
    const R *p = w->p;
    int d = hp->n_embd, n_sel = a->n_sel;
    size_t Sd = (size_t)n_sel * d;
    TR(zero)(a->dhs, Sd);
    TR(linear_bwd)
    (a->dhs, grad + L->output, a->logits, a->hs, p + L->output, n_sel, d, hp->n_vocab);
    TR(zero)(a->dxs, Sd);
    TR(rmsnorm_bwd)(a->dxs, grad + L->out_norm, a->dhs, a->xs, p + L->out_norm, a->rstds, n_sel, d);
    TR(zero)(a->dx, (size_t)a->T * d);
    for (int s = 0; s < n_sel; s++) {
        R *dst = a->dx + (size_t)a->sel[s] * d;
        const R *src = a->dxs + (size_t)s * d;
        for (int i = 0; i < d; i++)
            dst[i] += src[i];
    }
    for (int l = hp->n_layer - 1; l >= 0; l--)
        TR(backward_layer)(w, a, l, grad);
    TR(embed_bwd)(grad + L->embd, a->dx, a->tok, a->T, d);
}

void TR(init_params)(R *params, const tr_layout *L, uint64_t seed) {
    double resid_scale = 1.0 / sqrt(2.0 * L->hp.n_layer);
    for (int i = 0; i < L->n_tensors; i++) {
        const tr_tensor *t = &L->tensors[i];
        R *dst = params + t->offset;
        size_t n = (size_t)t->n_in * (size_t)t->n_out;
        if (!t->matrix) {
            for (size_t j = 0; j < n; j++)
                dst[j] = 1;
            continue;
        }
        bool resid = strstr(t->name, "attn_output") || strstr(t->name, "ffn_down");
        double std = 0.02 * (resid ? resid_scale : 1.0);
        tr_rng rng = {tr_rand_at(seed, 0x1417, (uint64_t)i)};
        for (size_t j = 0; j < n; j++)
            dst[j] = (R)(std * tr_rng_normal(&rng));
    }
}
