/* HTTP to escher-api with the user's token. Only the token and JSON bodies
 * the commands build are ever sent: no AWS credential material. */
#ifndef ESCHER_CLIENT_API_H
#define ESCHER_CLIENT_API_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct client_api client_api;

/* url: the server's base URL (no trailing path); token may be NULL. */
client_api *client_api_new(const char *url, const char *token);
void client_api_free(client_api *a);
const char *client_api_url(const client_api *a);

/* Sends method path (with query) and body (may be NULL) and stores the JSON
 * answer in *out (NULL for an empty body; caller decrefs). Fails when the
 * server cannot be reached (message names the URL) or answers >= 400 (message
 * is the API's error message followed by "(request id X)"). POSTs that start
 * a run (/v1/runs, /v1/schedules/{id}/run) carry an Idempotency-Key and are
 * sent up to 3 times while the answer is lost, never starting two runs. */
bool client_api_call(client_api *a, const char *method, const char *path, const json_t *body,
                     json_t **out, err *e);

#endif
