/* The commands for the server's administrative areas: whoami, users,
 * tokens, accounts (with organization discovery), onboarding and
 * notification channels (schedules, runs and the audit trail are in
 * client_cmd_runs.c). Each is one or two requests to escher-api built from
 * the flags the table (client_cmd.c) parsed; the answers are printed in the
 * --output format. The flag helpers both files use are here too.
 *
 * Secrets (a channel's webhook URL, HMAC key or SMTP password) come from a
 * file or stdin (--secret-file F, "-" for stdin, read without echo on a
 * terminal), never from an argument that would sit in shell history; they
 * go only into the one request body that needs them and are never printed.
 * This file wipes its copies after the request, and client_api.c wipes the
 * serialized request body. A created API token is printed
 * once, to stdout only. */
#include "client_cmd_internal.h"

#include "core/secure.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

/* Longest secret file read (a secret is one line; the server takes 512). */
#define SECRET_FILE_MAX 4096

/* ---- flag helpers (client_cmd_internal.h)
 * ------------------------------------------------------------ */

/* A whole number flag in [min, max] into *out (unchanged when absent);
 * false after a usage error naming the value. */
bool cmd_number_flag(const cmd_ctx *c, const char *name, long min, long max, long *out, int *rc)
{
    const char *v = cmd_flag(c, name);
    if (!v)
        return true;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!v[0] || *end || errno || n < min || n > max) {
        *rc =
            cmd_usage(c, "--%s wants a whole number from %ld to %ld, not '%s'", name, min, max, v);
        return false;
    }
    *out = n;
    return true;
}

/* The flag's value when it is one of the words (a "|"-separated list);
 * NULL when absent; a usage error naming the value otherwise. */
bool cmd_word_flag(const cmd_ctx *c, const char *name, const char *words, const char **out, int *rc)
{
    const char *v = cmd_flag(c, name);
    *out = NULL;
    if (!v)
        return true;
    size_t n = strlen(v);
    for (const char *p = words; *p;) {
        size_t len = strcspn(p, "|");
        if (len == n && n > 0 && strncmp(p, v, n) == 0) {
            *out = v;
            return true;
        }
        p += len;
        if (*p)
            p++;
    }
    char *list = xstrdup(words);
    for (char *q = list; *q; q++)
        if (*q == '|')
            *q = '/';
    *rc = cmd_usage(c, "--%s wants one of %s, not '%s'", name, list, v);
    free(list);
    return false;
}

/* Two switches that contradict each other: a usage error naming both. */
bool cmd_exclusive(const cmd_ctx *c, const char *a, const char *b, int *rc)
{
    if (cmd_flag(c, a) && cmd_flag(c, b)) {
        *rc = cmd_usage(c, "--%s and --%s contradict each other: give one", a, b);
        return false;
    }
    return true;
}

/* Sets body[key] to the flag's string value when given. */
void cmd_set_string(json_t *body, const cmd_ctx *c, const char *flag, const char *key)
{
    const char *v = cmd_flag(c, flag);
    if (v)
        json_object_set_new(body, key, json_string(v));
}

/* Prints "Deleted ..."-style confirmations for table output only: scripts
 * asking for json or csv get nothing on stdout from a 204. */
void cmd_say(const cmd_ctx *c, const char *fmt, ...)
{
    if (c->out != CLIENT_OUT_TABLE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* Wipes a string member of a JSON object in place (jansson keeps its own
 * copy of what it was given). */
static void wipe_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        secure_wipe((char *)json_string_value(v), json_string_length(v));
}

/* ---- secrets from a file or stdin --------------------------------------------- */

/* The terminal's settings while a secret is read without echo, restored
 * by a signal that ends the program (Ctrl-C) before it re-raises. */
static struct termios saved_tty;

static void restore_tty(int sig)
{
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads one secret from --secret-file (a path, or "-" for stdin, without
 * echo when stdin is a terminal; prompt names what is asked for). *out is
 * NULL when the flag is absent, else the secret (caller frees with
 * secure_free_string). Trailing CR/LF are dropped; an empty secret, one
 * with control characters or one longer than SECRET_FILE_MAX is a usage
 * error naming the file, never quoting its content. */
static bool read_secret(const cmd_ctx *c, const char *prompt, char **out, int *rc)
{
    const char *path = cmd_flag(c, "secret-file");
    *out = NULL;
    if (!path)
        return true;
    bool std = strcmp(path, "-") == 0;
    const char *shown = std ? "stdin" : path;
    FILE *f = std ? stdin : fopen(path, "r");
    if (!f) {
        *rc = cmd_usage(c, "--secret-file '%s' cannot be read: %s", path, strerror(errno));
        return false;
    }
    char *buf = xmalloc(SECRET_FILE_MAX + 2);
    size_t n = 0;
    bool tty = std && isatty(fileno(stdin));
    struct termios old;
    if (tty) {
        /* Echo off before the prompt: what is typed after it is never shown. */
        void (*old_int)(int) = SIG_DFL, (*old_term)(int) = SIG_DFL;
        if (tcgetattr(fileno(stdin), &old) == 0) {
            struct termios quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            saved_tty = old;
            old_int = signal(SIGINT, restore_tty);
            old_term = signal(SIGTERM, restore_tty);
            tcsetattr(fileno(stdin), TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
        fprintf(stderr, "%s (not echoed): ", prompt);
        fflush(stderr);
        if (fgets(buf, SECRET_FILE_MAX + 2, stdin))
            n = strlen(buf);
        if (tty) {
            tcsetattr(fileno(stdin), TCSANOW, &old);
            signal(SIGINT, old_int);
            signal(SIGTERM, old_term);
            fputc('\n', stderr);
        }
    } else {
        n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
    }
    bool read_error = ferror(f) != 0;
    if (!std)
        fclose(f);
    buf[n] = '\0';
    const char *why = NULL;
    if (read_error)
        why = "cannot be read";
    else if (n > SECRET_FILE_MAX)
        why = "is longer than 4096 bytes: want the secret alone, on one line";
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            bad = i;
    if (!why && n == 0)
        why = "holds no secret (it is empty)";
    if (why || bad < n) {
        if (why)
            *rc = cmd_usage(c, "--secret-file '%s' %s", shown, why);
        else
            *rc = cmd_usage(c,
                            "--secret-file '%s' has a control character at byte %zu: want the "
                            "secret alone, on one line",
                            shown, bad + 1);
        secure_wipe(buf, SECRET_FILE_MAX + 2);
        free(buf);
        return false;
    }
    *out = xstrdup(buf);
    secure_wipe(buf, SECRET_FILE_MAX + 2);
    free(buf);
    return true;
}

/* ---- whoami, users, tokens ---------------------------------------------------- */

int cmd_whoami(cmd_ctx *c)
{
    return cmd_call_print(c, "GET", "/v1/me", NULL);
}

static const char *const user_cols[] = {"id", "email", "role", "created_at", NULL};
static const char roles[] = "manager|executor|viewer";

int cmd_users_list(cmd_ctx *c)
{
    return cmd_list(c, "/v1/users", user_cols);
}

int cmd_users_show(cmd_ctx *c)
{
    return cmd_by_id(c, "GET", "users", "", NULL);
}

int cmd_users_create(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_USAGE;
    const char *email = cmd_flag(c, "email"), *role;
    if (!email || !cmd_flag(c, "role"))
        return cmd_usage(c, "--email E and --role %s are both required", roles);
    if (!cmd_word_flag(c, "role", roles, &role, &rc))
        return rc;
    json_t *body = json_pack("{s:s, s:s}", "email", email, "role", role);
    rc = cmd_call_print(c, "POST", "/v1/users", body);
    json_decref(body);
    return rc;
}

/* The user's uuid for --user: a uuid as given, or an e-mail looked up in the
 * tenant's users (managers only). NULL after printing why. */
static char *user_ref(cmd_ctx *c, client_api *a, const char *ref, int *rc)
{
    if (!strchr(ref, '@')) {
        if (cmd_id_ok(ref))
            return xstrdup(ref);
        *rc = cmd_usage(c, "--user wants a user's uuid or e-mail, not '%s'", ref);
        return NULL;
    }
    json_t *users = NULL;
    if (!cmd_fetch_all(c, a, "/v1/users", &users)) {
        *rc = CLIENT_EXIT_FAILED;
        return NULL;
    }
    char *id = NULL;
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        const char *email = json_string_value(json_object_get(u, "email"));
        if (!id && email && strcasecmp(email, ref) == 0)
            id = xstrdup(json_string_value(json_object_get(u, "id")));
    }
    json_decref(users);
    if (!id) {
        fprintf(stderr, "escher: %s: no user of this tenant has the e-mail '%s'\n", c->name, ref);
        *rc = CLIENT_EXIT_FAILED;
    }
    return id;
}

static const char *const token_cols[] = {"id",           "user_id",    "name", "created_at",
                                         "last_used_at", "revoked_at", NULL};

int cmd_tokens_list(cmd_ctx *c)
{
    const char *user = cmd_flag(c, "user");
    if (!user)
        return cmd_list(c, "/v1/tokens", token_cols);
    err e;
    err_clear(&e);
    client_api *a = cmd_connect(c, &e);
    if (!a)
        return cmd_failed(&e);
    int rc = CLIENT_EXIT_OK;
    char *id = user_ref(c, a, user, &rc);
    json_t *items = NULL;
    if (id) {
        char *path = xstrdup("/v1/tokens");
        cmd_query_add(&path, "user", id);
        if (cmd_fetch_all(c, a, path, &items))
            client_out_items(stdout, c->out, items, token_cols);
        else
            rc = CLIENT_EXIT_FAILED;
        free(path);
    }
    json_decref(items);
    free(id);
    client_api_free(a);
    return rc;
}

/* POST /v1/tokens: the answer's token is the only copy anywhere. It goes to
 * stdout, once; stderr only says to keep it. */
int cmd_tokens_create(cmd_ctx *c)
{
    err e;
    err_clear(&e);
    client_api *a = cmd_connect(c, &e);
    if (!a)
        return cmd_failed(&e);
    int rc = CLIENT_EXIT_OK;
    json_t *body = json_object();
    cmd_set_string(body, c, "name", "name");
    if (cmd_flag(c, "user")) {
        char *id = user_ref(c, a, cmd_flag(c, "user"), &rc);
        if (id)
            json_object_set_new(body, "user_id", json_string(id));
        free(id);
    }
    json_t *tok = NULL;
    if (rc == CLIENT_EXIT_OK) {
        if (client_api_call(a, "POST", "/v1/tokens", body, &tok, &e)) {
            client_out_object(stdout, c->out, tok);
            fflush(stdout);
            fprintf(stderr, "escher: keep the token now: it is shown only this once (the server "
                            "keeps its SHA-256)\n");
            wipe_member(tok, "token");
        } else {
            rc = cmd_failed(&e);
        }
    }
    json_decref(tok);
    json_decref(body);
    client_api_free(a);
    return rc;
}

int cmd_tokens_revoke(cmd_ctx *c)
{
    return cmd_delete(c, "tokens", "Revoked token", "");
}

/* ---- accounts ----------------------------------------------------------------- */

static const char *const account_cols[] = {"id",          "account_id", "name",       "status",
                                           "verified_at", "regions",    "last_error", NULL};

int cmd_accounts_list(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_OK;
    const char *status;
    if (!cmd_word_flag(c, "status", "pending|verified|failed|disabled", &status, &rc))
        return rc;
    char *path = xstrdup("/v1/accounts");
    if (status)
        cmd_query_add(&path, "status", status);
    rc = cmd_list(c, path, account_cols);
    free(path);
    return rc;
}

int cmd_accounts_show(cmd_ctx *c)
{
    return cmd_by_id(c, "GET", "accounts", "", NULL);
}

int cmd_accounts_verify(cmd_ctx *c)
{
    return cmd_by_id(c, "POST", "accounts", "/verify", NULL);
}

/* The fields accounts add and update share: name, roles, regions. */
static bool account_fields(const cmd_ctx *c, json_t *body, int *rc)
{
    cmd_set_string(body, c, "name", "name");
    cmd_set_string(body, c, "role-arn", "role_arn");
    cmd_set_string(body, c, "readonly-role-arn", "readonly_role_arn");
    if (cmd_flag(c, "regions")) {
        json_t *regions = cmd_list_flag(c, "regions", rc);
        if (!regions)
            return false;
        json_object_set_new(body, "regions", regions);
    }
    return true;
}

/* Without --regions an account records none, and a target's "regions":
 * "all" then finds nothing in it: said on stderr, since it is allowed. */
static void note_no_regions(const cmd_ctx *c)
{
    if (!cmd_flag(c, "regions"))
        fprintf(stderr,
                "escher: note: no --regions given: a target's \"regions\": \"all\" "
                "finds nothing in %s until regions are set ('escher accounts update ID "
                "--regions R1,R2')\n",
                strcmp(c->name, "accounts discover") == 0 ? "the accounts discovered"
                                                          : "this account");
}

int cmd_accounts_add(cmd_ctx *c)
{
    if (!cmd_flag(c, "role-arn"))
        return cmd_usage(c, "--role-arn ARN is required (the operator role Escher assumes, e.g. "
                            "arn:aws:iam::123456789012:role/EscherOperator)");
    int rc = CLIENT_EXIT_USAGE;
    json_t *body = json_object();
    if (account_fields(c, body, &rc)) {
        cmd_set_string(body, c, "account-id", "account_id");
        if (cmd_flag(c, "no-verify"))
            json_object_set_new(body, "verify", json_false());
        rc = cmd_call_print(c, "POST", "/v1/accounts", body);
        if (rc == CLIENT_EXIT_OK)
            note_no_regions(c);
    }
    json_decref(body);
    return rc;
}

int cmd_accounts_update(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_USAGE;
    if (!cmd_exclusive(c, "readonly-role-arn", "no-readonly-role", &rc) ||
        !cmd_exclusive(c, "disable", "enable", &rc))
        return rc;
    json_t *body = json_object();
    if (account_fields(c, body, &rc)) {
        if (cmd_flag(c, "no-readonly-role"))
            json_object_set_new(body, "readonly_role_arn", json_null());
        if (cmd_flag(c, "disable"))
            json_object_set_new(body, "status", json_string("disabled"));
        if (cmd_flag(c, "enable"))
            json_object_set_new(body, "status", json_string("pending"));
        if (json_object_size(body) == 0)
            rc = cmd_usage(c, "nothing to change: give --name, --role-arn, --readonly-role-arn, "
                              "--no-readonly-role, --regions, --disable or --enable");
        else
            rc = cmd_by_id(c, "PATCH", "accounts", "", body);
    }
    json_decref(body);
    return rc;
}

int cmd_accounts_delete(cmd_ctx *c)
{
    return cmd_delete(c, "accounts", "Deleted account", " (its roles stay in AWS)");
}

/* Whether list (an array of ids, or of objects with "account_id") has id. */
static bool has_account(const json_t *list, const json_t *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_equal(json_is_object(v) ? json_object_get(v, "account_id") : v, id))
            return true;
    }
    return false;
}

/* One row per member of a finished org.discover job's result: verified,
 * skipped, registered (not verified yet), and one per failed role. */
static json_t *discovery_rows(const json_t *result)
{
    json_t *rows = json_array();
    const json_t *failed = json_object_get(result, "failed");
    const json_t *skipped = json_object_get(result, "skipped");
    size_t i, k;
    json_t *v, *w;
    json_array_foreach(json_object_get(result, "registered"), i, v)
    {
        const char *id = json_string_value(v);
        if (has_account(json_object_get(result, "verified"), v)) {
            json_array_append_new(rows,
                                  json_pack("{s:s, s:s}", "account_id", id, "outcome", "verified"));
            continue;
        }
        json_array_foreach(failed, k, w)
        {
            if (json_equal(json_object_get(w, "account_id"), v))
                json_array_append_new(rows, json_pack("{s:s, s:s, s:O, s:O}", "account_id", id,
                                                      "outcome", "failed", "role_arn",
                                                      json_object_get(w, "role_arn"), "error",
                                                      json_object_get(w, "error")));
        }
        if (!has_account(failed, v) && !has_account(skipped, v))
            json_array_append_new(
                rows, json_pack("{s:s, s:s}", "account_id", id, "outcome", "registered"));
    }
    json_array_foreach(skipped, i, w)
    {
        char *why = xasprintf("skipped (%s)", json_string_value(json_object_get(w, "status")));
        json_array_append_new(rows, json_pack("{s:O, s:s}", "account_id",
                                              json_object_get(w, "account_id"), "outcome", why));
        free(why);
    }
    return rows;
}

/* POST /v1/discovery; with --wait, follows the job and lists the members
 * registered, verified, failed (with AWS's error) and skipped. */
int cmd_accounts_discover(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_USAGE;
    const char *mgmt = cmd_flag(c, "management-role-arn");
    if (!mgmt)
        return cmd_usage(c, "--management-role-arn ARN is required (a role in the "
                            "organization's management account that may list its accounts)");
    if (!cmd_exclusive(c, "readonly-role-name", "no-readonly-role", &rc))
        return rc;
    json_t *body = json_pack("{s:s}", "management_role_arn", mgmt);
    cmd_set_string(body, c, "role-name", "role_name");
    cmd_set_string(body, c, "readonly-role-name", "readonly_role_name");
    if (cmd_flag(c, "no-readonly-role"))
        json_object_set_new(body, "readonly_role_name", json_null());
    if (cmd_flag(c, "regions")) {
        json_t *regions = cmd_list_flag(c, "regions", &rc);
        if (!regions) {
            json_decref(body);
            return rc;
        }
        json_object_set_new(body, "regions", regions);
    }
    if (!cmd_flag(c, "wait")) {
        rc = cmd_call_print(c, "POST", "/v1/discovery", body);
        json_decref(body);
        if (rc == CLIENT_EXIT_OK)
            note_no_regions(c);
        return rc;
    }
    note_no_regions(c);
    err e;
    err_clear(&e);
    client_api *a = cmd_connect(c, &e);
    json_t *ref = NULL, *job = NULL;
    if (!a || !client_api_call(a, "POST", "/v1/discovery", body, &ref, &e)) {
        rc = cmd_failed(&e);
    } else {
        const char *id = json_string_value(json_object_get(ref, "job"));
        if (!id || !cmd_wait_job(c, a, id, false, &job)) {
            rc = CLIENT_EXIT_FAILED;
        } else {
            json_t *result = json_object_get(job, "result");
            const char *state = json_string_value(json_object_get(job, "state"));
            if (c->out == CLIENT_OUT_JSON) {
                client_out_object(stdout, c->out, json_is_object(result) ? result : job);
            } else if (json_is_object(result)) {
                static const char *const cols[] = {"account_id", "outcome", "role_arn", "error",
                                                   NULL};
                json_t *rows = discovery_rows(result);
                client_out_items(stdout, c->out, rows, cols);
                json_decref(rows);
            }
            size_t nfailed = json_array_size(json_object_get(result, "failed"));
            size_t nverified = json_array_size(json_object_get(result, "verified"));
            if (!state || strcmp(state, "succeeded") != 0) {
                const char *why = json_string_value(json_object_get(job, "last_error"));
                fprintf(stderr, "escher: discovery job %s %s: %s\n", id, state ? state : "?",
                        why ? why : "no error recorded");
                rc = CLIENT_EXIT_FAILED;
            } else if (nfailed > 0) {
                fprintf(stderr,
                        "escher: discovery job %s: %zu member(s) verified, %zu role(s) failed "
                        "verification\n",
                        id, nverified, nfailed);
                rc = nverified > 0 ? CLIENT_EXIT_PARTIAL : CLIENT_EXIT_FAILED;
            } else {
                rc = CLIENT_EXIT_OK;
            }
        }
    }
    json_decref(job);
    json_decref(ref);
    json_decref(body);
    client_api_free(a);
    return rc;
}

/* ---- onboarding --------------------------------------------------------------- */

static void add_row(json_t *rows, const char *section, const char *name, const json_t *value)
{
    json_array_append_new(rows, json_pack("{s:s, s:s, s:O}", "section", section, "name", name,
                                          "value", value ? value : json_null()));
}

static void add_stack_rows(json_t *rows, const char *section, const json_t *s)
{
    static const char *const plain[] = {"template", "template_url", "stack_name", NULL};
    for (size_t i = 0; plain[i]; i++)
        if (json_object_get(s, plain[i]) || strcmp(plain[i], "template_url") != 0)
            add_row(rows, section, plain[i], json_object_get(s, plain[i]));
    strbuf caps = STRBUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s, "capabilities"), i, v)
        strbuf_printf(&caps, "%s%s", i ? " " : "", json_string_value(v));
    json_t *capv = json_string(strbuf_str(&caps));
    add_row(rows, section, "capabilities", capv);
    json_decref(capv);
    strbuf_free(&caps);
    json_array_foreach(json_object_get(s, "parameters"), i, v)
    {
        char *name =
            xasprintf("parameter %s", json_string_value(json_object_get(v, "ParameterKey")));
        add_row(rows, section, name, json_object_get(v, "ParameterValue"));
        free(name);
    }
    json_array_foreach(json_object_get(s, "parameters_to_provide"), i, v)
    {
        char *name = xasprintf("parameter %s", json_string_value(v));
        json_t *want = json_string("(you provide)");
        add_row(rows, section, name, want);
        json_decref(want);
        free(name);
    }
    if (json_object_get(s, "quick_create_url"))
        add_row(rows, section, "quick_create_url", json_object_get(s, "quick_create_url"));
}

/* GET /v1/onboarding as rows (section, name, value) for table and csv: the
 * tenant's ExternalId and principal, then each template's parameters. */
int cmd_onboarding_show(cmd_ctx *c)
{
    if (c->out == CLIENT_OUT_JSON)
        return cmd_call_print(c, "GET", "/v1/onboarding", NULL);
    json_t *j = NULL;
    if (!cmd_call(c, "GET", "/v1/onboarding", NULL, &j))
        return CLIENT_EXIT_FAILED;
    json_t *rows = json_array();
    add_row(rows, "tenant", "external_id", json_object_get(j, "external_id"));
    add_row(rows, "tenant", "escher_principal_arn", json_object_get(j, "escher_principal_arn"));
    add_stack_rows(rows, "account", json_object_get(j, "cloudformation"));
    add_stack_rows(rows, "organization", json_object_get(j, "stackset"));
    static const char *const cols[] = {"section", "name", "value", NULL};
    client_out_items(stdout, c->out, rows, cols);
    json_decref(rows);
    json_decref(j);
    return CLIENT_EXIT_OK;
}

/* ---- notification channels ---------------------------------------------------- */

static const char *const channel_cols[] = {"id",     "name",       "kind",   "enabled",
                                           "events", "secret_set", "config", NULL};

int cmd_channels_list(cmd_ctx *c)
{
    return cmd_list(c, "/v1/channels", channel_cols);
}

int cmd_channels_show(cmd_ctx *c)
{
    return cmd_by_id(c, "GET", "channels", "", NULL);
}

/* The secret field of a kind, and what the prompt calls it. */
static const char *secret_field(const char *kind, const char **prompt)
{
    if (strcmp(kind, "slack") == 0) {
        *prompt = "Slack incoming-webhook URL";
        return "url";
    }
    if (strcmp(kind, "webhook") == 0) {
        *prompt = "webhook HMAC key";
        return "hmac_key";
    }
    *prompt = "SMTP password";
    return "password";
}

/* Fills body with the settings flags of a kind's channel (creating: the
 * ones the kind requires must be there), and its secret from --secret-file
 * (or a new random key with --generate-secret, printed once to stdout after
 * the request succeeded: *generated). Usage errors name the flag. */
static bool channel_fields(const cmd_ctx *c, const char *kind, bool creating, json_t *body,
                           char **generated, int *rc)
{
    bool slack = strcmp(kind, "slack") == 0, webhook = strcmp(kind, "webhook") == 0;
    bool email = !slack && !webhook;
    static const char *const email_only[] = {"smtp-url", "from", "to", "username", NULL};
    for (size_t i = 0; email_only[i]; i++)
        if (!email && cmd_flag(c, email_only[i])) {
            *rc = cmd_usage(c, "--%s is for email channels, not %s ones", email_only[i], kind);
            return false;
        }
    if (cmd_flag(c, "url") && !webhook) {
        *rc = slack ? cmd_usage(c, "a Slack channel's webhook URL is its secret: give it with "
                                   "--secret-file F (or - for stdin) so it stays out of shell "
                                   "history and process lists")
                    : cmd_usage(c, "--url is for webhook channels; email channels take "
                                   "--smtp-url");
        return false;
    }
    if (cmd_flag(c, "generate-secret") && !webhook) {
        *rc = cmd_usage(c,
                        "--generate-secret makes a webhook's HMAC key; a %s channel's secret "
                        "comes from --secret-file",
                        kind);
        return false;
    }
    if (!cmd_exclusive(c, "generate-secret", "secret-file", rc))
        return false;
    if (creating) {
        const char *need = webhook && !cmd_flag(c, "url")      ? "--url URL"
                           : email && !cmd_flag(c, "smtp-url") ? "--smtp-url URL"
                           : email && !cmd_flag(c, "from")     ? "--from ADDRESS"
                           : email && !cmd_flag(c, "to")       ? "--to ADDRESS[,ADDRESS...]"
                                                               : NULL;
        if (need) {
            *rc = cmd_usage(c, "a %s channel needs %s", kind, need);
            return false;
        }
        if (!email && !cmd_flag(c, "secret-file") && !cmd_flag(c, "generate-secret")) {
            *rc = cmd_usage(c, "a %s channel needs its secret: --secret-file F (or - for stdin)%s",
                            kind, webhook ? " or --generate-secret" : "");
            return false;
        }
    }
    cmd_set_string(body, c, "name", "name");
    if (webhook)
        cmd_set_string(body, c, "url", "url");
    cmd_set_string(body, c, "smtp-url", "smtp_url");
    cmd_set_string(body, c, "from", "from");
    cmd_set_string(body, c, "username", "username");
    if (cmd_flag(c, "to")) {
        json_t *to = cmd_list_flag(c, "to", rc);
        if (!to)
            return false;
        json_object_set_new(body, "to", to);
    }
    if (cmd_flag(c, "events")) {
        json_t *events = cmd_list_flag(c, "events", rc);
        if (!events)
            return false;
        json_object_set_new(body, "events", events);
    }
    const char *prompt;
    const char *field = secret_field(kind, &prompt);
    char *secret = NULL;
    if (cmd_flag(c, "generate-secret")) {
        unsigned char raw[32];
        err e;
        err_clear(&e);
        if (!secure_random(raw, sizeof raw, &e)) {
            *rc = cmd_failed(&e);
            return false;
        }
        strbuf hex = STRBUF_INIT;
        strbuf_hex(&hex, raw, sizeof raw);
        secure_wipe(raw, sizeof raw);
        secret = xstrdup(strbuf_str(&hex));
        strbuf_free_secret(&hex);
        *generated = xstrdup(secret);
    } else if (!read_secret(c, prompt, &secret, rc)) {
        return false;
    }
    if (secret) {
        json_object_set_new(body, field, json_string(secret));
        secure_free_string(secret);
    }
    return true;
}

/* Sends a channel body, wipes its secret fields, and prints the answer
 * (which never holds a secret) with, after success, a generated key as its
 * "hmac_key" member: in every output format, once. */
static int channel_send(cmd_ctx *c, const char *method, const char *path, json_t *body,
                        char *generated)
{
    json_t *ch = NULL;
    bool ok = cmd_call(c, method, path, body, &ch);
    wipe_member(body, "url");
    wipe_member(body, "hmac_key");
    wipe_member(body, "password");
    if (ok && ch) {
        /* The key is needed to check signatures; it is shown this once. */
        if (generated)
            json_object_set_new(ch, "hmac_key", json_string(generated));
        client_out_object(stdout, c->out, ch);
        fflush(stdout);
        if (generated)
            fprintf(stderr, "escher: keep the HMAC key now: the server never shows it again "
                            "(docs/notifications.md says how to check signatures with it)\n");
        wipe_member(ch, "hmac_key");
    }
    json_decref(ch);
    secure_free_string(generated);
    return ok ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILED;
}

int cmd_channels_create(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_USAGE;
    const char *kind;
    if (!cmd_flag(c, "name") || !cmd_flag(c, "kind"))
        return cmd_usage(c, "--name N and --kind slack|webhook|email are both required");
    if (!cmd_word_flag(c, "kind", "slack|webhook|email", &kind, &rc))
        return rc;
    json_t *body = json_pack("{s:s}", "kind", kind);
    char *generated = NULL;
    if (cmd_flag(c, "disabled"))
        json_object_set_new(body, "enabled", json_false());
    if (channel_fields(c, kind, true, body, &generated, &rc))
        rc = channel_send(c, "POST", "/v1/channels", body, generated);
    json_decref(body);
    return rc;
}

int cmd_channels_update(cmd_ctx *c)
{
    int rc = CLIENT_EXIT_USAGE;
    if (!cmd_id_ok(c->pos[0]))
        return cmd_usage(c, "invalid channel id '%s'", c->pos[0]);
    if (!cmd_exclusive(c, "enable", "disable", &rc))
        return rc;
    /* The kind decides which field the secret is and which flags apply. */
    char *path = xasprintf("/v1/channels/%s", c->pos[0]);
    json_t *ch = NULL, *body = json_object();
    char *generated = NULL;
    if (!cmd_call(c, "GET", path, NULL, &ch)) {
        rc = CLIENT_EXIT_FAILED;
    } else {
        const char *kind = json_string_value(json_object_get(ch, "kind"));
        if (cmd_flag(c, "enable"))
            json_object_set_new(body, "enabled", json_true());
        if (cmd_flag(c, "disable"))
            json_object_set_new(body, "enabled", json_false());
        if (channel_fields(c, kind ? kind : "?", false, body, &generated, &rc)) {
            if (json_object_size(body) == 0) {
                rc = cmd_usage(c, "nothing to change: give --name, --events, --enable, "
                                  "--disable, a setting or --secret-file");
            } else {
                rc = channel_send(c, "PATCH", path, body, generated);
                generated = NULL;
            }
        }
    }
    secure_free_string(generated);
    json_decref(ch);
    json_decref(body);
    free(path);
    return rc;
}

int cmd_channels_delete(cmd_ctx *c)
{
    return cmd_delete(c, "channels", "Deleted channel", "");
}

int cmd_channels_test(cmd_ctx *c)
{
    return cmd_by_id(c, "POST", "channels", "/test", NULL);
}
