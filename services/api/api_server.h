/* escher-api's HTTP server: several libevent loops, one thread each, every
 * loop with its own listening socket on the same port (SO_REUSEPORT, so the
 * kernel spreads connections across loops and across processes started on
 * the same port) and its own PostgreSQL connection.
 *
 * Database statements run synchronously on the loop's connection. They are
 * short, indexed and bounded by statement_timeout (the request timeout); the
 * API never calls AWS: anything slow (verifying an account, discovering an
 * organization) becomes a job for the workers and the route answers 202 with
 * the job. The one exception, POST /v1/chat's optional LLM call, runs on the
 * loop's curl multi client and answers later (api_defer in api_req.h). A
 * maintenance thread watches Redis for /readyz.
 *
 * Per request (api_req.h): request id, route lookup (404/405), body limit
 * (413), bearer token + tenant in one round trip that also opens the
 * request's transaction with escher.tenant_id set, route roles (403),
 * per-token limit (429), the handler, COMMIT or ROLLBACK, then the answer. */
#ifndef ESCHER_API_SERVER_H
#define ESCHER_API_SERVER_H

#include "core/err.h"
#include "core/log.h"
#include "core/opts.h"

#include <stdbool.h>

typedef struct api_server api_server;

/* Binds the listening sockets (so a port 0 becomes known) and connects every
 * loop's database connection as escher_api. o and log are borrowed and must
 * outlive the server. Fails with ERR_IO naming the address or the database
 * (password removed), ERR_CONFIG for bad option values. */
api_server *api_server_new(const opts *o, const logger *log, err *e);

/* The TCP port the server listens on. */
int api_server_port(const api_server *s);

/* Serves until SIGTERM or SIGINT (which the calling thread must not have
 * handled otherwise; they are blocked in every thread here), then stops
 * accepting, lets the loops answer what they have read and returns. */
bool api_server_run(api_server *s, err *e);

/* Closes sockets and connections. NULL is accepted. */
void api_server_free(api_server *s);

#endif
