/* Routes without a token: /healthz (the process answers), /readyz (it can
 * serve: database reachable; Redis reachable or the API runs degraded) and
 * /metrics (Prometheus text format). */
#include "api_metrics.h"
#include "api_req_internal.h"
#include "api_route.h"

#include "core/strbuf.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

static void healthz(api_req *r)
{
    api_reply(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void readyz(api_req *r)
{
    bool db_ok = false;
    char db_reason[256] = "";
    if (r->db) {
        PGresult *res = PQexec(r->db, "SELECT 1");
        db_ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        if (!db_ok)
            snprintf(db_reason, sizeof db_reason, "%s", PQerrorMessage(r->db));
        PQclear(res);
    } else {
        snprintf(db_reason, sizeof db_reason, "cannot connect");
    }
    db_reason[strcspn(db_reason, "\n")] = '\0';
    api_settings *s = r->settings;
    pthread_mutex_lock(&s->redis_lock);
    bool redis_ok = s->redis_ok, checked = s->redis_checked;
    char redis_reason[256];
    snprintf(redis_reason, sizeof redis_reason, "%s", s->redis_reason);
    pthread_mutex_unlock(&s->redis_lock);
    /* Redis only carries shared rate limits and live events: without it the
     * API still serves, degraded; without the database it cannot. */
    const char *status = !db_ok ? "unavailable" : (redis_ok || !checked) ? "ready" : "degraded";
    json_t *body =
        json_pack("{s:s, s:{s:b, s:s?}, s:{s:b, s:s?}}", "status", status, "database", "ok", db_ok,
                  "error", db_ok ? NULL : db_reason, "redis", "ok", redis_ok || !checked, "error",
                  redis_ok || !checked ? NULL : redis_reason);
    if (!db_ok) {
        /* Not ready is an error answer like any other (the error object),
         * with the details a probe or an operator wants next to it. */
        api_fail(r, 503, "unavailable", "the database is unavailable: %s", db_reason);
        json_object_update(r->reply, body);
        json_decref(body);
        return;
    }
    api_reply(r, 200, body);
}

static void metrics(api_req *r)
{
    strbuf out;
    strbuf_init(&out);
    api_metrics_render(r->settings->metrics, &out);
    pthread_mutex_lock(&(r->settings)->redis_lock);
    bool redis_ok = r->settings->redis_ok || !r->settings->redis_checked;
    pthread_mutex_unlock(&(r->settings)->redis_lock);
    strbuf_printf(&out,
                  "# HELP escher_api_redis_up Whether Redis answered the last probe.\n"
                  "# TYPE escher_api_redis_up gauge\n"
                  "escher_api_redis_up %d\n",
                  redis_ok ? 1 : 0);
    /* Not JSON: the body goes out as is, with the exposition format's type. */
    api_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    struct evbuffer *buf = evhttp_request_get_output_buffer(r->http);
    evbuffer_add(buf, strbuf_str(&out), out.len);
    strbuf_free(&out);
    api_reply(r, 200, NULL);
}

const api_route api_routes_health[] = {
    {"GET", "/healthz", 0, healthz, "Liveness: the process answers."},
    {"GET", "/readyz", 0, readyz, "Readiness: database and Redis."},
    {"GET", "/metrics", 0, metrics, "Prometheus metrics (text format 0.0.4)."},
    {0},
};
