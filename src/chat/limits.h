/* Bounds that keep any template, however hostile, from hanging or exhausting memory.
 * Real chat templates stay orders of magnitude below each of them. */
#ifndef BB_CHAT_LIMITS_H
#define BB_CHAT_LIMITS_H

/* Longest string, and longest rendered output, in bytes. */
#define JX_MAX_STRING ((size_t)32 << 20)
/* Most elements in one list (range(), repetition, concatenation). */
#define JX_MAX_LIST ((size_t)1 << 20)
/* Loop iterations plus macro calls in one render, and macro calls alone (a call costs as
 * much as dozens of iterations). */
#define JX_MAX_STEPS 10000000ull
#define JX_MAX_CALLS 250000
/* Bytes one render may allocate in total (cumulative, so it also bounds copying work). */
#define JX_MAX_ALLOC ((size_t)1 << 30)
/* Nesting of macro calls at run time, and of blocks / expressions in the parser. */
#define JX_MAX_CALL_DEPTH 100
/* Nesting of expression evaluation and statement execution (C stack depth). */
#define JX_MAX_NEST 1000
#define JX_MAX_PARSE_DEPTH 200
/* Nesting of JSON input. */
#define JX_MAX_JSON_DEPTH 200

#endif
