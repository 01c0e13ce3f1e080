#include "aws/xml.h"

#include "core/secure.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nodes and strings of one document come from a chunked arena: a page of
 * EC2 answers holds tens of thousands of elements, and one allocation per
 * node would dominate parsing time and make freeing a tree walk. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t cap;
    max_align_t data[]; /* aligned storage */
} arena_chunk;

#define ARENA_CHUNK_SIZE ((size_t)64 * 1024)

struct xml_doc {
    arena_chunk *chunks;
    const xml_node *root;
};

static void *arena_alloc(xml_doc *d, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    arena_chunk *c = d->chunks;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK_SIZE ? n : ARENA_CHUNK_SIZE;
        c = xmalloc(sizeof *c + cap);
        c->next = d->chunks;
        c->used = 0;
        c->cap = cap;
        d->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static char *arena_strndup(xml_doc *d, const char *s, size_t n)
{
    char *p = arena_alloc(d, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

typedef struct frame {
    xml_node *node;
    xml_node *last_child;
    size_t text_start; /* offset of this element's text in parse_state.text */
} frame;

typedef struct parse_state {
    XML_Parser parser;
    xml_doc *doc;
    xml_limits lim;
    frame *stack;
    size_t depth;
    size_t nodes;
    strbuf text;   /* character data of every open element, innermost last */
    err_code fail; /* ERR_OK, or why a handler stopped the parser */
    char fail_msg[200];
} parse_state;

static void stop(parse_state *st, err_code code, const char *msg)
{
    if (st->fail != ERR_OK)
        return;
    st->fail = code;
    snprintf(st->fail_msg, sizeof st->fail_msg, "%s", msg);
    XML_StopParser(st->parser, XML_FALSE);
}

static const char *local_name(const char *name)
{
    const char *colon = strrchr(name, ':');
    return colon ? colon + 1 : name;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    parse_state *st = ud;
    if (st->fail != ERR_OK)
        return;
    if (st->depth >= st->lim.max_depth) {
        stop(st, ERR_LIMIT, "elements nested too deeply");
        return;
    }
    if (st->nodes >= st->lim.max_nodes) {
        stop(st, ERR_LIMIT, "too many elements");
        return;
    }
    st->nodes++;
    xml_node *n = arena_alloc(st->doc, sizeof *n);
    memset(n, 0, sizeof *n);
    const char *ln = local_name(name);
    n->name = arena_strndup(st->doc, ln, strlen(ln));
    n->text = "";
    n->line = (unsigned long)XML_GetCurrentLineNumber(st->parser);
    if (st->depth == 0) {
        st->doc->root = n;
    } else {
        frame *pf = &st->stack[st->depth - 1];
        n->parent = pf->node;
        if (pf->last_child)
            pf->last_child->next_sibling = n;
        else
            pf->node->children = n;
        pf->last_child = n;
        pf->node->nchildren++;
    }
    frame *f = &st->stack[st->depth++];
    f->node = n;
    f->last_child = NULL;
    f->text_start = st->text.len;
}

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    parse_state *st = ud;
    if (st->fail != ERR_OK || st->depth == 0)
        return;
    frame *f = &st->stack[--st->depth];
    const char *t = strbuf_str(&st->text) + f->text_start;
    size_t tn = st->text.len - f->text_start;
    if (tn > 0 && !(f->node->nchildren > 0 && all_space(t, tn))) {
        f->node->text = arena_strndup(st->doc, t, tn);
        f->node->text_len = tn;
    }
    strbuf_truncate(&st->text, f->text_start);
}

static void XMLCALL on_chars(void *ud, const XML_Char *s, int len)
{
    parse_state *st = ud;
    if (st->fail != ERR_OK || st->depth == 0 || len <= 0)
        return;
    strbuf_append(&st->text, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    stop(ud, ERR_PARSE, "DOCTYPE declarations are not accepted");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    stop(ud, ERR_PARSE, "entity declarations are not accepted");
}

bool xml_parse(const char *data, size_t len, const xml_limits *limits, xml_doc **out, err *e)
{
    *out = NULL;
    parse_state st;
    memset(&st, 0, sizeof st);
    st.lim.max_bytes = limits && limits->max_bytes ? limits->max_bytes : XML_DEFAULT_MAX_BYTES;
    st.lim.max_depth = limits && limits->max_depth ? limits->max_depth : XML_DEFAULT_MAX_DEPTH;
    st.lim.max_nodes = limits && limits->max_nodes ? limits->max_nodes : XML_DEFAULT_MAX_NODES;
    if (len > st.lim.max_bytes)
        return err_set(e, ERR_LIMIT, "XML document of %zu bytes exceeds the limit of %zu bytes",
                       len, st.lim.max_bytes);
    if (data == NULL)
        data = "";

    st.parser = XML_ParserCreate("UTF-8");
    if (st.parser == NULL)
        return err_set(e, ERR_INTERNAL, "cannot create an XML parser");
    st.doc = xcalloc(1, sizeof *st.doc);
    st.stack = xcalloc(st.lim.max_depth, sizeof *st.stack);
    strbuf_init(&st.text);
    XML_SetUserData(st.parser, &st);
    XML_SetElementHandler(st.parser, on_start, on_end);
    XML_SetCharacterDataHandler(st.parser, on_chars);
    XML_SetStartDoctypeDeclHandler(st.parser, on_doctype);
    XML_SetEntityDeclHandler(st.parser, on_entity_decl);

    /* Fed in slices because XML_Parse takes an int length. */
    const size_t slice = (size_t)1 << 20;
    size_t off = 0;
    enum XML_Status status = XML_STATUS_OK;
    do {
        size_t n = len - off < slice ? len - off : slice;
        int final = off + n == len;
        status = XML_Parse(st.parser, data + off, (int)n, final);
        off += n;
    } while (status == XML_STATUS_OK && off < len);

    bool ok = status == XML_STATUS_OK && st.fail == ERR_OK;
    if (!ok) {
        unsigned long line = (unsigned long)XML_GetCurrentLineNumber(st.parser);
        unsigned long col = (unsigned long)XML_GetCurrentColumnNumber(st.parser) + 1;
        if (st.fail != ERR_OK)
            err_set(e, st.fail, "XML document rejected at line %lu column %lu: %s", line, col,
                    st.fail_msg);
        else
            err_set(e, ERR_PARSE, "malformed XML at line %lu column %lu: %s", line, col,
                    XML_ErrorString(XML_GetErrorCode(st.parser)));
    } else if (st.doc->root == NULL) {
        ok = err_set(e, ERR_PARSE, "XML document has no root element");
    }
    XML_ParserFree(st.parser);
    free(st.stack);
    /* The buffer held every text value at some point, secrets included. */
    strbuf_free_secret(&st.text);
    if (!ok) {
        xml_free(st.doc);
        return false;
    }
    *out = st.doc;
    return true;
}

static void free_doc(xml_doc *doc, bool wipe)
{
    if (doc == NULL)
        return;
    arena_chunk *c = doc->chunks;
    while (c) {
        arena_chunk *next = c->next;
        if (wipe)
            secure_wipe(c->data, c->used);
        free(c);
        c = next;
    }
    free(doc);
}

void xml_free(xml_doc *doc)
{
    free_doc(doc, false);
}

void xml_free_secret(xml_doc *doc)
{
    free_doc(doc, true);
}

const xml_node *xml_root(const xml_doc *doc)
{
    return doc ? doc->root : NULL;
}

const xml_node *xml_child(const xml_node *n, const char *name)
{
    if (n == NULL)
        return NULL;
    for (const xml_node *c = n->children; c; c = c->next_sibling)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const xml_node *xml_next(const xml_node *n)
{
    if (n == NULL)
        return NULL;
    for (const xml_node *c = n->next_sibling; c; c = c->next_sibling)
        if (strcmp(c->name, n->name) == 0)
            return c;
    return NULL;
}

static const xml_node *child_n(const xml_node *n, const char *name, size_t len)
{
    for (const xml_node *c = n->children; c; c = c->next_sibling)
        if (strncmp(c->name, name, len) == 0 && c->name[len] == '\0')
            return c;
    return NULL;
}

const xml_node *xml_find(const xml_node *n, const char *path)
{
    const char *p = path;
    while (n && *p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len > 0)
            n = child_n(n, p, len);
        p += len;
        if (*p == '/')
            p++;
    }
    return n;
}

const char *xml_find_text(const xml_node *n, const char *path)
{
    const xml_node *f = xml_find(n, path);
    return f ? f->text : NULL;
}

size_t xml_count(const xml_node *n, const char *name)
{
    size_t k = 0;
    if (n == NULL)
        return 0;
    for (const xml_node *c = n->children; c; c = c->next_sibling)
        if (name == NULL || strcmp(c->name, name) == 0)
            k++;
    return k;
}

char *xml_find_strdup(const xml_node *n, const char *path)
{
    const char *t = xml_find_text(n, path);
    return t ? xstrdup(t) : NULL;
}

bool xml_find_bool(const xml_node *n, const char *path, bool *out, err *e)
{
    const char *t = xml_find_text(n, path);
    if (t == NULL)
        return err_set(e, ERR_NOT_FOUND, "element \"%s\" is missing", path);
    if (strcmp(t, "true") == 0)
        *out = true;
    else if (strcmp(t, "false") == 0)
        *out = false;
    else
        return err_set(e, ERR_PARSE, "element \"%s\" is not a boolean: \"%.64s\"", path, t);
    return true;
}

bool xml_find_int64(const xml_node *n, const char *path, int64_t *out, err *e)
{
    const char *t = xml_find_text(n, path);
    if (t == NULL)
        return err_set(e, ERR_NOT_FOUND, "element \"%s\" is missing", path);
    char *end = NULL;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (*t == '\0' || *end != '\0' || errno != 0 ||
        (*t != '-' && *t != '+' && (*t < '0' || *t > '9')))
        return err_set(e, ERR_PARSE, "element \"%s\" is not an integer: \"%.64s\"", path, t);
    *out = (int64_t)v;
    return true;
}

char *xml_escape(const char *s)
{
    strbuf sb = STRBUF_INIT;
    for (; *s; s++) {
        switch (*s) {
        case '&':
            strbuf_puts(&sb, "&amp;");
            break;
        case '<':
            strbuf_puts(&sb, "&lt;");
            break;
        case '>':
            strbuf_puts(&sb, "&gt;");
            break;
        case '"':
            strbuf_puts(&sb, "&quot;");
            break;
        case '\'':
            strbuf_puts(&sb, "&apos;");
            break;
        default:
            strbuf_putc(&sb, *s);
            break;
        }
    }
    return strbuf_detach(&sb);
}
