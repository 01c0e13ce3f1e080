/* The call log ring: a fixed array of entries indexed by seq modulo the
 * capacity, so adding is O(1) and the oldest entry is overwritten. */
#include "calllog.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct calllog {
    calllog_entry *ring;
    size_t cap;
    uint64_t first; /* seq of the oldest entry kept (0: none) */
    uint64_t last;  /* seq of the newest entry (0: none yet) */
};

static void entry_free(calllog_entry *e)
{
    free(e->access_key_id);
    free(e->principal_arn);
    free(e->account);
    free(e->assumed_role_arn);
    free(e->session_name);
    free(e->session_policy);
    free(e->source_identity);
    free(e->external_id);
    free(e->service);
    free(e->action);
    free(e->region);
    json_decref(e->params);
    free(e->error_code);
    free(e->note);
    free(e->request_id);
    memset(e, 0, sizeof *e);
}

calllog *calllog_new(size_t cap)
{
    calllog *l = xcalloc(1, sizeof *l);
    l->cap = cap ? cap : 1;
    l->ring = xcalloc(l->cap, sizeof *l->ring);
    return l;
}

void calllog_clear(calllog *l)
{
    for (size_t i = 0; i < l->cap; i++)
        entry_free(&l->ring[i]);
    l->first = 0;
}

void calllog_free(calllog *l)
{
    if (l == NULL)
        return;
    calllog_clear(l);
    free(l->ring);
    free(l);
}

uint64_t calllog_add(calllog *l, calllog_entry *e)
{
    uint64_t seq = ++l->last;
    calllog_entry *slot = &l->ring[seq % l->cap];
    entry_free(slot);
    *slot = *e;
    slot->seq = seq;
    memset(e, 0, sizeof *e);
    if (l->first == 0)
        l->first = seq;
    else if (seq - l->first >= l->cap)
        l->first = seq - l->cap + 1;
    return seq;
}

uint64_t calllog_last_seq(const calllog *l)
{
    return l->last;
}

static json_t *str_or_null(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

static json_t *entry_json(const calllog_entry *e)
{
    char when[TIMEUTIL_ISO8601_LEN];
    timeutil_format_iso8601(e->time, when);
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "request_id", str_or_null(e->request_id));
    json_object_set_new(o, "access_key_id", str_or_null(e->access_key_id));
    json_object_set_new(o, "principal_arn", str_or_null(e->principal_arn));
    json_object_set_new(o, "account", str_or_null(e->account));
    json_object_set_new(o, "assumed_role_arn", str_or_null(e->assumed_role_arn));
    json_object_set_new(o, "session_name", str_or_null(e->session_name));
    json_object_set_new(o, "session_policy", str_or_null(e->session_policy));
    json_object_set_new(o, "source_identity", str_or_null(e->source_identity));
    json_object_set_new(o, "external_id", str_or_null(e->external_id));
    json_object_set_new(o, "service", str_or_null(e->service));
    json_object_set_new(o, "action", str_or_null(e->action));
    json_object_set_new(o, "region", str_or_null(e->region));
    json_object_set(o, "params", e->params ? e->params : json_null());
    json_object_set_new(o, "status", json_integer(e->status));
    json_object_set_new(o, "error_code", str_or_null(e->error_code));
    json_object_set_new(o, "note", str_or_null(e->note));
    return o;
}

json_t *calllog_since(const calllog *l, uint64_t since, size_t limit)
{
    json_t *calls = json_array();
    uint64_t start = since + 1;
    uint64_t dropped = 0;
    if (l->first && start < l->first) {
        dropped = l->first - start;
        start = l->first;
    }
    if (l->first == 0)
        start = l->last + 1;
    uint64_t next = since > l->last ? l->last : since;
    for (uint64_t seq = start; seq <= l->last; seq++) {
        if (limit && json_array_size(calls) >= limit)
            break;
        const calllog_entry *e = &l->ring[seq % l->cap];
        if (e->seq != seq)
            continue;
        json_array_append_new(calls, entry_json(e));
        next = seq;
    }
    return json_pack("{s:o, s:I, s:I}", "calls", calls, "next", (json_int_t)next, "dropped",
                     (json_int_t)dropped);
}
