/* LISTEN/NOTIFY on the queue's channel, so idle workers wake at once. See
 * queue.h. */
#include "queue/queue.h"

#include "queue/queue_sql.h"

#include "core/timeutil.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

bool queue_listen(PGconn *conn, err *e)
{
    return queue_sql_exec_simple(conn, "LISTEN " QUEUE_CHANNEL, "listen on " QUEUE_CHANNEL, e);
}

int queue_socket(PGconn *conn)
{
    return PQsocket(conn);
}

bool queue_drain_notifies(PGconn *conn, size_t *count, err *e)
{
    *count = 0;
    if (!PQconsumeInput(conn))
        return err_set(e, ERR_IO, "reading notifications on " QUEUE_CHANNEL ": %s",
                       queue_sql_pg_message(conn));
    PGnotify *n;
    while ((n = PQnotifies(conn)) != NULL) {
        if (strcmp(n->relname, QUEUE_CHANNEL) == 0)
            (*count)++;
        PQfreemem(n);
    }
    return true;
}

bool queue_wait(PGconn *conn, int timeout_ms, bool *woken, err *e)
{
    *woken = false;
    size_t count;
    if (!queue_drain_notifies(conn, &count, e))
        return false;
    uint64_t deadline = timeutil_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    while (count == 0) {
        uint64_t now = timeutil_mono_ms();
        if (now >= deadline)
            return true;
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        if (pfd.fd < 0)
            return err_set(e, ERR_IO, "waiting on " QUEUE_CHANNEL ": the connection is closed");
        int rc = poll(&pfd, 1, (int)(deadline - now));
        if (rc < 0 && errno != EINTR)
            return err_set(e, ERR_IO, "waiting on " QUEUE_CHANNEL ": poll: %s", strerror(errno));
        if (rc > 0 && !queue_drain_notifies(conn, &count, e))
            return false;
    }
    *woken = true;
    return true;
}
