/* Queuing a job from a route handler (see api_enqueue.h). */
#include "api_enqueue.h"

#include <stdio.h>
#include <stdlib.h>

bool api_enqueue(api_req *r, const char *kind, const json_t *payload, const char *account_id,
                 char id[QUEUE_ID_LEN])
{
    bool duplicate;
    return api_enqueue_key(r, kind, payload, account_id, NULL, id, &duplicate);
}

bool api_enqueue_key(api_req *r, const char *kind, const json_t *payload, const char *account_id,
                     const char *key, char id[QUEUE_ID_LEN], bool *duplicate)
{
    const api_caller *c = api_caller_of(r);
    char *text = json_dumps(payload, JSON_COMPACT);
    queue_new_job j = {.tenant_id = c->tenant_id,
                       .kind = kind,
                       .payload_json = text,
                       .created_by = c->email,
                       .account_id = account_id,
                       .idempotency_key = key};
    err e;
    err_clear(&e);
    *duplicate = false;
    bool ok = text != NULL && queue_enqueue(api_db(r), &j, id, duplicate, &e);
    free(text);
    if (!ok) {
        if (e.code == ERR_OK)
            err_set(&e, ERR_INTERNAL, "the %s payload could not be encoded", kind);
        e.code = ERR_INTERNAL;
        e.remote_code[0] = '\0'; /* never a 409: a used key is a duplicate, not an error */
        api_fail_err(r, &e);
    }
    return ok;
}

void api_enqueue_accepted(api_req *r, const char *job)
{
    char location[64];
    snprintf(location, sizeof location, "/v1/jobs/%s", job);
    api_header(r, "Location", location);
    api_reply(r, 202, json_pack("{s:s}", "job", job));
}
