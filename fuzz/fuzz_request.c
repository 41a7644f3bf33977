/* An OpenAI request body through what the server does before the engine: JSON parsing,
 * validation (oai_parse_request), and the prompt: chat messages reshaped for the template,
 * rendered with the built-in demo model's chat template and tokenized, or a completion prompt
 * (text or token ids). The first byte picks the endpoint, the rest is the body. */
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "fixture_model.h"
#include "fuzz.h"
#include "server/oai_request.h"
#include "server/prompt.h"
#include "train/demo_model.h"

static bb_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    size_t size = 0;
    const void *img = bb_demo_model_data(&size);
    void *fixture = NULL;
    bb_error err = {0};
    if (!img) {
        fixture_model_params p = fixture_model_default();
        if (fixture_model_build(&p, &fixture, &size, &err) != BB_OK) abort();
        img = fixture;
    }
    bb_model_params mp = {.vocab_only = true};
    if (bb_model_load_from_memory(img, size, &mp, &model, &err) != BB_OK) {
        fprintf(stderr, "fuzz_request: %s\n", err.message);
        abort();
    }
    (void)argc;
    (void)argv;
    return 0;
}

static void prompt(const oai_request *req) {
    const bb_vocab *vocab = bb_model_vocab(model);
    bb_token *ids = NULL;
    size_t n = 0;
    bb_error err = {0};
    oai_error e = {0};
    if (req->chat) {
        cJSON *messages = oai_messages_for_template(req->messages, false, &e);
        if (!messages) {
            FUZZ_ASSERT(e.status >= 400 && e.message[0]);
            return;
        }
        char *json = cJSON_PrintUnformatted(messages);
        cJSON_Delete(messages);
        if (!json) return;
        if (prompt_from_messages(model, json, &ids, &n, &err) == BB_OK) FUZZ_ASSERT(ids != NULL);
        free(json);
    } else if (cJSON_IsString(req->prompt)) {
        prompt_tokenize(vocab, req->prompt->valuestring, &ids, &n, &err);
    } else if (cJSON_IsArray(req->prompt)) {
        if (oai_token_ids(req->prompt, bb_vocab_n_tokens(vocab), &ids, &n))
            for (size_t i = 0; i < n; i++)
                FUZZ_ASSERT(ids[i] >= 0 && ids[i] < bb_vocab_n_tokens(vocab));
        free(ids);
        return;
    }
    bb_free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    bool chat = !(data[0] & 1);
    cJSON *root = NULL;
    oai_error e = {0};
    if (!oai_parse_json((const char *)data + 1, size - 1, &root, &e)) {
        FUZZ_ASSERT(root == NULL && e.status == 400 && e.message[0]);
        return 0;
    }
    oai_limits lim = {.max_n = 4, .n_vocab = bb_vocab_n_tokens(bb_model_vocab(model))};
    oai_request req;
    memset(&req, 0, sizeof req);
    if (oai_parse_request(root, chat, &lim, &req, &e)) {
        FUZZ_ASSERT(req.n >= 1 && req.n <= lim.max_n && req.n_stop <= OAI_MAX_STOP);
        for (size_t i = 0; i < req.n_bias; i++)
            FUZZ_ASSERT(req.bias[i].token >= 0 && req.bias[i].token < lim.n_vocab);
        prompt(&req);
    } else {
        FUZZ_ASSERT(e.status >= 400 && e.message[0]);
    }
    oai_request_free(&req);
    cJSON_Delete(root);
    return 0;
}
