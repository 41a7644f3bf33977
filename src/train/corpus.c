#define _GNU_SOURCE /* memmem */
#include "train/corpus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "train/demo_data.h"

bb_status tr_read_file(const char *path, char **data, size_t *len, bb_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return bb_fail(err, BB_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, 65536, f);
        n += got;
        if (got < 65536) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return bb_fail(err, BB_ERR_IO, "error reading %s", path);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return BB_OK;
}

/* Role of the turn opened at ids[i] (an <|im_start|>): its text up to the first newline.
 * Returns the index of the first content token, or n when the header never ends. */
static size_t turn_header(const tr_bpe *b, const int32_t *ids, size_t i, size_t n, char *role,
                          size_t role_cap) {
    size_t r = 0;
    for (size_t j = i + 1; j < n; j++) {
        size_t len;
        const unsigned char *p = tr_bpe_token_bytes(b, ids[j], &len);
        for (size_t k = 0; k < len; k++) {
            if (p[k] == '\n') {
                role[r] = 0;
                return j + 1;
            }
            if (r + 1 < role_cap) role[r++] = (char)p[k];
        }
    }
    role[r] = 0;
    return n;
}

static void mark_targets(const tr_bpe *b, const int32_t *ids, uint8_t *tgt, size_t n,
                         tr_loss_mode mode) {
    if (mode == TR_LOSS_ALL) {
        for (size_t i = 0; i < n; i++)
            tgt[i] = i > 0;
        return;
    }
    int im_start = tr_bpe_find_special(b, TR_DEMO_IM_START);
    int im_end = tr_bpe_find_special(b, TR_DEMO_IM_END);
    memset(tgt, 0, n);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] != im_start) continue;
        char role[32];
        size_t j = turn_header(b, ids, i, n, role, sizeof role);
        if (strcmp(role, "assistant")) continue;
        /* Targets run to the closing <|im_end|>, or up to a next turn that opens without
         * one; the scan resumes where they stop. */
        for (i = j; i < n && ids[i] != im_start; i++) {
            tgt[i] = 1;
            if (ids[i] == im_end) break;
        }
        if (i < n && ids[i] == im_start) i--;
    }
}

bb_status tr_corpus_build(tr_bpe *bpe, const char *text, size_t len, tr_loss_mode mode,
                          tr_dataset *out, bb_error *err) {
    const char *sep = TR_DEMO_EOT;
    size_t sep_len = strlen(sep), pos = 0;
    uint8_t *tgt = NULL;
    size_t tgt_cap = 0;
    bb_status s = BB_OK;
    memset(out, 0, sizeof *out);
    while (s == BB_OK && pos < len) {
        const char *hit = memmem(text + pos, len - pos, sep, sep_len);
        size_t end = hit ? (size_t)(hit - text) : len;
        int32_t *ids = NULL;
        size_t n = 0;
        if (end > pos) s = tr_bpe_encode(bpe, text + pos, end - pos, &ids, &n, err);
        if (s == BB_OK && n > tgt_cap) {
            uint8_t *t = realloc(tgt, n);
            if (!t)
                s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the dataset");
            else
                tgt = t, tgt_cap = n;
        }
        if (s == BB_OK && n > 1) {
            mark_targets(bpe, ids, tgt, n, mode);
            s = tr_dataset_add(out, ids, tgt, n, err);
        }
        free(ids);
        pos = hit ? end + sep_len : len;
        if (hit && pos < len && text[pos] == '\n') pos++;
    }
    free(tgt);
    if (s != BB_OK) tr_dataset_free(out);
    return s;
}
