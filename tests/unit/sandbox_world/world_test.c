#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "world_test.h"

#include "core/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

world *wt_world(int accounts, size_t nregions, uint64_t seed)
{
    static const char *const regions[] = {"us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"};
    world_params p = {accounts, regions, nregions, seed, WT_EXTERNAL_ID, WT_NOW};
    err e;
    world *w = world_generate(&p, &e);
    if (w == NULL)
        fail_msg("world_generate: %s", e.message);
    return w;
}

static bool in_class(char c, const char *cls)
{
    if (strcmp(cls, "0") == 0)
        return isdigit((unsigned char)c);
    if (strcmp(cls, "0a") == 0)
        return isdigit((unsigned char)c) || (c >= 'a' && c <= 'f');
    if (strcmp(cls, "a0") == 0)
        return isdigit((unsigned char)c) || (c >= 'a' && c <= 'z');
    if (strcmp(cls, "A2") == 0)
        return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
    return false;
}

bool wt_matches(const char *s, const char *prefix, const char *cls, size_t n)
{
    size_t pl = strlen(prefix);
    if (s == NULL || strncmp(s, prefix, pl) != 0 || strlen(s) != pl + n)
        return false;
    for (size_t i = pl; s[i]; i++)
        if (!in_class(s[i], cls))
            return false;
    return true;
}

sbx_session *wt_session(world *w, const sbx_account *a, const char *role_name, time_t expiration)
{
    static int counter;
    const sbx_role *role = world_role(a, role_name);
    if (role == NULL)
        fail_msg("no role %s in %s", role_name, a->id);
    sbx_session *s = xcalloc(1, sizeof(*s));
    s->access_key_id = world_new_chars(w, "ASIA", NULL, 16);
    s->secret = world_new_chars(w, "", "abcdefghijklmnopqrstuvwxyz0123456789+/", 40);
    s->token = world_new_chars(w, "IQoJb3JpZ2luX2Vj", NULL, 100);
    s->account_id = xstrdup(a->id);
    s->role_name = xstrdup(role_name);
    s->role_arn = xstrdup(role->arn);
    s->session_name = xasprintf("session-%d", ++counter);
    s->assumed_role_id = xasprintf("%s:%s", role->id, s->session_name);
    s->external_id = xstrdup(WT_EXTERNAL_ID);
    s->expiration = expiration;
    return s;
}
