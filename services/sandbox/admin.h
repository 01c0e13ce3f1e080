/* The admin API: unsigned JSON over HTTP on its own port (loopback), for
 * tests and the demo to reset the world, move the sandbox clock, inject
 * faults and read the call log. */
#ifndef ESCHER_SANDBOX_ADMIN_H
#define ESCHER_SANDBOX_ADMIN_H

struct evhttp_request;

/* evhttp callback; arg is the sbx_server. */
void admin_on_request(struct evhttp_request *req, void *arg);

#endif
