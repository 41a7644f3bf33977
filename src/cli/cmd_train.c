/* `beanbag train`: trains a small llama model (and its BPE vocabulary) on a text corpus. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "train/checkpoint.h"
#include "train/corpus.h"
#include "train/demo_data.h"
#include "train/tops.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: beanbag train --data FILE --out FILE.gguf [options]\n"
            "       beanbag train --data FILE --resume FILE.gguf [--out FILE.gguf] [options]\n"
            "\nmodel (ignored with --resume):\n"
            "  --dim N --layers N --heads N --kv-heads N --ffn N   (256, 4, 8, =heads, 768)\n"
            "  --vocab N       BPE vocabulary size incl. 256 bytes and 3 specials (512)\n"
            "  --ctx N         context length (256)\n"
            "  --untied        separate output matrix instead of the tied embedding\n"
            "  --rope-base F   (10000)\n"
            "  --name S        general.name (beanbag-trained)\n"
            "  --chat-template FILE   Jinja template to store (default: ChatML)\n"
            "\ntraining (with --resume, the saved values unless given):\n"
            "  --steps N --batch N     optimizer steps (1000), sequences per step (32)\n"
            "  --lr F --lr-min F       peak and final learning rate (3e-4, lr/10)\n"
            "  --warmup N              warm-up steps (steps/20)\n"
            "  --wd F --clip F         weight decay (0.1), gradient-norm clip (1.0)\n"
            "  --seed N                initialisation and data order (1)\n"
            "  --loss all|assistant    tokens counted in the loss (all)\n"
            "  --threads N             (2)\n"
            "  --save-every N          checkpoint interval in steps (0: at the end)\n"
            "  --stop-after N          stop at this step, e.g. to resume later\n"
            "\nThe corpus is split into documents at <|endoftext|>. Checkpoints write FILE.gguf\n"
            "(the model) and FILE.gguf.train (optimizer state for --resume).\n");
}

typedef struct args {
    const char *data, *out, *resume, *name, *template_path;
    tr_hparams hp;
    tr_options opt;
    tr_loss_mode loss;
    bool set_lr_min, set_warmup;
} args;

/* One numeric option: where it goes and its range. */
typedef struct num_opt {
    const char *flag;
    bool is_float, train; /* train: a training option (re-applied over a resume) */
    double lo, hi;
    void *dst; /* int32_t, int, int64_t, uint64_t or float by kind below */
    char kind; /* 'i' int32, 'n' int, 'l' int64, 'u' uint64, 'f' float */
} num_opt;

static bool store(const num_opt *o, const char *v) {
    char *end;
    errno = 0;
    double d = o->is_float ? strtod(v, &end) : (double)strtoll(v, &end, 10);
    if (errno || end == v || *end || !(d >= o->lo && d <= o->hi)) return false;
    switch (o->kind) {
    case 'i':
        *(int32_t *)o->dst = (int32_t)d;
        break;
    case 'n':
        *(int *)o->dst = (int)d;
        break;
    case 'l':
        *(int64_t *)o->dst = (int64_t)d;
        break;
    case 'u':
        *(uint64_t *)o->dst = (uint64_t)d;
        break;
    default:
        *(float *)o->dst = (float)d;
        break;
    }
    return true;
}

static int num_opts(args *a, num_opt *t) {
    tr_hparams *h = &a->hp;
    tr_options *o = &a->opt;
    num_opt v[] = {
        {"--dim", 0, 0, 2, 16384, &h->n_embd, 'i'},
        {"--layers", 0, 0, 1, 256, &h->n_layer, 'i'},
        {"--heads", 0, 0, 1, 16384, &h->n_head, 'i'},
        {"--kv-heads", 0, 0, 1, 16384, &h->n_head_kv, 'i'},
        {"--ffn", 0, 0, 1, 65536, &h->n_ff, 'i'},
        {"--vocab", 0, 0, 259, 1 << 20, &h->n_vocab, 'i'},
        {"--ctx", 0, 0, 2, 65536, &h->n_ctx, 'i'},
        {"--rope-base", 1, 0, 1, 1e9, &h->rope_base, 'f'},
        {"--steps", 0, 1, 1, 1e12, &o->steps, 'l'},
        {"--batch", 0, 1, 1, 65536, &o->batch, 'n'},
        {"--lr", 1, 1, 1e-9, 10, &o->lr, 'f'},
        {"--lr-min", 1, 1, 0, 10, &o->lr_min, 'f'},
        {"--warmup", 0, 1, 0, 1e12, &o->warmup, 'l'},
        {"--wd", 1, 1, 0, 10, &o->weight_decay, 'f'},
        {"--clip", 1, 1, 0, 1e6, &o->clip, 'f'},
        {"--seed", 0, 1, 0, 9e18, &o->seed, 'u'},
        {"--threads", 0, 1, 1, 1024, &o->threads, 'n'},
        {"--save-every", 0, 1, 0, 1e12, &o->save_every, 'l'},
        {"--stop-after", 0, 1, 0, 1e12, &o->stop_after, 'l'},
    };
    memcpy(t, v, sizeof v);
    return (int)(sizeof v / sizeof v[0]);
}

/* Parses argv; with train_only, applies only training options (over resumed values). */
static int parse(int argc, char **argv, args *a, bool train_only) {
    num_opt t[32];
    int n = num_opts(a, t);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(f, "--untied")) {
            a->hp.tied = false;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "beanbag train: %s needs a value (see --help)\n", f);
            return 2;
        }
        const char *v = argv[++i];
        int k = 0;
        while (k < n && strcmp(t[k].flag, f))
            k++;
        if (k < n) {
            if (train_only && !t[k].train) continue;
            if (!store(&t[k], v)) {
                fprintf(stderr, "beanbag train: %s wants a number in [%g, %g], got '%s'\n", f,
                        t[k].lo, t[k].hi, v);
                return 2;
            }
            a->set_lr_min |= !strcmp(f, "--lr-min");
            a->set_warmup |= !strcmp(f, "--warmup");
        } else if (!strcmp(f, "--loss")) {
            if (strcmp(v, "all") && strcmp(v, "assistant")) {
                fprintf(stderr, "beanbag train: --loss is 'all' or 'assistant', not '%s'\n", v);
                return 2;
            }
            a->loss = strcmp(v, "all") ? TR_LOSS_ASSISTANT : TR_LOSS_ALL;
        } else if (train_only) {
            continue;
        } else if (!strcmp(f, "--data")) {
            a->data = v;
        } else if (!strcmp(f, "--out") || !strcmp(f, "-o")) {
            a->out = v;
        } else if (!strcmp(f, "--resume")) {
            a->resume = v;
        } else if (!strcmp(f, "--name")) {
            a->name = v;
        } else if (!strcmp(f, "--chat-template")) {
            a->template_path = v;
        } else {
            fprintf(stderr, "beanbag train: unknown option '%s' (see --help)\n", f);
            return 2;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- progress */

typedef struct run_ctx {
    const char *out;
    tr_model_info info;
    const tr_options *opt;
    tr_loss_mode loss;
    bool tty;
    double last_print, loss_sum;
    int loss_n;
} run_ctx;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_time(char *buf, size_t cap, double s) {
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress(void *ctx, const tr_progress *p) {
    run_ctx *r = ctx;
    if (!isnan(p->loss)) r->loss_sum += p->loss, r->loss_n++;
    double t = now_s();
    bool last = p->step == p->steps;
    /* A terminal gets a live line; a log gets one line every 10 seconds. */
    if (!last && t - r->last_print < (r->tty ? 0.25 : 10.0)) return;
    r->last_print = t;
    char el[32], eta[32];
    fmt_time(el, sizeof el, p->elapsed_s);
    fmt_time(eta, sizeof eta, p->eta_s);
    int w = snprintf(NULL, 0, "%lld", (long long)p->steps);
    fprintf(stderr,
            "%sstep %*lld/%lld  loss %.4f  lr %.2e  |g| %.2f  %.0f tok/s  elapsed %s  ETA %s%s",
            r->tty ? "\r" : "", w, (long long)p->step, (long long)p->steps,
            r->loss_n ? r->loss_sum / r->loss_n : p->loss, p->lr, p->grad_norm, p->tokens_per_s, el,
            eta, r->tty ? "  " : "\n");
    r->loss_sum = 0;
    r->loss_n = 0;
}

static bb_status on_save(void *ctx, const tr_state *st, bb_error *err) {
    run_ctx *r = ctx;
    return tr_checkpoint_save(r->out, st, &r->info, r->opt, r->loss, err);
}

/* ---------------------------------------------------------------- the command */

static const char *const k_specials[] = {TR_DEMO_EOT, TR_DEMO_IM_START, TR_DEMO_IM_END};

static bb_status prepare_new(args *a, const char *text, size_t len, tr_state *st, tr_bpe **bpe,
                             bb_error *err) {
    /* Learning merges from the first 16 MiB is plenty for a vocabulary this size. */
    size_t sample = len < ((size_t)16 << 20) ? len : (size_t)16 << 20;
    double t0 = now_s();
    bb_status s = tr_bpe_train(text, sample, a->hp.n_vocab, k_specials, 3, bpe, err);
    if (s != BB_OK) return s;
    if (tr_bpe_n_tokens(*bpe) < a->hp.n_vocab) {
        fprintf(stderr, "beanbag train: the corpus supports only %d tokens; vocab set to that\n",
                tr_bpe_n_tokens(*bpe));
        a->hp.n_vocab = tr_bpe_n_tokens(*bpe);
    }
    fprintf(stderr, "beanbag train: BPE vocabulary of %d tokens (%d merges) in %.1f s\n",
            tr_bpe_n_tokens(*bpe), tr_bpe_n_merges(*bpe), now_s() - t0);
    return tr_state_init(st, &a->hp, a->opt.seed, err);
}

static int fail(const char *what, const bb_error *err) {
    fprintf(stderr, "\nbeanbag train: %s: %s\n", what, err->message);
    return 1;
}

static int train_main(args *a, int argc, char **argv) {
    bb_error err = {0};
    tr_state st = {0};
    tr_bpe *bpe = NULL;
    char *text = NULL, *tmpl = NULL;
    size_t len = 0;
    tr_dataset data = {0};
    int rc = 1;
    if (a->resume) {
        if (tr_model_load(a->resume, &st, &bpe, &tmpl, &err) != BB_OK ||
            tr_optimizer_load(a->resume, &st, &a->opt, &a->loss, &err) != BB_OK) {
            rc = fail("cannot resume", &err);
            goto done;
        }
        a->opt.threads = tr_options_default().threads;
        a->opt.stop_after = 0;
        if (parse(argc, argv, a, true) >= 0) goto done;
        if (!a->out) a->out = a->resume;
        fprintf(stderr, "beanbag train: resuming %s at step %lld\n", a->resume, (long long)st.step);
    }
    if (tr_read_file(a->data, &text, &len, &err) != BB_OK) {
        rc = fail("cannot read the corpus", &err);
        goto done;
    }
    if (!a->resume) {
        if (!a->set_lr_min) a->opt.lr_min = a->opt.lr / 10;
        if (!a->set_warmup) a->opt.warmup = a->opt.steps / 20;
        if (prepare_new(a, text, len, &st, &bpe, &err) != BB_OK) {
            rc = fail("cannot set up the model", &err);
            goto done;
        }
        size_t tlen;
        if (a->template_path && tr_read_file(a->template_path, &tmpl, &tlen, &err) != BB_OK) {
            rc = fail("cannot read the chat template", &err);
            goto done;
        }
        if (!tmpl && !(tmpl = strdup(tr_demo_chat_template()))) goto done;
    }
    double t0 = now_s();
    if (tr_corpus_build(bpe, text, len, a->loss, &data, &err) != BB_OK) {
        rc = fail("cannot tokenize the corpus", &err);
        goto done;
    }
    size_t n_targets = 0;
    for (size_t i = 0; i < data.n_tok; i++)
        n_targets += data.target[i] != 0;
    fprintf(stderr,
            "beanbag train: %zu documents, %zu tokens (%zu targets) in %.1f s\n"
            "beanbag train: %zu parameters (%d layers, dim %d, %d heads, %d KV heads, ffn %d, "
            "vocab %d, ctx %d, %s), kernel %s, %d threads\n",
            data.n_docs, data.n_tok, n_targets, now_s() - t0, st.L.n_params, st.L.hp.n_layer,
            st.L.hp.n_embd, st.L.hp.n_head, st.L.hp.n_head_kv, st.L.hp.n_ff, st.L.hp.n_vocab,
            st.L.hp.n_ctx, st.L.hp.tied ? "tied" : "untied", tr_gemm_kernel_name(), a->opt.threads);
    run_ctx r = {.out = a->out,
                 .info = {a->name, tmpl, bpe},
                 .opt = &a->opt,
                 .loss = a->loss,
                 .tty = isatty(2)};
    tr_callbacks cb = {on_progress, on_save, &r};
    t0 = now_s();
    int64_t first = st.step;
    if (tr_train(&st, &data, &a->opt, &cb, &err) != BB_OK) {
        rc = fail("training failed", &err);
        goto done;
    }
    char el[32];
    fmt_time(el, sizeof el, now_s() - t0);
    fprintf(stderr, "%sbeanbag train: %lld steps in %s; wrote %s (+ .train)\n", r.tty ? "\n" : "",
            (long long)(st.step - first), el, a->out);
    rc = 0;
done:
    tr_dataset_free(&data);
    tr_state_free(&st);
    tr_bpe_free(bpe);
    free(text);
    free(tmpl);
    return rc;
}

int cmd_train(int argc, char **argv) {
    args a = {.hp = tr_hparams_default(),
              .opt = tr_options_default(),
              .loss = TR_LOSS_ALL,
              .name = "beanbag-trained"};
    a.hp.n_head_kv = 0;
    int rc = parse(argc, argv, &a, false);
    if (rc >= 0) return rc;
    if (!a.hp.n_head_kv) a.hp.n_head_kv = a.hp.n_head;
    if (!a.data || (!a.out && !a.resume)) {
        usage(stderr);
        return 2;
    }
    return train_main(&a, argc, argv);
}
