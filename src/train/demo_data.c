/* The demo task generator; see demo_data.h. */
#include "train/demo_data.h"

#include <stdarg.h>
#include <string.h>

#include "common/error.h"
#include "train/rng.h"

/* ChatML as Qwen and others use it, without a default system message. */
static const char k_template[] =
    "{%- for message in messages %}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "{{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";

const char *tr_demo_chat_template(void) {
    return k_template;
}

const char *tr_demo_cat_name(tr_demo_cat cat) {
    static const char *const names[TR_DEMO_N_CAT] = {"add",     "sub",     "mul",
                                                     "convert", "compare", "chat"};
    return cat < TR_DEMO_N_CAT ? names[cat] : "?";
}

static void put(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(char *dst, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, 256, fmt, ap);
    va_end(ap);
}

static const char *pick(tr_rng *r, const char *const *v, size_t n) {
    return v[tr_rng_below(r, n)];
}
#define PICK(r, arr) pick(r, arr, sizeof arr / sizeof arr[0])

/* A number of 1 to max_digits digits: the digit count first (weights favour the longest),
 * then the value, so short numbers are not drowned out. */
static int number(tr_rng *r, int max_digits) {
    static const int weights[4][4] = {{1, 0, 0, 0}, {1, 3, 0, 0}, {1, 3, 8, 0}, {1, 2, 4, 8}};
    const int *w = weights[max_digits - 1];
    int total = 0, digits = 1;
    for (int i = 0; i < max_digits; i++)
        total += w[i];
    int x = (int)tr_rng_below(r, (uint64_t)total);
    for (int i = 0; i < max_digits; i++) {
        if (x < w[i]) {
            digits = i + 1;
            break;
        }
        x -= w[i];
    }
    static const int pow10[5] = {1, 10, 100, 1000, 10000};
    int lo = digits == 1 ? 0 : pow10[digits - 1], hi = pow10[digits];
    return lo + (int)tr_rng_below(r, (uint64_t)(hi - lo));
}

/* ---------------------------------------------------------------- arithmetic */

/* Question formats take the two operands in order (%1$d, %2$d). */
static const char *const k_add_en[] = {
    "What is %d + %d?",   "%d + %d = ?",    "Calculate %d + %d.",
    "What's %d plus %d?", "Add %d and %d.", "What is the sum of %d and %d?",
    "%d plus %d?",        "Compute %d+%d",  "How much is %d + %d?",
};
static const char *const k_add_zh[] = {
    "%d + %d 等于多少？", "%d加%d等于几？", "计算 %d + %d。",
    "%d 加 %d 是多少？",  "请算一下 %d+%d", "%d与%d的和是多少？",
};
static const char *const k_sub_en[] = {
    "What is %d - %d?",         "%d − %d = ?",   "What's %d minus %d?",
    "Calculate %d - %d.",       "Compute %d-%d", "What is the difference between %d and %d?",
    "How much is %d minus %d?",
};
static const char *const k_sub_zh[] = {
    "%d - %d 等于多少？",  "%d减%d等于几？",     "计算 %d − %d。",
    "%d 减去 %d 是多少？", "%d与%d的差是多少？", "请算一下 %d-%d",
};
static const char *const k_mul_en[] = {
    "What is %d × %d?",   "%d * %d = ?",        "What's %d times %d?",
    "Multiply %d by %d.", "Calculate %d x %d.", "What is the product of %d and %d?",
    "Compute %d*%d",
};
static const char *const k_mul_zh[] = {
    "%d × %d 等于多少？",  "%d乘%d等于几？",     "计算 %d * %d。",
    "%d 乘以 %d 是多少？", "%d与%d的积是多少？", "请算一下 %d×%d",
};

static void arithmetic(tr_rng *r, tr_demo_cat cat, bool zh, tr_demo_qa *qa) {
    int a, b, c;
    const char *op, *fmt;
    if (cat == TR_DEMO_ADD) {
        a = number(r, 3), b = number(r, 3), c = a + b, op = "+";
        fmt = zh ? PICK(r, k_add_zh) : PICK(r, k_add_en);
    } else if (cat == TR_DEMO_SUB) {
        a = number(r, 3), b = number(r, 3);
        if (a < b) c = a, a = b, b = c;
        c = a - b, op = "-";
        fmt = zh ? PICK(r, k_sub_zh) : PICK(r, k_sub_en);
    } else {
        a = number(r, 2), b = (int)tr_rng_below(r, 10), c = a * b, op = "×";
        if (tr_rng_below(r, 2)) c = a, a = b, b = c, c = a * b;
        fmt = zh ? PICK(r, k_mul_zh) : PICK(r, k_mul_en);
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(qa->question, sizeof qa->question, fmt, a, b);
#pragma GCC diagnostic pop
    put(qa->answer, "%d %s %d = %d", a, op, b, c);
}

/* ---------------------------------------------------------------- unit conversion */

typedef struct unit {
    const char *one, *many, *zh;
} unit;

typedef struct conversion {
    unit big, small;
    int factor, max_big;
} conversion;

static const conversion k_conv[] = {
    {{"kilometer", "kilometers", "千米"}, {"meter", "meters", "米"}, 1000, 99},
    {{"meter", "meters", "米"}, {"centimeter", "centimeters", "厘米"}, 100, 999},
    {{"centimeter", "centimeters", "厘米"}, {"millimeter", "millimeters", "毫米"}, 10, 999},
    {{"meter", "meters", "米"}, {"millimeter", "millimeters", "毫米"}, 1000, 99},
    {{"kilogram", "kilograms", "千克"}, {"gram", "grams", "克"}, 1000, 99},
    {{"liter", "liters", "升"}, {"milliliter", "milliliters", "毫升"}, 1000, 99},
    {{"hour", "hours", "小时"}, {"minute", "minutes", "分钟"}, 60, 24},
    {{"minute", "minutes", "分钟"}, {"second", "seconds", "秒"}, 60, 60},
    {{"day", "days", "天"}, {"hour", "hours", "小时"}, 24, 31},
    {{"week", "weeks", "周"}, {"day", "days", "天"}, 7, 52},
};

/* Formats take (value, from-unit, to-unit). */
static const char *const k_conv_en[] = {
    "How many %3$s are in %1$d %2$s?", "Convert %1$d %2$s to %3$s.",  "%1$d %2$s is how many %3$s?",
    "What is %1$d %2$s in %3$s?",      "How many %3$s is %1$d %2$s?",
};
static const char *const k_conv_zh[] = {
    "%1$d%2$s等于多少%3$s？",
    "%1$d %2$s是多少%3$s？",
    "把%1$d%2$s换算成%3$s。",
    "%1$d%2$s合多少%3$s？",
};

static const char *unit_name(const unit *u, int n, bool zh) {
    return zh ? u->zh : n == 1 ? u->one : u->many;
}

static void convert(tr_rng *r, bool zh, tr_demo_qa *qa) {
    const conversion *c = &k_conv[tr_rng_below(r, sizeof k_conv / sizeof k_conv[0])];
    int v = 1 + (int)tr_rng_below(r, (uint64_t)c->max_big), w = v * c->factor;
    bool down = tr_rng_below(r, 3) != 0; /* big -> small twice as often */
    const unit *from = down ? &c->big : &c->small, *to = down ? &c->small : &c->big;
    int x = down ? v : w, y = down ? w : v;
    const char *fmt = zh ? PICK(r, k_conv_zh) : PICK(r, k_conv_en);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(qa->question, sizeof qa->question, fmt, x, unit_name(from, x, zh),
             zh ? to->zh : to->many);
#pragma GCC diagnostic pop
    put(qa->answer, "%d %s = %d %s", x, unit_name(from, x, zh), y, unit_name(to, y, zh));
}

/* ---------------------------------------------------------------- comparison */

static const char *const k_larger_en[] = {
    "Which is larger, %d or %d?",
    "Which number is bigger: %d or %d?",
    "Is %d or %d greater?",
    "Which is greater, %d or %d?",
};
static const char *const k_smaller_en[] = {
    "Which is smaller, %d or %d?",
    "Which number is less: %d or %d?",
    "Which is less, %d or %d?",
};
static const char *const k_larger_zh[] = {"%d 和 %d 哪个大？", "%d和%d哪个更大？",
                                          "比较 %d 和 %d，哪个大？", "%d与%d哪个更大？"};
static const char *const k_smaller_zh[] = {"%d 和 %d 哪个小？", "%d与%d哪个更小？",
                                           "比较 %d 和 %d，哪个小？"};

static void compare(tr_rng *r, bool zh, tr_demo_qa *qa) {
    int a = number(r, 4), b;
    if (a >= 10 && tr_rng_below(r, 2)) {
        /* Same length and a shared leading digit: the comparison must read further. */
        int p = 10;
        while (p * 10 <= a)
            p *= 10;
        do
            b = a / p * p + (int)tr_rng_below(r, (uint64_t)p);
        while (b == a);
    } else {
        do
            b = number(r, 4);
        while (b == a);
    }
    bool larger = tr_rng_below(r, 2) != 0;
    int pickd = larger ? (a > b ? a : b) : (a < b ? a : b);
    const char *fmt = zh ? (larger ? PICK(r, k_larger_zh) : PICK(r, k_smaller_zh))
                         : (larger ? PICK(r, k_larger_en) : PICK(r, k_smaller_en));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(qa->question, sizeof qa->question, fmt, a, b);
#pragma GCC diagnostic pop
    if (zh)
        put(qa->answer, "%d %s", pickd, larger ? "更大。" : "更小。");
    else
        put(qa->answer, "%d is %s.", pickd, larger ? "larger" : "smaller");
}

/* ---------------------------------------------------------------- chat */

static const char *const k_hello_en[] = {
    "Hello", "Hi!", "hello", "Who are you?", "What can you do?", "Help", "Hey there"};
static const char *const k_hello_zh[] = {"你好", "你好！", "你是谁？", "你能做什么？", "帮助"};

static void chat(tr_rng *r, bool zh, tr_demo_qa *qa) {
    put(qa->question, "%s", zh ? PICK(r, k_hello_zh) : PICK(r, k_hello_en));
    put(qa->answer, "%s",
        zh ? "你好！我是 beanbag 的内置演示模型，会做加减乘法、单位换算和比较数字。"
             "试试：12 + 34 等于多少？"
           : "Hi! I am the beanbag demo model. I can add, subtract and multiply numbers, "
             "convert units and compare numbers. Try: What is 12 + 34?");
}

/* ---------------------------------------------------------------- questions */

void tr_demo_question(uint64_t seed, uint64_t stream, uint64_t index, bool scored_only,
                      tr_demo_qa *qa) {
    /* Category weights (per mille): the arithmetic gets most of the data, as the hardest. */
    static const int weights[TR_DEMO_N_CAT] = {250, 230, 200, 140, 140, 40};
    tr_rng r = {tr_rand_at(seed, stream, index)};
    int total = 0;
    for (int c = 0; c < TR_DEMO_N_CAT - (scored_only ? 1 : 0); c++)
        total += weights[c];
    int x = (int)tr_rng_below(&r, (uint64_t)total), cat = 0;
    while (x >= weights[cat])
        x -= weights[cat++];
    bool zh = tr_rng_below(&r, 10) < 4;
    qa->cat = (tr_demo_cat)cat;
    switch (qa->cat) {
    case TR_DEMO_CONVERT:
        convert(&r, zh, qa);
        break;
    case TR_DEMO_COMPARE:
        compare(&r, zh, qa);
        break;
    case TR_DEMO_CHAT:
        chat(&r, zh, qa);
        break;
    default:
        arithmetic(&r, qa->cat, zh, qa);
        break;
    }
}

/* ---------------------------------------------------------------- corpus */

static const char *const k_system[] = {
    "You are a helpful assistant.",
    "You are beanbag, a small demo model.",
    "Answer briefly.",
    "你是一个乐于助人的助手。",
};

static void turn(FILE *f, const char *role, const char *content) {
    fprintf(f, TR_DEMO_IM_START "%s\n%s" TR_DEMO_IM_END "\n", role, content);
}

bb_status tr_demo_write_corpus(FILE *f, int64_t n, uint64_t seed, bb_error *err) {
    if (n < 1 || n > 100000000)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "dialogue count %lld out of range",
                       (long long)n);
    for (int64_t i = 0; i < n; i++) {
        /* One in ten dialogues has a system message; 12 % have two exchanges and 8 % three
         * or four, so the model answers the latest question of a longer chat too. */
        tr_rng r = {tr_rand_at(seed, 3, (uint64_t)i)};
        if (tr_rng_below(&r, 10) == 0) turn(f, "system", PICK(&r, k_system));
        int x = (int)tr_rng_below(&r, 100);
        int turns = x < 80 ? 1 : x < 92 ? 2 : 3 + (int)tr_rng_below(&r, 2);
        for (int t = 0; t < turns; t++) {
            tr_demo_qa qa;
            tr_demo_question(seed, TR_DEMO_STREAM_TRAIN, (uint64_t)i * 4 + (uint64_t)t, false, &qa);
            turn(f, "user", qa.question);
            turn(f, "assistant", qa.answer);
        }
        fputs(TR_DEMO_EOT "\n", f);
    }
    if (fflush(f) != 0 || ferror(f)) return bb_fail(err, BB_ERR_IO, "could not write the corpus");
    return BB_OK;
}
