/* The conversation. See client_chat.h.
 *
 * One turn: the sentence goes to the server's POST /v1/chat when one is
 * configured (with non-secret context only), else, or when it cannot be
 * reached, to the built-in engine. The built-in engine also reads every
 * sentence itself: a server plan that would change something for a
 * sentence the engine reads as a question is not followed (a question never
 * becomes a mutating plan, whoever answered). */
#include "client_chat.h"

#include "client_ask.h"
#include "client_cmd.h"
#include "client_confirm.h"
#include "client_exec.h"
#include "client_plan.h"
#include "client_state.h"

#include "core/xmalloc.h"
#include "nlu/nlu.h"

#include <editline/readline.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAT_CONTINUE_PROMPT "...> "
#define CHAT_HISTORY_LOAD    500
#define CHAT_RECENT_IDS      200 /* POST /v1/chat takes at most 200 */
#define CHAT_LINE_MAX        2000

/* Ctrl-C at the prompt: the line is dropped and a fresh prompt shown, as
 * shells do; a second way out besides Ctrl-D and "exit" would surprise. */
static volatile sig_atomic_t prompt_interrupted;

static void on_prompt_sigint(int sig)
{
    (void)sig;
    prompt_interrupted = 1;
}

/* readline with Ctrl-C caught for its duration only (a listing or a run
 * keeps its own handling): NULL at end of input, or with
 * prompt_interrupted set after Ctrl-C. Caller frees. */
static char *chat_readline(const char *prompt)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_sigint;
    sigemptyset(&sa.sa_mask);
    prompt_interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    char *line = readline(prompt);
    sigaction(SIGINT, &old, NULL);
    return line;
}

typedef struct chat {
    const opts *o;
    client_out_format out;
    client_api *api;
    bool yes;
    bool repl;              /* answers to confirmations come from the REPL's input */
    bool server_down;       /* said once per session */
    char *def_region;       /* lazily: client_ask_default_region */
    char *time_zone;        /* the local zone's IANA name, or NULL (UTC) */
    client_aws ca;          /* opened on the first turn that needs AWS (ca.aws set) */
    char *account;          /* the local credentials' account, once a preview read it */
    json_t *recent;         /* ids of what was last listed, previewed or acted on */
    json_t *recent_regions; /* the regions they were seen in */
    client_state *state;    /* NULL when it cannot be opened (said once) */
    /* Where words for people go: stdout for table output, stderr when
     * stdout carries json or csv for a script. */
    FILE *say;
} chat;

/* The local zone's IANA name: TZ when it names one, else the target of
 * /etc/localtime under a zoneinfo directory; NULL when neither tells. */
static char *local_zone(void)
{
    const char *tz = getenv("TZ");
    if (tz && *tz == ':')
        tz++;
    if (tz && tz[0] && tz[0] != '/' && strchr(tz, '/'))
        return xstrdup(tz);
    char buf[PATH_MAX];
    ssize_t n = readlink("/etc/localtime", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    const char *z = strstr(buf, "zoneinfo/");
    return z && z[9] ? xstrdup(z + 9) : NULL;
}

static const char *chat_region(chat *c)
{
    if (!c->def_region)
        c->def_region = client_ask_default_region(c->o);
    return c->def_region;
}

/* The local AWS side, opened on first use and kept for the conversation
 * (credentials resolved once, connections reused). NULL after saying why. */
static client_aws *chat_aws(chat *c)
{
    if (!c->ca.aws && !client_aws_open(c->o, &c->ca))
        return NULL;
    return &c->ca;
}

static void chat_remember(chat *c, const char *role, const char *text)
{
    if (!c->state || !text || !text[0])
        return;
    err e;
    err_clear(&e);
    if (!client_state_history_add(c->state, role, text, &e))
        fprintf(stderr, "escher: chat history: %s\n", e.message);
}

/* The context the server may see: nothing secret, nothing it could act
 * with. */
static json_t *chat_context(chat *c)
{
    json_t *ctx = json_pack("{s:s}", "default_region", chat_region(c));
    if (c->time_zone)
        json_object_set_new(ctx, "time_zone", json_string(c->time_zone));
    if (c->account)
        json_object_set_new(ctx, "account_ids", json_pack("[s]", c->account));
    if (json_array_size(c->recent)) {
        json_object_set(ctx, "recent_resource_ids", c->recent);
        json_object_set(ctx, "recent_regions", c->recent_regions);
    }
    return ctx;
}

/* Asks the server; returns its answer {text, plan, engine} or NULL after
 * saying why the built-in engine answers instead. */
static json_t *chat_server(chat *c, const char *sentence)
{
    if (!c->api || c->server_down)
        return NULL;
    json_t *body = json_pack("{s:s, s:o}", "message", sentence, "context", chat_context(c));
    json_t *answer = NULL;
    err e;
    err_clear(&e);
    bool ok = client_api_call(c->api, "POST", "/v1/chat", body, &answer, &e);
    json_decref(body);
    if (ok && json_is_object(json_object_get(answer, "plan")))
        return answer;
    json_decref(answer);
    if (!ok && e.http_status == 0) {
        fprintf(stderr, "escher: the server at %s is unreachable; answering locally\n",
                client_api_url(c->api));
        c->server_down = true; /* one timeout per session, not per sentence */
    } else if (!ok && e.http_status == 404) {
        fprintf(stderr, "escher: the server at %s offers no chat; answering locally\n",
                client_api_url(c->api));
        c->server_down = true;
    } else {
        fprintf(stderr, "escher: the server's chat: %s; answering locally\n",
                ok ? "an answer without a plan" : e.message);
    }
    return NULL;
}

/* Reads the answer to a confirmation: the REPL's next line, the terminal for
 * ask, or NULL when there is nobody to ask. Caller frees. */
static char *chat_read_answer(chat *c, const char *question)
{
    if (c->repl) {
        char *line = chat_readline(question);
        if (line && !isatty(STDIN_FILENO))
            fprintf(c->say, "%s%s\n", question, line); /* a script's transcript shows the answer */
        return line;
    }
    if (!isatty(STDIN_FILENO))
        return NULL;
    fputs(question, c->say);
    fflush(c->say);
    char buf[128];
    if (!fgets(buf, sizeof buf, stdin))
        return NULL;
    return xstrdup(buf);
}

/* Confirms a plan of risk on count things, by --yes or by asking.
 * Returns 0 when confirmed, else the exit status to end the turn with,
 * having said why. */
static int chat_confirm(chat *c, ops_risk risk, size_t count, const char *what)
{
    char question[200];
    client_confirm_question(risk, count, question, sizeof question);
    if (client_confirm_need_for(risk) == CLIENT_CONFIRM_REFUSED) {
        fprintf(c->say,
                "Refused: %s is %s risk, and %s operations never run from chat; nothing ran. "
                "A manager can run it on the server's workers ('escher runs start', after "
                "'escher runs plan').\n",
                what, ops_risk_name(risk), ops_risk_name(risk));
        return CLIENT_EXIT_USAGE;
    }
    if (c->yes && client_confirm_yes_allowed(risk)) {
        fprintf(c->say, "Confirmed by --yes (%s risk).\n", ops_risk_name(risk));
        return CLIENT_EXIT_OK;
    }
    char *answer = chat_read_answer(c, question);
    if (!answer && c->repl && prompt_interrupted) {
        fprintf(c->say, "\nNot confirmed; nothing ran.\n");
        return CLIENT_EXIT_FAILED;
    }
    if (!answer) {
        fprintf(c->say,
                "Nothing ran: no terminal to confirm on (--yes confirms up to high risk).\n");
        return CLIENT_EXIT_USAGE;
    }
    bool ok = client_confirm_accepts(risk, count, answer);
    free(answer);
    if (!ok) {
        fprintf(c->say, "Not confirmed; nothing ran.\n");
        return CLIENT_EXIT_FAILED;
    }
    return CLIENT_EXIT_OK;
}

/* Remembers seen ({"id", "region"} objects; stolen) as what "them" means
 * next: none when there are more than POST /v1/chat takes, so "them" never
 * means some of them (the engine then asks which). */
static void chat_seen(chat *c, json_t *seen)
{
    json_array_clear(c->recent);
    json_array_clear(c->recent_regions);
    size_t i;
    json_t *s;
    if (json_array_size(seen) <= CHAT_RECENT_IDS)
        json_array_foreach(seen, i, s)
        {
            json_array_append(c->recent, json_object_get(s, "id"));
            const char *region = json_string_value(json_object_get(s, "region"));
            bool have = !region || !region[0];
            for (size_t k = 0; !have && k < json_array_size(c->recent_regions); k++)
                have = strcmp(json_string_value(json_array_get(c->recent_regions, k)), region) == 0;
            if (!have)
                json_array_append_new(c->recent_regions, json_string(region));
        }
    json_decref(seen);
}

/* What a preview showed (acted: only what the run acted on). */
static void chat_recent(chat *c, const client_plan *p, bool acted)
{
    json_t *seen = json_array();
    for (size_t i = 0; i < p->nrows; i++)
        if (!acted || p->rows[i].decision == OPS_ACT || p->rows[i].decision == OPS_WAIT)
            json_array_append_new(seen, json_pack("{s:s, s:s}", "id", p->rows[i].res.id, "region",
                                                  p->rows[i].region));
    chat_seen(c, seen);
    if (!c->account && p->account && p->account[0])
        c->account = xstrdup(p->account);
}

/* A query, answered with the local credentials; what it named is what
 * "them" means next. */
static int chat_query(chat *c, const json_t *plan)
{
    client_aws *ca = chat_aws(c);
    if (!ca)
        return CLIENT_EXIT_FAILED;
    json_t *seen = json_array();
    int rc = client_ask_query(ca, plan, c->out, seen);
    if (json_array_size(seen) > 0 || rc == CLIENT_EXIT_OK)
        chat_seen(c, seen);
    else
        json_decref(seen);
    return rc;
}

/* An operation plan: preview, confirm, run here, report. */
static int chat_operation(chat *c, const json_t *plan)
{
    client_aws *ca = chat_aws(c);
    if (!ca)
        return CLIENT_EXIT_FAILED;
    aws_client *aws = ca->aws;
    client_plan *p = NULL;
    err e;
    err_clear(&e);
    if (!client_plan_build(aws, plan, ca->region, &p, &e)) {
        fprintf(c->say, "Cannot plan that: %s\n", e.message);
        chat_remember(c, "assistant", e.message);
        return e.code == ERR_INVALID ? CLIENT_EXIT_USAGE : CLIENT_EXIT_FAILED;
    }
    chat_recent(c, p, false);
    fprintf(c->say, "Plan: %s with the local credentials (%s)\n", p->op->name, p->principal);
    client_plan_print(c->say, p);
    if (p->nact == 0) {
        fprintf(c->say, "Nothing to do.\n");
        chat_remember(c, "assistant", "nothing to do");
        client_plan_free(p);
        return CLIENT_EXIT_OK;
    }
    fflush(c->say);
    int rc = chat_confirm(c, p->op->risk, p->nact, p->op->name);
    if (rc != CLIENT_EXIT_OK) {
        chat_remember(c, "assistant", "not run");
        client_plan_free(p);
        return rc;
    }
    client_exec_counts n;
    json_t *results = client_exec_run(aws, p, isatty(STDERR_FILENO) ? stderr : NULL, &n);
    chat_recent(c, p, true);
    static const char *const cols[] = {"region",  "id",    "name",  "before", "action",
                                       "outcome", "after", "error", NULL};
    client_out_items(stdout, c->out, results, cols);
    char summary[200];
    int len = snprintf(summary, sizeof summary, "%s: %zu done, %zu with nothing to do, %zu failed",
                       p->op->name, n.done, n.nothing, n.failed);
    if (n.skipped && len > 0 && (size_t)len < sizeof summary)
        snprintf(summary + len, sizeof summary - (size_t)len, ", %zu not run (interrupted)",
                 n.skipped);
    fprintf(c->say, "%s\n", summary);
    chat_remember(c, "assistant", summary);
    json_decref(results);
    client_plan_free(p);
    if (n.failed == 0 && n.skipped == 0)
        return CLIENT_EXIT_OK;
    return n.done + n.nothing > 0 ? CLIENT_EXIT_PARTIAL : CLIENT_EXIT_FAILED;
}

/* A schedule plan: shown, confirmed, created on the server. */
static int chat_schedule(chat *c, const json_t *plan, const char *sentence)
{
    const char *opname = json_string_value(json_object_get(plan, "operation"));
    const char *cron = json_string_value(json_object_get(plan, "cron"));
    const char *zone = json_string_value(json_object_get(plan, "time_zone"));
    err e;
    err_clear(&e);
    const ops_op *op = ops_lookup(opname ? opname : "", &e);
    if (!op || !cron || !zone) {
        fprintf(c->say, "Cannot schedule that: %s\n",
                op ? "the plan has no cron or time zone" : e.message);
        return CLIENT_EXIT_USAGE;
    }
    char *where = json_dumps(json_object_get(plan, "target"), JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(c->say, "Schedule: %s at '%s' in %s on %s (risk %s)\n", op->name, cron, zone,
            where ? where : "?", ops_risk_name(op->risk));
    free(where);
    if (!c->api) {
        fprintf(c->say,
                "Schedules run on the server: log in first (escher login --server URL --token T). "
                "Nothing was created.\n");
        return CLIENT_EXIT_USAGE;
    }
    fflush(c->say);
    int rc = chat_confirm(c, op->risk, 1, op->name);
    if (rc != CLIENT_EXIT_OK)
        return rc;
    char name[200];
    snprintf(name, sizeof name, "%.120s (chat)", sentence);
    json_t *params = json_object_get(plan, "params");
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "name", name, "cron", cron, "time_zone", zone,
                  "operation", op->name, "target", json_object_get(plan, "target"), "params",
                  params ? params : json_object());
    json_t *made = NULL;
    bool ok = client_api_call(c->api, "POST", "/v1/schedules", body, &made, &e);
    json_decref(body);
    if (!ok) {
        fprintf(c->say, "The server refused the schedule: %s\n", e.message);
        json_decref(made);
        return CLIENT_EXIT_FAILED;
    }
    const char *id = json_string_value(json_object_get(made, "id"));
    const char *next = json_string_value(json_object_get(made, "next_fire_at"));
    char text[300];
    snprintf(text, sizeof text, "Created schedule %s; next fire %s.", id ? id : "?",
             next ? next : "not set");
    fprintf(c->say, "%s\n", text);
    chat_remember(c, "assistant", text);
    json_decref(made);
    return CLIENT_EXIT_OK;
}

/* What the engine understood and what it did not (the server's words
 * when it answered: they say the same). */
static int chat_clarify(chat *c, const json_t *plan, const char *server_text)
{
    const char *u = json_string_value(json_object_get(plan, "understood"));
    const char *m = json_string_value(json_object_get(plan, "missing"));
    char text[600];
    snprintf(text, sizeof text, "Understood: %s. Not understood: %s.", u ? u : "nothing",
             m ? m : "?");
    if (server_text && server_text[0]) {
        chat_remember(c, "assistant", server_text);
        return CLIENT_EXIT_USAGE; /* printed already */
    }
    fprintf(c->say, "%s\n", text);
    chat_remember(c, "assistant", text);
    return CLIENT_EXIT_USAGE;
}

static int chat_server_question(chat *c, const json_t *plan, const char *server_text)
{
    if (server_text && server_text[0]) {
        chat_remember(c, "assistant", server_text);
        return CLIENT_EXIT_OK; /* printed already */
    }
    const char *topic = json_string_value(json_object_get(plan, "topic"));
    char text[300];
    snprintf(text, sizeof text,
             "That is a question for the server (%s)%s; it does not offer it yet.",
             topic ? topic : "?", c->api ? ", which did not answer" : ", and none is configured");
    fprintf(c->say, "%s\n", text);
    chat_remember(c, "assistant", text);
    return CLIENT_EXIT_USAGE;
}

/* One sentence, start to end. */
static int chat_turn(chat *c, const char *sentence)
{
    err e;
    err_clear(&e);
    const char *recent[CHAT_RECENT_IDS], *where[CHAT_RECENT_IDS];
    size_t nrecent = 0, nwhere = 0;
    for (; nrecent < json_array_size(c->recent) && nrecent < CHAT_RECENT_IDS; nrecent++)
        recent[nrecent] = json_string_value(json_array_get(c->recent, nrecent));
    for (; nwhere < json_array_size(c->recent_regions) && nwhere < CHAT_RECENT_IDS; nwhere++)
        where[nwhere] = json_string_value(json_array_get(c->recent_regions, nwhere));
    nlu_context ctx = {.default_region = chat_region(c),
                       .time_zone = c->time_zone,
                       .recent_ids = recent,
                       .nrecent = nrecent,
                       .recent_regions = where,
                       .nrecent_regions = nwhere};
    nlu_plan *local = NULL;
    if (!nlu_parse(sentence, &ctx, &local, &e)) {
        fprintf(c->say, "%s\n", e.message);
        return CLIENT_EXIT_USAGE;
    }
    chat_remember(c, "user", sentence);
    json_t *answer = chat_server(c, sentence);
    const json_t *plan = nlu_plan_json(local);
    const char *server_text = NULL;
    if (answer) {
        const json_t *sp = json_object_get(answer, "plan");
        const char *kind = json_string_value(json_object_get(sp, "kind"));
        bool mutating = kind && (strcmp(kind, "operation") == 0 || strcmp(kind, "schedule") == 0);
        const char *lk = json_string_value(json_object_get(plan, "kind"));
        bool question = nlu_plan_question(local) ||
                        (lk && (strcmp(lk, "query") == 0 || strcmp(lk, "server_question") == 0));
        if (mutating && question) {
            fprintf(c->say,
                    "The server's answer would change something, but this reads as a question; "
                    "answering it as one.\n");
        } else {
            plan = sp;
            server_text = json_string_value(json_object_get(answer, "text"));
            if (server_text && server_text[0])
                fprintf(c->say, "%s\n", server_text);
        }
    }
    const char *kind = json_string_value(json_object_get(plan, "kind"));
    int rc;
    if (!kind)
        rc = chat_clarify(c, plan, server_text);
    else if (strcmp(kind, "query") == 0)
        rc = chat_query(c, plan);
    else if (strcmp(kind, "operation") == 0)
        rc = chat_operation(c, plan);
    else if (strcmp(kind, "schedule") == 0)
        rc = chat_schedule(c, plan, sentence);
    else if (strcmp(kind, "server_question") == 0)
        rc = chat_server_question(c, plan, server_text);
    else
        rc = chat_clarify(c, plan, server_text);
    fflush(c->say);
    json_decref(answer);
    nlu_plan_free(local);
    return rc;
}

static void chat_init(chat *c, const opts *o, client_out_format out, client_api *api, bool yes)
{
    memset(c, 0, sizeof *c);
    c->o = o;
    c->out = out;
    c->api = api;
    c->yes = yes;
    c->say = out == CLIENT_OUT_TABLE ? stdout : stderr;
    c->time_zone = local_zone();
    c->recent = json_array();
    c->recent_regions = json_array();
    err e;
    err_clear(&e);
    c->state = client_state_open(o, &e);
    if (!c->state)
        fprintf(stderr, "escher: chat history is not kept: %s\n", e.message);
}

static void chat_clear(chat *c)
{
    client_state_close(c->state);
    client_aws_close(&c->ca);
    free(c->def_region);
    free(c->time_zone);
    free(c->account);
    json_decref(c->recent);
    json_decref(c->recent_regions);
}

int client_chat_ask(const opts *o, const char *sentence, client_out_format out, client_api *api,
                    bool yes)
{
    chat c;
    chat_init(&c, o, out, api, yes);
    int rc = chat_turn(&c, sentence);
    chat_clear(&c);
    return rc;
}

/* Feeds the REPL's line editor the user's past sentences. */
static void chat_load_history(chat *c)
{
    json_t *rows = NULL;
    err e;
    err_clear(&e);
    if (!c->state || !client_state_history_list(c->state, CHAT_HISTORY_LOAD, &rows, &e))
        return;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *role = json_string_value(json_object_get(r, "role"));
        const char *text = json_string_value(json_object_get(r, "text"));
        if (role && text && strcmp(role, "user") == 0)
            add_history(text);
    }
    json_decref(rows);
}

/* The next sentence: lines ending in a backslash go on on the next line.
 * NULL at end of input. Caller frees. */
static char *chat_read_sentence(bool tty)
{
    char *line = chat_readline(CLIENT_CHAT_PROMPT);
    if (!line)
        return NULL;
    if (!tty)
        printf("%s%s\n", CLIENT_CHAT_PROMPT, line);
    size_t len = strlen(line);
    while (len > 0 && line[len - 1] == '\\' && len < CHAT_LINE_MAX) {
        line[len - 1] = ' ';
        char *more = chat_readline(CHAT_CONTINUE_PROMPT);
        if (!more && prompt_interrupted) {
            free(line); /* Ctrl-C drops the whole sentence */
            return NULL;
        }
        if (!more)
            break;
        if (!tty)
            printf("%s%s\n", CHAT_CONTINUE_PROMPT, more);
        char *joined = xasprintf("%s%s", line, more);
        free(line);
        free(more);
        line = joined;
        len = strlen(line);
    }
    return line;
}

int client_chat_repl(const opts *o, client_out_format out, client_api *api, bool yes)
{
    chat c;
    chat_init(&c, o, out, api, yes);
    c.repl = true;
    bool tty = isatty(STDIN_FILENO);
    chat_load_history(&c);
    if (tty)
        printf("escher chat: ask about your AWS estate or tell it what to do; 'help' lists "
               "examples, 'exit' leaves.\n");
    fflush(stdout);
    for (;;) {
        char *line = chat_read_sentence(tty);
        if (!line && prompt_interrupted && tty) {
            printf("\n");
            continue;
        }
        if (!line)
            break;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t len = strlen(s);
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            s[--len] = '\0';
        if (strcmp(s, "exit") == 0 || strcmp(s, "quit") == 0) {
            free(line);
            break;
        }
        if (strcmp(s, "help") == 0) {
            printf("Examples:\n"
                   "  list running instances in eu-west-1\n"
                   "  how many unattached volumes are older than 30 days\n"
                   "  stop dev instances in us-east-1\n"
                   "  start them again\n"
                   "  resize i-0123456789abcdef0 in eu-west-1 to m5.large\n"
                   "  stop dev instances every weekday at 8pm Berlin time\n"
                   "  what's my biggest cost driver this month\n");
        } else if (s[0]) {
            add_history(s);
            chat_turn(&c, s);
        }
        fflush(stdout);
        free(line);
    }
    if (tty)
        printf("\n");
    chat_clear(&c);
    return CLIENT_EXIT_OK;
}
