/*
 * The model store and `beanbag pull`: names a person types (Ollama's Hugging Face shorthand
 * `hf.co/OWNER/REPO:QUANT`, `hf.co/OWNER/REPO/FILE.gguf`, or a plain `https://…/file.gguf`),
 * their resolution through the hub's tree API, downloads with libcurl (redirects, resume by
 * HTTP Range, SHA-256 checked against the LFS digest) and the store directory where verified
 * files live under the name they were pulled with.
 *
 * Store layout: STORE/<escaped name>/ holds the model's GGUF file(s) and manifest.json; the
 * escaped name keeps [A-Za-z0-9._-] and writes every other byte as %XX, so any name maps to
 * one directory without separators. A model exists once its manifest does: the manifest is
 * written (atomically, by rename) only after every file is verified and in place.
 */
#ifndef BB_HUB_H
#define BB_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

/* ---------------------------------------------------------------- names */

typedef enum hub_ref_kind {
    HUB_REF_REPO, /* hf.co/OWNER/REPO[:TAG]: a quantization picked from the repository's files */
    HUB_REF_FILE, /* hf.co/OWNER/REPO/PATH.gguf: one file of a repository */
    HUB_REF_URL,  /* http(s)://…: one file anywhere */
} hub_ref_kind;

typedef struct hub_ref {
    hub_ref_kind kind;
    char name[1024]; /* the canonical store name (huggingface.co/ written as hf.co/) */
    char repo[256];  /* OWNER/REPO (repo and file kinds) */
    char tag[64];    /* the quantization tag, "" when none was given (repo kind) */
    char file[512];  /* the path inside the repository (file kind) */
    char url[1024];  /* the URL (url kind) */
} hub_ref;

/* True when s names something `pull` can fetch (hf.co/…, huggingface.co/…, http(s)://…). */
bool hub_is_remote(const char *s);
bb_status hub_ref_parse(const char *s, hub_ref *out, bb_error *err);

/* Writes name escaped for a directory (see above) into out; false if it does not fit. */
bool hub_escape_name(const char *name, char *out, size_t cap);
/* The inverse; false on a malformed escape. */
bool hub_unescape_name(const char *esc, char *out, size_t cap);

/* ---------------------------------------------------------------- resolution */

typedef struct hub_file {
    char path[512];  /* inside the repository; or the URL's last component */
    uint64_t size;   /* 0: unknown */
    char sha256[65]; /* lowercase hex, "" when the hub gave none */
} hub_file;

/* The files of a repository (the tree API's JSON) that a tag selects: the GGUF files whose
 * name carries the quantization as a whole word (case-insensitive; "Q4_K" does not match
 * "Q4_K_M"), every part of a split model (`-00001-of-0000N`), sorted by path. Without a tag:
 * Q4_K_M when the repository has it, else the repository's only model, else an error listing
 * the quantizations there are. Projector files (mmproj*) are never picked. *files is
 * malloc'd (free()). */
bb_status hub_pick_files(const char *tree_json, size_t len, const char *tag, hub_file **files,
                         size_t *n, bb_error *err);

/* The quantization tag a file name carries ("Q4_K_M", "F16", "IQ4_XS", …), or false. */
bool hub_quant_of(const char *path, char *out, size_t cap);

/* ---------------------------------------------------------------- store */

/* The store directory: $BEANBAG_MODELS, else $XDG_CACHE_HOME/beanbag/models, else
 * ~/.cache/beanbag/models. */
bb_status hub_store_dir(char *out, size_t cap, bb_error *err);

typedef struct hub_entry {
    char name[1024];
    char path[4096]; /* the first (or only) GGUF file */
    int n_files;
    uint64_t size;             /* all files together */
    int64_t pulled, last_used; /* Unix seconds; last_used 0: never */
} hub_entry;

/* Finds a pulled model by name (canonicalized as hub_ref_parse does). Returns BB_OK with
 * *found set accordingly; an error only for a broken store. */
bb_status hub_store_find(const char *name, hub_entry *out, bool *found, bb_error *err);
/* Every model in the store, sorted by name; *entries malloc'd. */
bb_status hub_store_list(hub_entry **entries, size_t *n, bb_error *err);
/* Removes a pulled model (its files and directory). */
bb_status hub_store_remove(const char *name, bb_error *err);
/* Records now as the model's last use (best effort). */
void hub_store_touch(const char *name);

/* ---------------------------------------------------------------- pull */

typedef struct hub_pull_params {
    const char *endpoint; /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *token;    /* NULL: $HF_TOKEN */
    int progress;         /* 1: a bar redrawn in place (a terminal), 0: plain lines, -1: none */
    int retries;          /* how often a dropped transfer is resumed within one pull */
} hub_pull_params;

hub_pull_params hub_pull_default_params(void);

/* Fetches a model into the store (nothing to do when it is there already) and fills *out. */
bb_status hub_pull(const char *name, const hub_pull_params *params, hub_entry *out, bb_error *err);

/* ---------------------------------------------------------------- SHA-256 */

typedef struct hub_sha256 hub_sha256;
hub_sha256 *hub_sha256_new(void);
void hub_sha256_update(hub_sha256 *h, const void *data, size_t n);
/* Writes the 64 hex digits and a NUL, and frees h. */
void hub_sha256_final(hub_sha256 *h, char hex[65]);

#endif
