/* The world at run time: the clock, lookups (hashed, because the server
 * looks up the signing key on every request), state transitions, run-time
 * ids, sessions and freeing. Generation, JSON and costs live in the other
 * world_*.c files. */
#include "world_internal.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>

const char WORLD_HEX[] = "0123456789abcdef";
const char WORLD_LOWER[] = "abcdefghijklmnopqrstuvwxyz0123456789";
const char WORLD_UPPER[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const char WORLD_SECRET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- deterministic randomness ---- */

uint64_t wmix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t whash_str(uint64_t h, const char *s)
{
    uint64_t f = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        f ^= *p;
        f *= 0x100000001b3ULL;
    }
    return wmix(h ^ wmix(f + 0x9e3779b97f4a7c15ULL));
}

uint64_t whash_u64(uint64_t h, uint64_t v)
{
    return wmix(h ^ wmix(v + 0x9e3779b97f4a7c15ULL));
}

double wunit(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

wrng wrng_stream(uint64_t seed, const char *tag, uint64_t index)
{
    wrng r = {whash_u64(whash_str(wmix(seed), tag), index)};
    return r;
}

uint64_t wrng_next(wrng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return wmix(r->s);
}

uint64_t wrng_below(wrng *r, uint64_t n)
{
    /* Rejection keeps small ranges unbiased. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = wrng_next(r);
    } while (v >= limit);
    return v % n;
}

long wrng_range(wrng *r, long lo, long hi)
{
    return lo + (long)wrng_below(r, (uint64_t)(hi - lo) + 1);
}

double wrng_unit(wrng *r)
{
    return wunit(wrng_next(r));
}

bool wrng_chance(wrng *r, double p)
{
    return wrng_unit(r) < p;
}

char *wrng_string(wrng *r, const char *alphabet, size_t n)
{
    size_t k = strlen(alphabet);
    char *s = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = alphabet[wrng_below(r, k)];
    s[n] = '\0';
    return s;
}

/* ---- clock, ids, sessions ---- */

time_t world_now(const world *w)
{
    return timeutil_now() + (time_t)w->clock_offset;
}

char *world_new_chars(world *w, const char *prefix, const char *alphabet, size_t n)
{
    wrng r = wrng_stream(w->seed, "runtime-id", w->id_counter++);
    const char *abc = alphabet ? alphabet : WORLD_UPPER;
    char *body = wrng_string(&r, abc, n);
    char *id = xasprintf("%s%s", prefix, body);
    free(body);
    return id;
}

char *world_new_id(world *w, const char *prefix, int hex_digits)
{
    return world_new_chars(w, prefix, WORLD_HEX, hex_digits > 0 ? (size_t)hex_digits : 0);
}

/* ---- lookup tables ----
 * Open-addressing maps from an id to a position (account index, session
 * index). Entries are verified against the world on every hit, so a world
 * changed behind the index's back (an array reordered, a key deleted) gives
 * a rebuild rather than a stale pointer. */

#define NO_POS  ((size_t)-1)
#define HUB_POS ((size_t)-2)
#define MAP_MIN 64

typedef struct smap {
    char **keys;
    size_t *vals;
    size_t cap; /* power of two */
    size_t n;
} smap;

struct world_index {
    smap accounts; /* account id -> index in w->accounts, or HUB_POS */
    smap keys;     /* user access key id -> account position */
    smap sessions; /* session access key id -> index in w->sessions */
};

static void smap_free(smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static size_t smap_slot(const smap *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)whash_str(0, key) & mask;
    while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & mask;
    return i;
}

static void smap_put(smap *m, const char *key, size_t val);

static void smap_grow(smap *m)
{
    smap old = *m;
    m->cap = old.cap ? old.cap * 2 : MAP_MIN;
    m->keys = xcalloc(m->cap, sizeof(char *));
    m->vals = xcalloc(m->cap, sizeof(size_t));
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] != NULL) {
            smap_put(m, old.keys[i], old.vals[i]);
            free(old.keys[i]);
        }
    }
    free(old.keys);
    free(old.vals);
}

static void smap_put(smap *m, const char *key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap)
        smap_grow(m);
    size_t i = smap_slot(m, key);
    if (m->keys[i] == NULL) {
        m->keys[i] = xstrdup(key);
        m->n++;
    }
    m->vals[i] = val;
}

static size_t smap_get(const smap *m, const char *key)
{
    if (m->cap == 0)
        return NO_POS;
    size_t i = smap_slot(m, key);
    return m->keys[i] ? m->vals[i] : NO_POS;
}

void world_index_free(world *w)
{
    if (w->index == NULL)
        return;
    smap_free(&w->index->accounts);
    smap_free(&w->index->keys);
    smap_free(&w->index->sessions);
    free(w->index);
    w->index = NULL;
}

static void index_account(struct world_index *ix, const sbx_account *a, size_t pos)
{
    smap_put(&ix->accounts, a->id, pos);
    for (size_t u = 0; u < a->nusers; u++)
        for (size_t k = 0; k < a->users[u]->nkeys; k++)
            smap_put(&ix->keys, a->users[u]->keys[k]->id, pos);
}

static struct world_index *index_build(world *w)
{
    world_index_free(w);
    struct world_index *ix = xcalloc(1, sizeof(*ix));
    for (size_t i = 0; i < w->naccounts; i++)
        index_account(ix, w->accounts[i], i);
    if (w->hub != NULL)
        index_account(ix, w->hub, HUB_POS);
    for (size_t i = 0; i < w->nsessions; i++)
        smap_put(&ix->sessions, w->sessions[i]->access_key_id, i);
    w->index = ix;
    return ix;
}

/* The index is a cache: building it does not change what the world is, so
 * the const lookups may build it. */
static struct world_index *index_of(const world *w)
{
    return w->index ? w->index : index_build((world *)w);
}

static sbx_account *account_at(const world *w, size_t pos)
{
    if (pos == HUB_POS)
        return w->hub;
    return pos < w->naccounts ? w->accounts[pos] : NULL;
}

static sbx_account *account_scan(const world *w, const char *account_id)
{
    for (size_t i = 0; i < w->naccounts; i++)
        if (strcmp(w->accounts[i]->id, account_id) == 0)
            return w->accounts[i];
    if (w->hub != NULL && strcmp(w->hub->id, account_id) == 0)
        return w->hub;
    return NULL;
}

sbx_account *world_account(const world *w, const char *account_id)
{
    if (w == NULL || account_id == NULL)
        return NULL;
    size_t pos = smap_get(&index_of(w)->accounts, account_id);
    sbx_account *a = account_at(w, pos);
    if (a != NULL && strcmp(a->id, account_id) == 0)
        return a;
    /* Stale or absent: accounts may have been added since the index was
     * built (Organizations), so look once the slow way and refresh. */
    a = account_scan(w, account_id);
    if (a != NULL || pos != NO_POS)
        index_build((world *)w);
    return a;
}

sbx_region *world_region(const sbx_account *a, const char *region)
{
    if (a == NULL || region == NULL)
        return NULL;
    for (size_t i = 0; i < a->nregions; i++)
        if (strcmp(a->regions[i]->name, region) == 0)
            return a->regions[i];
    return NULL;
}

sbx_role *world_role(const sbx_account *a, const char *name)
{
    if (a == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < a->nroles; i++)
        if (strcmp(a->roles[i]->name, name) == 0)
            return a->roles[i];
    return NULL;
}

sbx_user *world_user(const sbx_account *a, const char *name)
{
    if (a == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i]->name, name) == 0)
            return a->users[i];
    return NULL;
}

static bool user_key_in(sbx_account *a, const char *key_id, sbx_principal *out)
{
    for (size_t u = 0; a != NULL && u < a->nusers; u++) {
        sbx_user *user = a->users[u];
        for (size_t k = 0; k < user->nkeys; k++) {
            if (strcmp(user->keys[k]->id, key_id) == 0) {
                memset(out, 0, sizeof(*out));
                out->account = a;
                out->user = user;
                out->secret = user->keys[k]->secret;
                out->arn = user->arn;
                return true;
            }
        }
    }
    return false;
}

static bool session_found(world *w, sbx_session *s, sbx_principal *out)
{
    memset(out, 0, sizeof(*out));
    out->account = world_account(w, s->account_id);
    out->session = s;
    out->role = world_role(out->account, s->role_name);
    out->secret = s->secret;
    out->arn = s->arn ? s->arn : s->role_arn;
    return true;
}

bool world_find_key(world *w, const char *access_key_id, sbx_principal *out)
{
    if (w == NULL || access_key_id == NULL || out == NULL)
        return false;
    struct world_index *ix = index_of(w);
    size_t pos = smap_get(&ix->keys, access_key_id);
    if (pos != NO_POS && user_key_in(account_at(w, pos), access_key_id, out))
        return true;
    size_t si = smap_get(&ix->sessions, access_key_id);
    if (si < w->nsessions && strcmp(w->sessions[si]->access_key_id, access_key_id) == 0)
        return session_found(w, w->sessions[si], out);
    /* Not where the index says: the world changed under it. One full scan
     * finds keys added at run time; then the index is rebuilt. */
    bool stale = pos != NO_POS || si != NO_POS;
    for (size_t i = 0; i < w->naccounts; i++) {
        if (user_key_in(w->accounts[i], access_key_id, out)) {
            index_build(w);
            return true;
        }
    }
    if (user_key_in(w->hub, access_key_id, out)) {
        index_build(w);
        return true;
    }
    for (size_t i = 0; i < w->nsessions; i++) {
        if (strcmp(w->sessions[i]->access_key_id, access_key_id) == 0) {
            index_build(w);
            return session_found(w, w->sessions[i], out);
        }
    }
    if (stale)
        index_build(w);
    return false;
}

/* Sessions long expired are dropped once there are many, so a benchmark
 * assuming roles in a loop cannot grow the world without bound; a recently
 * expired one stays so its caller still gets ExpiredToken. */
#define SESSIONS_PURGE_AT  4096
#define SESSIONS_KEEP_PAST (7 * 86400)

static void sessions_purge(world *w, time_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->nsessions; i++) {
        sbx_session *s = w->sessions[i];
        if (s->expiration + SESSIONS_KEEP_PAST < now)
            world_free_session(s);
        else
            w->sessions[kept++] = s;
    }
    w->nsessions = kept;
}

void world_add_session(world *w, sbx_session *s)
{
    if (w->nsessions >= SESSIONS_PURGE_AT) {
        sessions_purge(w, world_now(w));
        world_index_free(w);
    }
    if (s->arn == NULL)
        s->arn = xasprintf("arn:aws:sts::%s:assumed-role/%s/%s", s->account_id, s->role_name,
                           s->session_name);
    w->sessions = xreallocarray(w->sessions, w->nsessions + 1, sizeof(*w->sessions));
    w->sessions[w->nsessions++] = s;
    if (w->index != NULL)
        smap_put(&w->index->sessions, s->access_key_id, w->nsessions - 1);
}

/* ---- state transitions ---- */

static bool has_elastic_ip(const sbx_region *r, const char *instance_id)
{
    for (size_t i = 0; i < r->naddresses; i++)
        if (r->addresses[i]->instance_id && strcmp(r->addresses[i]->instance_id, instance_id) == 0)
            return true;
    return false;
}

/* Termination releases what AWS releases: Elastic IP associations end,
 * the root volume (DeleteOnTermination) goes, data volumes detach. */
static void release_terminated(sbx_region *r, const char *instance_id)
{
    for (size_t i = 0; i < r->naddresses; i++) {
        sbx_address *a = r->addresses[i];
        if (a->instance_id && strcmp(a->instance_id, instance_id) == 0) {
            free(a->instance_id);
            free(a->association_id);
            a->instance_id = NULL;
            a->association_id = NULL;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < r->nvolumes; i++) {
        sbx_volume *v = r->volumes[i];
        if (v->instance_id && strcmp(v->instance_id, instance_id) == 0) {
            bool root = v->device && strcmp(v->device, "/dev/xvda") == 0;
            if (root) {
                world_free_volume(v);
                continue;
            }
            free(v->instance_id);
            free(v->device);
            v->instance_id = NULL;
            v->device = NULL;
        }
        r->volumes[kept++] = v;
    }
    r->nvolumes = kept;
}

static void settle_instance(sbx_region *r, sbx_instance *in)
{
    switch (in->state) {
    case SBX_PENDING:
        in->state = SBX_RUNNING;
        break;
    case SBX_STOPPING:
        in->state = SBX_STOPPED;
        if (!has_elastic_ip(r, in->id)) {
            free(in->public_ip);
            in->public_ip = NULL;
        }
        break;
    case SBX_SHUTTING_DOWN:
        in->state = SBX_TERMINATED;
        release_terminated(r, in->id);
        free(in->public_ip);
        in->public_ip = NULL;
        break;
    default:
        break;
    }
    in->transition_at = 0;
}

/* RDS statuses that end in another after their delay. */
static const struct {
    const char *from, *to;
} db_transitions[] = {
    {"stopping", "stopped"},    {"starting", "available"}, {"rebooting", "available"},
    {"modifying", "available"}, {"creating", "available"}, {"backing-up", "available"},
};

void world_settle(sbx_region *r, time_t now)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->ninstances; i++) {
        sbx_instance *in = r->instances[i];
        if (in->transition_at != 0 && in->transition_at <= now)
            settle_instance(r, in);
    }
    for (size_t i = 0; i < r->ndbs; i++) {
        sbx_db *db = r->dbs[i];
        if (db->transition_at == 0 || db->transition_at > now)
            continue;
        for (size_t t = 0; t < sizeof(db_transitions) / sizeof(db_transitions[0]); t++) {
            if (strcmp(db->status, db_transitions[t].from) == 0) {
                free(db->status);
                db->status = xstrdup(db_transitions[t].to);
                break;
            }
        }
        db->transition_at = 0;
    }
}

void world_free(world *w)
{
    if (w == NULL)
        return;
    world_index_free(w);
    wschema_free_fields(&world_schema, w);
    free(w);
}
