/* Routes of the users area: who am I, users, API tokens. */
#include "api_route.h"

static void me(api_req *r)
{
    const api_caller *c = api_caller_of(r);
    api_reply(r, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:s}", "user_id", c->user_id, "tenant_id",
                        c->tenant_id, "email", c->email, "role", c->role_name, "token_id",
                        c->token_id));
}

const api_route api_routes_users[] = {
    {"GET", "/v1/me", API_ROLE_ANY, me, "The caller: user, tenant, role and token id."},
    {0},
};
