/* A signing request described as one JSON object, shared by the botocore
 * differential driver and the benchmark so both sign exactly what the
 * Python side describes. Fields (all strings UTF-8):
 *   mode "header"|"presign", method, path, query (string or null),
 *   headers [[name, value], ...], body_hex, payload_hash (string or null),
 *   normalize, double_encode, add_content_sha256, omit_session_token (bools),
 *   expires (int), access_key_id, secret_access_key, session_token (or null),
 *   region, service, when (seconds since the epoch). */
#ifndef ESCHER_TEST_SIGV4_REQJSON_H
#define ESCHER_TEST_SIGV4_REQJSON_H

#include "aws/sigv4.h"

#include <jansson.h>

typedef struct jreq {
    bool presign;
    json_t *root; /* keeps the strings below alive */
    http_headers headers;
    unsigned char *body;
    aws_creds *creds;
    sigv4_request req;
    sigv4_config cfg;
} jreq;

/* Fills *out from a parsed object (the object is referenced, not copied).
 * Fails with ERR_PARSE naming the missing or mistyped field. Free with
 * jreq_free, also after a failure. */
bool jreq_from_json(json_t *obj, jreq *out, err *e);
void jreq_free(jreq *r);

#endif
