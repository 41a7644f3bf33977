/* The Jinja interpreter on fuzzed template source, rendering a fixed conversation (with a
 * tool list and the usual special tokens), as a model file's tokenizer.chat_template would.
 * A template may fail, but within the interpreter's limits (src/chat/limits.h): no crash,
 * hang or unbounded memory. */
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "fuzz.h"

static const char messages[] =
    "[{\"role\":\"system\",\"content\":\"You are terse.\"},"
    "{\"role\":\"user\",\"content\":\"What is 2+2? \\u00e9\\u4e2d\"},"
    "{\"role\":\"assistant\",\"content\":\"4\",\"tool_calls\":[{\"type\":\"function\","
    "\"function\":{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":2}}}]},"
    "{\"role\":\"tool\",\"content\":\"4\"},{\"role\":\"user\",\"content\":\"Thanks\"}]";
static const char tools[] = "[{\"type\":\"function\",\"function\":{\"name\":\"add\","
                            "\"description\":\"adds\",\"parameters\":{\"type\":\"object\","
                            "\"properties\":{\"a\":{\"type\":\"number\"}}}}}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *src = malloc(size + 1);
    if (!src) return 0;
    memcpy(src, data, size);
    src[size] = 0;
    char *out = NULL;
    bb_error err = {0};
    bb_status st = bb_chat_render(src, messages, size % 2 ? tools : NULL, size % 3 == 0, "<s>",
                                  "</s>", &out, &err);
    if (st == BB_OK)
        FUZZ_ASSERT(out != NULL);
    else
        FUZZ_ASSERT(out == NULL && err.message[0]);
    bb_free(out);
    free(src);
    return 0;
}
