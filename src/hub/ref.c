/* Model names: Ollama's Hugging Face shorthand (`hf.co/OWNER/REPO:QUANT`, see Ollama's
 * docs/import and huggingface.co/docs/hub/ollama), a file of a repository, or a URL; and
 * their escaping into one directory name of the store. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "hub/hub.h"

static const char *after_prefix(const char *s, const char *prefix) {
    size_t n = strlen(prefix);
    return strncasecmp(s, prefix, n) ? NULL : s + n;
}

static const char *hub_rest(const char *s) {
    const char *r = after_prefix(s, "hf.co/");
    if (!r) r = after_prefix(s, "huggingface.co/");
    return r;
}

bool hub_is_remote(const char *s) {
    return hub_rest(s) || after_prefix(s, "https://") || after_prefix(s, "http://");
}

/* Hugging Face repository and path names: letters, digits, '-', '_', '.'; never "." or "..",
 * so a component can never climb out of a directory. */
static bool name_char(char c) {
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static bool component_ok(const char *s, size_t n) {
    if (n == 0 || n > 200) return false;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i])) return false;
    return true;
}

static bool ends_with_gguf(const char *s, size_t n) {
    return n > 5 && !strncasecmp(s + n - 5, ".gguf", 5);
}

bb_status hub_ref_parse(const char *s, hub_ref *out, bb_error *err) {
    memset(out, 0, sizeof *out);
    const char *rest = hub_rest(s);
    if (!rest) {
        if (!after_prefix(s, "https://") && !after_prefix(s, "http://"))
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "'%.200s' is not a model name (hf.co/OWNER/REPO[:QUANT], "
                           "hf.co/OWNER/REPO/FILE.gguf or an http(s) URL)",
                           s);
        size_t n = strlen(s);
        const char *host = strstr(s, "://") + 3;
        if (n >= sizeof out->url || !*host || *host == '/')
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bad URL '%.200s'", s);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
                return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                               "the URL '%.200s' has a space or a non-ASCII byte: percent-encode "
                               "it",
                               s);
        const char *end = s + strcspn(s, "?#");
        const char *slash = end;
        while (slash > host && slash[-1] != '/')
            slash--;
        if (slash == host || slash == end)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "the URL '%.200s' does not end in a file name", s);
        out->kind = HUB_REF_URL;
        memcpy(out->url, s, n + 1);
        memcpy(out->name, s, n + 1);
        return BB_OK;
    }
    /* OWNER/REPO[:TAG] or OWNER/REPO/PATH.gguf */
    const char *slash = strchr(rest, '/');
    if (!slash || !component_ok(rest, (size_t)(slash - rest)))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "'%.200s': expected hf.co/OWNER/REPO[:QUANT] or hf.co/OWNER/REPO/FILE.gguf",
                       s);
    const char *repo = slash + 1;
    size_t repo_n = strcspn(repo, "/:");
    if (!component_ok(repo, repo_n))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "'%.200s': the repository name must be letters, digits, '-', '_' or '.'", s);
    size_t full_n = (size_t)(repo + repo_n - rest);
    memcpy(out->repo, rest, full_n);
    out->repo[full_n] = 0;
    const char *tail = repo + repo_n;
    if (*tail == '/') {
        const char *path = tail + 1;
        size_t pn = strlen(path);
        if (pn >= sizeof out->file || !ends_with_gguf(path, pn))
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "'%.200s': a file in a repository must end in .gguf", s);
        for (const char *c = path; *c;) {
            size_t k = strcspn(c, "/");
            if (!component_ok(c, k))
                return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                               "'%.200s': bad path component in the file name", s);
            c += k;
            if (*c == '/') c++;
        }
        out->kind = HUB_REF_FILE;
        memcpy(out->file, path, pn + 1);
        snprintf(out->name, sizeof out->name, "hf.co/%s/%s", out->repo, out->file);
        return BB_OK;
    }
    out->kind = HUB_REF_REPO;
    if (*tail == ':') {
        const char *tag = tail + 1;
        size_t tn = strlen(tag);
        if (tn == 0 || tn >= sizeof out->tag)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "'%.200s': empty or overlong tag", s);
        for (size_t i = 0; i < tn; i++) {
            if (!name_char(tag[i]))
                return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                               "'%.200s': the tag must be a quantization such as Q4_K_M", s);
            out->tag[i] = (char)toupper((unsigned char)tag[i]);
        }
        /* Ollama's ":latest" is what no tag means. */
        if (!strcmp(out->tag, "LATEST")) out->tag[0] = 0;
    }
    if (out->tag[0])
        snprintf(out->name, sizeof out->name, "hf.co/%s:%s", out->repo, out->tag);
    else
        snprintf(out->name, sizeof out->name, "hf.co/%s", out->repo);
    return BB_OK;
}

bool hub_escape_name(const char *name, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; name[i]; i++) {
        unsigned char c = (unsigned char)name[i];
        /* A leading '.' would hide the directory (and "." or ".." would be no directory). */
        bool keep = (isalnum(c) || c == '-' || c == '_' || c == '.') && !(i == 0 && c == '.');
        if (o + (keep ? 1 : 3) >= cap) return false;
        if (keep) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (o == 0 || o >= cap) return false;
    out[o] = 0;
    return true;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool hub_unescape_name(const char *esc, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; esc[i]; i++) {
        if (o + 1 >= cap) return false;
        if (esc[i] != '%') {
            out[o++] = esc[i];
            continue;
        }
        int hi = hex_value(esc[i + 1]), lo = hi < 0 ? -1 : hex_value(esc[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = 0;
    return o > 0;
}
