/* A small XML reader for AWS answers (expat underneath).
 *
 * AWS documents are data, not text: elements with text leaves, lists of
 * repeated <member>/<item> children, no mixed content, no DTDs. So the whole
 * answer is parsed once into a light read-only tree held in one arena (one
 * free for the whole document) and read with slash-separated paths relative
 * to a node:
 *
 *     const xml_node *root = xml_root(doc);          // <DescribeInstancesResponse>
 *     for (const xml_node *r = xml_find(root, "reservationSet/item"); r; r = xml_next(r))
 *         for (const xml_node *i = xml_find(r, "instancesSet/item"); i; i = xml_next(i))
 *             use(xml_find_text(i, "instanceId"));
 *
 * Element names are matched without their namespace prefix ("s3:Key" is
 * "Key"); namespaces themselves are ignored because AWS never reuses a local
 * name with two meanings inside one answer. Entities and character
 * references are decoded by expat. DOCTYPE declarations are refused: AWS
 * never sends them and refusing them closes the entity-expansion attacks. */
#ifndef ESCHER_AWS_XML_H
#define ESCHER_AWS_XML_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct xml_node xml_node;

/* Read-only view; the fields may be read directly, never written. */
struct xml_node {
    const char *name;         /* local name, prefix stripped */
    const char *text;         /* decoded character data directly inside; "" if none. For
                                 elements with children, whitespace-only text is dropped. */
    size_t text_len;          /* bytes of text (XML cannot carry NUL, so strlen(text) agrees) */
    const xml_node *parent;   /* NULL for the root */
    const xml_node *children; /* first child element or NULL */
    const xml_node *next_sibling;
    size_t nchildren;
    unsigned long line; /* where the start tag was, for messages */
};

typedef struct xml_doc xml_doc;

/* Guards against hostile or runaway documents. Zero fields take the defaults. */
typedef struct xml_limits {
    size_t max_bytes; /* document size; default 64 MiB */
    size_t max_depth; /* element nesting; default 64 */
    size_t max_nodes; /* element count; default 2,000,000 */
} xml_limits;

#define XML_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define XML_DEFAULT_MAX_DEPTH 64
#define XML_DEFAULT_MAX_NODES 2000000

/* Parses len bytes of data into a new document (caller frees with xml_free).
 * limits may be NULL for the defaults. Fails with ERR_PARSE naming line and
 * column for malformed XML (including an empty document or a DOCTYPE), and
 * ERR_LIMIT when a limit is exceeded; *out is then NULL. */
bool xml_parse(const char *data, size_t len, const xml_limits *limits, xml_doc **out, err *e);

/* Frees the document and every node and string in it. NULL is accepted. */
void xml_free(xml_doc *doc);
/* Like xml_free but wipes the memory first: for answers carrying secrets
 * (STS credentials). */
void xml_free_secret(xml_doc *doc);

/* The document element. Never NULL for a parsed document. */
const xml_node *xml_root(const xml_doc *doc);

/* First child of n named `name` (local name); NULL if none or n is NULL. */
const xml_node *xml_child(const xml_node *n, const char *name);

/* Next sibling with the same name as n: iterates repeated elements such as
 * <member> or <item>. NULL at the end or when n is NULL. */
const xml_node *xml_next(const xml_node *n);

/* Follows a path of child names separated by '/' from n, taking the first
 * match at each step ("AssumeRoleResult/Credentials"). An empty path returns
 * n. NULL when a step is missing or n is NULL. */
const xml_node *xml_find(const xml_node *n, const char *path);

/* Text of the element at path from n; NULL when the element is absent (an
 * empty element gives ""). The string is owned by the document. */
const char *xml_find_text(const xml_node *n, const char *path);

/* Number of children of n named `name` (all children when name is NULL). */
size_t xml_count(const xml_node *n, const char *name);

/* Typed reads of the element at path. Absent elements fail with
 * ERR_NOT_FOUND; a value that is not of the type fails with ERR_PARSE quoting
 * it. Booleans are AWS's "true"/"false"; integers are decimal, optionally signed. */
bool xml_find_bool(const xml_node *n, const char *path, bool *out, err *e);
bool xml_find_int64(const xml_node *n, const char *path, int64_t *out, err *e);

/* Copy of the text at path (caller frees) or NULL when absent. */
char *xml_find_strdup(const xml_node *n, const char *path);

/* Escapes s for use as XML character data or an attribute value (&, <, >,
 * ", '); appended to a new string the caller frees. */
char *xml_escape(const char *s);

#endif
