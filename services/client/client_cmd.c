/* The command table. Each entry: words ("schedules create"), the flags it
 * takes ("name=" takes a value, "dry-run" is a switch), positional usage, a
 * one-paragraph help, and its function. Flags are parsed here from the entry,
 * so a command never sees an unknown flag, and usage errors exit 2.
 *
 * The commands of the server's areas are in client_cmd_admin.c (users,
 * tokens, accounts, onboarding, channels) and client_cmd_runs.c (schedules,
 * runs, audit); the helpers they share with this file are declared in
 * client_cmd_internal.h. */
#include "client_cmd.h"

#include "client_api.h"
#include "client_ask.h"
#include "client_chat.h"
#include "client_cmd_internal.h"
#include "client_config.h"
#include "client_out.h"
#include "client_state.h"

#include "core/secure.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct client_cmd {
    const char *name;
    const char *flags; /* comma-separated; "x=" takes a value */
    const char *usage; /* after the name */
    int npos;          /* positional arguments required */
    const char *help;
    int (*fn)(cmd_ctx *c);
} client_cmd;

static const char *flag(const cmd_ctx *c, const char *name)
{
    for (int i = 0; i < c->nflags; i++)
        if (strcmp(c->flag_name[i], name) == 0)
            return c->flag_value[i];
    return NULL;
}

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "escher: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nescher: see 'escher %s --help'\n", cmd);
    return CLIENT_EXIT_USAGE;
}

static int failed(const err *e)
{
    fprintf(stderr, "escher: %s\n", e->message);
    return CLIENT_EXIT_FAILED;
}

/* The server and token, each from the first of: ESCHER_URL / ESCHER_TOKEN
 * (deploy/local/demo.sh's env), the --server-url / --api-token options when
 * set by flag, environment or config file, the login state file, and the
 * server-url default. */
static client_api *connect_api(const cmd_ctx *c, err *e)
{
    char *url = NULL, *token = NULL;
    if (!client_config_load(&url, &token, e))
        return NULL;
    const char *env_url = getenv("ESCHER_URL"), *env_token = getenv("ESCHER_TOKEN");
    const char *opt_url = opts_get_string(c->o, "server-url");
    const char *opt_token = opts_get_secret(c->o, "api-token");
    const char *use_url = url;
    if (env_url && env_url[0])
        use_url = env_url;
    else if (opts_get_source(c->o, "server-url", NULL) != OPTS_SRC_DEFAULT || !url)
        use_url = opt_url;
    const char *use_token = token;
    if (env_token && env_token[0])
        use_token = env_token;
    else if (opt_token)
        use_token = opt_token;
    client_api *a = client_api_new(use_url, use_token);
    free(url);
    secure_free_string(token);
    return a;
}

/* ---- helpers shared with client_cmd_admin.c (client_cmd_internal.h) --- */

const char *cmd_flag(const cmd_ctx *c, const char *name)
{
    return flag(c, name);
}

int cmd_usage(const cmd_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "escher: %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nescher: see 'escher %s --help'\n", c->name);
    return CLIENT_EXIT_USAGE;
}

int cmd_failed(const err *e)
{
    return failed(e);
}

client_api *cmd_connect(const cmd_ctx *c, err *e)
{
    return connect_api(c, e);
}

bool cmd_call(cmd_ctx *c, const char *method, const char *path, const json_t *body, json_t **out)
{
    err e;
    err_clear(&e);
    *out = NULL;
    client_api *a = connect_api(c, &e);
    bool ok = a && client_api_call(a, method, path, body, out, &e);
    client_api_free(a);
    if (!ok)
        failed(&e);
    return ok;
}

int cmd_call_print(cmd_ctx *c, const char *method, const char *path, const json_t *body)
{
    json_t *j = NULL;
    if (!cmd_call(c, method, path, body, &j))
        return CLIENT_EXIT_FAILED;
    if (j)
        client_out_object(stdout, c->out, j);
    json_decref(j);
    return CLIENT_EXIT_OK;
}

int cmd_list(cmd_ctx *c, const char *path, const char *const *columns)
{
    err e;
    err_clear(&e);
    client_api *a = connect_api(c, &e);
    if (!a)
        return failed(&e);
    bool ok = client_out_list(stdout, c->out, a, path, columns, &e);
    client_api_free(a);
    return ok ? CLIENT_EXIT_OK : failed(&e);
}

bool cmd_fetch_all(cmd_ctx *c, client_api *a, const char *path, json_t **items)
{
    (void)c;
    err e;
    err_clear(&e);
    *items = json_array();
    char *cursor = NULL;
    for (;;) {
        char *p = xasprintf("%s%slimit=500", path, strchr(path, '?') ? "&" : "?");
        if (cursor)
            cmd_query_add(&p, "cursor", cursor);
        free(cursor);
        cursor = NULL;
        json_t *page = NULL;
        bool ok = client_api_call(a, "GET", p, NULL, &page, &e);
        free(p);
        if (!ok) {
            json_decref(*items);
            *items = NULL;
            failed(&e);
            return false;
        }
        json_array_extend(*items, json_object_get(page, "items"));
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        if (next)
            cursor = xstrdup(next);
        json_decref(page);
        if (!cursor)
            return true;
    }
}

/* Ids go into paths: refuse anything but the characters ids have. */
bool cmd_id_ok(const char *s)
{
    return s[0] && strspn(s, "0123456789abcdefABCDEF-") == strlen(s);
}

int cmd_by_id(cmd_ctx *c, const char *method, const char *coll, const char *tail,
              const json_t *body)
{
    if (!cmd_id_ok(c->pos[0]))
        return cmd_usage(c, "invalid id '%s': want the uuid 'escher %.*s list' shows", c->pos[0],
                         (int)strcspn(c->name, " "), c->name);
    char *p = xasprintf("/v1/%s/%s%s", coll, c->pos[0], tail);
    int rc = cmd_call_print(c, method, p, body);
    free(p);
    return rc;
}

int cmd_delete(cmd_ctx *c, const char *coll, const char *done, const char *note)
{
    int rc = cmd_by_id(c, "DELETE", coll, "", NULL);
    if (rc == CLIENT_EXIT_OK)
        cmd_say(c, "%s %s%s.\n", done, c->pos[0], note);
    return rc;
}

json_t *cmd_json_flag(const cmd_ctx *c, const char *name, int *rc)
{
    json_error_t je;
    json_t *j = json_loads(flag(c, name), JSON_DECODE_ANY, &je);
    if (!j)
        *rc = cmd_usage(c, "--%s is not JSON: %s (at character %d of '%s')", name, je.text,
                        je.position, flag(c, name));
    return j;
}

json_t *cmd_list_flag(const cmd_ctx *c, const char *name, int *rc)
{
    const char *v = flag(c, name);
    json_t *a = json_array();
    for (const char *p = v;;) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            *rc = cmd_usage(c,
                            "--%s '%s' has an empty element: want a comma-separated list "
                            "like a,b",
                            name, v);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, json_stringn(p, len));
        p += len;
        if (!*p)
            return a;
        p++;
    }
}

void cmd_query_add(char **path, const char *name, const char *value)
{
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, *path);
    strbuf_printf(&sb, "%s%s=", strchr(*path, '?') ? "&" : "?", name);
    for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
            strchr("-._~", *s))
            strbuf_putc(&sb, (char)*s);
        else
            strbuf_printf(&sb, "%%%02X", *s);
    }
    free(*path);
    *path = strbuf_detach(&sb);
}

/* ---- commands --------------------------------------------------------- */

static int cmd_login(cmd_ctx *c)
{
    const char *server = flag(c, "server"), *token = flag(c, "token");
    if (!server || !token)
        return usage_error("login", "--server URL and --token TOKEN are both required");
    err e;
    err_clear(&e);
    client_api *a = client_api_new(server, token);
    json_t *me = NULL;
    bool ok = client_api_call(a, "GET", "/v1/me", NULL, &me, &e);
    client_api_free(a);
    if (!ok)
        return failed(&e);
    ok = client_config_save(server, token, &e);
    if (ok) {
        char *path = client_config_path(&e);
        printf("Logged in to %s as %s (%s). Saved in %s.\n", server,
               json_string_value(json_object_get(me, "email")),
               json_string_value(json_object_get(me, "role")), path ? path : "?");
        free(path);
    }
    json_decref(me);
    return ok ? CLIENT_EXIT_OK : failed(&e);
}

/* The server counts as configured when ESCHER_URL, --server-url (not its
 * default) or the login file names one; only then is it asked about. */
/* The configured server for chat and ask, or NULL when none is: a client
 * that was never logged in works on local credentials alone. */
static client_api *chat_server(cmd_ctx *c)
{
    err e;
    err_clear(&e);
    char *url = NULL, *token = NULL;
    bool configured = client_config_load(&url, &token, &e) && url;
    free(url);
    secure_free_string(token);
    const char *env_url = getenv("ESCHER_URL");
    configured = configured || (env_url && env_url[0]) ||
                 opts_get_source(c->o, "server-url", NULL) != OPTS_SRC_DEFAULT;
    return configured ? connect_api(c, &e) : NULL;
}

static int cmd_ask(cmd_ctx *c)
{
    client_api *a = chat_server(c);
    int rc = client_chat_ask(c->o, c->pos[0], c->out, a, flag(c, "yes") != NULL);
    client_api_free(a);
    return rc;
}

static int cmd_chat(cmd_ctx *c)
{
    client_api *a = chat_server(c);
    int rc = client_chat_repl(c->o, c->out, a, flag(c, "yes") != NULL);
    client_api_free(a);
    return rc;
}

/* ---- local state (client_state.c) ------------------------------------- */

/* A count flag: 1..max, or the default when absent; -1 after a usage error. */
static int count_flag(const cmd_ctx *c, const char *cmd, const char *name, int dflt, int max)
{
    const char *v = flag(c, name);
    if (!v)
        return dflt;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!v[0] || *end || n < 1 || n > max) {
        usage_error(cmd, "--%s wants a number from 1 to %d, not '%s'", name, max, v);
        return -1;
    }
    return (int)n;
}

static const char *const history_cols[] = {"id", "at", "role", "text", NULL};

static int history_show(cmd_ctx *c, const char *cmd, const char *word)
{
    int limit = count_flag(c, cmd, "limit", word ? 100 : 20, 1000000);
    if (limit < 0)
        return CLIENT_EXIT_USAGE;
    err e;
    err_clear(&e);
    client_state *s = client_state_open(c->o, &e);
    json_t *rows = NULL;
    bool ok = s && (word ? client_state_history_search(s, word, limit, &rows, &e)
                         : client_state_history_list(s, limit, &rows, &e));
    client_state_close(s);
    if (!ok)
        return failed(&e);
    client_out_items(stdout, c->out, rows, history_cols);
    json_decref(rows);
    return CLIENT_EXIT_OK;
}

static int cmd_history_list(cmd_ctx *c)
{
    return history_show(c, "history list", NULL);
}

static int cmd_history_search(cmd_ctx *c)
{
    return history_show(c, "history search", c->pos[0]);
}

static int cmd_history_add(cmd_ctx *c)
{
    const char *role = flag(c, "role");
    if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
        return usage_error("history add", "--role user or --role assistant is required");
    int repeat = count_flag(c, "history add", "repeat", 1, 100000000);
    if (repeat < 0)
        return CLIENT_EXIT_USAGE;
    err e;
    err_clear(&e);
    client_state *s = client_state_open(c->o, &e);
    bool ok = s != NULL;
    for (int i = 0; ok && i < repeat; i++) {
        char *text = repeat > 1 ? xasprintf("%s %d", c->pos[0], i + 1) : xstrdup(c->pos[0]);
        ok = client_state_history_add(s, role, text, &e);
        free(text);
    }
    client_state_close(s);
    return ok ? CLIENT_EXIT_OK : failed(&e);
}

/* ---- estate cache (client_state.c, listed by client_ask.c) ------------- */

/* Lists the instances of each region (--region, repeatable; else the
 * default one) and replaces that region's cached instances with them. */
static int cmd_refresh(cmd_ctx *c)
{
    client_aws ca;
    if (!client_aws_open(c->o, &ca))
        return CLIENT_EXIT_FAILED;
    err e;
    err_clear(&e);
    client_state *s = client_state_open(c->o, &e);
    if (!s) {
        client_aws_close(&ca);
        return failed(&e);
    }
    const char *regions[MAX_FLAGS];
    int nregions = 0;
    for (int i = 0; i < c->nflags; i++)
        if (strcmp(c->flag_name[i], "region") == 0)
            regions[nregions++] = c->flag_value[i];
    if (nregions == 0)
        regions[nregions++] = ca.region;
    int nok = 0;
    for (int r = 0; r < nregions; r++) {
        err_clear(&e);
        json_t *found = json_array(), *items = json_array();
        char *at = NULL;
        bool ok = client_ask_instances(ca.aws, regions[r], found, &e);
        size_t i;
        json_t *it;
        json_array_foreach(found, i, it)
        {
            json_t *data = json_pack("{s:O, s:O, s:O}", "type", json_object_get(it, "type"), "tags",
                                     json_object_get(it, "tags"), "launch_time",
                                     json_object_get(it, "launch_time"));
            json_array_append_new(items, json_pack("{s:O, s:O, s:O, s:O, s:o}", "account",
                                                   json_object_get(it, "account"), "id",
                                                   json_object_get(it, "id"), "name",
                                                   json_object_get(it, "name"), "state",
                                                   json_object_get(it, "state"), "data", data));
        }
        ok = ok && client_state_estate_replace(s, regions[r], "instance", items, &at, &e);
        if (ok) {
            printf("refreshed %zu instances in %s (fetched at %s)\n", json_array_size(items),
                   regions[r], at);
            nok++;
        } else {
            fprintf(stderr, "escher: %s\n", e.message);
        }
        free(at);
        json_decref(items);
        json_decref(found);
    }
    client_state_close(s);
    client_aws_close(&ca);
    return nok == nregions ? CLIENT_EXIT_OK : nok ? CLIENT_EXIT_PARTIAL : CLIENT_EXIT_FAILED;
}

static int cmd_estate_list(cmd_ctx *c)
{
    err e;
    err_clear(&e);
    client_state *s = client_state_open(c->o, &e);
    json_t *rows = NULL;
    bool ok = s && client_state_estate_list(s, flag(c, "region"), &rows, &e);
    client_state_close(s);
    if (!ok)
        return failed(&e);
    static const char *const cols[] = {"account", "region", "type",       "id",
                                       "name",    "state",  "fetched_at", NULL};
    client_out_items(stdout, c->out, rows, cols);
    json_decref(rows);
    return CLIENT_EXIT_OK;
}

static int cmd_state_path(cmd_ctx *c)
{
    (void)c;
    err e;
    err_clear(&e);
    char *path = client_state_path(c->o, &e);
    if (!path)
        return failed(&e);
    printf("%s\n", path);
    free(path);
    return CLIENT_EXIT_OK;
}

static int cmd_help(cmd_ctx *c);

#define OUT  "output=,"
#define LIST "[--output table|json|csv]"
static const client_cmd commands[] = {
    {"help", "markdown", "[--markdown]", 0,
     "Lists the commands. With --markdown, writes docs/cli.md (generated from this table).",
     cmd_help},
    {"login", "server=,token=", "--server URL --token TOKEN", 0,
     "Checks the token against the server (GET /v1/me) and saves both in "
     "$XDG_CONFIG_HOME/escher/config (mode 0600). ESCHER_URL and ESCHER_TOKEN override it.",
     cmd_login},
    {"whoami", OUT, "[--output FORMAT]", 0, "Shows the user and tenant the token belongs to.",
     cmd_whoami},
    {"users list", OUT, LIST, 0, "Lists the tenant's users by e-mail (managers only).",
     cmd_users_list},
    {"users show", OUT, "ID [--output FORMAT]", 1, "Shows one user (managers only).",
     cmd_users_show},
    {"users create", OUT "email=,role=", "--email E --role manager|executor|viewer", 0,
     "Adds a user to the tenant (managers only); give them a token with 'escher tokens create "
     "--user'. The server has no route to change a user's role or remove a user: revoke their "
     "tokens instead.",
     cmd_users_create},
    {"tokens list", OUT "user=", "[--user ID|EMAIL] " LIST, 0,
     "Lists API tokens, newest first (never their text): a manager's lists every token of the "
     "tenant, or one user's with --user; others list their own.",
     cmd_tokens_list},
    {"tokens create", OUT "name=,user=", "[--name N] [--user ID|EMAIL] [--output FORMAT]", 0,
     "Creates an API token for yourself, or with --user for another user (managers only). "
     "The token is printed once, to stdout only: the server keeps its SHA-256 and never shows "
     "it again.",
     cmd_tokens_create},
    {"tokens revoke", OUT, "ID", 1,
     "Revokes an API token (managers any of the tenant's, others their own); it is refused "
     "from then on.",
     cmd_tokens_revoke},
    {"accounts list", OUT "status=", "[--status pending|verified|failed|disabled] " LIST, 0,
     "Lists the tenant's AWS accounts.", cmd_accounts_list},
    {"accounts show", OUT, "ID [--output FORMAT]", 1,
     "Shows one account (ID: the uuid or the 12-digit account id).", cmd_accounts_show},
    {"accounts add", OUT "role-arn=,readonly-role-arn=,name=,regions=,account-id=,no-verify",
     "--role-arn ARN [--readonly-role-arn ARN] [--name N] [--regions R1,R2] [--account-id ID] "
     "[--no-verify]",
     0,
     "Registers an AWS account by its operator role (see 'escher onboarding show' for the "
     "roles' CloudFormation template) and queues a verification of its roles, unless "
     "--no-verify; prints the account with its verification job. --regions are the "
     "account's regions, those a target's \"regions\": \"all\" means (without them, "
     "\"all\" finds nothing there: a note says so).",
     cmd_accounts_add},
    {"accounts update",
     OUT "name=,role-arn=,readonly-role-arn=,no-readonly-role,regions=,disable,enable",
     "ID [--name N] [--role-arn ARN] [--readonly-role-arn ARN|--no-readonly-role] "
     "[--regions R1,R2] [--disable|--enable]",
     1,
     "Changes an account; only what is given changes. A new role ARN is verified again. "
     "--disable stops Escher acting there; --enable makes it pending and verifies it again.",
     cmd_accounts_update},
    {"accounts delete", OUT, "ID", 1,
     "Forgets an AWS account (its roles stay in AWS; its jobs keep their history).",
     cmd_accounts_delete},
    {"accounts verify", OUT, "ID", 1,
     "Queues a verification of the account's roles; prints the job (see 'escher runs watch').",
     cmd_accounts_verify},
    {"accounts discover",
     OUT "management-role-arn=,role-name=,readonly-role-name=,no-readonly-role,regions=,wait",
     "--management-role-arn ARN [--role-name T] [--readonly-role-name T|--no-readonly-role] "
     "[--regions R1,R2] [--wait] " LIST,
     0,
     "Discovers an AWS Organization: the workers assume the management account's role, list "
     "the active member accounts, register each with the role names T (default "
     "EscherOperator and EscherReadOnly; {account_id} stands for the member's id) and verify "
     "them, each with the --regions given (needed for targets naming \"all\" regions). "
     "Prints the job; with --wait, follows it and lists each member as verified, "
     "failed (with AWS's error), skipped or registered. Exits 3 when some members failed "
     "and others were verified.",
     cmd_accounts_discover},
    {"onboarding show", OUT, LIST, 0,
     "Shows what to put in AWS (managers only): the tenant's ExternalId, the principal the "
     "roles trust, and the parameters of the CloudFormation template for one account "
     "(deploy/aws/customer-role.yaml, with the quick-create URL when the server has a "
     "template URL) and of the StackSet for an organization.",
     cmd_onboarding_show},
    {"channels list", OUT, LIST, 0,
     "Lists the tenant's notification channels (secrets are never shown: secret_set says "
     "whether one is set).",
     cmd_channels_list},
    {"channels show", OUT, "ID [--output FORMAT]", 1, "Shows one notification channel.",
     cmd_channels_show},
    {"channels create",
     OUT "name=,kind=,url=,secret-file=,generate-secret,smtp-url=,from=,to=,username=,events=,"
         "disabled",
     "--name N --kind slack|webhook|email [--url URL] [--secret-file F|-] [--generate-secret] "
     "[--smtp-url URL --from A --to A1,A2 [--username U]] [--events E1,E2] [--disabled]",
     0,
     "Creates a notification channel told when runs end (--events: succeeded, partial, "
     "failed; default all). The secret is read from the file F, or from stdin with - "
     "(without echo on a terminal), so it stays out of shell history: a Slack channel's "
     "incoming-webhook URL, a webhook's HMAC key (16+ characters; --generate-secret makes "
     "one and prints it once), an email channel's SMTP password (optional). A webhook also "
     "takes --url, an email channel --smtp-url, --from, --to and --username. Secrets are "
     "never printed back. See docs/notifications.md.",
     cmd_channels_create},
    {"channels update",
     OUT "name=,url=,secret-file=,generate-secret,smtp-url=,from=,to=,username=,events=,enable,"
         "disable",
     "ID [--name N] [--url URL] [--secret-file F|-] [--generate-secret] [--smtp-url URL] "
     "[--from A] [--to A1,A2] [--username U] [--events E1,E2] [--enable|--disable]",
     1,
     "Changes a channel; only what is given changes (the kind cannot). A new secret is read "
     "from --secret-file as for create.",
     cmd_channels_update},
    {"channels delete", OUT, "ID", 1, "Deletes a notification channel.", cmd_channels_delete},
    {"channels test", OUT, "ID", 1,
     "Queues a test notification to the channel; prints the delivery job (see 'escher runs "
     "watch').",
     cmd_channels_test},
    {"schedules list", OUT "enabled=,operation=", "[--enabled true|false] [--operation OP] " LIST,
     0, "Lists the tenant's schedules.", cmd_schedules_list},
    {"schedules show", OUT, "ID [--output FORMAT]", 1, "Shows one schedule.", cmd_schedules_show},
    {"schedules preview", OUT "count=", "ID [--count N] " LIST, 1,
     "Shows the schedule's next fires (default 10, at most 100).", cmd_schedules_preview},
    {"schedules try", OUT "cron=,zone=,count=", "--cron C [--zone Z] [--count N] " LIST, 0,
     "Shows when a cron expression would fire in zone Z (default UTC), without saving "
     "anything: the check 'schedules create' makes.",
     cmd_schedules_try},
    {"schedules create",
     OUT "name=,cron=,run-at=,zone=,operation=,target=,params=,dry-run,disabled,"
         "missed-fire-policy=,missed-fire-window=",
     "--name N --cron C|--run-at TIME [--zone Z] --operation OP --target JSON [--params JSON] "
     "[--dry-run] [--disabled] [--missed-fire-policy skip|run_once|run_each] "
     "[--missed-fire-window SECONDS]",
     0,
     "Creates a schedule: OP (e.g. ec2.stop) on the target at cron times, or once at TIME "
     "(ISO-8601), in zone Z (IANA, default UTC). --dry-run makes its runs dry runs.",
     cmd_schedules_create},
    {"schedules update",
     OUT "name=,cron=,run-at=,zone=,operation=,target=,params=,dry-run,no-dry-run,"
         "missed-fire-policy=,missed-fire-window=",
     "ID [--name N] [--cron C|--run-at TIME] [--zone Z] [--operation OP] [--target JSON] "
     "[--params JSON] [--dry-run|--no-dry-run] [--missed-fire-policy P] "
     "[--missed-fire-window SECONDS]",
     1,
     "Changes a schedule; only what is given changes. A new time or zone computes its next "
     "fire afresh.",
     cmd_schedules_update},
    {"schedules enable", OUT, "ID", 1, "Enables a schedule.", cmd_schedules_enable},
    {"schedules disable", OUT, "ID", 1, "Disables a schedule (it stops firing).",
     cmd_schedules_disable},
    {"schedules delete", OUT, "ID", 1, "Deletes a schedule.", cmd_schedules_delete},
    {"schedules run", OUT "dry-run", "ID [--dry-run]", 1,
     "Runs the schedule's operation now; prints the job (see 'escher runs watch').",
     cmd_schedules_run},
    {"runs list", OUT "kind=,state=,account=",
     "[--kind K] [--state queued|leased|succeeded|failed|cancelled] [--account ID] " LIST, 0,
     "Lists jobs (runs), newest first, of every kind (ops.run, account.verify, org.discover, "
     "notify.deliver): what each is about, its state and its error.",
     cmd_runs_list},
    {"runs show", OUT, "ID [--output FORMAT]", 1, "Shows a job with its steps and result.",
     cmd_runs_show},
    {"runs watch", "", "ID", 1,
     "Follows a job until it finishes, printing each step as it progresses. Exits 0 when it "
     "succeeded, 3 when the run ended partial, 1 otherwise.",
     cmd_runs_watch},
    {"runs cancel", OUT, "ID", 1,
     "Cancels a queued job at once, or asks a running one to stop (its worker cancels it at "
     "its next heartbeat). A finished job cannot be cancelled (exit 1).",
     cmd_runs_cancel},
    {"runs start", OUT "operation=,target=,params=,dry-run,wait",
     "--operation OP --target JSON [--params JSON] [--dry-run] [--wait]", 0,
     "Runs an operation now on the server's workers with the accounts' roles (an ops.run "
     "job); prints the job, or with --wait follows it as 'runs watch' does. High and "
     "critical risk operations run only for managers (executors may dry-run them).",
     cmd_runs_start},
    {"runs plan",
     OUT "operation=,target=,params=", "--operation OP --target JSON [--params JSON] " LIST, 0,
     "A dry run, waited for: lists per account, region and resource what the operation would "
     "do (EC2's DryRun where it exists), changing nothing.",
     cmd_runs_plan},
    {"chat", OUT "yes", "[--yes] [--output table|json|csv]", 0,
     "The conversation: a prompt (history across runs, Ctrl-R, a line ending in \\ goes on "
     "on the next) that takes sentences like 'stop dev instances in eu-west-1'. Anything that "
     "would change resources is shown first as a preview (account, region, resource, name, "
     "state, action, risk) and runs only after confirmation: y for low and medium risk, the "
     "number of resources for high risk; critical operations are refused. Operations run here "
     "with the local AWS credentials, with a progress line per resource; Ctrl-C during a run "
     "finishes the resource in hand and starts no other, at the prompt it drops the line, at a "
     "confirmation it answers no. Schedules are created on the server. "
     "'them', 'those' and 'it' mean what was last listed or acted on (\"start them again\"). "
     "A configured server answers through POST /v1/chat with non-secret context only "
     "(default region, zone, account ids, recent resource ids and their regions); without "
     "one, or when it is unreachable, the built-in engine answers. 'help' at the prompt "
     "shows examples, 'exit' or Ctrl-D leaves.",
     cmd_chat},
    {"ask", OUT "yes", "SENTENCE [--yes] [--output table|json|csv]", 1,
     "One sentence, answered as in chat: queries with the local AWS credentials; a plan that "
     "changes anything is previewed, then confirmed on the terminal, or by --yes (up to high "
     "risk; without a terminal and without --yes nothing runs, exit 2).",
     cmd_ask},
    {"audit list", OUT "action=", "[--action A] " LIST, 0,
     "Lists the audit trail, newest first (--action: only rows of that action, e.g. "
     "accounts.create).",
     cmd_audit_list},
    {"audit verify", OUT, "[--output FORMAT]", 0,
     "Checks the audit trail's hash chain; exits 1 when it is broken.", cmd_audit_verify},
    {"history list", OUT "limit=", "[--limit N] [--output table|json|csv]", 0,
     "Lists the last N chat messages (default 20), oldest first, from the local state "
     "database (see 'escher state path').",
     cmd_history_list},
    {"history search", OUT "limit=", "WORD [--limit N] [--output table|json|csv]", 1,
     "Lists the chat messages containing WORD (full-text search; the newest 100 unless "
     "--limit says otherwise), oldest first.",
     cmd_history_search},
    {"history add", "role=,repeat=", "--role user|assistant [--repeat N] TEXT", 1,
     "For scripts (and chat): appends TEXT to the chat history, in its own transaction. "
     "--repeat N appends it N times as \"TEXT 1\" .. \"TEXT N\", one transaction each.",
     cmd_history_add},
    {"refresh", "region=", "[--region R ...]", 0,
     "Lists the instances of each --region (repeatable; else the default region, as for "
     "'ask') with the local AWS credentials and replaces that region's instances in the "
     "local estate cache, in one transaction per region: instances no longer returned are "
     "removed. Prints how many were fetched and when.",
     cmd_refresh},
    {"estate list", OUT "region=", "[--region R] [--output table|json|csv]", 0,
     "Lists the resources in the local estate cache (see 'escher refresh') with the time "
     "each was fetched; json adds each one's data (type, tags, launch time).",
     cmd_estate_list},
    {"state path", "", "", 0,
     "Prints the local state database's path: DIR/state.db for --data-dir DIR, else "
     "$XDG_DATA_HOME/escher/state.db, else ~/.local/share/escher/state.db (directory 0700, "
     "file 0600). A locked or damaged "
     "database is reported (exit 1) and never deleted or rewritten.",
     cmd_state_path},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *out, const client_cmd *cmd)
{
    fprintf(out, "usage: escher %s%s%s\n", cmd->name, cmd->usage[0] ? " " : "", cmd->usage);
}

static const char exit_codes[] = "0 ok; 1 failed (the server's or the system's message, naming the "
                                 "value at fault); 2 usage error or refused; 3 partial (a run "
                                 "that ended partial, or a discovery where some members failed)";

static int cmd_help(cmd_ctx *c)
{
    if (flag(c, "markdown")) {
        printf("# escher command line\n\n"
               "Generated by `escher help --markdown` from the command table in "
               "services/client/client_cmd.c; do not edit.\n\n"
               "Global options (before the command) are listed by `escher --help`. The server "
               "and token come from ESCHER_URL and ESCHER_TOKEN, else from --server-url and "
               "--api-token when given (flag, environment or config file), else from `escher "
               "login`'s $XDG_CONFIG_HOME/escher/config. "
               "Listings follow every page; `--output` is table (colour on a terminal only), "
               "json or csv.\n\n"
               "Exit codes: %s.\n",
               exit_codes);
        for (size_t i = 0; i < NCOMMANDS; i++)
            printf("\n## escher %s\n\n```\nescher %s%s%s\n```\n\n%s\n", commands[i].name,
                   commands[i].name, commands[i].usage[0] ? " " : "", commands[i].usage,
                   commands[i].help);
        return CLIENT_EXIT_OK;
    }
    printf("usage: escher [OPTIONS] COMMAND [ARGS...]\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  %-18s %s\n", commands[i].name, commands[i].usage);
    printf("\n'escher COMMAND --help' describes one; 'escher --help' lists the options.\n"
           "Exit codes: %s.\n",
           exit_codes);
    return CLIENT_EXIT_OK;
}

/* Finds `name` in the comma-separated flag spec; *value says whether it takes one. */
static bool flag_known(const char *spec, const char *name, bool *value)
{
    size_t n = strlen(name);
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool v = len > 0 && p[len - 1] == '=';
        if ((v ? len - 1 : len) == n && strncmp(p, name, n) == 0) {
            *value = v;
            return true;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

int client_cmd_run(const opts *o, int argc, char *const *argv)
{
    if (argc == 0) {
        fprintf(stderr, "escher: no command given (the chat REPL is not built yet); see "
                        "'escher help'\n");
        return CLIENT_EXIT_USAGE;
    }
    const client_cmd *cmd = NULL;
    int used = 0;
    for (size_t i = 0; i < NCOMMANDS && !cmd; i++) {
        const char *sp = strchr(commands[i].name, ' ');
        if (!sp) {
            if (strcmp(argv[0], commands[i].name) == 0)
                cmd = &commands[i], used = 1;
        } else if (strlen(argv[0]) == (size_t)(sp - commands[i].name) &&
                   strncmp(argv[0], commands[i].name, (size_t)(sp - commands[i].name)) == 0 &&
                   argc > 1 && strcmp(argv[1], sp + 1) == 0) {
            cmd = &commands[i], used = 2;
        }
    }
    if (!cmd) {
        fprintf(stderr, "escher: unknown command '%s%s%s'; see 'escher help'\n", argv[0],
                argc > 1 && argv[1][0] != '-' ? " " : "",
                argc > 1 && argv[1][0] != '-' ? argv[1] : "");
        return CLIENT_EXIT_USAGE;
    }
    cmd_ctx c = {.o = o, .name = cmd->name, .out = CLIENT_OUT_TABLE};
    client_out_parse(opts_get_string(o, "output"), &c.out);
    char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
    int rc = -1;
    for (int i = used; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout, cmd);
            printf("\n%s\n\nExit codes: %s.\n", cmd->help, exit_codes);
            rc = CLIENT_EXIT_OK;
        } else if (strncmp(a, "--", 2) == 0) {
            char *name = xstrdup(a + 2);
            char *eq = strchr(name, '=');
            const char *value = NULL;
            if (eq) {
                *eq = '\0';
                value = a + 2 + (eq - name) + 1;
            }
            bool takes = false;
            if (!flag_known(cmd->flags, name, &takes)) {
                rc = usage_error(cmd->name, "unknown option '%s'", a);
            } else if (takes && !value && i + 1 >= argc) {
                rc = usage_error(cmd->name, "option '%s' needs a value", a);
            } else if (!takes && value) {
                rc = usage_error(cmd->name, "option '%s' takes no value", a);
            } else if (c.nflags >= MAX_FLAGS) {
                rc = usage_error(cmd->name, "too many options at '%s'", a);
            } else {
                if (takes && !value)
                    value = argv[++i];
                c.flag_name[c.nflags] = a + 2;
                /* Names point into argv: cut at '=' by length compare below. */
                c.flag_value[c.nflags] = takes ? value : "";
                c.nflags++;
                if (strcmp(name, "output") == 0 && !client_out_parse(value, &c.out))
                    rc = usage_error(cmd->name, "--output wants table, json or csv, not '%s'",
                                     value);
            }
            free(name);
        } else {
            pos[c.npos++] = argv[i];
        }
    }
    if (rc < 0 && c.npos != cmd->npos)
        rc = usage_error(cmd->name, "%s",
                         c.npos < cmd->npos ? "missing argument" : "unexpected argument");
    if (rc < 0) {
        /* Flag names without their "=value" part, for flag(). */
        char *names[MAX_FLAGS];
        for (int i = 0; i < c.nflags; i++) {
            names[i] = xstrdup(c.flag_name[i]);
            char *eq = strchr(names[i], '=');
            if (eq)
                *eq = '\0';
            c.flag_name[i] = names[i];
        }
        c.pos = pos;
        rc = cmd->fn(&c);
        for (int i = 0; i < c.nflags; i++)
            free(names[i]);
    }
    free(pos);
    return rc;
}
