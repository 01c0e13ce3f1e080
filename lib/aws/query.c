#include "aws/query.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void query_init(query_params *q, const char *action, const char *version)
{
    memset(q, 0, sizeof *q);
    query_add(q, "Action", action);
    query_add(q, "Version", version);
}

void query_add(query_params *q, const char *name, const char *value)
{
    if (q->count == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->items = xreallocarray(q->items, q->cap, sizeof *q->items);
    }
    q->items[q->count].name = xstrdup(name);
    q->items[q->count].value = xstrdup(value ? value : "");
    q->count++;
}

void query_addf(query_params *q, const char *name, const char *fmt, ...)
{
    strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    query_add(q, name, strbuf_str(&sb));
    strbuf_free(&sb);
}

void query_add_int(query_params *q, const char *name, long long value)
{
    query_addf(q, name, "%lld", value);
}

void query_add_bool(query_params *q, const char *name, bool value)
{
    query_add(q, name, value ? "true" : "false");
}

void query_add_list_field(query_params *q, aws_protocol proto, const char *list, size_t index,
                          const char *field, const char *value)
{
    strbuf sb = STRBUF_INIT;
    if (proto == AWS_PROTO_EC2)
        strbuf_printf(&sb, "%s.%zu", list, index);
    else
        strbuf_printf(&sb, "%s.member.%zu", list, index);
    if (field)
        strbuf_printf(&sb, ".%s", field);
    query_add(q, strbuf_str(&sb), value);
    strbuf_free(&sb);
}

void query_add_list(query_params *q, aws_protocol proto, const char *name,
                    const char *const *values, size_t n)
{
    if (n == 0) {
        if (proto != AWS_PROTO_EC2)
            query_add(q, name, "");
        return;
    }
    for (size_t i = 0; i < n; i++)
        query_add_list_field(q, proto, name, i + 1, NULL, values[i]);
}

void query_add_map(query_params *q, const char *name, const char *key_name, const char *value_name,
                   const char *const *keys, const char *const *values, size_t n)
{
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        strbuf_reset(&sb);
        strbuf_printf(&sb, "%s.entry.%zu.%s", name, i + 1, key_name ? key_name : "key");
        query_add(q, strbuf_str(&sb), keys[i]);
        strbuf_reset(&sb);
        strbuf_printf(&sb, "%s.entry.%zu.%s", name, i + 1, value_name ? value_name : "value");
        query_add(q, strbuf_str(&sb), values[i]);
    }
    strbuf_free(&sb);
}

const char *query_get(const query_params *q, const char *name)
{
    for (size_t i = 0; i < q->count; i++)
        if (strcmp(q->items[i].name, name) == 0)
            return q->items[i].value;
    return NULL;
}

void query_uri_encode(strbuf *sb, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    strbuf_grow(sb, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            strbuf_putc(sb, (char)c);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            strbuf_append(sb, enc, 3);
        }
    }
}

char *query_encode(const query_params *q)
{
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < q->count; i++) {
        if (i > 0)
            strbuf_putc(&sb, '&');
        query_uri_encode(&sb, q->items[i].name, strlen(q->items[i].name), false);
        strbuf_putc(&sb, '=');
        query_uri_encode(&sb, q->items[i].value, strlen(q->items[i].value), false);
    }
    return strbuf_detach(&sb);
}

void query_to_request(const query_params *q, const char *service, const char *operation,
                      aws_protocol proto, aws_request *req)
{
    aws_request_init(req, service, operation, proto, "POST", "/");
    http_headers_set(&req->headers, "Content-Type",
                     "application/x-www-form-urlencoded; charset=utf-8");
    char *body = query_encode(q);
    strbuf_puts(&req->body, body);
    free(body);
}

void query_free(query_params *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->count; i++) {
        free(q->items[i].name);
        free(q->items[i].value);
    }
    free(q->items);
    memset(q, 0, sizeof *q);
}

bool query_parse_result(const char *body, size_t len, const char *result, xml_doc **doc,
                        const xml_node **out, err *e)
{
    *doc = NULL;
    *out = NULL;
    xml_doc *d = NULL;
    if (!xml_parse(body, len, NULL, &d, e))
        return false;
    const xml_node *root = xml_root(d);
    const xml_node *r = result ? xml_child(root, result) : root;
    if (r == NULL) {
        err_set(e, ERR_PARSE, "answer <%s> has no <%s> element", root->name, result);
        xml_free(d);
        return false;
    }
    *doc = d;
    *out = r;
    return true;
}
