/* UTF-8 and the bits of Unicode that Python's str methods need: code point indexing (Python
 * indexes and slices strings by code point), whitespace as str.isspace() sees it, simple
 * case mapping and printability for repr(). */
#ifndef BB_CHAT_TEXT_H
#define BB_CHAT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool utf8_valid(const char *s, size_t len);
/* Decodes the code point at byte offset i of valid UTF-8; returns its length in bytes. */
size_t utf8_next(const char *s, size_t len, size_t i, uint32_t *cp);
/* Byte offset where the code point before offset i starts. */
size_t utf8_prev(const char *s, size_t i);
size_t utf8_count(const char *s, size_t len);
/* Byte offset of code point number `index` (len when index >= the count). */
size_t utf8_offset(const char *s, size_t len, size_t index);

bool uni_isspace(uint32_t cp);
bool uni_printable(uint32_t cp);
bool uni_isdigit(uint32_t cp);
bool uni_isalpha(uint32_t cp);
/* Simple one-to-one case mapping: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic. */
uint32_t uni_upper(uint32_t cp);
uint32_t uni_lower(uint32_t cp);
bool uni_isupper(uint32_t cp);
bool uni_islower(uint32_t cp);

#endif
