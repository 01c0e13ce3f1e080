/* Route lookup over the areas' tables (see api_route.h). Matching is a
 * linear scan: a few dozen routes cost less than any hash would save. */
#include "api_route.h"

#include <string.h>

static const api_route *const tables[] = {
    api_routes_health, api_routes_users, api_routes_accounts,  api_routes_onboarding,
    api_routes_jobs,   api_routes_audit, api_routes_schedules, api_routes_channels,
    api_routes_runs,   api_routes_chat,
};

size_t api_route_count(void)
{
    size_t n = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const api_route *r = tables[t]; r->method; r++)
            n++;
    return n;
}

const api_route *api_route_at(size_t i)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const api_route *r = tables[t]; r->method; r++)
            if (i-- == 0)
                return r;
    return NULL;
}

#define MAX_SEGMENTS 16

/* Splits buf (a copy of the path, starting with '/') into its segments in
 * place. Returns the count, or -1 for a path that is not "/a/b..." or has
 * too many segments. An empty segment ("//" or a trailing '/') is kept and
 * matches nothing. */
static int split_path(char *buf, char *seg[MAX_SEGMENTS])
{
    if (buf[0] != '/')
        return -1;
    int n = 0;
    for (char *s = buf; s != NULL;) {
        if (n == MAX_SEGMENTS)
            return -1;
        *s++ = '\0';
        seg[n++] = s;
        s = strchr(s, '/');
    }
    return n;
}

/* Matches the path's segments against pattern ("/v1/accounts/{id}"). */
static bool pattern_match(const char *pattern, char *const *seg, int nseg,
                          const char *params[API_MAX_PARAMS], size_t *nparams)
{
    *nparams = 0;
    const char *p = pattern;
    for (int i = 0; i < nseg; i++) {
        if (*p != '/')
            return false;
        p++;
        const char *end = strchr(p, '/');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        size_t slen = strlen(seg[i]);
        if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || *nparams >= API_MAX_PARAMS)
                return false;
            params[(*nparams)++] = seg[i];
        } else if (plen != slen || memcmp(p, seg[i], plen) != 0) {
            return false;
        }
        p += plen;
    }
    return *p == '\0';
}

const api_route *api_route_match(const char *method, const char *path, size_t *index, char *buf,
                                 size_t bufsize, const char *params[API_MAX_PARAMS],
                                 size_t *nparams, bool *path_known, char *allow, size_t allow_size)
{
    *path_known = false;
    *nparams = 0;
    if (allow_size)
        allow[0] = '\0';
    size_t n = strlen(path);
    char *seg[MAX_SEGMENTS];
    if (n + 1 > bufsize)
        return NULL;
    memcpy(buf, path, n + 1);
    int nseg = split_path(buf, seg);
    if (nseg < 0)
        return NULL;
    size_t i = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const api_route *r = tables[t]; r->method; r++, i++) {
            if (!pattern_match(r->pattern, seg, nseg, params, nparams))
                continue;
            if (strcmp(r->method, method) == 0) {
                *index = i;
                return r;
            }
            *path_known = true;
            size_t used = strlen(allow);
            if (used + strlen(r->method) + 3 < allow_size)
                snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "", r->method);
        }
    }
    return NULL;
}

const char *api_roles_text(unsigned roles)
{
    static const char *const names[8] = {
        "none",   "manager",        "executor",        "manager,executor",
        "viewer", "manager,viewer", "executor,viewer", "manager,executor,viewer",
    };
    return names[roles & 7];
}

void api_routes_print(FILE *out)
{
    for (size_t i = 0, n = api_route_count(); i < n; i++) {
        const api_route *r = api_route_at(i);
        fprintf(out, "%s\t%s\t%s\t%s\n", r->method, r->pattern, api_roles_text(r->roles),
                r->summary);
    }
}
