/* Values of the chat-template interpreter: the Python objects a Jinja template sees when
 * Hugging Face transformers renders it (str, int, float, bool, None, list, tuple, dict,
 * jinja2's Namespace and Undefined, callables, the for-loop's `loop`).
 *
 * A jv is a small tagged value passed by copy; strings, lists, dicts, functions and loops
 * live on the heap with a reference count. Functions named *_take consume the caller's
 * reference to their jv arguments; all others borrow. Every container allocated while a
 * render runs is linked into that render's heap (jx_heap) so that reference cycles a
 * template builds (`{% set ns.me = ns %}`) are still freed when the render ends, and so
 * that the render can be stopped once it has allocated more than its budget. */
#ifndef BB_CHAT_VALUE_H
#define BB_CHAT_VALUE_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum jv_type {
    JV_UNDEF, /* jinja2.Undefined: prints "", falsy, iterates as empty; most else fails */
    JV_NONE,
    JV_BOOL,
    JV_INT,
    JV_FLOAT,
    JV_STR,
    JV_LIST, /* list; tuple when jlist.tuple; a one-shot iterator when jlist.gen */
    JV_DICT, /* dict, or jinja2 Namespace when jdict.ns */
    JV_FUNC,
    JV_LOOP,
} jv_type;

/* Header shared by heap containers: reference count and the render heap's live list. */
typedef struct jobj {
    int32_t refcnt;
    uint8_t kind;         /* jv_type of the container */
    struct jx_heap *heap; /* the heap whose live list holds it, or NULL */
    struct jobj *prev, *next;
} jobj;

typedef struct jstr {
    int32_t refcnt;
    int8_t ascii; /* -1 not yet known, else whether every byte is < 0x80 */
    bool markup;  /* markupsafe.Markup (from |safe, |escape): + and % escape plain strings */
    size_t len;   /* bytes, not counting the terminating NUL */
    char data[];
} jstr;

struct jlist;
struct jdict;
struct jfunc;
struct jloop;

typedef struct jv {
    jv_type type;
    union {
        bool b;
        int64_t i;
        double f;
        jstr *s; /* JV_STR, and JV_UNDEF's optional hint (why it is undefined), or NULL */
        struct jlist *l;
        struct jdict *d;
        struct jfunc *fn;
        struct jloop *loop;
    } u;
} jv;

typedef struct jlist {
    jobj h;
    bool tuple;
    /* A generator (what jinja2's map, select, unique, items ... return): always true, no
     * len(), no indexing, not JSON; iterating it consumes it. */
    bool gen;
    size_t n, cap;
    jv *items;
} jlist;

/* Insertion-ordered, like Python's dict. Lookups scan linearly below a size where that is
 * fastest and use an open-addressing index of slot numbers above it. */
typedef struct jdict {
    jobj h;
    bool ns; /* a jinja2 Namespace: attributes only, assignable with {% set ns.x = ... %} */
    size_t n, cap;
    jv *keys, *vals;
    uint32_t *index; /* NULL, or index_cap entries: slot + 1, 0 = empty */
    size_t index_cap;
} jdict;

typedef struct jx_ctx jx_ctx;
typedef struct jx_args jx_args;
struct jfunc;
/* A native callable: builtin globals, bound methods of str/dict/list/loop. */
typedef bool (*jx_native_fn)(jx_ctx *ctx, struct jfunc *fn, const jx_args *args, jv *out);

/* Callables: a native function (with an optional bound receiver and a little state for
 * joiner()), or a macro / call-block body that runs in a scope captured where it was
 * defined. `env` is that scope, released through env_release. */
typedef struct jfunc {
    jobj h;
    const char *name; /* static, or owned by the template */
    jx_native_fn native;
    jv self;           /* receiver of a bound method, else JV_UNDEF */
    int64_t state;     /* native functions' private counter */
    const void *data;  /* native functions' static description (a method table entry) */
    const void *macro; /* the parsed macro / call block (a jnode), when native is NULL */
    void *env;
    void (*env_release)(void *env);
} jfunc;

/* The `loop` variable of a for block: the (filtered) items and the current position. */
typedef struct jloop {
    jobj h;
    jv items; /* a list */
    size_t index0;
    int depth;
    const void *node; /* the recursive for block (a jnode) that loop(items) re-enters */
    jv last_changed;  /* loop.changed()'s previous arguments (a tuple), or JV_UNDEF */
} jloop;

/* Per-render allocation accounting and cycle collection (see the file comment). */
typedef struct jx_heap {
    jobj *live;       /* containers still allocated */
    size_t allocated; /* bytes requested so far, cumulative: bounds both memory and work */
    size_t limit;     /* 0 = unlimited */
    bool exceeded;
    struct jx_heap *outer;   /* the thread's previous heap, restored by jx_heap_end */
    struct jx_block *blocks; /* every block allocated under this heap and not freed yet */
    bool unwind;             /* oom is set: a failed allocation jumps there */
    jmp_buf oom;
} jx_heap;

/* Makes `heap` the current thread's heap until jx_heap_end, which frees every container
 * still alive (only cycles can be) and restores the previous heap. */
void jx_heap_begin(jx_heap *heap, size_t limit);
void jx_heap_end(jx_heap *heap);
bool jx_heap_exceeded(void);
/* After a longjmp to heap->oom (the system ran out of memory mid-render): frees every block
 * the render allocated, whatever held it, and restores the previous heap. */
void jx_heap_abandon(jx_heap *heap);

/* malloc/realloc/free for everything the interpreter allocates: counted against the current
 * heap and tracked by it, so that when the system runs out of memory in the middle of a
 * render (the budget keeps templates far from that, but a loaded server is another matter)
 * the allocation jumps back to the render's entry, which frees it all and reports the
 * error; outside a render a failure aborts. Blocks from jx_alloc are freed with jx_free. */
void *jx_alloc(size_t size);
void jx_free(void *ptr);
void *jx_realloc(void *ptr, size_t old_size, size_t new_size);
void *jx_calloc(size_t count, size_t size);

/* ---- scalars */
static inline jv jv_undef(void) {
    return (jv){.type = JV_UNDEF, .u.s = NULL};
}
static inline jv jv_none(void) {
    return (jv){.type = JV_NONE};
}
static inline jv jv_bool(bool b) {
    return (jv){.type = JV_BOOL, .u.b = b};
}
static inline jv jv_int(int64_t i) {
    return (jv){.type = JV_INT, .u.i = i};
}
static inline jv jv_float(double f) {
    return (jv){.type = JV_FLOAT, .u.f = f};
}
jv jv_undef_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- reference counting */
jv jv_retain(jv v);
void jv_release(jv v);
static inline bool jv_is_heap(jv v) {
    return v.type >= JV_STR || (v.type == JV_UNDEF && v.u.s);
}

/* ---- strings */
jv jv_str(const char *s, size_t len);
jv jv_cstr(const char *s);
jv jv_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
jv jv_markup(const char *s, size_t len);
static inline bool jv_is_markup(jv v) {
    return v.type == JV_STR && v.u.s->markup;
}
jstr *jstr_new(const char *s, size_t len);
void jstr_release(jstr *s);
bool jstr_is_ascii(jstr *s);
static inline const char *jv_sdata(jv v) {
    return v.u.s->data;
}
static inline size_t jv_slen(jv v) {
    return v.u.s->len;
}

/* ---- lists and tuples */
jv jv_list(size_t cap);
jv jv_tuple(size_t n); /* n elements, all None, to be replaced with jv_list_set_take */
void jv_list_push_take(jv list, jv item);
void jv_list_set_take(jv list, size_t i, jv item);
static inline size_t jv_list_len(jv l) {
    return l.u.l->n;
}
static inline jv jv_list_at(jv l, size_t i) {
    return l.u.l->items[i];
}

/* ---- dicts and namespaces */
jv jv_dict(void);
jv jv_namespace(void);
void jv_dict_set_take(jv dict, jv key, jv val); /* replaces in place, else appends */
const jv *jv_dict_get(jv dict, jv key);         /* borrowed, NULL when absent */
const jv *jv_dict_gets(jv dict, const char *key, size_t len);
bool jv_dict_del(jv dict, jv key, jv *out_val); /* out_val receives the reference */
void jv_dict_clear(jv dict);
static inline size_t jv_dict_len(jv d) {
    return d.u.d->n;
}

/* ---- callables and loops */
jv jv_native(const char *name, jx_native_fn fn, jv self_take);
jv jv_macro(const char *name, const void *node, void *env, void (*env_release)(void *));
jv jv_loop(jv items_take, int depth);

/* ---- Python semantics */
bool jv_truthy(jv v);
bool jv_equal(jv a, jv b);
/* Three-way order as Python's < on numbers, strings, lists and tuples; false when the types
 * cannot be ordered (TypeError in Python). */
bool jv_compare(jv a, jv b, int *out);
bool jv_is_number(jv v); /* int, float or bool, as numbers.Number */
double jv_num(jv v);     /* of a number */
bool jv_hashable(jv v);
const char *jv_type_name(jv v); /* Python's type name: 'str', 'list', 'NoneType' ... */
bool jv_is_list(jv v, bool or_tuple);
static inline bool jv_is_gen(jv v) {
    return v.type == JV_LIST && v.u.l->gen;
}
/* Removes the first n items of a list (consuming a generator). */
void jv_list_drop_front(jv list, size_t n);

/* Frees a container's children (cycle collection and scope teardown). */
void jv_container_clear(jv v);

#endif
