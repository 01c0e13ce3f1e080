/* EBS: volumes, snapshots and the account's encryption-by-default setting.
 *
 * Snapshots are visible across accounts the way AWS shows them: a caller
 * sees its own and every public snapshot in the region (DescribeSnapshots
 * without Owner), so public ones of other accounts appear with their owner's
 * id. Only the owner may delete one or read its attributes. */
#include "svc_ec2_internal.h"

#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- volumes ---- */

#define VOL(res) ((const sbx_volume *)(res))

static const char *volume_status(const sbx_volume *v)
{
    return v->instance_id ? "in-use" : "available";
}

static bool f_vol_status(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, volume_status(VOL(res)));
}
static bool f_vol_instance(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, VOL(res)->instance_id);
}
static bool f_vol_device(const void *res, const ec2_filter *f)
{
    return VOL(res)->instance_id && ec2_fv(f, VOL(res)->device);
}
static bool f_vol_attach_status(const void *res, const ec2_filter *f)
{
    return VOL(res)->instance_id && ec2_fv(f, "attached");
}
static bool f_vol_encrypted(const void *res, const ec2_filter *f)
{
    return ec2_fv_bool(f, VOL(res)->encrypted);
}
static bool f_vol_id(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, VOL(res)->id);
}
static bool f_vol_type(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, VOL(res)->type);
}
static bool f_vol_size(const void *res, const ec2_filter *f)
{
    return ec2_fv_int(f, VOL(res)->size_gib);
}
static bool f_vol_az(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, VOL(res)->az);
}

static const ec2_filter_def volume_filters[] = {
    {"status", f_vol_status},
    {"attachment.instance-id", f_vol_instance},
    {"attachment.device", f_vol_device},
    {"attachment.status", f_vol_attach_status},
    {"encrypted", f_vol_encrypted},
    {"volume-id", f_vol_id},
    {"volume-type", f_vol_type},
    {"size", f_vol_size},
    {"availability-zone", f_vol_az},
};

static const sbx_tags *volume_tags(const void *res)
{
    return &VOL(res)->tags;
}

/* gp2 earns 3 IOPS per GiB (100 minimum); gp3 has a 3,000 baseline. */
static int volume_iops(const sbx_volume *v)
{
    if (strcmp(v->type, "gp3") == 0)
        return 3000;
    if (strcmp(v->type, "gp2") == 0)
        return v->size_gib * 3 < 100 ? 100 : v->size_gib * 3;
    return 0;
}

static void write_volume(sbx_call *c, const sbx_volume *v)
{
    call_xml_open(c, "item");
    call_xml_text(c, "volumeId", v->id);
    call_xml_int(c, "size", v->size_gib);
    call_xml_text(c, "snapshotId", "");
    call_xml_text(c, "availabilityZone", v->az);
    call_xml_text(c, "status", volume_status(v));
    call_xml_time(c, "createTime", v->create_time);
    call_xml_open(c, "attachmentSet");
    if (v->instance_id) {
        call_xml_open(c, "item");
        call_xml_text(c, "volumeId", v->id);
        call_xml_text(c, "instanceId", v->instance_id);
        call_xml_text(c, "device", v->device ? v->device : "/dev/xvda");
        call_xml_text(c, "status", "attached");
        call_xml_time(c, "attachTime", v->create_time);
        call_xml_bool(c, "deleteOnTermination", true);
        call_xml_close(c, "item");
    }
    call_xml_close(c, "attachmentSet");
    if (v->tags.n)
        call_xml_tags(c, "tagSet", "item", &v->tags);
    call_xml_text(c, "volumeType", v->type);
    int iops = volume_iops(v);
    if (iops)
        call_xml_int(c, "iops", iops);
    if (strcmp(v->type, "gp3") == 0)
        call_xml_int(c, "throughput", 125);
    call_xml_bool(c, "encrypted", v->encrypted);
    call_xml_bool(c, "multiAttachEnabled", false);
    call_xml_close(c, "item");
}

/* Missing ids are named together, as AWS does. */
static bool volumes_not_found(sbx_call *c, const char **missing, size_t n)
{
    char *list = ec2_join_ids(missing, n);
    if (n == 1)
        call_error(c, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", list);
    else
        call_error(c, 400, "InvalidVolume.NotFound", "The volumes '%s' do not exist.", list);
    free(list);
    return false;
}

static bool check_volume_id(sbx_call *c, const char *id)
{
    if (ec2_id_wellformed(id, "vol-"))
        return true;
    return call_error(c, 400, "InvalidVolumeID.Malformed",
                      "Invalid id: \"%s\" (expecting \"vol-...\")", id);
}

bool ec2_describe_volumes(sbx_call *c)
{
    size_t nids = 0;
    const char *const *ids = call_param_list(c, "VolumeId", &nids);
    if (nids && call_param(c, "MaxResults"))
        return call_error(c, 400, "InvalidParameterCombination",
                          "The parameter volumeSet cannot be used with the parameter maxResults");
    for (size_t i = 0; i < nids; i++)
        if (!check_volume_id(c, ids[i]))
            return false;
    ec2_page page;
    if (!ec2_page_parse(c, 5, 500, &page))
        return false;
    sbx_region *r = call_region_state(c);
    if (nids) {
        const char **missing = xcalloc(nids, sizeof *missing);
        size_t nmissing = 0;
        for (size_t i = 0; i < nids; i++)
            if (!ec2_find_volume(r, ids[i]))
                missing[nmissing++] = ids[i];
        bool ok = nmissing == 0 || volumes_not_found(c, missing, nmissing);
        free(missing);
        if (!ok)
            return false;
    }
    ec2_filters fs;
    if (!ec2_filters_parse(c, volume_filters, sizeof volume_filters / sizeof volume_filters[0],
                           volume_tags, &fs))
        return false;
    if (ec2_dry_run(c)) {
        ec2_filters_free(&fs);
        return false;
    }
    ec2_idmap want = {0};
    if (nids)
        ec2_idmap_of(&want, ids, nids);
    size_t total = 0;
    call_xml_open(c, "volumeSet");
    for (size_t i = 0; r && i < r->nvolumes; i++) {
        const sbx_volume *v = r->volumes[i];
        if ((nids && !ec2_idmap_has(&want, v->id)) || !ec2_filters_match(&fs, v))
            continue;
        if (ec2_page_has(&page, total))
            write_volume(c, v);
        total++;
    }
    call_xml_close(c, "volumeSet");
    ec2_page_finish(c, &page, total);
    if (nids)
        ec2_idmap_free(&want);
    ec2_filters_free(&fs);
    return true;
}

bool ec2_delete_volume(sbx_call *c)
{
    const char *id = ec2_require(c, "VolumeId");
    if (!id || !check_volume_id(c, id))
        return false;
    sbx_region *r = call_region_state(c);
    size_t at = 0;
    while (r && at < r->nvolumes && strcmp(r->volumes[at]->id, id) != 0)
        at++;
    if (!r || at == r->nvolumes)
        return volumes_not_found(c, &id, 1);
    char arn[160];
    snprintf(arn, sizeof arn, "arn:aws:ec2:%s:%s:volume/%s", call_region(c), call_account(c)->id,
             id);
    if (!call_authorize(c, arn) || ec2_dry_run(c))
        return false;
    sbx_volume *v = r->volumes[at];
    if (v->instance_id)
        return call_error(c, 400, "VolumeInUse", "Volume %s is currently attached to %s", id,
                          v->instance_id);
    memmove(&r->volumes[at], &r->volumes[at + 1], (r->nvolumes - at - 1) * sizeof *r->volumes);
    r->nvolumes--;
    world_free_volume(v);
    call_note(c, "deleted %s", id);
    call_xml_bool(c, "return", true);
    return true;
}

/* ---- snapshots ---- */

/* A snapshot as one caller sees it: with its owner and the time. */
typedef struct snap_row {
    const sbx_snapshot *s;
    const char *owner;
    time_t now;
} snap_row;

#define ROW(res) ((const snap_row *)(res))

static const char *snapshot_status(const sbx_snapshot *s, time_t now)
{
    return now < s->complete_at ? "pending" : "completed";
}

/* Progress grows linearly from start to completion, as a console watcher
 * would see it. */
static void snapshot_progress(const sbx_snapshot *s, time_t now, char *buf, size_t n)
{
    long pct = 100;
    if (now < s->complete_at) {
        long span = (long)(s->complete_at - s->start_time);
        long done = (long)(now - s->start_time);
        pct = span > 0 && done > 0 ? done * 100 / span : 0;
        if (pct > 99)
            pct = 99;
    }
    snprintf(buf, n, "%ld%%", pct);
}

static bool f_snap_id(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ROW(res)->s->id);
}
static bool f_snap_volume(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ROW(res)->s->volume_id);
}
static bool f_snap_status(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, snapshot_status(ROW(res)->s, ROW(res)->now));
}
static bool f_snap_owner(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ROW(res)->owner);
}
static bool f_snap_encrypted(const void *res, const ec2_filter *f)
{
    return ec2_fv_bool(f, ROW(res)->s->encrypted);
}
static bool f_snap_description(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ROW(res)->s->description ? ROW(res)->s->description : "");
}
static bool f_snap_size(const void *res, const ec2_filter *f)
{
    return ec2_fv_int(f, ROW(res)->s->size_gib);
}
static bool f_snap_progress(const void *res, const ec2_filter *f)
{
    char buf[8];
    snapshot_progress(ROW(res)->s, ROW(res)->now, buf, sizeof buf);
    return ec2_fv(f, buf);
}

static const ec2_filter_def snapshot_filters[] = {
    {"snapshot-id", f_snap_id},      {"volume-id", f_snap_volume},
    {"status", f_snap_status},       {"owner-id", f_snap_owner},
    {"encrypted", f_snap_encrypted}, {"description", f_snap_description},
    {"volume-size", f_snap_size},    {"progress", f_snap_progress},
};

static const sbx_tags *snapshot_tags(const void *res)
{
    return &ROW(res)->s->tags;
}

static void write_snapshot_fields(sbx_call *c, const sbx_snapshot *s, const char *owner, time_t now)
{
    char progress[8];
    snapshot_progress(s, now, progress, sizeof progress);
    call_xml_text(c, "snapshotId", s->id);
    call_xml_text(c, "volumeId", s->volume_id);
    call_xml_text(c, "status", snapshot_status(s, now));
    call_xml_time(c, "startTime", s->start_time);
    call_xml_text(c, "progress", progress);
    call_xml_text(c, "ownerId", owner);
    call_xml_int(c, "volumeSize", s->size_gib);
    call_xml_text(c, "description", s->description ? s->description : "");
    call_xml_bool(c, "encrypted", s->encrypted);
    call_xml_text(c, "storageTier", "standard");
    if (s->tags.n)
        call_xml_tags(c, "tagSet", "item", &s->tags);
}

static bool check_snapshot_id(sbx_call *c, const char *id)
{
    if (ec2_id_wellformed(id, "snap-"))
        return true;
    return call_error(c, 400, "InvalidSnapshotID.Malformed",
                      "Invalid id: \"%s\" (expecting \"snap-...\")", id);
}

static bool snapshots_not_found(sbx_call *c, const char **missing, size_t n)
{
    char *list = ec2_join_ids(missing, n);
    if (n == 1)
        call_error(c, 400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", list);
    else
        call_error(c, 400, "InvalidSnapshot.NotFound", "The snapshots '%s' do not exist.", list);
    free(list);
    return false;
}

/* Who may see a snapshot for this request: Owner (self, an account id;
 * "amazon" owns nothing here) and RestorableBy (self or an account id: its
 * own and the public ones; all: the public ones). Neither: own and public. */
typedef struct snap_scope {
    const char *caller;
    const char *const *owners;
    size_t nowners;
    const char *const *restorable;
    size_t nrestorable;
} snap_scope;

static bool owner_listed(const snap_scope *sc, const char *owner)
{
    if (sc->nowners == 0)
        return true;
    for (size_t i = 0; i < sc->nowners; i++) {
        const char *o = sc->owners[i];
        if (strcmp(o, "self") == 0 ? strcmp(owner, sc->caller) == 0 : strcmp(o, owner) == 0)
            return true;
    }
    return false;
}

static bool restorable_listed(const snap_scope *sc, const sbx_snapshot *s, const char *owner)
{
    if (sc->nrestorable == 0)
        return s->is_public || strcmp(owner, sc->caller) == 0;
    for (size_t i = 0; i < sc->nrestorable; i++) {
        const char *who = sc->restorable[i];
        if (strcmp(who, "self") == 0)
            who = sc->caller;
        if (s->is_public || (strcmp(who, "all") != 0 && strcmp(who, owner) == 0))
            return true;
    }
    return false;
}

/* Calls fn for every snapshot the caller may see in the region, in a
 * stable order: the caller's account first, then the world's accounts. */
typedef void (*snap_visit)(const snap_row *row, void *ctx);

static void each_visible_snapshot(sbx_call *c, sbx_region *own, snap_visit fn, void *ctx)
{
    world *w = call_world(c);
    sbx_account *me = call_account(c);
    time_t now = call_now(c);
    for (size_t i = 0; own && i < own->nsnapshots; i++) {
        snap_row row = {own->snapshots[i], me->id, now};
        fn(&row, ctx);
    }
    for (size_t a = 0; a < w->naccounts; a++) {
        sbx_account *acct = w->accounts[a];
        if (acct == me)
            continue;
        sbx_region *r = world_region(acct, call_region(c));
        for (size_t i = 0; r && i < r->nsnapshots; i++)
            if (r->snapshots[i]->is_public) {
                snap_row row = {r->snapshots[i], acct->id, now};
                fn(&row, ctx);
            }
    }
}

typedef struct snap_describe {
    sbx_call *c;
    snap_scope scope;
    ec2_idmap want;
    size_t nids;
    bool *seen; /* per requested id, for NotFound */
    const char *const *ids;
    ec2_filters fs;
    ec2_page page;
    size_t total;
    bool render;
} snap_describe;

static void describe_visit(const snap_row *row, void *ctx)
{
    snap_describe *d = ctx;
    if (d->nids && !ec2_idmap_has(&d->want, row->s->id))
        return;
    if (!d->render) {
        for (size_t i = 0; i < d->nids; i++)
            if (strcmp(d->ids[i], row->s->id) == 0)
                d->seen[i] = true;
        return;
    }
    if (!owner_listed(&d->scope, row->owner) || !restorable_listed(&d->scope, row->s, row->owner) ||
        !ec2_filters_match(&d->fs, row))
        return;
    if (ec2_page_has(&d->page, d->total)) {
        call_xml_open(d->c, "item");
        write_snapshot_fields(d->c, row->s, row->owner, row->now);
        call_xml_close(d->c, "item");
    }
    d->total++;
}

bool ec2_describe_snapshots(sbx_call *c)
{
    snap_describe d = {.c = c};
    d.ids = call_param_list(c, "SnapshotId", &d.nids);
    if (d.nids && call_param(c, "MaxResults"))
        return call_error(c, 400, "InvalidParameterCombination",
                          "The parameter snapshotSet cannot be used with the parameter "
                          "maxResults");
    for (size_t i = 0; i < d.nids; i++)
        if (!check_snapshot_id(c, d.ids[i]))
            return false;
    if (!ec2_page_parse(c, 5, 1000, &d.page))
        return false;
    d.scope.caller = call_account(c)->id;
    d.scope.owners = call_param_list(c, "Owner", &d.scope.nowners);
    d.scope.restorable = call_param_list(c, "RestorableBy", &d.scope.nrestorable);
    if (!ec2_filters_parse(c, snapshot_filters,
                           sizeof snapshot_filters / sizeof snapshot_filters[0], snapshot_tags,
                           &d.fs))
        return false;
    sbx_region *r = call_region_state(c);
    bool ok = true;
    if (d.nids) {
        ec2_idmap_of(&d.want, d.ids, d.nids);
        d.seen = xcalloc(d.nids, sizeof *d.seen);
        each_visible_snapshot(c, r, describe_visit, &d);
        const char **missing = xcalloc(d.nids, sizeof *missing);
        size_t nmissing = 0;
        for (size_t i = 0; i < d.nids; i++)
            if (!d.seen[i])
                missing[nmissing++] = d.ids[i];
        if (nmissing)
            ok = snapshots_not_found(c, missing, nmissing);
        free(missing);
        free(d.seen);
    }
    if (ok && ec2_dry_run(c))
        ok = false;
    if (ok) {
        d.render = true;
        call_xml_open(c, "snapshotSet");
        each_visible_snapshot(c, r, describe_visit, &d);
        call_xml_close(c, "snapshotSet");
        ec2_page_finish(c, &d.page, d.total);
    }
    if (d.nids)
        ec2_idmap_free(&d.want);
    ec2_filters_free(&d.fs);
    return ok;
}

/* Reads TagSpecification.N.{ResourceType,Tag.M.Key,Tag.M.Value} for the
 * given resource type into tags. */
static bool read_tag_specs(sbx_call *c, const char *type, sbx_tags *tags)
{
    char name[96];
    for (int n = 1;; n++) {
        snprintf(name, sizeof name, "TagSpecification.%d.ResourceType", n);
        const char *rt = call_param(c, name);
        if (!rt)
            return true;
        if (strcmp(rt, type) != 0)
            return call_error(c, 400, "InvalidParameterValue",
                              "'%s' is not a valid taggable resource type for this operation.", rt);
        for (int m = 1;; m++) {
            snprintf(name, sizeof name, "TagSpecification.%d.Tag.%d.Key", n, m);
            const char *key = call_param(c, name);
            if (!key)
                break;
            snprintf(name, sizeof name, "TagSpecification.%d.Tag.%d.Value", n, m);
            const char *value = call_param(c, name);
            ec2_tag_set(tags, key, value ? value : "");
        }
    }
}

bool ec2_create_snapshot(sbx_call *c)
{
    const char *vid = ec2_require(c, "VolumeId");
    if (!vid || !check_volume_id(c, vid))
        return false;
    sbx_region *r = call_region_state(c);
    sbx_volume *v = ec2_find_volume(r, vid);
    if (!v)
        return volumes_not_found(c, &vid, 1);
    const char *desc = call_param(c, "Description");
    if (desc && strlen(desc) > 255)
        return call_error(c, 400, "InvalidParameterValue",
                          "Value for parameter Description is too long; it can have at most "
                          "255 characters.");
    char arn[160];
    snprintf(arn, sizeof arn, "arn:aws:ec2:%s:%s:volume/%s", call_region(c), call_account(c)->id,
             vid);
    if (!call_authorize(c, arn))
        return false;
    sbx_tags tags = {0};
    if (!read_tag_specs(c, "snapshot", &tags) || ec2_dry_run(c)) {
        world_free_tags(&tags);
        return false;
    }
    time_t now = call_now(c);
    sbx_snapshot *s = xcalloc(1, sizeof *s);
    s->id = world_new_id(call_world(c), "snap-", 17);
    s->volume_id = xstrdup(vid);
    s->size_gib = v->size_gib;
    s->encrypted = v->encrypted;
    s->description = xstrdup(desc ? desc : "");
    s->start_time = now;
    s->complete_at = now + call_state_delay(c);
    s->tags = tags;
    r->snapshots = xreallocarray(r->snapshots, r->nsnapshots + 1, sizeof *r->snapshots);
    r->snapshots[r->nsnapshots++] = s;
    call_note(c, "created %s of %s", s->id, vid);
    write_snapshot_fields(c, s, call_account(c)->id, now);
    return true;
}

/* Only the owner's own snapshots can be deleted or inspected. */
static sbx_snapshot *own_snapshot(sbx_call *c, const char *id, size_t *at)
{
    sbx_region *r = call_region_state(c);
    for (size_t i = 0; r && i < r->nsnapshots; i++)
        if (strcmp(r->snapshots[i]->id, id) == 0) {
            if (at)
                *at = i;
            return r->snapshots[i];
        }
    snapshots_not_found(c, &id, 1);
    return NULL;
}

bool ec2_delete_snapshot(sbx_call *c)
{
    const char *id = ec2_require(c, "SnapshotId");
    if (!id || !check_snapshot_id(c, id))
        return false;
    size_t at = 0;
    sbx_snapshot *s = own_snapshot(c, id, &at);
    if (!s)
        return false;
    char arn[160];
    snprintf(arn, sizeof arn, "arn:aws:ec2:%s::snapshot/%s", call_region(c), id);
    if (!call_authorize(c, arn) || ec2_dry_run(c))
        return false;
    sbx_region *r = call_region_state(c);
    memmove(&r->snapshots[at], &r->snapshots[at + 1],
            (r->nsnapshots - at - 1) * sizeof *r->snapshots);
    r->nsnapshots--;
    world_free_snapshot(s);
    call_note(c, "deleted %s", id);
    call_xml_bool(c, "return", true);
    return true;
}

bool ec2_describe_snapshot_attribute(sbx_call *c)
{
    const char *attr = ec2_require(c, "Attribute");
    if (!attr)
        return false;
    if (strcmp(attr, "createVolumePermission") != 0 && strcmp(attr, "productCodes") != 0)
        return call_error(c, 400, "InvalidParameterValue",
                          "Value (%s) for parameter attribute is invalid. Unknown attribute.",
                          attr);
    const char *id = ec2_require(c, "SnapshotId");
    if (!id || !check_snapshot_id(c, id))
        return false;
    const sbx_snapshot *s = own_snapshot(c, id, NULL);
    if (!s || ec2_dry_run(c))
        return false;
    call_xml_text(c, "snapshotId", s->id);
    if (strcmp(attr, "createVolumePermission") == 0) {
        call_xml_open(c, "createVolumePermission");
        if (s->is_public) {
            call_xml_open(c, "item");
            call_xml_text(c, "group", "all");
            call_xml_close(c, "item");
        }
        call_xml_close(c, "createVolumePermission");
    } else {
        call_xml_open(c, "productCodes");
        call_xml_close(c, "productCodes");
    }
    return true;
}

bool ec2_get_ebs_encryption_by_default(sbx_call *c)
{
    if (ec2_dry_run(c))
        return false;
    sbx_region *r = call_region_state(c);
    call_xml_bool(c, "ebsEncryptionByDefault", r && r->ebs_encryption_by_default);
    return true;
}
