/* The world as JSON, driven by the layout schema (world_schema.c): save
 * writes every field with sorted keys and arrays in world order, so two
 * dumps of equal worlds are equal byte for byte; load checks every type
 * and value and names the path of the first bad one, e.g.
 * "world.accounts[2].regions[0].instances[5].state: 'runing' is not an
 * instance state". */
#include "world_internal.h"

#include "core/text.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 512

static const struct {
    sbx_istate state;
    const char *name;
} istate_names[] = {
    {SBX_PENDING, "pending"},
    {SBX_RUNNING, "running"},
    {SBX_SHUTTING_DOWN, "shutting-down"},
    {SBX_TERMINATED, "terminated"},
    {SBX_STOPPING, "stopping"},
    {SBX_STOPPED, "stopped"},
};
#define NISTATES (sizeof(istate_names) / sizeof(istate_names[0]))

static const char *istate_name(sbx_istate s)
{
    for (size_t i = 0; i < NISTATES; i++)
        if (istate_names[i].state == s)
            return istate_names[i].name;
    return "pending";
}

/* ---- save ---- */

static json_t *save_obj(const wschema *s, const void *obj);

static json_t *save_time(time_t t)
{
    if (t == 0)
        return json_null();
    char buf[TIMEUTIL_ISO8601_LEN];
    timeutil_format_iso8601(t, buf);
    return json_string(buf);
}

static json_t *save_str(const char *v)
{
    return v ? json_string(v) : json_null();
}

static json_t *save_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

static json_t *save_field(const wfield *f, const char *base)
{
    const void *p = base + f->off;
    size_t count = f->count_off ? *(const size_t *)(base + f->count_off) : 0;
    json_t *arr;
    switch (f->kind) {
    case WF_STR:
    case WF_OSTR:
        return save_str(*(char *const *)p);
    case WF_INT:
        return json_integer(*(const int *)p);
    case WF_LONG:
        return json_integer(*(const long *)p);
    case WF_U64:
        return save_u64(*(const uint64_t *)p);
    case WF_DOUBLE:
        return json_real(*(const double *)p);
    case WF_BOOL:
        return json_boolean(*(const bool *)p);
    case WF_TIME:
        return save_time(*(const time_t *)p);
    case WF_ISTATE:
        return json_string(istate_name(*(const sbx_istate *)p));
    case WF_TAGS: {
        const sbx_tags *t = p;
        arr = json_array();
        for (size_t i = 0; i < t->n; i++)
            json_array_append_new(
                arr, json_pack("{s:s, s:s}", "Key", t->items[i].key, "Value", t->items[i].value));
        return arr;
    }
    case WF_STRS:
        arr = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(arr, save_str((*(char **const *)p)[i]));
        return arr;
    case WF_PTRS:
        arr = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(arr, save_obj(f->sub, (*(void **const *)p)[i]));
        return arr;
    case WF_ARRAY:
        arr = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(arr, save_obj(f->sub, *(char *const *)p + i * f->sub->size));
        return arr;
    case WF_STRUCT:
        return save_obj(f->sub, p);
    case WF_OBJ:
        return *(void *const *)p ? save_obj(f->sub, *(void *const *)p) : json_null();
    case WF_BOOLS4:
        arr = json_array();
        for (int i = 0; i < 4; i++)
            json_array_append_new(arr, json_boolean(((const bool *)p)[i]));
        return arr;
    }
    return json_null();
}

static json_t *save_obj(const wschema *s, const void *obj)
{
    if (obj == NULL)
        return json_null();
    json_t *o = json_object();
    for (size_t i = 0; i < s->nfields; i++)
        json_object_set_new(o, s->fields[i].name, save_field(&s->fields[i], obj));
    return o;
}

char *world_save_json(const world *w)
{
    if (w == NULL)
        return NULL;
    json_t *root = save_obj(&world_schema, w);
    char *text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_REAL_PRECISION(15));
    json_decref(root);
    if (text == NULL)
        return NULL;
    /* json_dumps allocates with jansson's allocator (malloc by default);
     * hand back an xmalloc copy with a final newline so files end cleanly. */
    char *out = xasprintf("%s\n", text);
    free(text);
    return out;
}

/* ---- load ---- */

typedef struct loader {
    err *e;
} loader;

static bool bad(loader *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool bad(loader *l, const char *path, const char *fmt, ...)
{
    char why[ERR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return err_set(l->e, ERR_PARSE, "%s: %s", path, why);
}

/* Quotes a value for a message, shortened so one bad policy document does
 * not flood the error. */
static void quote(const json_t *v, char *out, size_t n)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(out, n, "%.80s%s", text ? text : "?", text && strlen(text) > 80 ? "..." : "");
    free(text);
}

static bool load_obj(loader *l, const wschema *s, json_t *v, void *obj, const char *path);

/* Child paths; a path too long for the buffer is cut, which only shortens
 * an error message (the check on the result keeps GCC's truncation
 * warning quiet). */
static void path_index(char *out, size_t n, const char *path, size_t i)
{
    if (snprintf(out, n, "%s[%zu]", path, i) >= (int)n)
        out[n - 1] = '\0';
}

static void path_field(char *out, size_t n, const char *path, const char *name)
{
    if (snprintf(out, n, "%s.%s", path, name) >= (int)n)
        out[n - 1] = '\0';
}

static bool load_string(loader *l, json_t *v, char **out, bool optional, const char *path)
{
    if (json_is_null(v) && optional)
        return true;
    if (!json_is_string(v)) {
        char q[128];
        quote(v, q, sizeof(q));
        return bad(l, path, "%s is %s, expected a string", q, text_json_type(v));
    }
    *out = xstrdup(json_string_value(v));
    return true;
}

static bool load_time(loader *l, json_t *v, time_t *out, const char *path)
{
    if (json_is_null(v))
        return true;
    if (json_is_integer(v)) {
        *out = (time_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        err pe;
        if (timeutil_parse_iso8601(json_string_value(v), out, &pe))
            return true;
        return bad(l, path, "'%s' is not an ISO 8601 time", json_string_value(v));
    }
    return bad(l, path, "expected an ISO 8601 time string or null, got %s", text_json_type(v));
}

static bool load_integer(loader *l, json_t *v, long long lo, long long hi, long long *out,
                         const char *path)
{
    if (!json_is_integer(v)) {
        char q[128];
        quote(v, q, sizeof(q));
        return bad(l, path, "%s is %s, expected an integer", q, text_json_type(v));
    }
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return bad(l, path, "%lld is out of range", (long long)x);
    *out = x;
    return true;
}

static bool load_u64(loader *l, json_t *v, uint64_t *out, const char *path)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (*s >= '0' && *s <= '9' && *end == '\0' && errno == 0) {
            *out = (uint64_t)x;
            return true;
        }
        return bad(l, path, "'%s' is not an unsigned 64-bit integer", s);
    }
    return bad(l, path, "expected an unsigned integer, got %s", text_json_type(v));
}

static bool load_istate(loader *l, json_t *v, sbx_istate *out, const char *path)
{
    if (!json_is_string(v))
        return bad(l, path, "expected an instance state string, got %s", text_json_type(v));
    const char *s = json_string_value(v);
    for (size_t i = 0; i < NISTATES; i++) {
        if (strcmp(istate_names[i].name, s) == 0) {
            *out = istate_names[i].state;
            return true;
        }
    }
    return bad(l, path, "'%s' is not an instance state", s);
}

static bool load_tags(loader *l, json_t *v, sbx_tags *t, const char *path)
{
    if (json_is_null(v))
        return true;
    if (!json_is_array(v))
        return bad(l, path, "expected an array of {\"Key\",\"Value\"}, got %s", text_json_type(v));
    t->n = json_array_size(v);
    t->items = xcalloc(t->n ? t->n : 1, sizeof(*t->items));
    char p[PATH_MAX_LEN];
    for (size_t i = 0; i < t->n; i++) {
        json_t *it = json_array_get(v, i);
        path_index(p, sizeof(p), path, i);
        json_t *k = json_object_get(it, "Key"), *val = json_object_get(it, "Value");
        if (!json_is_object(it) || json_object_size(it) != 2 || !json_is_string(k) ||
            !json_is_string(val))
            return bad(l, p, "a tag must be {\"Key\": string, \"Value\": string}");
        t->items[i].key = xstrdup(json_string_value(k));
        t->items[i].value = xstrdup(json_string_value(val));
    }
    return true;
}

/* Arrays: null or absent is empty. The destination is sized and counted
 * before the elements load, so a failure half way leaves a world that
 * world_free can still free. */
static bool load_array_of(loader *l, const wfield *f, json_t *v, char *base, const char *path)
{
    void **dst = (void **)(base + f->off);
    size_t *count = (size_t *)(base + f->count_off);
    if (json_is_null(v))
        return true;
    if (!json_is_array(v))
        return bad(l, path, "expected an array, got %s", text_json_type(v));
    size_t n = json_array_size(v);
    size_t elem = f->kind == WF_ARRAY ? f->sub->size : sizeof(void *);
    *dst = xcalloc(n ? n : 1, elem);
    *count = n;
    char p[PATH_MAX_LEN];
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(v, i);
        path_index(p, sizeof(p), path, i);
        if (f->kind == WF_STRS) {
            if (!load_string(l, it, &((char **)*dst)[i], false, p))
                return false;
        } else if (f->kind == WF_PTRS) {
            void *o = xcalloc(1, f->sub->size);
            ((void **)*dst)[i] = o;
            if (!load_obj(l, f->sub, it, o, p))
                return false;
        } else if (!load_obj(l, f->sub, it, (char *)*dst + i * elem, p)) {
            return false;
        }
    }
    return true;
}

static bool load_field(loader *l, const wfield *f, json_t *v, char *base, const char *path)
{
    void *p = base + f->off;
    long long x;
    switch (f->kind) {
    case WF_STR:
    case WF_OSTR:
        return load_string(l, v, p, f->kind == WF_OSTR, path);
    case WF_INT:
        if (!load_integer(l, v, INT_MIN, INT_MAX, &x, path))
            return false;
        *(int *)p = (int)x;
        return true;
    case WF_LONG:
        if (!load_integer(l, v, LONG_MIN, LONG_MAX, &x, path))
            return false;
        *(long *)p = (long)x;
        return true;
    case WF_U64:
        return load_u64(l, v, p, path);
    case WF_DOUBLE:
        if (!json_is_number(v))
            return bad(l, path, "expected a number, got %s", text_json_type(v));
        *(double *)p = json_number_value(v);
        return true;
    case WF_BOOL:
        if (!json_is_boolean(v))
            return bad(l, path, "expected true or false, got %s", text_json_type(v));
        *(bool *)p = json_is_true(v);
        return true;
    case WF_TIME:
        return load_time(l, v, p, path);
    case WF_ISTATE:
        return load_istate(l, v, p, path);
    case WF_TAGS:
        return load_tags(l, v, p, path);
    case WF_STRS:
    case WF_PTRS:
    case WF_ARRAY:
        return load_array_of(l, f, v, base, path);
    case WF_STRUCT:
        return load_obj(l, f->sub, v, p, path);
    case WF_OBJ:
        if (json_is_null(v))
            return true;
        *(void **)p = xcalloc(1, f->sub->size);
        return load_obj(l, f->sub, v, *(void **)p, path);
    case WF_BOOLS4:
        if (!json_is_array(v) || json_array_size(v) != 4)
            return bad(l, path, "expected an array of 4 booleans");
        for (size_t i = 0; i < 4; i++) {
            if (!json_is_boolean(json_array_get(v, i)))
                return bad(l, path, "expected an array of 4 booleans");
            ((bool *)p)[i] = json_is_true(json_array_get(v, i));
        }
        return true;
    }
    return bad(l, path, "unsupported field");
}

/* Fields that must be present: identities and states a handler cannot do
 * without. Everything else defaults to zero, false, null or empty. */
static bool required(const wfield *f)
{
    return f->kind == WF_STR || f->kind == WF_ISTATE;
}

static bool load_obj(loader *l, const wschema *s, json_t *v, void *obj, const char *path)
{
    if (!json_is_object(v))
        return bad(l, path, "expected an object, got %s", text_json_type(v));
    char p[PATH_MAX_LEN];
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        bool known = false;
        for (size_t i = 0; i < s->nfields && !known; i++)
            known = strcmp(s->fields[i].name, key) == 0;
        if (!known) {
            path_field(p, sizeof(p), path, key);
            return bad(l, p, "unknown field");
        }
    }
    for (size_t i = 0; i < s->nfields; i++) {
        const wfield *f = &s->fields[i];
        path_field(p, sizeof(p), path, f->name);
        json_t *fv = json_object_get(v, f->name);
        if (fv == NULL) {
            if (required(f))
                return bad(l, p, "missing");
            fv = json_null();
        }
        if (f->kind == WF_STRUCT && json_is_null(fv))
            continue;
        if (!load_field(l, f, fv, obj, p))
            return false;
        char why[ERR_MESSAGE_MAX / 2];
        if (f->check != NULL && !f->check((char *)obj + f->off, why, sizeof(why)))
            return bad(l, p, "%s", why);
    }
    return true;
}

/* ---- whole-world consistency ---- */

static bool region_listed(const world *w, const char *name)
{
    for (size_t i = 0; i < w->nregions; i++)
        if (strcmp(w->region_names[i], name) == 0)
            return true;
    return false;
}

static bool check_account_keys(loader *l, const sbx_account *a, const char *path,
                               const char ***seen, size_t *nseen)
{
    char p[PATH_MAX_LEN];
    for (size_t u = 0; u < a->nusers; u++) {
        for (size_t k = 0; k < a->users[u]->nkeys; k++) {
            const char *id = a->users[u]->keys[k]->id;
            for (size_t j = 0; j < *nseen; j++) {
                if (strcmp((*seen)[j], id) == 0) {
                    snprintf(p, sizeof(p), "%s.users[%zu].keys[%zu].id", path, u, k);
                    return bad(l, p, "'%s' is another user's access key id too", id);
                }
            }
            *seen = xreallocarray(*seen, *nseen + 1, sizeof(**seen));
            (*seen)[(*nseen)++] = id;
        }
    }
    return true;
}

static bool check_world(loader *l, world *w)
{
    char p[PATH_MAX_LEN];
    if (w->naccounts == 0)
        return bad(l, "world.accounts", "the organization needs its management account");
    if (!w->accounts[0]->is_management)
        return bad(l, "world.accounts[0].is_management",
                   "accounts[0] must be the management account");
    if (w->hub == NULL)
        return bad(l, "world.hub", "the hub account (the Escher principal) is missing");
    if (w->nregions == 0)
        return bad(l, "world.region_names", "at least one region is required");
    for (size_t i = 0; i < w->naccounts; i++) {
        const sbx_account *a = w->accounts[i];
        if (i > 0 && a->is_management) {
            snprintf(p, sizeof(p), "world.accounts[%zu].is_management", i);
            return bad(l, p, "only accounts[0] is the management account");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(w->accounts[j]->id, a->id) == 0) {
                snprintf(p, sizeof(p), "world.accounts[%zu].id", i);
                return bad(l, p, "'%s' is also accounts[%zu]", a->id, j);
            }
        }
        for (size_t r = 0; r < a->nregions; r++) {
            if (!region_listed(w, a->regions[r]->name)) {
                snprintf(p, sizeof(p), "world.accounts[%zu].regions[%zu].name", i, r);
                return bad(l, p, "'%s' is not in world.region_names", a->regions[r]->name);
            }
        }
    }
    const char **seen = NULL;
    size_t nseen = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < w->naccounts; i++) {
        snprintf(p, sizeof(p), "world.accounts[%zu]", i);
        ok = check_account_keys(l, w->accounts[i], p, &seen, &nseen);
    }
    if (ok)
        ok = check_account_keys(l, w->hub, "world.hub", &seen, &nseen);
    free(seen);
    return ok;
}

world *world_load_json(const char *text, err *e)
{
    if (text == NULL) {
        err_set(e, ERR_INVALID, "no JSON text");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        err_set(e, ERR_PARSE, "world JSON line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    loader l = {e};
    world *w = xcalloc(1, sizeof(*w));
    bool ok = load_obj(&l, &world_schema, root, w, "world") && check_world(&l, w);
    json_decref(root);
    if (!ok) {
        world_free(w);
        return NULL;
    }
    for (size_t i = 0; i < w->nsessions; i++) {
        sbx_session *s = w->sessions[i];
        if (s->arn == NULL)
            s->arn = xasprintf("arn:aws:sts::%s:assumed-role/%s/%s", s->account_id, s->role_name,
                               s->session_name);
    }
    return w;
}
