/* escher-api's administrative commands: migrate, bootstrap and audit verify.
 *
 * bootstrap and row-level security: the tenant rows are written under RLS, not
 * around it. Inside the one transaction the new tenant's id is drawn first
 * (gen_random_uuid) and set as escher.tenant_id (db_set_tenant) before any
 * insert, so every row satisfies the tenant_isolation policies' WITH CHECK.
 * The command therefore works for any login role with INSERT on tenants,
 * users and api_tokens (a member of escher_api), and needs no superuser or
 * BYPASSRLS. A duplicate tenant name is still caught: UNIQUE constraints are
 * enforced across tenants whatever RLS hides. bootstrap also appends the
 * tenant's first audit row ("tenant.bootstrap") in that same transaction, so
 * the tenant never exists without its record.
 *
 * audit verify and row-level security: the chain is read under RLS too, not as
 * the table owner. One REPEATABLE READ READ ONLY transaction (one snapshot for
 * the whole walk) sets escher.tenant_id with db_set_tenant, checks the tenant
 * exists and then runs audit_verify inside it. Any login role that is a member
 * of escher_api (or escher_worker) can verify; a superuser can too. Because
 * the transaction is scoped to the one tenant, the command can never read
 * another tenant's rows whatever id it is given. */
#include "api_commands.h"
#include "api_email.h"
#include "api_route.h"
#include "api_token.h"

#include "audit/audit.h"

#include "core/err.h"
#include "core/log.h"
#include "core/secure.h"
#include "db/db.h"
#include "db/migrate.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PROG "escher-api"

/* 48 characters of 62: 285 bits, and not 40 long so the log redactor never
 * takes an ExternalId for an AWS secret key. Alphanumerics only, so it can be
 * pasted into a shell or a trust policy without quoting. */
#define EXTERNAL_ID_LEN 48

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static logger *command_logger(const opts *o)
{
    log_level level = LOG_LEVEL_INFO;
    log_level_parse(opts_get_string(o, "log-level"), &level, NULL);
    return log_new(PROG, level, -1);
}

static int fail(FILE *err_stream, const char *command, const err *e)
{
    fprintf(err_stream, "%s: %s: %s\n", PROG, command, e->message);
    return 1;
}

/* ---- migrate ---------------------------------------------------------- */

static const migrate_entry *entry_of(const migrate_entry *list, size_t n, int version)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].version == version)
            return &list[i];
    return NULL;
}

static int migrate_print_status(PGconn *conn, const char *dir, FILE *out, FILE *err_stream)
{
    err e;
    err_clear(&e);
    migrate_entry *list = NULL;
    size_t n = 0;
    if (!migrate_status(conn, dir, &list, &n, &e))
        return fail(err_stream, "migrate", &e);
    size_t bad = 0, pending = 0;
    for (size_t i = 0; i < n; i++) {
        const migrate_entry *m = &list[i];
        fprintf(out, "%-32s %-12s %s\n", m->name, migrate_state_name(m->state),
                m->applied_at[0] ? m->applied_at : "-");
        if (m->state == MIGRATE_EDITED || m->state == MIGRATE_MISSING_FILE)
            bad++;
        else if (m->state == MIGRATE_PENDING)
            pending++;
    }
    fprintf(out, "%zu migrations: %zu applied, %zu pending, %zu edited or missing\n", n,
            n - pending - bad, pending, bad);
    migrate_entries_free(list, n);
    if (bad > 0) {
        fprintf(err_stream,
                "%s: migrate: applied migrations were edited or removed since; the database no "
                "longer matches %s\n",
                PROG, dir);
        return 1;
    }
    return 0;
}

static int migrate_run(PGconn *conn, const char *dir, const logger *log, FILE *out,
                       FILE *err_stream)
{
    err e;
    err_clear(&e);
    migrate_entry *before = NULL, *after = NULL;
    size_t nbefore = 0, nafter = 0;
    if (!migrate_status(conn, dir, &before, &nbefore, &e))
        return fail(err_stream, "migrate", &e);
    int applied = 0;
    bool ok = migrate_apply(conn, dir, &applied, &e);
    err e2;
    err_clear(&e2);
    /* List what this run applied even when a later file failed: those stay applied. */
    if (migrate_status(conn, dir, &after, &nafter, &e2)) {
        for (size_t i = 0; i < nafter; i++) {
            const migrate_entry *b = entry_of(before, nbefore, after[i].version);
            if (after[i].state == MIGRATE_APPLIED && (b == NULL || b->state == MIGRATE_PENDING))
                fprintf(out, "applied %s\n", after[i].name);
        }
    }
    migrate_entries_free(before, nbefore);
    migrate_entries_free(after, nafter);
    if (!ok) {
        log_error(log, "migration failed", LOG_STR("dir", dir), LOG_INT("applied", applied),
                  LOG_STR("error", e.message));
        fprintf(out, "%d migrations applied before the failure\n", applied);
        return fail(err_stream, "migrate", &e);
    }
    log_info(log, "migrations applied", LOG_STR("dir", dir), LOG_INT("applied", applied));
    fprintf(out, "%d migrations applied; the database is up to date with %s\n", applied, dir);
    return 0;
}

static int cmd_migrate(const opts *o, int argc, char *const *argv, FILE *out, FILE *err_stream)
{
    bool status = false;
    if (argc == 2 && (strcmp(argv[1], "--status") == 0 || strcmp(argv[1], "status") == 0))
        status = true;
    else if (argc != 1) {
        fprintf(err_stream, "%s: migrate: unexpected argument '%s'; usage: %s migrate [--status]\n",
                PROG, argv[1], PROG);
        return 2;
    }
    err e;
    err_clear(&e);
    const char *dir = opts_get_string(o, "migrations-dir");
    PGconn *conn = db_connect(opts_get_string(o, "database-url"), &e);
    if (conn == NULL)
        return fail(err_stream, "migrate", &e);
    logger *log = command_logger(o);
    int rc = status ? migrate_print_status(conn, dir, out, err_stream)
                    : migrate_run(conn, dir, log, out, err_stream);
    log_free(log);
    PQfinish(conn);
    return rc;
}

/* ---- bootstrap -------------------------------------------------------- */

static bool tenant_name_valid(const char *name, err *e)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= 200;
    for (const char *p = name; ok && *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            ok = false;
    if (!ok)
        return err_set(e, ERR_INVALID,
                       "tenant name '%s' must be 1 to 200 characters without control characters",
                       name);
    return true;
}

/* The tables bootstrap writes exist: otherwise the migrations were not applied. */
static bool schema_ready(PGconn *conn, err *e)
{
    PGresult *r = db_query(conn,
                           "SELECT to_regclass('public.tenants') IS NOT NULL "
                           "AND to_regclass('public.users') IS NOT NULL "
                           "AND to_regclass('public.api_tokens') IS NOT NULL "
                           "AND to_regclass('public.audit_log') IS NOT NULL",
                           0, NULL, e);
    if (r == NULL)
        return err_prefix(e, "checking the schema");
    bool ready = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!ready)
        return err_set(e, ERR_INVALID,
                       "the database has no tenants, users, api_tokens or audit_log table: "
                       "the migrations are not applied; run '%s migrate' first",
                       PROG);
    return true;
}

/* Returns a single text value of the first row, malloc'd, or NULL with e set. */
static char *query_value(PGconn *conn, const char *sql, int nparams, const char *const *params,
                         err *e)
{
    PGresult *r = db_query(conn, sql, nparams, params, e);
    if (r == NULL)
        return NULL;
    char *v = NULL;
    if (PQntuples(r) == 1)
        v = strdup(PQgetvalue(r, 0, 0));
    else
        err_set(e, ERR_INTERNAL, "expected one row, got %d", PQntuples(r));
    PQclear(r);
    return v;
}

typedef struct bootstrap_ids {
    char *tenant_id, *user_id, *token_id;
} bootstrap_ids;

static void bootstrap_ids_free(bootstrap_ids *ids)
{
    free(ids->tenant_id);
    free(ids->user_id);
    free(ids->token_id);
}

/* The three inserts and the audit row in one transaction; rolled back on any
 * failure. */
static bool bootstrap_insert(PGconn *conn, const char *tenant, const char *email,
                             const char *external_id, const char *token_sha256_hex,
                             bootstrap_ids *ids, err *e)
{
    if (!db_begin(conn, e))
        return false;
    ids->tenant_id = query_value(conn, "SELECT gen_random_uuid()::text", 0, NULL, e);
    bool ok = ids->tenant_id != NULL;
    ok = ok && db_set_tenant(conn, ids->tenant_id, e);
    if (ok) {
        const char *p[] = {ids->tenant_id, tenant, external_id};
        ok = db_exec(conn, "INSERT INTO tenants (id, name, external_id) VALUES ($1, $2, $3)", 3, p,
                     NULL, e);
        if (!ok && strcmp(e->remote_code, "23505") == 0)
            err_set(e, ERR_INVALID, "a tenant named '%s' already exists; nothing was created",
                    tenant);
    }
    if (ok) {
        const char *p[] = {ids->tenant_id, email};
        ids->user_id = query_value(conn,
                                   "INSERT INTO users (tenant_id, email, role) "
                                   "VALUES ($1, $2, 'manager') RETURNING id::text",
                                   2, p, e);
        ok = ids->user_id != NULL;
    }
    if (ok) {
        const char *p[] = {ids->tenant_id, ids->user_id, token_sha256_hex};
        ids->token_id =
            query_value(conn,
                        "INSERT INTO api_tokens (tenant_id, user_id, token_sha256, name) "
                        "VALUES ($1, $2, decode($3, 'hex'), 'bootstrap') RETURNING id::text",
                        3, p, e);
        ok = ids->token_id != NULL;
    }
    if (ok) {
        /* The token itself and the email never go into the log: ids suffice. */
        json_t *detail = json_pack("{s:s, s:s, s:s, s:s}", "name", tenant, "user_id", ids->user_id,
                                   "api_token_id", ids->token_id, "role", "manager");
        ok = detail != NULL || err_set(e, ERR_INTERNAL, "building the audit detail failed");
        ok = ok && audit_append(conn, ids->tenant_id, "cli:" PROG " bootstrap", "tenant.bootstrap",
                                ids->tenant_id, detail, NULL, e);
        json_decref(detail);
    }
    ok = ok && db_commit(conn, e);
    if (!ok)
        db_rollback(conn, NULL);
    return ok;
}

static int bootstrap_usage(FILE *err_stream, const char *why)
{
    fprintf(err_stream, "%s: bootstrap: %s; usage: %s bootstrap --tenant NAME --email EMAIL\n",
            PROG, why, PROG);
    return 2;
}

static int cmd_bootstrap(const opts *o, int argc, char *const *argv, FILE *out, FILE *err_stream)
{
    const char *tenant = NULL, *email = NULL;
    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        const char *a = argv[i], *value = NULL;
        if (strncmp(a, "--tenant", 8) == 0 && (a[8] == '\0' || a[8] == '='))
            slot = &tenant, value = a[8] ? a + 9 : NULL;
        else if (strncmp(a, "--email", 7) == 0 && (a[7] == '\0' || a[7] == '='))
            slot = &email, value = a[7] ? a + 8 : NULL;
        else {
            char why[256];
            snprintf(why, sizeof why, "unexpected argument '%.100s'", a);
            return bootstrap_usage(err_stream, why);
        }
        if (value == NULL) {
            if (i + 1 >= argc)
                return bootstrap_usage(err_stream, "an option needs a value");
            value = argv[++i];
        }
        *slot = value;
    }
    if (tenant == NULL || email == NULL)
        return bootstrap_usage(err_stream, "--tenant and --email are required");

    err e;
    err_clear(&e);
    if (!tenant_name_valid(tenant, &e) || !api_email_valid(email, &e))
        return fail(err_stream, "bootstrap", &e);

    PGconn *conn = db_connect(opts_get_string(o, "database-url"), &e);
    if (conn == NULL)
        return fail(err_stream, "bootstrap", &e);
    if (!schema_ready(conn, &e)) {
        PQfinish(conn);
        return fail(err_stream, "bootstrap", &e);
    }

    char external_id[EXTERNAL_ID_LEN + 1];
    char token[API_TOKEN_LEN + 1];
    char digest_hex[API_TOKEN_HASH_HEX];
    bootstrap_ids ids = {0};
    int rc = 1;
    if (!secure_random_string(external_id, EXTERNAL_ID_LEN, alnum, &e) ||
        !api_token_new(token, digest_hex, &e))
        goto done;

    if (!bootstrap_insert(conn, tenant, email, external_id, digest_hex, &ids, &e))
        goto done;

    logger *log = command_logger(o);
    log_info(log, "tenant bootstrapped", LOG_STR("tenant_id", ids.tenant_id),
             LOG_STR("user_id", ids.user_id), LOG_STR("api_token_id", ids.token_id),
             LOG_STR("role", "manager"));
    log_free(log);
    fprintf(out,
            "tenant_id: %s\ntenant: %s\nexternal_id: %s\nuser_id: %s\nemail: %s\n"
            "role: manager\napi_token_id: %s\n",
            ids.tenant_id, tenant, external_id, ids.user_id, email, ids.token_id);
    fprintf(out, "api_token: %s\n", token);
    fflush(out);
    fprintf(err_stream,
            "%s: bootstrap: the api_token above is shown only this once and only its "
            "SHA-256 is stored: keep it now.\n",
            PROG);
    rc = 0;
done:
    if (rc != 0)
        fail(err_stream, "bootstrap", &e);
    secure_wipe(token, sizeof token);
    bootstrap_ids_free(&ids);
    PQfinish(conn);
    return rc;
}

/* ---- audit verify ----------------------------------------------------- */

#define AUDIT_BROKEN 3 /* distinct from 1 so scripts tell a broken chain from an error */

static int audit_usage(FILE *err_stream, const char *why)
{
    fprintf(err_stream, "%s: audit: %s; usage: %s audit verify --tenant TENANT_ID\n", PROG, why,
            PROG);
    return 2;
}

/* Copies a canonical 8-4-4-4-12 uuid into out in lower case, checked before
 * connecting so a typo costs no round trip. */
static bool tenant_id_parse(const char *in, char out[37], err *e)
{
    bool ok = strlen(in) == 36;
    for (size_t i = 0; ok && i < 36; i++) {
        unsigned char c = (unsigned char)in[i];
        ok = (i == 8 || i == 13 || i == 18 || i == 23) ? c == '-' : isxdigit(c) != 0;
        out[i] = (char)tolower(c);
    }
    if (!ok)
        return err_set(e, ERR_INVALID,
                       "tenant id '%.64s' is not a uuid (want 8-4-4-4-12 hex digits, as "
                       "bootstrap prints)",
                       in);
    out[36] = '\0';
    return true;
}

/* Runs the check in one read-only snapshot scoped to the tenant (see the
 * header comment on row-level security). */
static bool audit_verify_tenant(PGconn *conn, const char *tenant_id, audit_report *rep, err *e)
{
    PGresult *r = db_query(conn, "SELECT to_regclass('public.audit_log') IS NOT NULL", 0, NULL, e);
    if (r == NULL)
        return err_prefix(e, "checking the schema");
    bool ready = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!ready)
        return err_set(e, ERR_INVALID,
                       "the database has no audit_log table: the migrations are not applied; "
                       "run '%s migrate' first",
                       PROG);
    if (!db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, e))
        return false;
    const char *p[] = {tenant_id};
    bool ok = db_set_tenant(conn, tenant_id, e);
    if (ok) {
        /* Without this a mistyped id would verify as an intact empty chain. */
        r = db_query(conn, "SELECT 1 FROM tenants WHERE id = $1", 1, p, e);
        ok = r != NULL;
        if (ok && PQntuples(r) != 1)
            ok = err_set(e, ERR_NOT_FOUND, "no tenant with id '%s'", tenant_id);
        PQclear(r);
    }
    ok = ok && audit_verify(conn, tenant_id, rep, e);
    ok = ok && db_commit(conn, e);
    if (!ok)
        db_rollback(conn, NULL);
    return ok;
}

static int cmd_audit(const opts *o, int argc, char *const *argv, FILE *out, FILE *err_stream)
{
    if (argc < 2 || strcmp(argv[1], "verify") != 0)
        return audit_usage(err_stream, argc < 2 ? "a subcommand is required"
                                                : "the only subcommand is 'verify'");
    const char *tenant = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--tenant") == 0 && i + 1 < argc)
            tenant = argv[++i];
        else if (strncmp(a, "--tenant=", 9) == 0)
            tenant = a + 9;
        else if (strcmp(a, "--tenant") == 0)
            return audit_usage(err_stream, "--tenant needs a value");
        else {
            char why[256];
            snprintf(why, sizeof why, "unexpected argument '%.100s'", a);
            return audit_usage(err_stream, why);
        }
    }
    if (tenant == NULL)
        return audit_usage(err_stream, "--tenant is required");

    err e;
    err_clear(&e);
    char tenant_id[37];
    if (!tenant_id_parse(tenant, tenant_id, &e))
        return fail(err_stream, "audit verify", &e);
    PGconn *conn = db_connect(opts_get_string(o, "database-url"), &e);
    if (conn == NULL)
        return fail(err_stream, "audit verify", &e);
    audit_report rep;
    bool ok = audit_verify_tenant(conn, tenant_id, &rep, &e);
    PQfinish(conn);
    if (!ok)
        return fail(err_stream, "audit verify", &e);

    logger *log = command_logger(o);
    if (rep.first_broken_seq != 0) {
        log_error(log, "audit chain broken", LOG_STR("tenant_id", tenant_id),
                  LOG_INT("seq", rep.first_broken_seq), LOG_STR("reason", rep.reason));
        log_free(log);
        /* audit_verify's reason may already start "seq N: "; say the seq once. */
        char prefix[32];
        snprintf(prefix, sizeof prefix, "seq %" PRId64 ": ", rep.first_broken_seq);
        const char *reason = rep.reason;
        if (strncmp(reason, prefix, strlen(prefix)) == 0)
            reason += strlen(prefix);
        fprintf(out, "audit chain of tenant %s: broken at seq %" PRId64 ": %s\n", tenant_id,
                rep.first_broken_seq, reason);
        return AUDIT_BROKEN;
    }
    log_info(log, "audit chain intact", LOG_STR("tenant_id", tenant_id),
             LOG_INT("rows", rep.rows_checked), LOG_INT("last_seq", rep.last_seq));
    log_free(log);
    fprintf(out, "audit chain of tenant %s: intact, %" PRId64 " rows (last seq %" PRId64 ")\n",
            tenant_id, rep.rows_checked, rep.last_seq);
    return 0;
}

/* ---- routes ----------------------------------------------------------- */

static int cmd_routes(const opts *o, int argc, char *const *argv, FILE *out, FILE *err_stream)
{
    (void)o;
    if (argc > 1) {
        fprintf(err_stream, "%s: routes: unexpected argument '%.100s'; usage: %s routes\n", PROG,
                argv[1], PROG);
        return 2;
    }
    api_routes_print(out);
    return 0;
}

/* ---- the table -------------------------------------------------------- */

static const api_command commands[] = {
    {.name = "migrate",
     .usage = "[--status]",
     .help = "Applies the pending database migrations of --migrations-dir, each in its own "
             "transaction, and prints one line per file applied. With --status (or 'status'), "
             "changes nothing and lists every migration as applied, pending, edited or "
             "missing-file; exits 1 if any is edited or missing. Needs a role that may create "
             "roles and tables (a superuser).",
     .run = cmd_migrate},
    {.name = "bootstrap",
     .usage = "--tenant NAME --email EMAIL",
     .help = "Creates a tenant (with a generated sts:ExternalId), its first user with role "
             "manager and an API token for that user, in one transaction. The token is printed "
             "once on stdout and only its SHA-256 is stored. Fails if the tenant exists or the "
             "migrations are not applied.",
     .run = cmd_bootstrap},
    {.name = "audit",
     .usage = "verify --tenant TENANT_ID",
     .help = "Recomputes the tenant's hash-chained audit log in one read-only snapshot, under "
             "row-level security (escher.tenant_id set to the tenant), and prints whether it is "
             "intact. Exits 0 when intact, 3 when broken (naming the first bad seq and why), 1 "
             "on an error such as a malformed or unknown tenant id, an unreachable database or "
             "missing migrations.",
     .run = cmd_audit},
    {.name = "routes",
     .usage = "",
     .help = "Prints the HTTP route table, one route a line: method, path pattern, the roles "
             "it admits ('none' for routes that need no token) and a summary, tab-separated. "
             "docs/api/openapi.yaml must describe exactly these routes (a test checks).",
     .run = cmd_routes},
};

const api_command *api_commands(size_t *count)
{
    *count = sizeof commands / sizeof commands[0];
    return commands;
}

const api_command *api_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Wraps text at 80 columns after an indent. */
static void wrap(FILE *out, const char *indent, const char *text)
{
    size_t col = 0, ind = strlen(indent);
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w == 0)
            break;
        if (col == 0) {
            fputs(indent, out);
            col = ind;
        } else if (col + 1 + w > 80) {
            fputc('\n', out);
            fputs(indent, out);
            col = ind;
        } else {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += w;
        p += w;
    }
    if (col)
        fputc('\n', out);
}

void api_commands_print_help(FILE *out)
{
    fputs("\nCommands:\n", out);
    wrap(out, "  ",
         "Options go before the command. Without a command, " PROG " would serve the HTTP "
         "API, which is not built yet.");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(out, "  %s %s\n", commands[i].name, commands[i].usage);
        wrap(out, "      ", commands[i].help);
    }
}

int api_commands_run(const opts *o, int nargs, char *const *args, FILE *out, FILE *err_stream)
{
    const api_command *c = api_command_find(args[0]);
    if (c == NULL) {
        char *shown = log_redact_value(NULL, args[0]);
        fprintf(err_stream, "%s: unknown command '%s'; commands:", PROG, shown);
        free(shown);
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            fprintf(err_stream, " %s", commands[i].name);
        fprintf(err_stream, " (see '%s --help')\n", PROG);
        return 2;
    }
    return c->run(o, nargs, args, out, err_stream);
}
