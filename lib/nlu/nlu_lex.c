#include "nlu/nlu_lex.h"

#include "core/xmalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Keywords that a typo may be corrected to: the words that carry meaning.
 * Filler and question words are deliberately absent ("that" is one edit
 * from "what" and must not turn a statement into a question). */
static const char *const keywords[] = {
    "start",     "stop",      "reboot",     "restart",   "resize",      "snapshot",
    "snapshots", "delete",    "remove",     "instances", "instance",    "servers",
    "server",    "machines",  "volumes",    "volume",    "buckets",     "bucket",
    "databases", "database",  "security",   "groups",    "group",       "elastic",
    "running",   "stopped",   "pending",    "stopping",  "terminated",  "unattached",
    "attached",  "available", "detached",   "orphaned",  "weekday",     "weekdays",
    "weekend",   "weekends",  "monday",     "tuesday",   "wednesday",   "thursday",
    "friday",    "saturday",  "sunday",     "mondays",   "tuesdays",    "wednesdays",
    "thursdays", "fridays",   "saturdays",  "sundays",   "every",       "daily",
    "list",      "show",      "count",      "many",      "development", "production",
    "staging",   "tagged",    "named",      "called",    "older",       "frankfurt",
    "ireland",   "tokyo",     "virginia",   "oregon",    "london",      "paris",
    "sydney",    "singapore", "california", "stockholm", "mumbai",      "seoul",
    "berlin",    "pacific",   "eastern",    "midnight",  "noon",        "hibernate",
    "shutdown",  "resize",    "cost",       "costs",     "spend",       "public",
    "regions",   "region",    "schedule",   "prod",      "tags",        "type",
    "please",    "terminate", "destroy",    "upgrade",   "downsize",    "label",
    "purge",
};

/* Words understood as themselves that are not corrected to anything. */
static const char *const filler[] = {
    "the", "a", "an", "all", "my", "our", "in", "on", "at", "to", "of", "for", "and", "me", "you",
    "please", "that", "this", "then", "them", "with", "from", "have", "want", "like", "into",
    "some", "more", "when", "there", "their", "these", "those", "also", "only", "over", "time",
    "what", "which", "how", "are", "is", "do", "does", "any", "than", "days", "weeks", "months",
    "day", "week", "month", "each", "could", "would", "can", "will", "kindly", "tell", "give",
    "find", "where", "just", "now", "every", "dev", "test", "qa", "whats", "what's", "they", "were",
    "been", "being", "here", "able", "need", "know", "about", "other",
    /* Words of the engine's tables, and common words, that are one edit
     * from a keyword ("hosts" is not "costs", "most" is not "cost"). */
    "host", "hosts", "box", "boxes", "disk", "disks", "vms", "node", "nodes", "most", "last",
    "next", "past", "order", "pairs", "shop", "step", "soul", "post", "lost", "stat", "stats",
    "spent", "name", "names", "ebs", "eips", "sgs",
    /* Server question words and verb forms: "spending" is not "pending". */
    "spending", "billing", "expensive", "cheaper", "savings", "paying", "costing", "costly",
    "charges", "charged", "invoice", "exposed", "unencrypted", "encrypted", "insecure",
    "vulnerable", "compliance", "posture", "paid", "money", "budget", "price", "save", "bill",
    "starting", "rebooting", "restarting", "resizing", "tagging", "deleting", "snapshotting",
    "shutting", "mind", "thanks", "thank"};

static bool in(const char *const *list, size_t n, const char *w)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], w) == 0)
            return true;
    return false;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

bool nlu_lex_known(const char *w)
{
    return in(keywords, COUNT(keywords), w) || in(filler, COUNT(filler), w);
}

size_t nlu_lex_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    /* Three rows suffice for the transposition case. */
    size_t *prev2 = xcalloc(lb + 1, sizeof(size_t));
    size_t *prev = xcalloc(lb + 1, sizeof(size_t));
    size_t *cur = xcalloc(lb + 1, sizeof(size_t));
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    size_t best = 0;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (prev[j - 1] + cost < v)
                v = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
            if (v < best)
                best = v;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
        if (best > cap)
            break;
    }
    size_t d = best > cap ? cap + 1 : prev[lb];
    free(prev2);
    free(prev);
    free(cur);
    return d > cap ? cap + 1 : d;
}

const char *nlu_lex_correct(const char *w)
{
    size_t len = strlen(w);
    if (len < 4 || nlu_lex_known(w))
        return NULL;
    for (const char *p = w; *p; p++)
        if (!isalpha((unsigned char)*p))
            return NULL;
    const char *found = NULL;
    for (size_t i = 0; i < COUNT(keywords); i++) {
        if (strlen(keywords[i]) < 4 || nlu_lex_distance(w, keywords[i], 1) > 1)
            continue;
        if (found && strcmp(found, keywords[i]) != 0)
            return NULL; /* two candidates: guessing would be arbitrary */
        found = keywords[i];
    }
    return found;
}

static bool inner_char(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == ':' || c == '*' || c == '=' || c == '_' ||
           c == '/' || c == '\'' || c == '?';
}

static void push(nlu_tokens *t, const char *s, size_t len)
{
    /* Trailing sentence punctuation is not part of the word ("N." "it."). */
    while (len > 0 &&
           (s[len - 1] == '.' || s[len - 1] == ':' || s[len - 1] == '\'' || s[len - 1] == '?')) {
        if (s[len - 1] == '?')
            t->question_mark = true;
        len--;
    }
    while (len > 0 && (*s == '\'' || *s == '.')) {
        s++;
        len--;
    }
    if (len == 0)
        return;
    char *w = xstrndup(s, len);
    for (char *p = w; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *fix = nlu_lex_correct(w);
    if (fix) {
        free(w);
        w = xstrdup(fix);
    }
    t->w[t->n] = w;
    t->used[t->n] = false;
    t->n++;
}

bool nlu_lex(const char *s, nlu_tokens *t, err *e)
{
    memset(t, 0, sizeof(*t));
    size_t len = strlen(s);
    if (len > NLU_LEX_MAX_CHARS)
        return err_set(e, ERR_LIMIT, "sentence is %zu characters: at most %d are understood", len,
                       NLU_LEX_MAX_CHARS);
    t->w = xcalloc(NLU_LEX_MAX_TOKENS, sizeof(char *));
    t->used = xcalloc(NLU_LEX_MAX_TOKENS, sizeof(bool));
    size_t i = 0;
    while (i < len) {
        if (s[i] == '?')
            t->question_mark = true;
        if (!inner_char((unsigned char)s[i]) || s[i] == '?') {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && inner_char((unsigned char)s[i]))
            i++;
        if (t->n == NLU_LEX_MAX_TOKENS) {
            nlu_tokens_clear(t);
            return err_set(e, ERR_LIMIT, "sentence has more than %d words", NLU_LEX_MAX_TOKENS);
        }
        push(t, s + start, i - start);
    }
    if (t->n == 0) {
        nlu_tokens_clear(t);
        return err_set(e, ERR_INVALID, "empty sentence");
    }
    return true;
}

void nlu_tokens_clear(nlu_tokens *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->w[i]);
    free(t->w);
    free(t->used);
    memset(t, 0, sizeof(*t));
}
