/* The pre-tokenizer expressions per tokenizer.ggml.pre name, transcribed from llama.cpp's
 * llm_tokenizer_bpe (src/llama-vocab.cpp), which in turn copies the Split patterns of each
 * model's Hugging Face tokenizer.json. Written in PCRE2 syntax; `\s` and `\S` are rewritten
 * at compile time (see pretok.c). Non-ASCII characters are spelled \x{...}. */
#ifndef BB_TOKENIZER_PRETOK_TABLE_H
#define BB_TOKENIZER_PRETOK_TABLE_H

#include <stdbool.h>

#define BB_PRETOK_MAX_NAMES 12
#define BB_PRETOK_MAX_EXPRS 6

typedef struct bb_pretok_def {
    const char *names[BB_PRETOK_MAX_NAMES]; /* NULL-terminated */
    const char *exprs[BB_PRETOK_MAX_EXPRS]; /* NULL-terminated, applied in order */
    bool ignore_merges;
    bool add_bos;
    bool keep_spaces; /* clean_spaces off */
    bool no_bos;
} bb_pretok_def;

/* GPT-2 (Radford et al. 2019, encoder.py), with the final `\s+` alternative that llama.cpp's
 * hand-written matcher for it (unicode_regex_split_custom_gpt2) includes. */
#define BB_RE_GPT2                                                                                 \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* Llama 3 (tiktoken cl100k). The case-insensitive group is spelled out as llama.cpp does. */
#define BB_RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define BB_RE_LLAMA3                                                                               \
    BB_RE_CONTRACTIONS                                                                             \
    "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"                   \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define BB_RE_QWEN2                                                                                \
    BB_RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"     \
                       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define BB_RE_TEKKEN                                                                               \
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|"                        \
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|"                        \
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define BB_RE_PORO " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"

/* DeepSeek LLM: cased letters (Unicode Lu/Ll/Lt ranges), ASCII/CJK punctuation, CJK. */
#define BB_RE_DEEPSEEK_LETTERS                                                                     \
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"            \
    "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"         \
    "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}" \
    "\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}"  \
    "\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}"                 \
    "\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}"                 \
    "\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"         \
    "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}"        \
    "\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}"                 \
    "\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}"         \
    "\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}"                   \
    "\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}"         \
    "\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"                  \
    "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}"                 \
    "\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}"                 \
    "\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}"           \
    "\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+"
#define BB_RE_DEEPSEEK_PUNCT                                                                       \
    "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+"
#define BB_RE_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

static const bb_pretok_def bb_pretok_defs[] = {
    {.names = {"default"},
     .exprs = {"[\\p{P}\\$\\+<=>\\^~\\|]+", BB_RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {.names = {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"},
     .exprs = {BB_RE_LLAMA3},
     .ignore_merges = true,
     .add_bos = true},
    {.names = {"dbrx", "smaug-bpe"}, .exprs = {BB_RE_LLAMA3}},
    {.names = {"chatglm-bpe", "glm4"}, .exprs = {BB_RE_LLAMA3}, .no_bos = true},
    {.names = {"deepseek-llm"},
     .exprs = {"[\\r\\n]", BB_RE_DEEPSEEK_LETTERS, BB_RE_DEEPSEEK_PUNCT, "\\s+$", BB_RE_CJK,
               "\\p{N}+"},
     .keep_spaces = true},
    {.names = {"deepseek-coder"},
     .exprs = {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", BB_RE_CJK, "\\p{N}"},
     .keep_spaces = true},
    {.names = {"falcon"}, .exprs = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", BB_RE_GPT2, "[0-9][0-9][0-9]"}},
    {.names = {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es",
               "jina-v2-de", "jina-v2-code", "roberta-bpe"},
     .exprs = {BB_RE_GPT2}},
    {.names = {"mpt", "olmo", "jais"}, .exprs = {BB_RE_GPT2}},
    {.names = {"starcoder", "refact", "codeshell", "exaone", "minerva-7b"},
     .exprs = {"\\p{N}", BB_RE_GPT2}},
    {.names = {"command-r", "smollm"}, .exprs = {"\\p{N}", BB_RE_GPT2}, .keep_spaces = true},
    {.names = {"qwen2", "deepseek-r1-qwen"}, .exprs = {BB_RE_QWEN2}, .keep_spaces = true},
    {.names = {"stablelm2", "megrez"}, .exprs = {BB_RE_QWEN2}},
    {.names = {"poro-chat"}, .exprs = {BB_RE_PORO}, .keep_spaces = true},
    {.names = {"bloom", "gpt3-finnish"}, .exprs = {BB_RE_PORO}},
    {.names = {"viking"}, .exprs = {BB_RE_PORO, "\\p{N}"}, .keep_spaces = true},
    {.names = {"tekken"},
     .exprs = {BB_RE_TEKKEN},
     .ignore_merges = true,
     .add_bos = true,
     .keep_spaces = true},
    {.names = {"chameleon"},
     .exprs = {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
               "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", BB_RE_GPT2},
     .add_bos = true,
     .keep_spaces = true},
};

#endif
