#include "creds_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void fake_env_set(fake_env *env, const char *name, const char *value)
{
    for (size_t i = 0; i < env->count; i++) {
        if (strcmp(env->names[i], name) == 0) {
            free(env->values[i]);
            env->values[i] = strdup(value);
            return;
        }
    }
    if (env->count == FAKE_ENV_MAX)
        abort();
    env->names[env->count] = strdup(name);
    env->values[env->count] = strdup(value);
    env->count++;
}

void fake_env_unset(fake_env *env, const char *name)
{
    for (size_t i = 0; i < env->count; i++) {
        if (strcmp(env->names[i], name) == 0) {
            free(env->names[i]);
            free(env->values[i]);
            env->count--;
            env->names[i] = env->names[env->count];
            env->values[i] = env->values[env->count];
            return;
        }
    }
}

void fake_env_free(fake_env *env)
{
    for (size_t i = 0; i < env->count; i++) {
        free(env->names[i]);
        free(env->values[i]);
    }
    env->count = 0;
}

const char *fake_env_get(const char *name, void *arg)
{
    fake_env *env = arg;
    for (size_t i = 0; i < env->count; i++)
        if (strcmp(env->names[i], name) == 0)
            return env->values[i];
    return NULL;
}

time_t fake_clock_get(void *arg)
{
    return ((fake_clock *)arg)->now;
}

const char *closed_port_url(void)
{
    static char url[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        abort();
    close(fd); /* nothing listens there now: connections are refused */
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    return url;
}

void scratch_init(scratch *s)
{
    memset(s, 0, sizeof *s);
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/escher-creds-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL)
        abort();
    snprintf(s->aws, sizeof s->aws, "%s/.aws", s->dir);
    mkdir(s->aws, 0700);
    fake_env_set(&s->env, "HOME", s->dir);
    s->clock.now = 1700000000;
    s->opts.getenv = fake_env_get;
    s->opts.getenv_arg = &s->env;
    s->opts.clock = fake_clock_get;
    s->opts.clock_arg = &s->clock;
    s->opts.imds_endpoint = NULL;
    s->opts.container_retry_delay_ms = -1;
    fake_env_set(&s->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", closed_port_url());
}

void scratch_free(scratch *s)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->dir);
    fake_env_free(&s->env);
}

static const char *write_mode(scratch *s, const char *rel, const char *text, mode_t mode)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", s->dir, rel);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

const char *scratch_write(scratch *s, const char *rel, const char *text)
{
    return write_mode(s, rel, text, 0600);
}

const char *scratch_write_exec(scratch *s, const char *rel, const char *text)
{
    return write_mode(s, rel, text, 0755);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

const char *form_value(const char *body, const char *key)
{
    static char out[4096];
    size_t kl = strlen(key);
    const char *p = body;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t o = 0;
            for (size_t i = kl + 1; i < len && o + 1 < sizeof out; i++) {
                if (p[i] == '%' && i + 2 < len + 1 && hexval(p[i + 1]) >= 0 &&
                    hexval(p[i + 2]) >= 0) {
                    out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                } else if (p[i] == '+') {
                    out[o++] = ' ';
                } else {
                    out[o++] = p[i];
                }
            }
            out[o] = '\0';
            return out;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}
