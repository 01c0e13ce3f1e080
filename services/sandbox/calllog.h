/* The call log: every request the sandbox served, newest last, in a bounded
 * ring so a long demo cannot exhaust memory. Tests read it through the admin
 * API (GET /calls?since=N) to check what a client really sent: which
 * principal, which role it assumed with which ExternalId, which parameters. */
#ifndef ESCHER_SANDBOX_CALLLOG_H
#define ESCHER_SANDBOX_CALLLOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct calllog calllog;

/* One entry. Strings may be NULL (written as JSON null); the log owns them
 * once added. */
typedef struct calllog_entry {
    uint64_t seq;        /* assigned by calllog_add, from 1 */
    time_t time;         /* sandbox clock */
    char *access_key_id; /* as signed, also when unknown */
    char *principal_arn;
    char *account;
    char *assumed_role_arn;
    char *session_name;
    char *session_policy;
    char *source_identity;
    char *external_id;
    char *service; /* signing name, "ec2" */
    char *action;
    char *region;
    json_t *params;   /* object, secrets masked (reference taken) */
    int status;       /* HTTP status answered */
    char *error_code; /* NULL on success */
    char *note;
    char *request_id;
} calllog_entry;

/* A log keeping the last `cap` entries (at least 1). */
calllog *calllog_new(size_t cap);
void calllog_free(calllog *l);
/* Appends *e (moving its strings into the log; *e is zeroed) and returns its seq. */
uint64_t calllog_add(calllog *l, calllog_entry *e);
/* Entries with seq > since, oldest first, at most limit (0: no limit), as
 * {"calls":[...],"next":<seq of the last entry or since>,"dropped":<entries
 * older than the ring kept that the caller missed>}. */
json_t *calllog_since(const calllog *l, uint64_t since, size_t limit);
/* Empties the log; seq numbers go on rising so old cursors stay meaningful. */
void calllog_clear(calllog *l);
/* Seq of the newest entry (0 when none yet). */
uint64_t calllog_last_seq(const calllog *l);

#endif
