/*
 * Grammar-constrained decoding: the internal API other modules (sample, engine, server, cli)
 * use. Three objects:
 *
 *   bb_grammar          a compiled context-free grammar (immutable, reference-counted, shared by
 *                       every sequence of a request). Made from GBNF text (llama.cpp's syntax,
 *                       grammars/README.md there) or from a JSON schema (compiled to GBNF first).
 *   bb_grammar_vocab    the vocabulary as a trie of token byte strings (decoded pieces: byte-level
 *                       BPE bytes, SentencePiece pieces with U+2581 turned into spaces and byte
 *                       fallback tokens into their byte), built once per model.
 *   bb_grammar_matcher  one sequence's position in the grammar: a pushdown automaton over bytes
 *                       whose stack sets are interned and cached as the states of a lazily built
 *                       DFA; walking the trie through that DFA gives the allowed-token mask.
 *
 * Typical use (what the server and `beanbag run` do):
 *
 *   bb_grammar *g;   bb_grammar_from_json_schema(schema, len, &g, &err);   // or _parse_gbnf
 *   bb_grammar_vocab *tv;  bb_grammar_vocab_new(vocab, &tv, &err);         // once per model
 *   bb_grammar_matcher *m; bb_grammar_matcher_new(g, tv, &m, &err);        // per sequence
 *   bb_sampler_set_grammar(sampler, m);       // sample/grammar.h: the sampler owns m from now
 *
 * Errors: GBNF errors give "line L, column C: ..."; schema errors name the keyword and where it
 * is ("/properties/age: unsupported keyword 'multipleOf'"). Nothing is silently unconstrained.
 */
#ifndef BB_GRAMMAR_H
#define BB_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

typedef struct bb_grammar bb_grammar;
typedef struct bb_grammar_vocab bb_grammar_vocab;
typedef struct bb_grammar_matcher bb_grammar_matcher;

/* Limits on what a request can make the grammar engine build. */
#define BB_GRAMMAR_MAX_SOURCE (1u << 20)   /* bytes of GBNF or schema text */
#define BB_GRAMMAR_MAX_ELEMENTS (1u << 21) /* grammar elements after expanding repetitions */
#define BB_GRAMMAR_MAX_REPEAT 10000        /* the m and n of x{m,n} */

/* GBNF text (not NUL-terminated; `len` bytes) with its start rule `root` (NULL: "root"). */
bb_status bb_grammar_parse_gbnf(const char *text, size_t len, const char *root, bb_grammar **out,
                                bb_error *err);
/* A JSON schema (JSON text) compiled to a grammar of the JSON values that validate against it. */
bb_status bb_grammar_from_json_schema(const char *schema, size_t len, bb_grammar **out,
                                      bb_error *err);
/* The GBNF a schema compiles to, in a new NUL-terminated string (free()): for inspection. */
bb_status bb_json_schema_to_gbnf(const char *schema, size_t len, char **gbnf, bb_error *err);
/* The same with every rule named "NAME-..." and the schema's value as rule "NAME-root", to be
 * pasted into a larger grammar beside other schemas (e.g. one per tool:
 *   root ::= "<tool_call>" ( get-weather-root | search-root ) "</tool_call>"
 * followed by each schema's rules). NAME: 1-64 of [a-zA-Z0-9_-]. */
bb_status bb_json_schema_to_gbnf_named(const char *schema, size_t len, const char *name,
                                       char **gbnf, bb_error *err);
/* Appends to out the rules that define `rule` as the JSON text of a schema (NULL: any JSON
 * value), named apart as above: the shape of the chat module's tc_schema_gbnf_fn, so the
 * forced-tool-call grammars (src/chat/tool_grammar.h) can use this compiler for arguments. */
struct bb_strbuf;
bb_status bb_json_schema_gbnf_rule(const char *schema_json, const char *rule, struct bb_strbuf *out,
                                   bb_error *err);
/* Any JSON object (response_format {"type": "json_object"}). */
bb_status bb_grammar_json_object(bb_grammar **out, bb_error *err);

bb_grammar *bb_grammar_ref(bb_grammar *g);
void bb_grammar_unref(bb_grammar *g);
/* Whether the whole of `len` bytes is a sentence of the grammar (tests, validation). */
bool bb_grammar_accepts(const bb_grammar *g, const char *text, size_t len);

/* The trie of a model's vocabulary. Control and unknown tokens (empty pieces) never match text;
 * end-of-generation tokens (bb_vocab_is_eog) are allowed exactly where the grammar may end. */
bb_status bb_grammar_vocab_new(const bb_vocab *vocab, bb_grammar_vocab **out, bb_error *err);
/* The same from raw byte strings (tests, benchmarks): token i is pieces[i] of lens[i] bytes
 * (length 0: never matches text); eog[i] marks end-of-generation tokens (eog may be NULL). */
bb_status bb_grammar_vocab_from_pieces(int32_t n_tokens, const char *const *pieces,
                                       const size_t *lens, const bool *eog, bb_grammar_vocab **out,
                                       bb_error *err);
void bb_grammar_vocab_free(bb_grammar_vocab *tv);
int32_t bb_grammar_vocab_n_tokens(const bb_grammar_vocab *tv);

/* A matcher at the start of the grammar. It holds a reference to g; tv must outlive it. tv may
 * be NULL for a byte-level matcher (accept_bytes only). */
bb_status bb_grammar_matcher_new(bb_grammar *g, const bb_grammar_vocab *tv,
                                 bb_grammar_matcher **out, bb_error *err);
void bb_grammar_matcher_free(bb_grammar_matcher *m);
/* The allowed tokens as a bitset of bb_grammar_vocab_n_tokens bits (bit t of word t/32), valid
 * until the next call on m. *n_allowed counts them; *single is the token when exactly one is
 * allowed (the forced-token fast path), else -1. NULL when the matcher failed (out of memory). */
const uint32_t *bb_grammar_matcher_mask(bb_grammar_matcher *m, int32_t *n_allowed,
                                        bb_token *single);
/* Whether the grammar allows the token here (the state does not change): one walk over the
 * token's bytes, much cheaper than a mask when only one candidate needs checking. */
bool bb_grammar_matcher_allows(bb_grammar_matcher *m, bb_token token);
/* Advances by a token; false (state unchanged) when the grammar does not allow it. An
 * end-of-generation token is allowed when the grammar can end, and finishes the matcher. */
bool bb_grammar_matcher_accept(bb_grammar_matcher *m, bb_token token);
/* Advances by raw bytes (which may end inside a UTF-8 character); false, unchanged, if refused. */
bool bb_grammar_matcher_accept_bytes(bb_grammar_matcher *m, const char *bytes, size_t len);
/* Bits in a mask: the vocabulary's token count (0 for a byte-level matcher). */
int32_t bb_grammar_matcher_n_tokens(const bb_grammar_matcher *m);
bool bb_grammar_matcher_can_end(const bb_grammar_matcher *m);  /* a sentence ends here */
bool bb_grammar_matcher_finished(const bb_grammar_matcher *m); /* end-of-generation taken */
/* Why the matcher failed (NULL when it did not). */
const char *bb_grammar_matcher_error(const bb_grammar_matcher *m);

#endif
