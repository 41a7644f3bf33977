#include "server/prompt.h"

#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "common/error.h"

bb_status prompt_tokenize(const bb_vocab *vocab, const char *text, bb_token **ids, size_t *n,
                          bb_error *err) {
    bb_token *raw = NULL;
    size_t n_raw = 0;
    /* add_special would also append EOS for vocabs that ask for it: wrong for generation. */
    bb_status st = bb_tokenize(vocab, text, strlen(text), false, true, &raw, &n_raw, err);
    if (st != BB_OK) return st;
    bb_token bos = bb_vocab_bos(vocab);
    bool add_bos = bb_vocab_add_bos(vocab) && bos >= 0 && (n_raw == 0 || raw[0] != bos);
    *ids = malloc((n_raw + 1) * sizeof **ids);
    if (!*ids) {
        bb_free(raw);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the prompt");
    }
    if (add_bos) (*ids)[0] = bos;
    if (n_raw) memcpy(*ids + add_bos, raw, n_raw * sizeof *raw);
    *n = n_raw + add_bos;
    bb_free(raw);
    return BB_OK;
}

char *prompt_special_text(const bb_vocab *vocab, bb_token t) {
    char *text = NULL;
    if (t >= 0 && bb_detokenize(vocab, &t, 1, true, &text, NULL) == BB_OK) return text;
    return strdup("");
}

const char *prompt_template(const bb_model *model) {
    const char *tmpl = bb_model_chat_template(model);
    return tmpl ? tmpl : bb_chat_default_template();
}

bb_status prompt_render(const bb_model *model, const char *messages_json, const char *tools_json,
                        const char *kwargs_json, char **text, bb_error *err) {
    const bb_vocab *vocab = bb_model_vocab(model);
    char *bos = prompt_special_text(vocab, bb_vocab_bos(vocab));
    char *eos = prompt_special_text(vocab, bb_vocab_eos(vocab));
    bb_status st = BB_ERR_OUT_OF_MEMORY;
    *text = NULL;
    if (bos && eos)
        st = bb_chat_render_kwargs(prompt_template(model), messages_json, tools_json, kwargs_json,
                                   true, bos, eos, text, err);
    else
        bb_fail(err, st, "out of memory for the prompt");
    free(bos);
    free(eos);
    return st;
}

bb_status prompt_from_messages(const bb_model *model, const char *messages_json, bb_token **ids,
                               size_t *n, bb_error *err) {
    char *text = NULL;
    bb_status st = prompt_render(model, messages_json, NULL, NULL, &text, err);
    if (st != BB_OK) return st;
    st = prompt_tokenize(bb_model_vocab(model), text, ids, n, err);
    bb_free(text);
    return st;
}
