/* Special tokens: ids from the metadata, the ones llama.cpp finds by their text (end of turn,
 * infill), the end-of-generation set, the list matched in raw text before tokenizing, and
 * per-model white-space stripping around them. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/vocab_impl.h"

static const char *const slot_names[BB_SPECIAL_COUNT] = {
    "bos",  "eos",     "eot",     "eom",     "unknown", "seperator", "padding",
    "mask", "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep",   "fim_sep"};

void bb_vocab_apply_special_ids(bb_vocab *v, const bb_vocab_desc *d) {
    for (int i = 0; i < BB_SPECIAL_COUNT; i++) {
        if (v->special[i] >= v->n_tokens) v->special[i] = -1;
        int64_t id = d->special[i];
        if (id < 0) continue;
        if (id >= v->n_tokens) {
            bb_vocab_warn(
                "bad special token: %s_token_id = %lld is outside the vocabulary, ignored",
                slot_names[i], (long long)id);
            continue;
        }
        v->special[i] = (bb_token)id;
    }
}

static bb_token find_text(const bb_vocab *v, const char *text) {
    return bb_strmap_get(&v->token_ids, text, strlen(text));
}

static void mark_control(bb_vocab *v, bb_token id) {
    v->tokens[id].attr |= BB_ATTR_CONTROL;
}

/* Slots llama.cpp fills by token text when the metadata leaves them unset; a token found this
 * way is treated as a control token whatever its declared type. */
static const char *const *const detect_texts[BB_SPECIAL_COUNT] = {
    [BB_SPECIAL_EOT] = (const char *const[]){"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                             "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
                                             "<｜end▁of▁sentence｜>", "<end_of_utterance>", NULL},
    [BB_SPECIAL_EOM] = (const char *const[]){"<|eom_id|>", NULL},
    [BB_SPECIAL_FIM_PRE] = (const char *const[]){"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                                 "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", NULL},
    [BB_SPECIAL_FIM_SUF] = (const char *const[]){"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                                 "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", NULL},
    [BB_SPECIAL_FIM_MID] = (const char *const[]){"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                                 "<｜fim▁end｜>", "<MID>", "▁<MID>", NULL},
    [BB_SPECIAL_FIM_PAD] =
        (const char *const[]){"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", NULL},
    [BB_SPECIAL_FIM_REP] = (const char *const[]){"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                                 "<REPO>", "<reponame>", NULL},
    [BB_SPECIAL_FIM_SEP] = (const char *const[]){"<|file_sep|>", NULL},
};

/* Texts that end generation (llama.cpp's special_eog_ids rule). */
static const char *const eog_texts[] = {
    "<|eot_id|>",      "<|im_end|>",         "<|end|>", "<end_of_turn>",
    "<|endoftext|>",   "<|eom_id|>",         "<EOT>",   "_<EOT>",
    "<|end_of_text|>", "<end_of_utterance>", NULL};

void bb_vocab_detect_specials(bb_vocab *v) {
    for (int slot = 0; slot < BB_SPECIAL_COUNT; slot++) {
        if (!detect_texts[slot] || v->special[slot] >= 0) continue;
        for (const char *const *t = detect_texts[slot]; *t; t++) {
            bb_token id = find_text(v, *t);
            if (id >= 0) {
                v->special[slot] = id;
                mark_control(v, id);
                break;
            }
        }
    }
    /* Control tokens named "unused..." are placeholders. */
    for (bb_token id = 0; id < v->n_tokens; id++) {
        bb_token_info *t = &v->tokens[id];
        if ((t->attr & BB_ATTR_CONTROL) &&
            memmem(v->text + t->text_off, t->text_len, "unused", 6) != NULL) {
            t->attr |= BB_ATTR_UNUSED;
        }
    }
}

void bb_vocab_build_eog(bb_vocab *v) {
    static const int slots[] = {BB_SPECIAL_FIM_PAD, BB_SPECIAL_FIM_REP, BB_SPECIAL_FIM_SEP,
                                BB_SPECIAL_EOS,     BB_SPECIAL_EOT,     BB_SPECIAL_EOM};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (v->special[slots[i]] >= 0) v->eog[v->special[slots[i]]] = 1;
    }
    for (const char *const *t = eog_texts; *t; t++) {
        bb_token id = find_text(v, *t);
        if (id >= 0) {
            v->eog[id] = 1;
            mark_control(v, id);
        }
    }
}

static bb_status build_special_trie(bb_vocab *v, bb_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < v->n_special_cache; i++) {
        total += v->tokens[v->special_cache[i]].text_len; /* <= the 4 GiB text table */
    }
    bb_status st = bb_trie_init(&v->special_trie, total, err);
    if (st != BB_OK) return st;
    for (size_t i = 0; i < v->n_special_cache; i++) {
        bb_token id = v->special_cache[i];
        bb_trie_insert(&v->special_trie, bb_vocab_text(v, id), v->tokens[id].text_len, (int32_t)i);
    }
    return BB_OK;
}

typedef struct len_id {
    uint32_t len;
    bb_token id;
} len_id;

static int cmp_len_id(const void *a, const void *b) {
    const len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

bb_status bb_vocab_build_special_cache(bb_vocab *v, bb_error *err) {
    const uint32_t want = BB_ATTR_CONTROL | BB_ATTR_USER_DEFINED | BB_ATTR_UNKNOWN;
    size_t n = 0;
    for (bb_token id = 0; id < v->n_tokens; id++)
        n += (v->tokens[id].attr & want) != 0;
    len_id *order = malloc((n ? n : 1) * sizeof *order);
    v->special_cache = malloc((n ? n : 1) * sizeof *v->special_cache);
    if (!order || !v->special_cache) {
        free(order);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (bb_token id = 0; id < v->n_tokens; id++) {
        if (v->tokens[id].attr & want)
            order[v->n_special_cache++] = (len_id){v->tokens[id].text_len, id};
    }
    /* Longest first, ties by id, so the order does not depend on the sort. */
    qsort(order, n, sizeof *order, cmp_len_id);
    for (size_t i = 0; i < n; i++)
        v->special_cache[i] = order[i].id;
    free(order);
    return build_special_trie(v, err);
}

static void set_attr_by_text(bb_vocab *v, const char *text, uint32_t attr, bool on) {
    bb_token id = find_text(v, text);
    if (id < 0) return;
    if (on) {
        v->tokens[id].attr |= attr;
    } else {
        v->tokens[id].attr &= ~attr;
    }
}

static bool contains_ci(bb_str s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++) {
        size_t k = 0;
        while (k < n && (char)(s.ptr[i + k] | 0x20) == needle[k])
            k++;
        if (k == n) return true;
    }
    return false;
}

/* Per-model white-space stripping around special tokens, keyed on names as llama.cpp does
 * (its "Handle per token attributes" block). */
void bb_vocab_apply_model_rules(bb_vocab *v, const bb_vocab_desc *d) {
    if (contains_ci(d->pre, "jina-v2-de") || contains_ci(d->pre, "jina-v2-es") ||
        contains_ci(d->pre, "jina-v2-code")) {
        set_attr_by_text(v, "<mask>", BB_ATTR_LSTRIP, true);
    } else if (contains_ci(d->name, "phi-3") || contains_ci(d->name, "phi3")) {
        for (size_t i = 0; i < v->n_special_cache; i++) {
            v->tokens[v->special_cache[i]].attr |= BB_ATTR_RSTRIP;
        }
        set_attr_by_text(v, "</s>", BB_ATTR_RSTRIP, true);
        set_attr_by_text(v, "<unk>", BB_ATTR_RSTRIP, false);
        set_attr_by_text(v, "<s>", BB_ATTR_RSTRIP, false);
        set_attr_by_text(v, "<|endoftext|>", BB_ATTR_RSTRIP, false);
    }
}
