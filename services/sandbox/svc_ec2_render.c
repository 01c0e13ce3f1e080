/* DescribeInstances' reservations: the benchmark's hot path.
 *
 * A page of 50 instances is some 3,000 elements, so rendering each with the
 * generic writer would cost more than everything else a request does. Each
 * instance's <item> is rendered once into a shared fragment (call.h's
 * sbx_frag) kept in a cache, and answers splice the fragment in by
 * reference: its bytes go from the cache to the socket, never copied.
 * A fragment is reused while its instance stays the same. "The same" is
 * checked by a fingerprint of every input of the rendering (the instance's
 * fields and tags, its volumes, its groups, the account and region), not by
 * pointers or counters: the world changes under many hands (handlers,
 * world_settle, an admin reset that frees everything and may reuse the
 * addresses), and hashing some 300 bytes is an order of magnitude cheaper
 * than rendering 2 KB.
 *
 * The cache holds every instance of the world (a 1,000-account x 4-region
 * world has ~100,000, ~2 KB each): a hash table by instance address. Its
 * memory is bounded by CACHE_BUDGET: past it (a far larger world, or stale
 * entries of freed instances after many resets) the cache starts over. A
 * dropped fragment still referenced by an answer in flight lives until
 * that answer is written. */
#include "svc_ec2_internal.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_BUDGET ((size_t)512 << 20) /* bytes of blobs and tables */

const char *ec2_state_name(sbx_istate s)
{
    switch (s) {
    case SBX_PENDING:
        return "pending";
    case SBX_RUNNING:
        return "running";
    case SBX_SHUTTING_DOWN:
        return "shutting-down";
    case SBX_TERMINATED:
        return "terminated";
    case SBX_STOPPING:
        return "stopping";
    case SBX_STOPPED:
        return "stopped";
    }
    return "pending";
}

/* Graviton families carry a 'g' right after the generation digit (m6g,
 * c7gn, t4g); a1 is Graviton too. */
const char *ec2_architecture_of(const char *type)
{
    if (strncmp(type, "a1.", 3) == 0)
        return "arm64";
    const char *p = type;
    while (*p && *p != '.' && !(*p >= '0' && *p <= '9'))
        p++;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == 'g' ? "arm64" : "x86_64";
}

/* ---- a small XML writer for fragments ---- */

#define LIT(sb, s) strbuf_append((sb), (s), sizeof(s) - 1)

static const unsigned char SPECIAL[256] = {
    ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1, ['\r'] = 1,
};

static void esc(strbuf *sb, const char *s)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!SPECIAL[ch])
            continue;
        strbuf_append(sb, run, (size_t)(p - run));
        switch (ch) {
        case '&':
            LIT(sb, "&amp;");
            break;
        case '<':
            LIT(sb, "&lt;");
            break;
        case '>':
            LIT(sb, "&gt;");
            break;
        case '"':
            LIT(sb, "&quot;");
            break;
        case '\'':
            LIT(sb, "&apos;");
            break;
        default:
            LIT(sb, "&#13;");
            break;
        }
        run = p + 1;
    }
    strbuf_puts(sb, run);
}

/* <name>escaped text</name>; nothing for NULL text, like call_xml_text. */
#define ELEM(sb, name, text)                                                                       \
    do {                                                                                           \
        const char *t_ = (text);                                                                   \
        if (t_) {                                                                                  \
            LIT(sb, "<" name ">");                                                                 \
            esc(sb, t_);                                                                           \
            LIT(sb, "</" name ">");                                                                \
        }                                                                                          \
    } while (0)

#define ELEM_INT(sb, name, v)                                                                      \
    do {                                                                                           \
        LIT(sb, "<" name ">");                                                                     \
        strbuf_printf(sb, "%lld", (long long)(v));                                                 \
        LIT(sb, "</" name ">");                                                                    \
    } while (0)

/* ISO 8601 with milliseconds, as AWS writes timestamps. */
static void put_time(strbuf *sb, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strbuf_printf(sb, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

#define ELEM_TIME(sb, name, t)                                                                     \
    do {                                                                                           \
        LIT(sb, "<" name ">");                                                                     \
        put_time(sb, t);                                                                           \
        LIT(sb, "</" name ">");                                                                    \
    } while (0)

/* ---- what the page's instances refer to ---- */

typedef struct page_ctx {
    const char *owner;
    const char *region;
    bool us_east_1;
    sbx_region *r;
    const sbx_instance *const *inst;
    size_t n;
    size_t *vol_head; /* per page slot: first volume index + 1, 0 none */
    size_t *vol_next; /* per volume index: next volume index + 1 of the same instance */
    ec2_idmap sgs;    /* sg id -> index in r->sgs, built at the first cache miss */
    bool have_sgs;
} page_ctx;

/* One pass over the region's volumes and groups for the whole page, so no
 * lookup in the per-instance work is linear. */
static void page_index(page_ctx *p)
{
    sbx_region *r = p->r;
    ec2_idmap slots;
    ec2_idmap_init(&slots, p->n);
    for (size_t i = 0; i < p->n; i++)
        ec2_idmap_put(&slots, p->inst[i]->id, i);
    p->vol_head = xcalloc(p->n ? p->n : 1, sizeof *p->vol_head);
    p->vol_next = xcalloc(r->nvolumes ? r->nvolumes : 1, sizeof *p->vol_next);
    /* Backwards, so each instance's list comes out in the world's order. */
    for (size_t v = r->nvolumes; v-- > 0;) {
        size_t slot;
        const char *owner = r->volumes[v]->instance_id;
        if (owner && ec2_idmap_get(&slots, owner, &slot)) {
            p->vol_next[v] = p->vol_head[slot];
            p->vol_head[slot] = v + 1;
        }
    }
    ec2_idmap_free(&slots);
}

static void page_free(page_ctx *p)
{
    free(p->vol_head);
    free(p->vol_next);
    if (p->have_sgs)
        ec2_idmap_free(&p->sgs);
}

static const char *sg_name(page_ctx *p, const char *id)
{
    if (!p->have_sgs) {
        ec2_idmap_init(&p->sgs, p->r->nsgs);
        for (size_t i = 0; i < p->r->nsgs; i++)
            ec2_idmap_put(&p->sgs, p->r->sgs[i]->id, i);
        p->have_sgs = true;
    }
    size_t idx;
    return ec2_idmap_get(&p->sgs, id, &idx) ? p->r->sgs[idx]->name : NULL;
}

/* ---- fingerprint ---- */

#define FP_MUL 0x9E3779B97F4A7C15ULL

static uint64_t fp_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        h = (h ^ w) * FP_MUL;
        h ^= h >> 31;
        b += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, b, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * FP_MUL;
    return h ^ (h >> 29);
}

/* NULL and "" differ: one writes no element, the other an empty one. */
static uint64_t fp_str(uint64_t h, const char *s)
{
    if (!s)
        return (h ^ 0xA5A5A5A5A5A5A5A5ULL) * FP_MUL;
    return fp_bytes(h, s, strlen(s));
}

static uint64_t fp_int(uint64_t h, long long v)
{
    return fp_bytes(h, &v, sizeof v);
}

static uint64_t fingerprint(const page_ctx *p, size_t slot)
{
    const sbx_instance *in = p->inst[slot];
    uint64_t h = fp_str(0x5EED, p->owner);
    h = fp_str(h, p->region);
    h = fp_str(h, in->id);
    h = fp_str(h, in->type);
    h = fp_int(h, in->state);
    h = fp_int(h, (long long)in->launch_time);
    h = fp_str(h, in->image_id);
    h = fp_str(h, in->az);
    h = fp_str(h, in->vpc_id);
    h = fp_str(h, in->subnet_id);
    h = fp_str(h, in->private_ip);
    h = fp_str(h, in->public_ip);
    h = fp_str(h, in->key_name);
    h = fp_int(h, in->imds_v2_required);
    h = fp_int(h, (long long)in->nsg);
    /* Group names are not hashed: AWS cannot rename a group, so a group id
     * always renders with the same name. */
    for (size_t g = 0; g < in->nsg; g++)
        h = fp_str(h, in->sg_ids[g]);
    h = fp_int(h, (long long)in->tags.n);
    for (size_t t = 0; t < in->tags.n; t++) {
        h = fp_str(h, in->tags.items[t].key);
        h = fp_str(h, in->tags.items[t].value);
    }
    for (size_t v = p->vol_head[slot]; v; v = p->vol_next[v - 1]) {
        const sbx_volume *vol = p->r->volumes[v - 1];
        h = fp_str(h, vol->id);
        h = fp_str(h, vol->device);
        h = fp_int(h, (long long)vol->create_time);
    }
    return h;
}

/* ---- rendering one reservation ---- */

/* "10.0.1.23" -> "ip-10-0-1-23.ec2.internal" (us-east-1) or
 * "ip-10-0-1-23.<region>.compute.internal", as AWS names hosts. */
static void put_dns(strbuf *sb, const page_ctx *p, const char *ip, bool public)
{
    if (!ip)
        return;
    strbuf_puts(sb, public ? "ec2-" : "ip-");
    for (const char *s = ip; *s; s++)
        strbuf_putc(sb, *s == '.' ? '-' : *s);
    if (p->us_east_1) {
        strbuf_puts(sb, public ? ".compute-1.amazonaws.com" : ".ec2.internal");
        return;
    }
    strbuf_putc(sb, '.');
    esc(sb, p->region);
    strbuf_puts(sb, public ? ".compute.amazonaws.com" : ".compute.internal");
}

static void put_state(strbuf *sb, sbx_istate s)
{
    LIT(sb, "<instanceState>");
    ELEM_INT(sb, "code", (int)s);
    ELEM(sb, "name", ec2_state_name(s));
    LIT(sb, "</instanceState>");
}

static void put_tags(strbuf *sb, const sbx_tags *t)
{
    if (!t->n)
        return;
    LIT(sb, "<tagSet>");
    for (size_t i = 0; i < t->n; i++) {
        LIT(sb, "<item>");
        ELEM(sb, "key", t->items[i].key);
        ELEM(sb, "value", t->items[i].value);
        LIT(sb, "</item>");
    }
    LIT(sb, "</tagSet>");
}

static void put_block_devices(strbuf *sb, const page_ctx *p, size_t slot)
{
    LIT(sb, "<blockDeviceMapping>");
    for (size_t v = p->vol_head[slot]; v; v = p->vol_next[v - 1]) {
        const sbx_volume *vol = p->r->volumes[v - 1];
        LIT(sb, "<item>");
        ELEM(sb, "deviceName", vol->device ? vol->device : "/dev/xvda");
        LIT(sb, "<ebs>");
        ELEM(sb, "volumeId", vol->id);
        LIT(sb, "<status>attached</status>");
        ELEM_TIME(sb, "attachTime", vol->create_time);
        LIT(sb, "<deleteOnTermination>true</deleteOnTermination></ebs></item>");
    }
    LIT(sb, "</blockDeviceMapping>");
}

/* The sandbox's instances only ever stop because someone asked. */
static void put_state_reason(strbuf *sb, const sbx_instance *in)
{
    if (in->state != SBX_STOPPED && in->state != SBX_STOPPING && in->state != SBX_SHUTTING_DOWN &&
        in->state != SBX_TERMINATED)
        return;
    LIT(sb, "<reason>User initiated</reason><stateReason>"
            "<code>Client.UserInitiatedShutdown</code>"
            "<message>Client.UserInitiatedShutdown: User initiated shutdown</message>"
            "</stateReason>");
}

/* One instance per reservation (the world does not record launch requests);
 * the reservation id is derived from the instance id so it is stable. */
static void render_reservation(strbuf *sb, page_ctx *p, size_t slot)
{
    const sbx_instance *in = p->inst[slot];
    const char *hex = strchr(in->id, '-');
    LIT(sb, "<item><reservationId>r-");
    esc(sb, hex ? hex + 1 : in->id);
    LIT(sb, "</reservationId>");
    ELEM(sb, "ownerId", p->owner);
    LIT(sb, "<groupSet></groupSet><instancesSet><item>");
    ELEM(sb, "instanceId", in->id);
    ELEM(sb, "imageId", in->image_id);
    put_state(sb, in->state);
    /* A terminated instance has left its network: no addresses, subnet,
     * VPC or groups, as AWS shows it. */
    bool gone = in->state == SBX_TERMINATED;
    LIT(sb, "<privateDnsName>");
    if (!gone)
        put_dns(sb, p, in->private_ip, false);
    LIT(sb, "</privateDnsName><dnsName>");
    if (!gone)
        put_dns(sb, p, in->public_ip, true);
    LIT(sb, "</dnsName>");
    ELEM(sb, "keyName", in->key_name);
    LIT(sb, "<amiLaunchIndex>0</amiLaunchIndex>");
    ELEM(sb, "instanceType", in->type);
    ELEM_TIME(sb, "launchTime", in->launch_time);
    LIT(sb, "<placement>");
    ELEM(sb, "availabilityZone", in->az);
    LIT(sb, "<groupName></groupName><tenancy>default</tenancy></placement>"
            "<monitoring><state>disabled</state></monitoring>");
    if (!gone) {
        ELEM(sb, "subnetId", in->subnet_id);
        ELEM(sb, "vpcId", in->vpc_id);
        ELEM(sb, "privateIpAddress", in->private_ip);
        ELEM(sb, "ipAddress", in->public_ip);
    }
    LIT(sb, "<sourceDestCheck>true</sourceDestCheck><groupSet>");
    for (size_t g = 0; g < in->nsg && !gone; g++) {
        LIT(sb, "<item>");
        ELEM(sb, "groupId", in->sg_ids[g]);
        ELEM(sb, "groupName", sg_name(p, in->sg_ids[g]));
        LIT(sb, "</item>");
    }
    LIT(sb, "</groupSet>");
    put_state_reason(sb, in);
    ELEM(sb, "architecture", ec2_architecture_of(in->type));
    LIT(sb, "<rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName>");
    put_block_devices(sb, p, slot);
    LIT(sb, "<virtualizationType>hvm</virtualizationType>");
    put_tags(sb, &in->tags);
    LIT(sb, "<hypervisor>xen</hypervisor><ebsOptimized>false</ebsOptimized>"
            "<enaSupport>true</enaSupport><metadataOptions><state>applied</state>");
    if (in->imds_v2_required)
        LIT(sb, "<httpTokens>required</httpTokens><httpPutResponseHopLimit>2"
                "</httpPutResponseHopLimit>");
    else
        LIT(sb, "<httpTokens>optional</httpTokens><httpPutResponseHopLimit>1"
                "</httpPutResponseHopLimit>");
    LIT(sb, "<httpEndpoint>enabled</httpEndpoint><httpProtocolIpv6>disabled</httpProtocolIpv6>"
            "<instanceMetadataTags>disabled</instanceMetadataTags></metadataOptions>"
            "<platformDetails>Linux/UNIX</platformDetails></item></instancesSet></item>");
}

/* ---- the cache: one blob per region ---- */

/* Every reservation of a region, rendered back to back in the region's
 * order: a page (a run of the region's instances) is one contiguous range,
 * answered as one reference and read sequentially by the kernel's copy. */
typedef struct region_blob {
    const sbx_region *key;
    size_t n;                  /* the region's instances when rendered */
    const sbx_instance **inst; /* r->instances as rendered */
    uint64_t *fp;              /* their fingerprints */
    size_t *off;               /* n + 1 offsets of their reservations in frag */
    sbx_frag *frag;            /* the cache's reference */
} region_blob;

typedef struct frag_cache {
    region_blob **slots; /* open addressing by region address */
    size_t cap;          /* power of two, or 0 */
    size_t n;
    size_t bytes;   /* footprint of the blobs and their arrays */
    strbuf scratch; /* rendering happens here, then is copied to its exact size */
} frag_cache;

static frag_cache cache;

static size_t blob_bytes(const region_blob *b)
{
    return sizeof *b + b->n * (sizeof *b->inst + sizeof *b->fp + sizeof *b->off) + sizeof *b->off +
           sbx_frag_footprint(b->frag);
}

static void blob_free(region_blob *b)
{
    if (!b)
        return;
    sbx_frag_unref(b->frag);
    free(b->inst);
    free(b->fp);
    free(b->off);
    free(b);
}

static void cache_clear(void)
{
    for (size_t i = 0; i < cache.cap; i++)
        blob_free(cache.slots[i]);
    free(cache.slots);
    cache.slots = NULL;
    cache.cap = cache.n = cache.bytes = 0;
}

/* The cache is process state, not world state: freed at exit so leak
 * checkers see a clean process. */
__attribute__((destructor)) static void cache_release(void)
{
    cache_clear();
    strbuf_free(&cache.scratch);
}

/* The slot of key, or the empty slot where it belongs (cap > 0). */
static region_blob **find_slot(const void *key)
{
    uint64_t a = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ULL;
    size_t i = (size_t)(a >> 20) & (cache.cap - 1);
    while (cache.slots[i] && cache.slots[i]->key != key)
        i = (i + 1) & (cache.cap - 1);
    return &cache.slots[i];
}

/* Keeps the load under a half. */
static void cache_grow(void)
{
    region_blob **old = cache.slots;
    size_t oldcap = cache.cap;
    cache.cap = oldcap ? 2 * oldcap : 1024;
    cache.slots = xcalloc(cache.cap, sizeof *cache.slots);
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            *find_slot(old[i]->key) = old[i];
    free(old);
}

/* Renders the region's blob anew, copying the reservations of instances
 * unchanged since `old` (same place, same fingerprint) rather than
 * rendering them again. */
static region_blob *blob_build(page_ctx *region, const region_blob *old)
{
    size_t n = region->n;
    region_blob *b = xcalloc(1, sizeof *b);
    b->key = region->r;
    b->n = n;
    b->inst = xmalloc((n ? n : 1) * sizeof *b->inst);
    b->fp = xmalloc((n ? n : 1) * sizeof *b->fp);
    b->off = xmalloc((n + 1) * sizeof *b->off);
    const char *old_xml = NULL;
    if (old) {
        size_t len;
        old_xml = sbx_frag_data(old->frag, &len);
    }
    strbuf *sb = &cache.scratch;
    strbuf_reset(sb);
    for (size_t i = 0; i < n; i++) {
        b->inst[i] = region->inst[i];
        b->fp[i] = fingerprint(region, i);
        b->off[i] = sb->len;
        if (old && i < old->n && old->inst[i] == b->inst[i] && old->fp[i] == b->fp[i])
            strbuf_append(sb, old_xml + old->off[i], old->off[i + 1] - old->off[i]);
        else
            render_reservation(sb, region, i);
    }
    b->off[n] = sb->len;
    b->frag = sbx_frag_new(sb->buf ? sb->buf : "", sb->len);
    return b;
}

/* The region's blob, valid for the page's instances (at positions idx in
 * r->instances, with fingerprints fp). */
static region_blob *blob_for(page_ctx *p, const size_t *idx, const uint64_t *fp)
{
    region_blob **slot = cache.cap ? find_slot(p->r) : NULL;
    region_blob *b = slot ? *slot : NULL;
    bool valid = b && b->n == p->r->ninstances;
    for (size_t k = 0; valid && k < p->n; k++)
        valid = idx[k] < b->n && b->inst[idx[k]] == p->inst[k] && b->fp[idx[k]] == fp[k];
    if (valid)
        return b;
    page_ctx region = {
        .owner = p->owner,
        .region = p->region,
        .us_east_1 = p->us_east_1,
        .r = p->r,
        .inst = (const sbx_instance *const *)p->r->instances,
        .n = p->r->ninstances,
    };
    page_index(&region);
    region_blob *fresh = blob_build(&region, b);
    page_free(&region);
    if (b) {
        /* Answers in flight keep their own references to the old bytes. */
        cache.bytes -= blob_bytes(b);
        blob_free(b);
        *slot = fresh;
    } else {
        if (2 * (cache.n + 1) > cache.cap)
            cache_grow();
        *find_slot(p->r) = fresh;
        cache.n++;
    }
    cache.bytes += blob_bytes(fresh);
    return fresh;
}

static void prefetch_str(const char *s)
{
    if (s)
        __builtin_prefetch(s);
}

/* A page's instances and their strings are scattered over the heap and
 * cold (the benchmark cycles through 40,000 instances): left to the
 * fingerprint's dependent loads they cost a miss each, one after the
 * other. Prefetching them level by level overlaps the misses. */
static void prefetch_page(const sbx_instance *const *inst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        __builtin_prefetch(inst[i]);
    for (size_t i = 0; i < n; i++) {
        const sbx_instance *in = inst[i];
        prefetch_str(in->id);
        prefetch_str(in->type);
        prefetch_str(in->image_id);
        prefetch_str(in->az);
        prefetch_str(in->vpc_id);
        prefetch_str(in->subnet_id);
        prefetch_str(in->private_ip);
        prefetch_str(in->public_ip);
        prefetch_str(in->key_name);
        if (in->nsg)
            __builtin_prefetch(in->sg_ids);
        if (in->tags.n)
            __builtin_prefetch(in->tags.items);
    }
    for (size_t i = 0; i < n; i++) {
        const sbx_instance *in = inst[i];
        for (size_t g = 0; g < in->nsg; g++)
            prefetch_str(in->sg_ids[g]);
        for (size_t t = 0; t < in->tags.n; t++) {
            prefetch_str(in->tags.items[t].key);
            prefetch_str(in->tags.items[t].value);
        }
    }
}

void ec2_render_reservations(sbx_call *c, sbx_region *r, const sbx_instance *const *inst,
                             const size_t *idx, size_t n)
{
    call_xml_open(c, "reservationSet");
    if (r && n) {
        if (cache.bytes + cache.cap * sizeof *cache.slots > CACHE_BUDGET)
            cache_clear();
        prefetch_page(inst, n);
        page_ctx p = {
            .owner = call_account(c)->id,
            .region = call_region(c),
            .r = r,
            .inst = inst,
            .n = n,
        };
        p.us_east_1 = strcmp(p.region, "us-east-1") == 0;
        page_index(&p);
        uint64_t *fp = xmalloc(n * sizeof *fp);
        for (size_t k = 0; k < n; k++)
            fp[k] = fingerprint(&p, k);
        region_blob *b = blob_for(&p, idx, fp);
        /* One reference per run of consecutive instances: a whole page
         * without filters. The call holds its own reference to the blob. */
        for (size_t k = 0; k < n;) {
            size_t run = k + 1;
            while (run < n && idx[run] == idx[run - 1] + 1)
                run++;
            size_t from = b->off[idx[k]], to = b->off[idx[run - 1] + 1];
            call_xml_frag_range(c, b->frag, from, to - from);
            k = run;
        }
        free(fp);
        page_free(&p);
    }
    call_xml_close(c, "reservationSet");
}
