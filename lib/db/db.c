#include "db/db.h"

#include "core/secure.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A password inside a connection string: [off, off+len) is dropped when
 * redacting, [voff, voff+vlen) is the secret itself (scrubbed from messages). */
typedef struct pw_span {
    size_t off, len;
    size_t voff, vlen;
} pw_span;

#define PW_SPANS_MAX 8

static size_t url_password_spans(const char *url, pw_span *out)
{
    size_t n = 0, total = strlen(url);
    const char *start = strstr(url, "://") + 3;
    const char *q = strchr(start, '?');
    const char *auth_end = q ? q : url + total;
    const char *at = NULL;
    for (const char *p = start; p < auth_end; p++)
        if (*p == '@')
            at = p;
    if (at) {
        const char *colon = memchr(start, ':', (size_t)(at - start));
        if (colon)
            out[n++] = (pw_span){(size_t)(colon - url), (size_t)(at - colon),
                                 (size_t)(colon + 1 - url), (size_t)(at - colon - 1)};
    }
    if (!q)
        return n;
    const char *p = q + 1;
    while (*p && n < PW_SPANS_MAX) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : url + total;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq && (size_t)(eq - p) == 8 && memcmp(p, "password", 8) == 0) {
            /* Drop the separator too so "?a=1&password=x&b=2" stays well formed. */
            const char *from = (p == q + 1) ? (amp ? p : q) : p - 1;
            const char *to = (p == q + 1 && amp) ? amp + 1 : end;
            out[n++] = (pw_span){(size_t)(from - url), (size_t)(to - from), (size_t)(eq + 1 - url),
                                 (size_t)(end - eq - 1)};
        }
        p = amp ? amp + 1 : end;
    }
    return n;
}

static size_t keyword_password_spans(const char *s, pw_span *out)
{
    size_t n = 0;
    const char *p = s;
    while (*p && n < PW_SPANS_MAX) {
        while (isspace((unsigned char)*p))
            p++;
        const char *tok = p, *key = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - key);
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=')
            break; /* not keyword form; libpq will reject it, nothing to hide */
        p++;
        while (isspace((unsigned char)*p))
            p++;
        const char *v = p, *vend;
        if (*p == '\'') {
            v = ++p;
            while (*p && *p != '\'') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            vend = p;
            if (*p)
                p++;
        } else {
            while (*p && !isspace((unsigned char)*p))
                p++;
            vend = p;
        }
        if (klen == 8 && memcmp(key, "password", 8) == 0) {
            const char *to = p;
            while (isspace((unsigned char)*to))
                to++;
            out[n++] = (pw_span){(size_t)(tok - s), (size_t)(to - tok), (size_t)(v - s),
                                 (size_t)(vend - v)};
        }
    }
    return n;
}

static size_t password_spans(const char *url, pw_span *out)
{
    if (strstr(url, "://"))
        return url_password_spans(url, out);
    return keyword_password_spans(url, out);
}

void db_redact_url(const char *url, char *out, size_t n)
{
    if (n == 0)
        return;
    if (url == NULL)
        url = "";
    pw_span spans[PW_SPANS_MAX];
    size_t ns = password_spans(url, spans);
    size_t o = 0, i = 0, len = strlen(url);
    while (i < len && o + 1 < n) {
        bool skipped = false;
        for (size_t k = 0; k < ns; k++) {
            if (i == spans[k].off && spans[k].len > 0) {
                i += spans[k].len;
                skipped = true;
                break;
            }
        }
        if (!skipped)
            out[o++] = url[i++];
    }
    out[o] = '\0';
}

/* Replaces every occurrence of secret in msg with "***", in place: shorter
 * secrets are starred byte for byte, so msg never grows. */
static void scrub(char *msg, const char *secret, size_t slen)
{
    if (slen == 0)
        return;
    char *hit = msg;
    while ((hit = strstr(hit, secret)) != NULL) {
        size_t rep = slen < 3 ? slen : 3;
        memset(hit, '*', rep);
        memmove(hit + rep, hit + slen, strlen(hit + slen) + 1);
        hit += rep;
    }
}

static void trim_newlines(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* Notices ("relation ... already exists, skipping") are expected outcomes of
 * idempotent statements, not problems; libpq would print them to stderr and
 * break the JSON-lines log. Warnings and errors still arrive as results. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *db_connect(const char *url, err *e)
{
    if (url == NULL || *url == '\0') {
        err_set(e, ERR_CONFIG, "database URL \"\" is empty");
        return NULL;
    }
    PGconn *c = PQconnectdb(url);
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, ignore_notice, NULL);
        return c;
    }
    char safe[512];
    db_redact_url(url, safe, sizeof safe);
    strbuf m = STRBUF_INIT;
    strbuf_puts(&m, c ? PQerrorMessage(c) : "out of memory");
    char *msg = strbuf_detach(&m);
    trim_newlines(msg);
    /* libpq may quote parts of the string it could not parse, password included. */
    pw_span spans[PW_SPANS_MAX];
    size_t ns = password_spans(url, spans);
    for (size_t k = 0; k < ns; k++) {
        char *secret = xstrndup(url + spans[k].voff, spans[k].vlen);
        scrub(msg, secret, spans[k].vlen);
        secure_free_string(secret);
    }
    err_set(e, ERR_IO, "connecting to database \"%s\": %s", safe, msg);
    secure_free_string(msg);
    PQfinish(c);
    return NULL;
}

static err_code code_for_state(const char *st)
{
    if (st == NULL || strlen(st) != 5)
        return ERR_IO;
    if (strncmp(st, "08", 2) == 0)
        return ERR_IO;
    if (strcmp(st, "57014") == 0)
        return ERR_TIMEOUT;
    if (strcmp(st, "42501") == 0 || strncmp(st, "28", 2) == 0)
        return ERR_AUTH;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return ERR_INVALID;
    return ERR_INTERNAL;
}

bool db_error(err *e, PGconn *conn, const PGresult *res, const char *what)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[ERR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s",
             primary ? primary
             : conn  ? PQerrorMessage(conn)
                     : "no connection");
    trim_newlines(msg);
    if (st)
        return err_set_remote(e, code_for_state(st), 0, st, "", "%s: %s (SQLSTATE %s)", what, msg,
                              st);
    return err_set(e, ERR_IO, "%s: %s", what, msg);
}

/* "statement \"SELECT id FROM users WHERE...\"": enough to find it in the code,
 * never the parameters (they go separately and may be secret). */
static void describe(char *out, size_t n, const char *sql)
{
    const size_t max = 48;
    char words[64];
    size_t o = 0;
    bool space = false, cut = false;
    for (const char *p = sql; *p; p++) {
        if (isspace((unsigned char)*p)) {
            space = o > 0;
            continue;
        }
        if (o + (space ? 2 : 1) > max) {
            cut = true;
            break;
        }
        if (space)
            words[o++] = ' ';
        space = false;
        words[o++] = *p;
    }
    words[o] = '\0';
    if (cut) {
        char *sp = strrchr(words, ' ');
        if (sp)
            *sp = '\0';
    }
    snprintf(out, n, "statement \"%s%s\"", words, cut ? "..." : "");
}

PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params, err *e)
{
    PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return r;
    char what[96];
    describe(what, sizeof what, sql);
    db_error(e, conn, r, what);
    PQclear(r);
    return NULL;
}

bool db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, long *affected,
             err *e)
{
    PGresult *r = db_query(conn, sql, nparams, params, e);
    if (r == NULL)
        return false;
    if (affected) {
        const char *t = PQcmdTuples(r);
        *affected = *t ? strtol(t, NULL, 10) : 0;
    }
    PQclear(r);
    return true;
}

bool db_begin(PGconn *conn, err *e)
{
    return db_exec(conn, "BEGIN", 0, NULL, NULL, e);
}

bool db_commit(PGconn *conn, err *e)
{
    /* COMMIT of a failed transaction answers "ROLLBACK" without an error. */
    PGresult *r = db_query(conn, "COMMIT", 0, NULL, e);
    if (r == NULL)
        return false;
    bool ok = strcmp(PQcmdStatus(r), "COMMIT") == 0;
    PQclear(r);
    if (!ok)
        return err_set(e, ERR_INTERNAL,
                       "statement \"COMMIT\": the transaction had failed and was rolled back");
    return true;
}

bool db_rollback(PGconn *conn, err *e)
{
    if (PQtransactionStatus(conn) == PQTRANS_IDLE)
        return true;
    return db_exec(conn, "ROLLBACK", 0, NULL, NULL, e);
}

static bool is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    if (strlen(s) != 36)
        return false;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return false;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

bool db_set_tenant(PGconn *conn, const char *tenant_id, err *e)
{
    if (tenant_id == NULL || !is_uuid(tenant_id))
        return err_set(e, ERR_INVALID, "tenant id \"%s\" is not a UUID",
                       tenant_id ? tenant_id : "(null)");
    PGTransactionStatusType ts = PQtransactionStatus(conn);
    if (ts != PQTRANS_INTRANS)
        return err_set(e, ERR_INVALID,
                       "setting tenant \"%s\": no transaction is open (the setting is per "
                       "transaction; call db_begin first)",
                       tenant_id);
    const char *p[1] = {tenant_id};
    return db_exec(conn, "SELECT set_config('escher.tenant_id', $1, true)", 1, p, NULL, e);
}

bool db_set_role(PGconn *conn, const char *role, err *e)
{
    if (role == NULL)
        return db_exec(conn, "RESET ROLE", 0, NULL, NULL, e);
    char *ident = PQescapeIdentifier(conn, role, strlen(role));
    if (ident == NULL)
        return err_set(e, ERR_INVALID, "role \"%s\": %s", role, PQerrorMessage(conn));
    strbuf sql = STRBUF_INIT;
    strbuf_printf(&sql, "SET ROLE %s", ident);
    PQfreemem(ident);
    bool ok = db_exec(conn, strbuf_str(&sql), 0, NULL, NULL, e);
    strbuf_free(&sql);
    return ok;
}

bool db_pipeline(PGconn *conn, const db_stmt *stmts, size_t n, PGresult **results, err *e)
{
    for (size_t i = 0; i < n; i++)
        results[i] = NULL;
    if (PQenterPipelineMode(conn) != 1)
        return db_error(e, conn, NULL, "entering pipeline mode");
    bool sent = true;
    for (size_t i = 0; i < n && sent; i++) {
        const db_stmt *s = &stmts[i];
        sent =
            s->prepared
                ? PQsendQueryPrepared(conn, s->prepared, s->nparams, s->params, NULL, NULL, 0) == 1
                : PQsendQueryParams(conn, s->sql, s->nparams, NULL, s->params, NULL, NULL, 0) == 1;
    }
    sent = sent && PQpipelineSync(conn) == 1;
    bool ok = sent;
    if (!sent)
        db_error(e, conn, NULL, "sending a pipeline");
    /* Every result up to the sync must be read before leaving pipeline mode,
     * even after a failure: the server answers each statement (an aborted one
     * with PGRES_PIPELINE_ABORTED). */
    for (size_t i = 0; sent && i < n; i++) {
        PGresult *res = PQgetResult(conn);
        if (res == NULL)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(res);
        } else {
            results[i] = res;
            if (ok && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                char what[96];
                describe(what, sizeof what, stmts[i].sql ? stmts[i].sql : stmts[i].prepared);
                ok = db_error(e, conn, res, what);
            }
        }
        PQclear(PQgetResult(conn)); /* the NULL that ends this statement's results */
    }
    for (PGresult *res; sent && (res = PQgetResult(conn)) != NULL;) {
        bool sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (sync)
            break;
    }
    if (PQexitPipelineMode(conn) != 1 && ok)
        ok = db_error(e, conn, NULL, "leaving pipeline mode");
    return ok;
}
