/* Profiles for the simulated organization. Every account of a generated
 * world has an "Administrator" user with an active key; a loaded world may
 * differ, so any user with an active key stands in. */
#include "awsconfig_out.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const sbx_access_key *active_key(const sbx_user *u)
{
    for (size_t i = 0; u && i < u->nkeys; i++)
        if (u->keys[i]->active)
            return u->keys[i];
    return NULL;
}

/* The account's administrator key: "Administrator" first, else any user's. */
static const sbx_access_key *admin_key(const sbx_account *a)
{
    const sbx_access_key *k = active_key(world_user(a, "Administrator"));
    for (size_t i = 0; k == NULL && i < a->nusers; i++)
        k = active_key(a->users[i]);
    return k;
}

static void add_profile(strbuf *cfg, strbuf *creds, const char *name, const sbx_access_key *k,
                        const char *region)
{
    if (k == NULL)
        return;
    strbuf_printf(cfg, "[profile %s]\nregion = %s\noutput = json\n\n", name, region);
    strbuf_printf(creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", name,
                  k->id, k->secret);
}

static bool write_file(const char *dir, const char *name, const strbuf *sb, err *e)
{
    char *path = xasprintf("%s/%s", dir, name);
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    if (ok) {
        const char *p = strbuf_str(sb);
        size_t left = sb->len;
        while (ok && left) {
            ssize_t n = write(fd, p, left);
            if (n < 0 && errno == EINTR)
                continue;
            ok = n > 0;
            if (ok) {
                p += n;
                left -= (size_t)n;
            }
        }
        ok = close(fd) == 0 && ok;
        ok = ok && rename(tmp, path) == 0;
        if (!ok)
            unlink(tmp);
    }
    if (!ok)
        err_set(e, ERR_IO, "cannot write %s: %s", path, strerror(errno));
    free(tmp);
    free(path);
    return ok;
}

bool awsconfig_write(const world *w, const char *dir, err *e)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_set(e, ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
    const char *region = w->nregions ? w->region_names[0] : "us-east-1";
    strbuf cfg = STRBUF_INIT, creds = STRBUF_INIT;
    if (w->hub && w->hub->nusers)
        add_profile(&cfg, &creds, "hub", active_key(w->hub->users[0]), region);
    if (w->naccounts)
        add_profile(&cfg, &creds, "mgmt", admin_key(w->accounts[0]), region);
    for (size_t i = 0; i < w->naccounts; i++) {
        char name[64];
        snprintf(name, sizeof name, "acct-%s", w->accounts[i]->id);
        add_profile(&cfg, &creds, name, admin_key(w->accounts[i]), region);
    }
    bool ok = write_file(dir, "config", &cfg, e) && write_file(dir, "credentials", &creds, e);
    strbuf_free(&cfg);
    strbuf_free_secret(&creds);
    return ok;
}
