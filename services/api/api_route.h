/* The API's routes as data: one entry per (method, path pattern), each
 * declaring the roles it admits, next to its handler in the file of its area
 * (api_accounts.c, api_users.c, ...). api_route.c lists those files' tables
 * once. `escher-api routes` prints the table; tests compare it with
 * docs/api/openapi.yaml and drive the RBAC matrix from it. */
#ifndef ESCHER_API_ROUTE_H
#define ESCHER_API_ROUTE_H

#include "api_req.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define API_MAX_PARAMS 4

typedef void (*api_handler)(api_req *r);

typedef struct api_route {
    const char *method;  /* "GET", "POST", "PATCH", "DELETE" */
    const char *pattern; /* "/v1/accounts/{id}": {name} matches one path segment */
    unsigned roles;      /* API_ROLE_* bits admitted; 0 = no token needed */
    api_handler handler;
    const char *summary; /* one line, also the OpenAPI summary */
} api_route;

/* Each area's table, ended by an entry with method NULL. */
extern const api_route api_routes_health[];
extern const api_route api_routes_users[];
extern const api_route api_routes_accounts[];
extern const api_route api_routes_onboarding[];
extern const api_route api_routes_jobs[];
extern const api_route api_routes_audit[];
extern const api_route api_routes_schedules[];
extern const api_route api_routes_channels[];
extern const api_route api_routes_runs[];
extern const api_route api_routes_chat[];

/* Number of routes in all tables; api_route_at(i) for i < that number. */
size_t api_route_count(void);
const api_route *api_route_at(size_t i);

/* Finds the route for method and path (segments are compared as sent). On a match returns it, with
 * its index in *index and the {param} segments in params[0..*nparams) pointing into a copy kept in
 * buf (bufsize bytes). Returns NULL when nothing matches; *path_known then
 * says whether another method would match the path (405 rather than 404),
 * and allow (allow_size bytes) lists those methods, comma-separated. */
const api_route *api_route_match(const char *method, const char *path, size_t *index, char *buf,
                                 size_t bufsize, const char *params[API_MAX_PARAMS],
                                 size_t *nparams, bool *path_known, char *allow, size_t allow_size);

/* The role names admitted by roles, comma-separated ("manager,executor"),
 * or "none" for public routes. Static strings. */
const char *api_roles_text(unsigned roles);

/* Writes one line per route: "METHOD PATTERN ROLES SUMMARY", tab-separated. */
void api_routes_print(FILE *out);

#endif
