/* Bodies of the training ops for one precision; included by tops_f32.c and tops_f64.c with
 * R, TR(name), R_EXP and R_SQRT defined. See tops.h for the contract of each op.
 * No include guard on purpose. */

void TR(linear_fwd)(R *y, const R *x, const R *wt, int T, int n_in, int n_out, bool accumulate) {
    if (!accumulate) memset(y, 0, (size_t)T * (size_t)n_out * sizeof *y);
    TR(gemm)(T, n_out, n_in, x, (size_t)n_in, 1, wt, (size_t)n_out, y, (size_t)n_out);
}

void TR(linear_bwd)(R *dx, R *dw, const R *dy, const R *x, const R *w, int T, int n_in, int n_out) {
    if (dx) TR(gemm)(T, n_in, n_out, dy, (size_t)n_out, 1, w, (size_t)n_in, dx, (size_t)n_in);
    TR(gemm)(n_out, n_in, T, dy, 1, (size_t)n_out, x, (size_t)n_in, dw, (size_t)n_in);
}

void TR(embed_fwd)(R *x, const R *emb, const int32_t *tok, int T, int d) {
    for (int t = 0; t < T; t++)
        memcpy(x + (size_t)t * d, emb + (size_t)tok[t] * d, (size_t)d * sizeof *x);
}

void TR(embed_bwd)(R *demb, const R *dx, const int32_t *tok, int T, int d) {
    for (int t = 0; t < T; t++) {
        R *row = demb + (size_t)tok[t] * d;
        const R *g = dx + (size_t)t * d;
        for (int i = 0; i < d; i++)
            row[i] += g[i];
    }
}

void TR(rmsnorm_fwd)(R *y, R *rstd, const R *x, const R *w, int T, int d, R eps) {
    for (int t = 0; t < T; t++) {
        const R *xr = x + (size_t)t * d;
        R *yr = y + (size_t)t * d;
        double ss = 0;
        for (int i = 0; i < d; i++)
            ss += (double)xr[i] * xr[i];
        R r = (R)(1.0 / sqrt(ss / d + eps));
        rstd[t] = r;
        for (int i = 0; i < d; i++)
            yr[i] = xr[i] * r * w[i];
    }
}

/* With r = (mean(x^2) + eps)^(-1/2): dx_i = r w_i dy_i - x_i r^3 / d * sum_j dy_j w_j x_j. */
void TR(rmsnorm_bwd)(R *dx, R *dw, const R *dy, const R *x, const R *w, const R *rstd, int T,
                     int d) {
    for (int t = 0; t < T; t++) {
        const R *xr = x + (size_t)t * d, *g = dy + (size_t)t * d;
        R *dxr = dx + (size_t)t * d;
        R r = rstd[t];
        double dot = 0;
        for (int i = 0; i < d; i++) {
            dot += (double)g[i] * w[i] * xr[i];
            dw[i] += g[i] * xr[i] * r;
        }
        R c = (R)(dot * r * r * r / d);
        for (int i = 0; i < d; i++)
            dxr[i] += r * w[i] * g[i] - xr[i] * c;
    }
}

void TR(rope_table)(R *cs, int n_pos, int head_dim, double base) {
    int half = head_dim / 2;
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < half; i++) {
            double theta = p * pow(base, -2.0 * i / head_dim);
            cs[((size_t)p * half + i) * 2] = (R)cos(theta);
            cs[((size_t)p * half + i) * 2 + 1] = (R)sin(theta);
        }
}

static void TR(rope_apply)(R *x, const R *cs, int T, int n_head, int head_dim, R sign) {
    int half = head_dim / 2;
    for (int t = 0; t < T; t++) {
        const R *c = cs + (size_t)t * half * 2;
        for (int h = 0; h < n_head; h++) {
            R *v = x + ((size_t)t * n_head + h) * head_dim;
            for (int i = 0; i < half; i++) {
                R co = c[2 * i], si = sign * c[2 * i + 1];
                R x0 = v[2 * i], x1 = v[2 * i + 1];
                v[2 * i] = x0 * co - x1 * si;
                v[2 * i + 1] = x0 * si + x1 * co;
            }
        }
    }
}

void TR(rope_fwd)(R *x, const R *cs, int T, int n_head, int head_dim) {
    TR(rope_apply)(x, cs, T, n_head, head_dim, 1);
}

/* A rotation's transpose is the rotation by the opposite angle. */
void TR(rope_bwd)(R *dx, const R *cs, int T, int n_head, int head_dim) {
    TR(rope_apply)(dx, cs, T, n_head, head_dim, -1);
}

/* dst[c][t] = src[t * stride + c] for t < T, c < n: one head's rows turned into columns. */
static void TR(head_transpose)(R *dst, const R *src, size_t stride, int T, int n) {
    for (int t = 0; t < T; t++)
        for (int c = 0; c < n; c++)
            dst[(size_t)c * T + t] = src[t * stride + c];
}

/* Per head: S = Q K^T (one matrix multiply over all rows, the masked upper triangle then
 * zeroed by the softmax), P = causal softmax(S * scale), O = P V. */
void TR(attn_fwd)(R *out, R *p, const R *q, const R *k, const R *v, int T, int n_head,
                  int n_head_kv, int head_dim, R *scratch) {
    int group = n_head / n_head_kv;
    size_t qs = (size_t)n_head * head_dim, ks = (size_t)n_head_kv * head_dim, TT = (size_t)T * T;
    R scale = (R)(1.0 / sqrt((double)head_dim));
    for (size_t t = 0; t < (size_t)T; t++)
        memset(out + t * qs, 0, qs * sizeof *out);
    for (int h = 0; h < n_head; h++) {
        int j = h / group;
        R *ph = p + (size_t)h * TT;
        if (h % group == 0) TR(head_transpose)(scratch, k + (size_t)j * head_dim, ks, T, head_dim);
        memset(ph, 0, TT * sizeof *ph);
        TR(gemm)
        (T, T, head_dim, q + (size_t)h * head_dim, qs, 1, scratch, (size_t)T, ph, (size_t)T);
        for (int t = 0; t < T; t++) {
            R *pr = ph + (size_t)t * T, mx = -INFINITY, sum = 0;
            for (int u = 0; u <= t; u++) {
                pr[u] *= scale;
                if (pr[u] > mx) mx = pr[u];
            }
            for (int u = 0; u <= t; u++) {
                pr[u] = R_EXP(pr[u] - mx);
                sum += pr[u];
            }
            for (int u = 0; u <= t; u++)
                pr[u] /= sum;
            for (int u = t + 1; u < T; u++)
                pr[u] = 0;
        }
        TR(gemm)
        (T, head_dim, T, ph, (size_t)T, 1, v + (size_t)j * head_dim, ks, out + (size_t)h * head_dim,
         qs);
    }
}

/* Per head: dP = dO V^T, dV += P^T dO, dS = P * (dP - rowsum(P * dP)) * scale (the softmax
 * backward), dQ += dS K, dK += dS^T Q. */
void TR(attn_bwd)(R *dq, R *dk, R *dv, const R *dout, const R *p, const R *q, const R *k,
                  const R *v, int T, int n_head, int n_head_kv, int head_dim, R *scratch) {
    int group = n_head / n_head_kv;
    size_t qs = (size_t)n_head * head_dim, ks = (size_t)n_head_kv * head_dim, TT = (size_t)T * T;
    R scale = (R)(1.0 / sqrt((double)head_dim));
    R *vt = scratch, *ds = scratch + (size_t)T * head_dim;
    for (int h = 0; h < n_head; h++) {
        int j = h / group;
        const R *ph = p + (size_t)h * TT, *go = dout + (size_t)h * head_dim;
        if (h % group == 0) TR(head_transpose)(vt, v + (size_t)j * head_dim, ks, T, head_dim);
        memset(ds, 0, TT * sizeof *ds);
        TR(gemm)(T, T, head_dim, go, qs, 1, vt, (size_t)T, ds, (size_t)T);
        TR(gemm)(T, head_dim, T, ph, 1, (size_t)T, go, qs, dv + (size_t)j * head_dim, ks);
        for (int t = 0; t < T; t++) {
            const R *pr = ph + (size_t)t * T;
            R *dr = ds + (size_t)t * T, s = 0;
            for (int u = 0; u <= t; u++)
                s += pr[u] * dr[u];
            for (int u = 0; u <= t; u++)
                dr[u] = pr[u] * (dr[u] - s) * scale;
            for (int u = t + 1; u < T; u++)
                dr[u] = 0;
        }
        TR(gemm)
        (T, head_dim, T, ds, (size_t)T, 1, k + (size_t)j * head_dim, ks, dq + (size_t)h * head_dim,
         qs);
        TR(gemm)
        (T, head_dim, T, ds, 1, (size_t)T, q + (size_t)h * head_dim, qs, dk + (size_t)j * head_dim,
         ks);
    }
}

void TR(swiglu_fwd)(R *m, const R *g, const R *u, size_t n) {
    for (size_t i = 0; i < n; i++)
        m[i] = g[i] / (1 + R_EXP(-g[i])) * u[i];
}

/* d silu(g)/dg = sigmoid(g) * (1 + g * (1 - sigmoid(g))). */
void TR(swiglu_bwd)(R *dg, R *du, const R *dm, const R *g, const R *u, size_t n) {
    for (size_t i = 0; i < n; i++) {
        R sg = 1 / (1 + R_EXP(-g[i]));
        dg[i] += dm[i] * u[i] * sg * (1 + g[i] * (1 - sg));
        du[i] += dm[i] * g[i] * sg;
    }
}

double TR(xent)(R *logits, const int32_t *tgt, int T, int V, R scale) {
    double loss = 0;
    for (int t = 0; t < T; t++) {
        R *l = logits + (size_t)t * V;
        R mx = l[0];
        for (int i = 1; i < V; i++)
            if (l[i] > mx) mx = l[i];
        double lt = (double)l[tgt[t]] - mx, sum = 0;
        for (int i = 0; i < V; i++) {
            l[i] = R_EXP(l[i] - mx);
            sum += l[i];
        }
        loss += log(sum) - lt;
        R inv = (R)(1.0 / sum);
        for (int i = 0; i < V; i++)
            l[i] *= inv * scale;
        l[tgt[t]] -= scale;
    }
    return loss;
}
