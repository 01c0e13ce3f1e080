/* escher-sandbox: a local AWS-compatible endpoint simulating an organization
 * of accounts. Builds the world (generated from a seed or loaded from JSON),
 * optionally writes AWS profiles for it, then serves until SIGINT/SIGTERM. */
#include "awsconfig_out.h"
#include "policy.h"
#include "sandbox_options.h"
#include "server.h"

#include "aws/sigv4.h"
#include "core/log.h"
#include "core/opts.h"
#include "core/secure.h"
#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <event2/event.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

/* Splits the comma-separated list (already validated by the options table). */
static char **split_regions(const char *list, size_t *n)
{
    char **out = NULL;
    *n = 0;
    char *copy = xstrdup(list);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        out = xreallocarray(out, *n + 1, sizeof *out);
        out[(*n)++] = xstrdup(tok);
    }
    free(copy);
    return out;
}

static bool write_text(const char *path, const char *text, err *e)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return err_set(e, ERR_IO, "cannot write world file '%s': %s", path, strerror(errno));
    bool ok = fputs(text, f) >= 0;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok)
        return err_set(e, ERR_IO, "cannot write world file '%s': %s", path, strerror(saved));
    return true;
}

/* Everything after the options: returns the exit status. */
static int run(const opts *o, logger *log)
{
    size_t nregions = 0;
    char **regions = split_regions(opts_get_string(o, "regions"), &nregions);
    char generated_id[33];
    err e;
    const char *external_id = opts_get_string(o, "external-id");
    if (external_id == NULL) {
        /* A guessable fallback would defeat the point of an ExternalId. */
        if (!secure_random_string(generated_id, 32,
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                                  &e)) {
            log_error(log, "cannot generate an external id", LOG_STR("error", e.message));
            for (size_t i = 0; i < nregions; i++)
                free(regions[i]);
            free(regions);
            return 1;
        }
        external_id = generated_id;
    }
    sbx_world_source src = {
        .params =
            {
                .accounts = (int)opts_get_int(o, "accounts"),
                .regions = (const char *const *)regions,
                .nregions = nregions,
                .seed = (uint64_t)opts_get_int(o, "seed"),
                .external_id = external_id,
                .now = timeutil_now(),
            },
        .world_file = opts_get_string(o, "world"),
    };
    int status = 1;
    struct event_base *base = NULL;
    sbx_server *srv = NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    uint64_t t0 = timeutil_mono_ms();
    world *w = sbx_world_build(&src, &e);
    if (w == NULL) {
        log_error(log, "cannot build the world", LOG_STR("error", e.message));
        goto out;
    }
    uint64_t built_ms = timeutil_mono_ms() - t0;
    const char *save = opts_get_string(o, "save-world");
    if (save) {
        char *text = world_save_json(w);
        bool ok = write_text(save, text, &e);
        free(text);
        if (!ok) {
            log_error(log, "cannot save the world", LOG_STR("error", e.message));
            world_free(w);
            goto out;
        }
    }
    const char *cfgdir = opts_get_string(o, "aws-config");
    if (cfgdir && !awsconfig_write(w, cfgdir, &e)) {
        log_error(log, "cannot write the AWS profiles", LOG_STR("error", e.message));
        world_free(w);
        goto out;
    }

    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (base == NULL) {
        log_error(log, "cannot create the event loop");
        world_free(w);
        goto out;
    }
    sbx_server_config cfg = {
        .listen = opts_get_string(o, "listen"),
        .port = (int)opts_get_int(o, "port"),
        .admin_port = (int)opts_get_int(o, "admin-port"),
        .throttle = opts_get_bool(o, "throttle"),
        .state_delay = (int)(opts_get_duration_ms(o, "state-delay") / 1000),
        .latency_ms = (uint32_t)opts_get_duration_ms(o, "latency"),
        .error_rate = strtod(opts_get_string(o, "error-rate"), NULL),
        .fault_seed = (uint64_t)opts_get_int(o, "seed"),
        .calllog_cap = (size_t)opts_get_int(o, "call-log-size"),
    };
    srv = sbx_server_new(base, &cfg, w, &src, log, &e);
    if (srv == NULL) {
        world_free(w);
        log_error(log, "cannot start", LOG_STR("error", e.message));
        goto out;
    }
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    w = sbx_server_world(srv);
    log_info(log, "listening", LOG_STR("listen", cfg.listen), LOG_INT("port", sbx_server_port(srv)),
             LOG_INT("admin_port", sbx_server_admin_port(srv)),
             LOG_INT("accounts", (int64_t)w->naccounts),
             LOG_STR("regions", opts_get_string(o, "regions")),
             LOG_STR("external_id", w->external_id), LOG_STR("org_id", w->org_id),
             LOG_BOOL("throttle", cfg.throttle), LOG_INT("world_ms", (int64_t)built_ms),
             LOG_STR("aws_config_dir", cfgdir));
    event_base_dispatch(base);
    log_info(log, "stopping");
    status = 0;
out:
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    sbx_server_free(srv);
    if (base)
        event_base_free(base);
    policy_cache_clear();
    sigv4_cache_clear();
    for (size_t i = 0; i < nregions; i++)
        free(regions[i]);
    free(regions);
    return status;
}

int main(int argc, char **argv)
{
    opts *o = NULL;
    int status = opts_startup(sandbox_options(), argc, argv, stdout, stderr, &o);
    if (status >= 0)
        return status;
    log_level level = LOG_LEVEL_INFO;
    log_level_parse(opts_get_string(o, "log-level"), &level, NULL);
    logger *log = log_new("escher-sandbox", level, -1);
    status = run(o, log);
    log_free(log);
    opts_free(o);
    return status;
}
