/* credential_process: runs the profile's command the way botocore does
 * (shlex-split, executed directly without a shell, stdout and stderr
 * captured) and reads the Version 1 JSON it prints. Also home of the JSON
 * credential reader shared with the container and IMDS sources. */
#include "aws/credprov_internal.h"

#include "core/secure.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* A credentials document is a few KiB; anything past this is a runaway
 * process and would only be held in memory. */
#define CP_MAX_STDOUT (1024u * 1024u)
#define CP_MAX_STDERR (64u * 1024u)
/* How much of stderr makes it into an error message. */
#define CP_STDERR_IN_MESSAGE 400

static const char *json_str(const json_t *obj, const char *key, const char *what, bool required,
                            bool *bad, err *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required) {
            *bad = true;
            err_set(e, ERR_PARSE, "%s: missing required key in response: '%s'", what, key);
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        *bad = true;
        err_set(e, ERR_PARSE, "%s: '%s' in response is not a string", what, key);
        return NULL;
    }
    return json_string_value(v);
}

bool cp_creds_from_json(const json_t *obj, const char *token_key, bool need_expiration,
                        const char *what, aws_creds **out, err *e)
{
    bool bad = false;
    *out = NULL;
    if (!json_is_object(obj))
        return err_set(e, ERR_PARSE, "%s: response is not a JSON object", what);
    const char *id = json_str(obj, "AccessKeyId", what, true, &bad, e);
    if (bad)
        return false;
    const char *secret = json_str(obj, "SecretAccessKey", what, true, &bad, e);
    if (bad)
        return false;
    const char *token = token_key ? json_str(obj, token_key, what, need_expiration, &bad, e) : NULL;
    if (bad)
        return false;
    const char *exp = json_str(obj, "Expiration", what, need_expiration, &bad, e);
    if (bad)
        return false;
    time_t expiration = 0;
    if (exp != NULL && !timeutil_parse_iso8601(exp, &expiration, e))
        return err_prefix(e, "%s: Expiration", what);
    *out = creds_new(id, secret, token && *token ? token : NULL, expiration, what);
    return true;
}

/* Reads both pipes until the child closes them, so neither can fill up and
 * block the child. */
static void drain(int outfd, int errfd, strbuf *out, strbuf *errb, bool *too_big)
{
    struct pollfd fds[2] = {{.fd = outfd, .events = POLLIN}, {.fd = errfd, .events = POLLIN}};
    char buf[4096];
    int open_fds = 2;
    while (open_fds > 0) {
        int n = poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            ssize_t r = read(fds[i].fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            strbuf *dst = i == 0 ? out : errb;
            size_t cap = i == 0 ? CP_MAX_STDOUT : CP_MAX_STDERR;
            if (dst->len + (size_t)r <= cap)
                strbuf_append(dst, buf, (size_t)r);
            else if (i == 0)
                *too_big = true;
        }
    }
    secure_wipe(buf, sizeof buf);
}

bool cp_process_run(const char *command, const char *profile, aws_creds **out, err *e)
{
    char **argv = NULL;
    size_t argc = 0;
    *out = NULL;
    if (!awsconfig_shell_split(command, &argv, &argc, e))
        return err_prefix(e, "credential_process of profile '%s'", profile);
    if (argc == 0) {
        awsconfig_free_words(argv);
        return err_set(e, ERR_CONFIG, "credential_process of profile '%s' is empty", profile);
    }
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        int saved = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
        }
        awsconfig_free_words(argv);
        return err_set(e, ERR_IO, "credential_process of profile '%s': pipe: %s", profile,
                       strerror(saved));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        err_set(e, ERR_IO, "credential_process of profile '%s': cannot run '%s': %s", profile,
                argv[0], strerror(rc));
        awsconfig_free_words(argv);
        return false;
    }
    strbuf sout = STRBUF_INIT, serr = STRBUF_INIT;
    bool too_big = false;
    drain(po[0], pe[0], &sout, &serr, &too_big);
    close(po[0]);
    close(pe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    bool ok = false;
    if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
        /* stderr is the tool's own diagnostics: the useful part of the error. */
        size_t n = serr.len;
        const char *msg = strbuf_str(&serr);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
            n--;
        int shown = n > CP_STDERR_IN_MESSAGE ? CP_STDERR_IN_MESSAGE : (int)n;
        if (WIFSIGNALED(status))
            err_set(e, ERR_AUTH,
                    "credential_process of profile '%s' ('%s') was killed by signal %d%s%.*s",
                    profile, argv[0], WTERMSIG(status), shown ? ": " : "", shown, msg);
        else
            err_set(e, ERR_AUTH,
                    "credential_process of profile '%s' ('%s') exited with status %d%s%.*s",
                    profile, argv[0], WEXITSTATUS(status), shown ? ": " : "", shown, msg);
    } else if (too_big) {
        err_set(e, ERR_LIMIT,
                "credential_process of profile '%s' ('%s') printed more than %u bytes", profile,
                argv[0], CP_MAX_STDOUT);
    } else {
        json_error_t jerr;
        json_t *doc = json_loadb(sout.buf ? sout.buf : "", sout.len, 0, &jerr);
        /* jansson's message quotes the text near the error: it could be a
         * secret, so only the position is reported. */
        if (doc == NULL) {
            err_set(e, ERR_PARSE,
                    "credential_process of profile '%s' ('%s'): output is not valid JSON "
                    "(line %d, column %d)",
                    profile, argv[0], jerr.line, jerr.column);
        } else {
            json_t *ver = json_object_get(doc, "Version");
            if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
                char *v = ver ? json_dumps(ver, JSON_ENCODE_ANY) : NULL;
                err_set(e, ERR_PARSE,
                        "credential_process of profile '%s': unsupported version '%s' for "
                        "credential process provider, supported versions: 1",
                        profile, v ? v : "<Version key not provided>");
                free(v);
            } else {
                char *what = xasprintf("credential_process of profile '%s'", profile);
                ok = cp_creds_from_json(doc, "SessionToken", false, what, out, e);
                free(what);
                if (ok) {
                    free((*out)->source);
                    (*out)->source = xstrdup("credential_process");
                }
            }
            json_decref(doc);
        }
    }
    strbuf_free_secret(&sout);
    strbuf_free(&serr);
    awsconfig_free_words(argv);
    return ok;
}

typedef struct proc_impl {
    char *command;
    char *profile;
} proc_impl;

static bool proc_fetch(void *p, aws_creds **out, err *e)
{
    proc_impl *pi = p;
    return cp_process_run(pi->command, pi->profile, out, e);
}

static void proc_free(void *p)
{
    proc_impl *pi = p;
    free(pi->command);
    free(pi->profile);
    free(pi);
}

credprov *cp_process_new(const cp_ctx *ctx, const char *command, const char *profile)
{
    proc_impl *pi = xcalloc(1, sizeof *pi);
    pi->command = xstrdup(command);
    pi->profile = xstrdup(profile);
    return cp_refreshing_new(ctx, "credential_process", proc_fetch, proc_free, pi, NULL);
}
