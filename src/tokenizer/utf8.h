/* UTF-8 helpers shared by the tokenizers.
 *
 * Two decoders on purpose: the lenient one reproduces llama.cpp's unicode_cpt_from_utf8 (the
 * reference our conformance data came from: it accepts overlong forms and surrogates, and
 * turns a byte that starts no sequence into U+FFFD), the strict one follows the Unicode
 * Standard (chapter 3, "U+FFFD substitution of maximal subparts") and is what the streaming
 * detokenizer uses to hand out only well-formed text. */
#ifndef BB_TOKENIZER_UTF8_H
#define BB_TOKENIZER_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define BB_UTF8_REPLACEMENT 0xFFFDu

/* Sequence length announced by a lead byte (1 for continuation and invalid bytes). */
static inline size_t bb_utf8_seq_len(uint8_t lead) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[lead >> 4];
}

/* Decodes one code point at s[0..n) (n >= 1) the way llama.cpp does; *adv gets the bytes
 * used. Invalid input yields U+FFFD and advances one byte. */
uint32_t bb_utf8_decode_lenient(const uint8_t *s, size_t n, size_t *adv);

/* Writes cp as UTF-8 (1-4 bytes) into out and returns the byte count. Code points above
 * U+10FFFF are written as U+FFFD. Surrogates are encoded like any other value. */
size_t bb_utf8_encode(uint32_t cp, char out[4]);

/* Strict decoding status of the sequence starting at s[0..n). */
typedef enum bb_utf8_scan {
    BB_UTF8_COMPLETE,   /* a well-formed character of *len bytes */
    BB_UTF8_INCOMPLETE, /* a valid prefix that needs more bytes */
    BB_UTF8_INVALID,    /* ill-formed: *len bytes (maximal subpart) become one U+FFFD */
} bb_utf8_scan;

bb_utf8_scan bb_utf8_scan_strict(const uint8_t *s, size_t n, size_t *len);

/* GPT-2 byte-level BPE maps every byte to a printable code point (Radford et al. 2019,
 * encoder.py bytes_to_unicode): printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100 + k in byte order. */
uint32_t bb_byte_to_cp(uint8_t byte);
/* Inverse of bb_byte_to_cp; -1 for code points outside the mapping. */
int bb_cp_to_byte(uint32_t cp);

#endif
