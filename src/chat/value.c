/* Values of the chat-template interpreter: allocation, reference counting, containers and
 * the Python comparison rules templates rely on (see value.h). */
#include "chat/value.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local jx_heap *cur_heap;

/* ------------------------------------------------------------------ heap */

static void count_bytes(size_t n) {
    jx_heap *h = cur_heap;
    if (!h) return;
    h->allocated += n;
    if (h->limit && h->allocated > h->limit) h->exceeded = true;
}

/* A block's header: its place in its heap's list of blocks (for jx_heap_abandon). Four
 * pointers' worth keeps the payload aligned for any type. */
typedef struct jx_block {
    struct jx_block *prev, *next;
    jx_heap *heap;
    void *pad;
} jx_block;

static void link_block(jx_block *b) {
    b->heap = cur_heap;
    b->prev = NULL;
    b->next = cur_heap ? cur_heap->blocks : NULL;
    if (b->next) b->next->prev = b;
    if (cur_heap) cur_heap->blocks = b;
}

static void unlink_block(jx_block *b) {
    if (b->prev)
        b->prev->next = b->next;
    else if (b->heap)
        b->heap->blocks = b->next;
    if (b->next) b->next->prev = b->prev;
    b->prev = b->next = NULL;
}

/* The system is out of memory (templates hit their budget far earlier): inside a render,
 * back to its entry (jx_heap_abandon frees what it allocated); outside one, stop. */
static void *check_alloc(void *p) {
    if (!p) {
        if (cur_heap && cur_heap->unwind) longjmp(cur_heap->oom, 1);
        fputs("beanbag: out of memory in the chat template interpreter\n", stderr);
        abort();
    }
    return p;
}

void *jx_alloc(size_t size) {
    count_bytes(size);
    if (size > SIZE_MAX - sizeof(jx_block)) check_alloc(NULL);
    jx_block *b = check_alloc(malloc(sizeof *b + (size ? size : 1)));
    link_block(b);
    return b + 1;
}

void jx_free(void *ptr) {
    if (!ptr) return;
    jx_block *b = (jx_block *)ptr - 1;
    unlink_block(b);
    free(b);
}

void *jx_calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) check_alloc(NULL);
    void *p = jx_alloc(total);
    memset(p, 0, total);
    return p;
}

void *jx_realloc(void *ptr, size_t old_size, size_t new_size) {
    if (!ptr) return jx_alloc(new_size);
    if (new_size > old_size) count_bytes(new_size - old_size);
    if (new_size > SIZE_MAX - sizeof(jx_block)) check_alloc(NULL);
    jx_block *b = (jx_block *)ptr - 1, *prev = b->prev, *next = b->next;
    jx_heap *heap = b->heap;
    jx_block *nb = realloc(b, sizeof *nb + (new_size ? new_size : 1));
    if (!nb) check_alloc(NULL); /* b is still allocated and still linked */
    /* the block may have moved: point its neighbours at the new place */
    if (prev)
        prev->next = nb;
    else if (heap)
        heap->blocks = nb;
    if (next) next->prev = nb;
    return nb + 1;
}

void jx_heap_begin(jx_heap *heap, size_t limit) {
    memset(heap, 0, sizeof *heap);
    heap->limit = limit;
    heap->outer = cur_heap;
    cur_heap = heap;
}

void jx_heap_abandon(jx_heap *heap) {
    for (jx_block *b = heap->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    heap->blocks = NULL;
    heap->live = NULL;
    cur_heap = heap->outer;
}

bool jx_heap_exceeded(void) {
    return cur_heap && cur_heap->exceeded;
}

static void link_obj(jobj *o, jv_type kind) {
    o->refcnt = 1;
    o->kind = (uint8_t)kind;
    o->heap = cur_heap;
    o->prev = NULL;
    o->next = NULL;
    if (!cur_heap) return;
    o->next = cur_heap->live;
    if (o->next) o->next->prev = o;
    cur_heap->live = o;
}

static void unlink_obj(jobj *o) {
    if (!o->heap) return;
    if (o->prev)
        o->prev->next = o->next;
    else
        o->heap->live = o->next;
    if (o->next) o->next->prev = o->prev;
    o->heap = NULL;
}

static jv obj_value(jobj *o) {
    jv v = {.type = (jv_type)o->kind};
    switch (o->kind) {
    case JV_LIST:
        v.u.l = (jlist *)o;
        break;
    case JV_DICT:
        v.u.d = (jdict *)o;
        break;
    case JV_FUNC:
        v.u.fn = (jfunc *)o;
        break;
    default:
        v.u.loop = (jloop *)o;
        break;
    }
    return v;
}

/* Whatever is still alive once the render has released everything it held is garbage kept
 * alive by reference cycles: hold every such container, empty them all (which breaks the
 * cycles), then drop the holds. */
void jx_heap_end(jx_heap *heap) {
    size_t n = 0;
    for (jobj *o = heap->live; o; o = o->next)
        n++;
    if (n) {
        jobj **all = jx_alloc(n * sizeof *all);
        size_t i = 0;
        for (jobj *o = heap->live; o; o = o->next) {
            all[i++] = o;
            o->refcnt++;
        }
        for (i = 0; i < n; i++)
            jv_container_clear(obj_value(all[i]));
        for (i = 0; i < n; i++)
            jv_release(obj_value(all[i]));
        jx_free(all);
    }
    /* blocks still allocated outlive the render: they must not point at its heap */
    for (jx_block *b = heap->blocks, *next; b; b = next) {
        next = b->next;
        b->heap = NULL;
        b->prev = b->next = NULL;
    }
    heap->blocks = NULL;
    cur_heap = heap->outer;
}

/* ------------------------------------------------------------------ strings */

jstr *jstr_new(const char *s, size_t len) {
    jstr *r = jx_alloc(sizeof *r + len + 1);
    r->refcnt = 1;
    r->ascii = -1;
    r->markup = false;
    r->len = len;
    if (len && s) memcpy(r->data, s, len);
    r->data[len] = '\0';
    return r;
}

void jstr_release(jstr *s) {
    if (s && --s->refcnt == 0) jx_free(s);
}

bool jstr_is_ascii(jstr *s) {
    if (s->ascii < 0) {
        s->ascii = 1;
        for (size_t i = 0; i < s->len; i++)
            if ((unsigned char)s->data[i] >= 0x80) {
                s->ascii = 0;
                break;
            }
    }
    return s->ascii == 1;
}

jv jv_str(const char *s, size_t len) {
    return (jv){.type = JV_STR, .u.s = jstr_new(s, len)};
}

jv jv_cstr(const char *s) {
    return jv_str(s, strlen(s));
}

jv jv_markup(const char *s, size_t len) {
    jv v = jv_str(s, len);
    v.u.s->markup = true;
    return v;
}

static jstr *jstr_vformat(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) n = 0;
    jstr *r = jstr_new(NULL, (size_t)n);
    vsnprintf(r->data, (size_t)n + 1, fmt, ap);
    return r;
}

jv jv_strf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jstr *s = jstr_vformat(fmt, ap);
    va_end(ap);
    return (jv){.type = JV_STR, .u.s = s};
}

jv jv_undef_hint(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jstr *s = jstr_vformat(fmt, ap);
    va_end(ap);
    return (jv){.type = JV_UNDEF, .u.s = s};
}

/* ------------------------------------------------------------------ refcounts */

jv jv_retain(jv v) {
    switch (v.type) {
    case JV_UNDEF:
    case JV_STR:
        if (v.u.s) v.u.s->refcnt++;
        break;
    case JV_LIST:
        v.u.l->h.refcnt++;
        break;
    case JV_DICT:
        v.u.d->h.refcnt++;
        break;
    case JV_FUNC:
        v.u.fn->h.refcnt++;
        break;
    case JV_LOOP:
        v.u.loop->h.refcnt++;
        break;
    default:
        break;
    }
    return v;
}

void jv_container_clear(jv v) {
    switch (v.type) {
    case JV_LIST: {
        jlist *l = v.u.l;
        size_t n = l->n;
        l->n = 0;
        for (size_t i = 0; i < n; i++)
            jv_release(l->items[i]);
        break;
    }
    case JV_DICT:
        jv_dict_clear(v);
        break;
    case JV_FUNC: {
        jfunc *f = v.u.fn;
        jv self = f->self;
        f->self = jv_undef();
        jv_release(self);
        if (f->env_release && f->env) f->env_release(f->env);
        f->env = NULL;
        break;
    }
    case JV_LOOP: {
        jv items = v.u.loop->items, last = v.u.loop->last_changed;
        v.u.loop->items = jv_none();
        v.u.loop->last_changed = jv_undef();
        jv_release(items);
        jv_release(last);
        break;
    }
    default:
        break;
    }
}

static void free_container(jv v, jobj *o) {
    jv_container_clear(v);
    switch (v.type) {
    case JV_LIST:
        jx_free(v.u.l->items);
        break;
    case JV_DICT:
        jx_free(v.u.d->keys);
        jx_free(v.u.d->vals);
        jx_free(v.u.d->index);
        break;
    case JV_LOOP:
        jv_release(v.u.loop->items);
        break;
    default:
        break;
    }
    jx_free(o);
}

/* Containers whose count reached zero wait in a queue and are freed by the outermost
 * jv_release, so freeing a deeply nested value (a template can nest lists a million deep
 * in a loop) takes no stack. */
static _Thread_local jobj *free_queue;
static _Thread_local bool draining;

void jv_release(jv v) {
    jobj *o;
    switch (v.type) {
    case JV_UNDEF:
    case JV_STR:
        jstr_release(v.u.s);
        return;
    case JV_LIST:
        o = &v.u.l->h;
        break;
    case JV_DICT:
        o = &v.u.d->h;
        break;
    case JV_FUNC:
        o = &v.u.fn->h;
        break;
    case JV_LOOP:
        o = &v.u.loop->h;
        break;
    default:
        return;
    }
    if (--o->refcnt != 0) return;
    unlink_obj(o);
    o->next = free_queue;
    free_queue = o;
    if (draining) return;
    draining = true;
    while (free_queue) {
        jobj *f = free_queue;
        free_queue = f->next;
        free_container(obj_value(f), f);
    }
    draining = false;
}

/* ------------------------------------------------------------------ lists */

jv jv_list(size_t cap) {
    jlist *l = jx_alloc(sizeof *l);
    link_obj(&l->h, JV_LIST);
    l->tuple = false;
    l->gen = false;
    l->n = 0;
    l->cap = cap;
    l->items = cap ? jx_alloc(cap * sizeof(jv)) : NULL;
    return (jv){.type = JV_LIST, .u.l = l};
}

jv jv_tuple(size_t n) {
    jv t = jv_list(n);
    t.u.l->tuple = true;
    for (size_t i = 0; i < n; i++)
        t.u.l->items[i] = jv_none();
    t.u.l->n = n;
    return t;
}

void jv_list_push_take(jv list, jv item) {
    jlist *l = list.u.l;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        l->items = jx_realloc(l->items, l->cap * sizeof(jv), cap * sizeof(jv));
        l->cap = cap;
    }
    l->items[l->n++] = item;
}

void jv_list_set_take(jv list, size_t i, jv item) {
    jv old = list.u.l->items[i];
    list.u.l->items[i] = item;
    jv_release(old);
}

bool jv_is_list(jv v, bool or_tuple) {
    return v.type == JV_LIST && !v.u.l->gen && (or_tuple || !v.u.l->tuple);
}

void jv_list_drop_front(jv list, size_t n) {
    jlist *l = list.u.l;
    if (n > l->n) n = l->n;
    if (!n) return;
    jv *dropped = jx_alloc((n ? n : 1) * sizeof *dropped);
    memcpy(dropped, l->items, n * sizeof *dropped);
    memmove(l->items, l->items + n, (l->n - n) * sizeof *l->items);
    l->n -= n;
    for (size_t i = 0; i < n; i++)
        jv_release(dropped[i]);
    jx_free(dropped);
}

/* ------------------------------------------------------------------ dicts */

static jv new_dict(bool ns) {
    jdict *d = jx_calloc(1, sizeof *d);
    link_obj(&d->h, JV_DICT);
    d->ns = ns;
    return (jv){.type = JV_DICT, .u.d = d};
}

jv jv_dict(void) {
    return new_dict(false);
}
jv jv_namespace(void) {
    return new_dict(true);
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* Keys that compare equal hash equally, as Python requires: 1, 1.0 and True are one key. */
static uint64_t hash_value(jv v) {
    switch (v.type) {
    case JV_BOOL:
        return mix64((uint64_t)v.u.b);
    case JV_INT:
        return mix64((uint64_t)v.u.i);
    case JV_FLOAT: {
        double f = v.u.f;
        if (f == floor(f) && fabs(f) < 9.2e18) return mix64((uint64_t)(int64_t)f);
        uint64_t bits;
        memcpy(&bits, &f, sizeof bits);
        return mix64(bits);
    }
    case JV_STR: {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (size_t i = 0; i < v.u.s->len; i++)
            h = (h ^ (unsigned char)v.u.s->data[i]) * 1099511628211ULL;
        return mix64(h);
    }
    case JV_LIST: {
        if (v.u.l->gen) return mix64((uint64_t)(uintptr_t)v.u.l);
        uint64_t h = 0x345678;
        for (size_t i = 0; i < v.u.l->n; i++)
            h = mix64(h ^ hash_value(v.u.l->items[i]));
        return h;
    }
    case JV_NONE:
        return 0x9e3779b97f4a7c15ULL;
    default:
        return mix64((uint64_t)(uintptr_t)v.u.fn);
    }
}

bool jv_hashable(jv v) {
    if (v.type == JV_DICT) return false;
    if (jv_is_gen(v)) return true; /* by identity, as any Python object */
    if (v.type == JV_LIST) {
        if (!v.u.l->tuple) return false;
        for (size_t i = 0; i < v.u.l->n; i++)
            if (!jv_hashable(v.u.l->items[i])) return false;
    }
    return v.type != JV_UNDEF;
}

enum { DICT_LINEAR_MAX = 8 };

static void index_insert(jdict *d, size_t slot) {
    size_t mask = d->index_cap - 1;
    size_t i = hash_value(d->keys[slot]) & mask;
    while (d->index[i])
        i = (i + 1) & mask;
    d->index[i] = (uint32_t)slot + 1;
}

static void index_rebuild(jdict *d) {
    jx_free(d->index);
    d->index = NULL;
    d->index_cap = 0;
    if (d->n <= DICT_LINEAR_MAX) return;
    size_t cap = 16;
    while (cap < d->n * 2)
        cap *= 2;
    d->index = jx_calloc(cap, sizeof *d->index);
    d->index_cap = cap;
    for (size_t i = 0; i < d->n; i++)
        index_insert(d, i);
}

static long find_slot(const jdict *d, jv key) {
    if (!d->index) {
        for (size_t i = 0; i < d->n; i++)
            if (jv_equal(d->keys[i], key)) return (long)i;
        return -1;
    }
    size_t mask = d->index_cap - 1;
    for (size_t i = hash_value(key) & mask; d->index[i]; i = (i + 1) & mask) {
        size_t slot = d->index[i] - 1;
        if (jv_equal(d->keys[slot], key)) return (long)slot;
    }
    return -1;
}

void jv_dict_set_take(jv dict, jv key, jv val) {
    jdict *d = dict.u.d;
    long slot = find_slot(d, key);
    if (slot >= 0) {
        jv old = d->vals[slot];
        d->vals[slot] = val;
        jv_release(old);
        jv_release(key);
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        d->keys = jx_realloc(d->keys, d->cap * sizeof(jv), cap * sizeof(jv));
        d->vals = jx_realloc(d->vals, d->cap * sizeof(jv), cap * sizeof(jv));
        d->cap = cap;
    }
    d->keys[d->n] = key;
    d->vals[d->n] = val;
    d->n++;
    if (d->n > DICT_LINEAR_MAX && d->n * 2 > d->index_cap)
        index_rebuild(d);
    else if (d->index)
        index_insert(d, d->n - 1);
}

const jv *jv_dict_get(jv dict, jv key) {
    long slot = find_slot(dict.u.d, key);
    return slot < 0 ? NULL : &dict.u.d->vals[slot];
}

const jv *jv_dict_gets(jv dict, const char *key, size_t len) {
    jstr *k = jstr_new(key, len);
    const jv *r = jv_dict_get(dict, (jv){.type = JV_STR, .u.s = k});
    jstr_release(k);
    return r;
}

bool jv_dict_del(jv dict, jv key, jv *out_val) {
    jdict *d = dict.u.d;
    long slot = find_slot(d, key);
    if (slot < 0) return false;
    jv_release(d->keys[slot]);
    *out_val = d->vals[slot];
    memmove(d->keys + slot, d->keys + slot + 1, (d->n - (size_t)slot - 1) * sizeof(jv));
    memmove(d->vals + slot, d->vals + slot + 1, (d->n - (size_t)slot - 1) * sizeof(jv));
    d->n--;
    index_rebuild(d);
    return true;
}

void jv_dict_clear(jv dict) {
    jdict *d = dict.u.d;
    size_t n = d->n;
    d->n = 0;
    jx_free(d->index);
    d->index = NULL;
    d->index_cap = 0;
    for (size_t i = 0; i < n; i++) {
        jv_release(d->keys[i]);
        jv_release(d->vals[i]);
    }
}

/* ------------------------------------------------------------------ callables, loops */

jv jv_native(const char *name, jx_native_fn fn, jv self_take) {
    jfunc *f = jx_calloc(1, sizeof *f);
    link_obj(&f->h, JV_FUNC);
    f->name = name;
    f->native = fn;
    f->self = self_take;
    return (jv){.type = JV_FUNC, .u.fn = f};
}

jv jv_macro(const char *name, const void *node, void *env, void (*env_release)(void *)) {
    jfunc *f = jx_calloc(1, sizeof *f);
    link_obj(&f->h, JV_FUNC);
    f->name = name;
    f->self = jv_undef();
    f->macro = node;
    f->env = env;
    f->env_release = env_release;
    return (jv){.type = JV_FUNC, .u.fn = f};
}

jv jv_loop(jv items_take, int depth) {
    jloop *l = jx_calloc(1, sizeof *l);
    link_obj(&l->h, JV_LOOP);
    l->items = items_take;
    l->depth = depth;
    l->last_changed = jv_undef();
    return (jv){.type = JV_LOOP, .u.loop = l};
}

/* ------------------------------------------------------------------ Python semantics */

bool jv_is_number(jv v) {
    return v.type == JV_INT || v.type == JV_FLOAT || v.type == JV_BOOL;
}

double jv_num(jv v) {
    switch (v.type) {
    case JV_INT:
        return (double)v.u.i;
    case JV_FLOAT:
        return v.u.f;
    case JV_BOOL:
        return v.u.b;
    default:
        return 0;
    }
}

bool jv_truthy(jv v) {
    switch (v.type) {
    case JV_UNDEF:
    case JV_NONE:
        return false;
    case JV_BOOL:
        return v.u.b;
    case JV_INT:
        return v.u.i != 0;
    case JV_FLOAT:
        return v.u.f != 0.0;
    case JV_STR:
        return v.u.s->len != 0;
    case JV_LIST:
        return v.u.l->gen || v.u.l->n != 0;
    case JV_DICT:
        return v.u.d->ns || v.u.d->n != 0; /* a Namespace has no __len__ */
    default:
        return true;
    }
}

/* Python compares int with float exactly; doubles cover every value chat templates meet. */
static int num_cmp(jv a, jv b) {
    if (a.type != JV_FLOAT && b.type != JV_FLOAT) {
        int64_t x = a.type == JV_BOOL ? a.u.b : a.u.i, y = b.type == JV_BOOL ? b.u.b : b.u.i;
        return (x > y) - (x < y);
    }
    double x = jv_num(a), y = jv_num(b);
    return (x > y) - (x < y);
}

enum { CMP_DEPTH_MAX = 200 };

static bool equal_depth(jv a, jv b, int depth);

static bool dict_equal(jv a, jv b, int depth) {
    if (a.u.d == b.u.d) return true;
    if (a.u.d->ns || b.u.d->ns || a.u.d->n != b.u.d->n) return false;
    for (size_t i = 0; i < a.u.d->n; i++) {
        const jv *other = jv_dict_get(b, a.u.d->keys[i]);
        if (!other || !equal_depth(a.u.d->vals[i], *other, depth + 1)) return false;
    }
    return true;
}

static bool equal_depth(jv a, jv b, int depth) {
    if (depth > CMP_DEPTH_MAX) return false;
    if (jv_is_number(a) && jv_is_number(b)) {
        if (a.type == JV_FLOAT && isnan(a.u.f)) return false;
        if (b.type == JV_FLOAT && isnan(b.u.f)) return false;
        return num_cmp(a, b) == 0;
    }
    if (a.type != b.type) return false;
    switch (a.type) {
    case JV_UNDEF:
    case JV_NONE:
        return true;
    case JV_STR:
        return a.u.s == b.u.s ||
               (a.u.s->len == b.u.s->len && !memcmp(a.u.s->data, b.u.s->data, a.u.s->len));
    case JV_LIST:
        if (a.u.l == b.u.l) return true;
        if (a.u.l->gen || b.u.l->gen) return false;
        if (a.u.l->tuple != b.u.l->tuple || a.u.l->n != b.u.l->n) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!equal_depth(a.u.l->items[i], b.u.l->items[i], depth + 1)) return false;
        return true;
    case JV_DICT:
        return dict_equal(a, b, depth);
    case JV_FUNC:
        return a.u.fn == b.u.fn;
    case JV_LOOP:
        return a.u.loop == b.u.loop;
    default:
        return false;
    }
}

bool jv_equal(jv a, jv b) {
    return equal_depth(a, b, 0);
}

static bool compare_depth(jv a, jv b, int *out, int depth) {
    if (depth > CMP_DEPTH_MAX) return false;
    if (jv_is_number(a) && jv_is_number(b)) {
        *out = num_cmp(a, b);
        return true;
    }
    if (a.type == JV_STR && b.type == JV_STR) {
        /* UTF-8 byte order is code point order, which is Python's str order. */
        size_t n = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int c = memcmp(a.u.s->data, b.u.s->data, n);
        if (c == 0) c = (a.u.s->len > b.u.s->len) - (a.u.s->len < b.u.s->len);
        *out = (c > 0) - (c < 0);
        return true;
    }
    if (a.type == JV_LIST && b.type == JV_LIST && a.u.l->tuple == b.u.l->tuple && !a.u.l->gen &&
        !b.u.l->gen) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (equal_depth(a.u.l->items[i], b.u.l->items[i], depth + 1)) continue;
            return compare_depth(a.u.l->items[i], b.u.l->items[i], out, depth + 1);
        }
        *out = (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
        return true;
    }
    return false;
}

bool jv_compare(jv a, jv b, int *out) {
    return compare_depth(a, b, out, 0);
}

const char *jv_type_name(jv v) {
    switch (v.type) {
    case JV_UNDEF:
        return "Undefined";
    case JV_NONE:
        return "NoneType";
    case JV_BOOL:
        return "bool";
    case JV_INT:
        return "int";
    case JV_FLOAT:
        return "float";
    case JV_STR:
        return v.u.s->markup ? "Markup" : "str";
    case JV_LIST:
        return v.u.l->gen ? "generator" : v.u.l->tuple ? "tuple" : "list";
    case JV_DICT:
        return v.u.d->ns ? "Namespace" : "dict";
    case JV_FUNC:
        return v.u.fn->native && v.u.fn->self.type != JV_UNDEF ? "builtin_function_or_method"
                                                               : "function";
    case JV_LOOP:
        return "LoopContext";
    }
    return "object";
}
