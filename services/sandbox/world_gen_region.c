/* One account's resources in one region: security groups, instances and
 * their volumes, snapshots, Elastic IPs, RDS and Auto Scaling groups. The
 * mix is chosen so every finding Escher looks for occurs (open ports,
 * public snapshots, unattached and unencrypted volumes, idle instances)
 * next to a majority of ordinary, well-configured resources. */
#include "world_gen_internal.h"

#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAZ  3
#define N(x) (sizeof(x) / sizeof((x)[0]))

static const char *const instance_types[] = {
    "t3.micro",  "t3.micro", "t3.small", "t3.small",  "t3.medium", "t3.medium", "t3.large",
    "t3.xlarge", "m5.large", "m5.large", "m5.xlarge", "c5.large",  "r5.large",
};
static const char *const teams[] = {"platform", "payments", "data", "web", "ml", "security"};
static const char *const roles[] = {"web",     "api", "worker",  "batch",
                                    "bastion", "etl", "jenkins", "cache"};
static const char *const owners[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace"};
static const char *const volume_types[] = {"gp3", "gp3", "gp3", "gp2", "gp2", "io1", "st1"};
static const int root_sizes[] = {8, 8, 20, 30, 50, 100};

static char *gen_ip(wrng *r)
{
    static const int first[] = {3, 18, 34, 35, 44, 52, 54};
    return xasprintf("%d.%ld.%ld.%ld", first[wrng_below(r, N(first))], wrng_range(r, 0, 255),
                     wrng_range(r, 0, 255), wrng_range(r, 1, 254));
}

static void rule(sbx_sg_rule **arr, size_t *n, const char *proto, int from, int to,
                 const char *cidr)
{
    *arr = xreallocarray(*arr, *n + 1, sizeof(**arr));
    sbx_sg_rule *x = &(*arr)[(*n)++];
    x->protocol = xstrdup(proto);
    x->from_port = from;
    x->to_port = to;
    x->cidr = xstrdup(cidr);
}

static sbx_sg *new_sg(wrng *r, sbx_region *reg, const char *name, const char *desc)
{
    sbx_sg *sg = xcalloc(1, sizeof(*sg));
    sg->id = gen_id(r, "sg-", WORLD_HEX, 17);
    sg->name = xstrdup(name);
    sg->description = xstrdup(desc);
    sg->vpc_id = xstrdup(reg->default_vpc_id);
    rule(&sg->egress, &sg->negress, "-1", -1, -1, "0.0.0.0/0");
    GEN_PUSH(reg->sgs, reg->nsgs, sg);
    return sg;
}

/* Groups by role: web instances face the internet, bastions carry the
 * launch wizard's open SSH when the region has it. */
typedef struct sgset {
    sbx_sg *dflt, *web, *app, *ssh, *rdp, *db;
} sgset;

static sgset gen_sgs(wrng *r, sbx_region *reg, bool force_ssh, bool has_db)
{
    sgset s = {0};
    s.dflt = new_sg(r, reg, "default", "default VPC security group");
    rule(&s.dflt->ingress, &s.dflt->ningress, "-1", -1, -1, "172.31.0.0/16");
    s.web = new_sg(r, reg, "web", "HTTP and HTTPS from anywhere");
    rule(&s.web->ingress, &s.web->ningress, "tcp", 80, 80, "0.0.0.0/0");
    rule(&s.web->ingress, &s.web->ningress, "tcp", 443, 443, "0.0.0.0/0");
    s.app = new_sg(r, reg, "app-internal", "application port inside the VPC");
    rule(&s.app->ingress, &s.app->ningress, "tcp", 8080, 8080, "172.31.0.0/16");
    if (force_ssh || wrng_chance(r, 0.4)) {
        s.ssh = new_sg(r, reg, "launch-wizard-1", "launch-wizard-1 created by the console");
        rule(&s.ssh->ingress, &s.ssh->ningress, "tcp", 22, 22, "0.0.0.0/0");
    }
    if (wrng_chance(r, 0.15)) {
        s.rdp = new_sg(r, reg, "windows-rdp", "RDP for the Windows build hosts");
        rule(&s.rdp->ingress, &s.rdp->ningress, "tcp", 3389, 3389, "0.0.0.0/0");
    }
    if (has_db) {
        s.db = new_sg(r, reg, "database", "database access from the VPC");
        rule(&s.db->ingress, &s.db->ningress, "tcp", 5432, 5432, "172.31.0.0/16");
        rule(&s.db->ingress, &s.db->ningress, "tcp", 3306, 3306, "172.31.0.0/16");
    }
    return s;
}

static void add_sg(sbx_instance *in, const sbx_sg *sg)
{
    if (sg == NULL)
        return;
    GEN_PUSH(in->sg_ids, in->nsg, xstrdup(sg->id));
}

static sbx_volume *new_volume(wrng *r, const gen_account *g, sbx_region *reg, const char *az,
                              int size, time_t created)
{
    sbx_volume *v = xcalloc(1, sizeof(*v));
    v->id = gen_id(r, "vol-", WORLD_HEX, 17);
    v->size_gib = size;
    v->type = xstrdup(gen_pick(r, volume_types, N(volume_types)));
    v->az = xstrdup(az);
    v->encrypted = reg->ebs_encryption_by_default || wrng_chance(r, 0.6);
    v->create_time = created;
    (void)g;
    GEN_PUSH(reg->volumes, reg->nvolumes, v);
    return v;
}

static void attach(sbx_volume *v, const sbx_instance *in, const char *device)
{
    v->instance_id = xstrdup(in->id);
    v->device = xstrdup(device);
}

typedef struct inst_opts {
    const char *env;
    const char *role;
    int n;
    sbx_istate state;
    const char *asg; /* aws:autoscaling:groupName, or NULL */
} inst_opts;

static sbx_instance *new_instance(wrng *r, const gen_account *g, sbx_region *reg, const sgset *sgs,
                                  char *const *amis, const inst_opts *o)
{
    sbx_instance *in = xcalloc(1, sizeof(*in));
    int az = (int)wrng_below(r, NAZ);
    in->id = gen_id(r, "i-", WORLD_HEX, 17);
    in->type = xstrdup(gen_pick(r, instance_types, N(instance_types)));
    in->state = o->state;
    in->launch_time = gen_ago(r, g->now, 0, 400);
    in->image_id = xstrdup(amis[wrng_below(r, 4)]);
    in->az = xasprintf("%s%c", reg->name, 'a' + az);
    in->vpc_id = xstrdup(reg->default_vpc_id);
    in->subnet_id = xstrdup(reg->subnet_ids[az]);
    in->private_ip =
        xasprintf("172.31.%ld.%ld", 16L * az + wrng_range(r, 0, 15), wrng_range(r, 4, 254));
    bool facing = strcmp(o->role, "web") == 0 || strcmp(o->role, "bastion") == 0;
    if (o->state == SBX_RUNNING && (facing ? wrng_chance(r, 0.9) : wrng_chance(r, 0.3)))
        in->public_ip = gen_ip(r);
    if (wrng_chance(r, 0.7))
        in->key_name = xasprintf("%s-key", o->env);
    in->imds_v2_required = wrng_chance(r, 0.55);
    add_sg(in, sgs->dflt);
    if (strcmp(o->role, "web") == 0)
        add_sg(in, sgs->web);
    else if (strcmp(o->role, "bastion") == 0)
        add_sg(in, sgs->ssh ? sgs->ssh : sgs->app);
    else if (strcmp(o->role, "jenkins") == 0 && sgs->rdp != NULL)
        add_sg(in, sgs->rdp);
    else
        add_sg(in, sgs->app);

    /* Tags as teams really leave them: mostly complete, some without an
     * owner, a few with none at all. */
    double t = wrng_unit(r);
    if (t >= 0.05 || o->asg != NULL) {
        char *name = xasprintf("%s-%s-%d", o->env, o->role, o->n);
        gen_tag(&in->tags, "Name", name);
        free(name);
        gen_tag(&in->tags, "env", o->env);
        gen_tag(&in->tags, "team", gen_pick(r, teams, N(teams)));
        if (t >= 0.15) {
            char *owner = xasprintf("%s@example.com", gen_pick(r, owners, N(owners)));
            gen_tag(&in->tags, "owner", owner);
            free(owner);
        }
        if (o->asg != NULL)
            gen_tag(&in->tags, "aws:autoscaling:groupName", o->asg);
    }
    GEN_PUSH(reg->instances, reg->ninstances, in);

    if (in->state != SBX_TERMINATED) {
        sbx_volume *root = new_volume(r, g, reg, in->az, root_sizes[wrng_below(r, N(root_sizes))],
                                      in->launch_time);
        attach(root, in, "/dev/xvda");
        if (wrng_chance(r, 0.25)) {
            sbx_volume *data =
                new_volume(r, g, reg, in->az, (int)wrng_range(r, 50, 1000), in->launch_time);
            attach(data, in, "/dev/sdf");
        }
    }
    return in;
}

static sbx_istate pick_state(wrng *r)
{
    double u = wrng_unit(r);
    return u < 0.72 ? SBX_RUNNING : u < 0.95 ? SBX_STOPPED : SBX_TERMINATED;
}

static void gen_instances(wrng *r, const gen_account *g, sbx_region *reg, const sgset *sgs,
                          char *const *amis)
{
    for (int i = 0; i < g->per_region; i++) {
        inst_opts o = {g->env, gen_pick(r, roles, N(roles)), i + 1, pick_state(r), NULL};
        if (strcmp(g->env, "sandbox") == 0 && wrng_chance(r, 0.3))
            o.env = "dev";
        /* Each region has at least one of each common state. */
        if (i == 0)
            o.state = SBX_STOPPED;
        else if (i == 1)
            o.state = SBX_RUNNING;
        new_instance(r, g, reg, sgs, amis, &o);
    }
}

static void gen_loose_volumes(wrng *r, const gen_account *g, sbx_region *reg)
{
    long n = wrng_range(r, 1, 2 + g->size);
    for (long i = 0; i < n; i++) {
        char az[32];
        snprintf(az, sizeof(az), "%s%c", reg->name, (int)('a' + wrng_below(r, NAZ)));
        sbx_volume *v =
            new_volume(r, g, reg, az, (int)wrng_range(r, 8, 500), gen_ago(r, g->now, 5, 700));
        /* One leftover per region is unencrypted: a finding to be found. */
        if (i == 0)
            v->encrypted = false;
        char *name = xasprintf("%s-leftover-%ld", g->env, i + 1);
        gen_tag(&v->tags, "Name", name);
        free(name);
    }
}

static void gen_snapshots(wrng *r, const gen_account *g, sbx_region *reg)
{
    long n = wrng_range(r, 2, 3 + 2 * g->size);
    for (long i = 0; i < n; i++) {
        sbx_snapshot *s = xcalloc(1, sizeof(*s));
        s->id = gen_id(r, "snap-", WORLD_HEX, 17);
        bool of_live = reg->nvolumes > 0 && wrng_chance(r, 0.7);
        const sbx_volume *v = of_live ? reg->volumes[wrng_below(r, reg->nvolumes)] : NULL;
        s->volume_id = v ? xstrdup(v->id) : gen_id(r, "vol-", WORLD_HEX, 17);
        s->size_gib = v ? v->size_gib : (int)wrng_range(r, 8, 200);
        s->encrypted = v ? v->encrypted : wrng_chance(r, 0.5);
        s->is_public = wrng_chance(r, 0.06);
        s->start_time = gen_ago(r, g->now, 1, 700);
        s->complete_at = s->start_time + wrng_range(r, 120, 3600);
        s->description = xstrdup(wrng_chance(r, 0.5) ? "daily backup" : "Created by CreateImage");
        char *name = xasprintf("%s-backup-%ld", g->env, i + 1);
        gen_tag(&s->tags, "Name", name);
        free(name);
        GEN_PUSH(reg->snapshots, reg->nsnapshots, s);
    }
}

static void gen_addresses(wrng *r, const gen_account *g, sbx_region *reg)
{
    long n = wrng_range(r, 0, 2 + g->size);
    for (long i = 0; i < n; i++) {
        sbx_address *ad = xcalloc(1, sizeof(*ad));
        ad->allocation_id = gen_id(r, "eipalloc-", WORLD_HEX, 17);
        ad->public_ip = gen_ip(r);
        if (wrng_chance(r, 0.6)) {
            /* Associate with a running instance that has no Elastic IP yet:
             * its public address becomes the Elastic IP. */
            for (size_t k = 0; k < reg->ninstances; k++) {
                sbx_instance *in = reg->instances[(i * 7 + k) % reg->ninstances];
                bool taken = false;
                for (size_t j = 0; j < reg->naddresses; j++)
                    taken |= reg->addresses[j]->instance_id &&
                             strcmp(reg->addresses[j]->instance_id, in->id) == 0;
                if (in->state != SBX_RUNNING || taken)
                    continue;
                ad->instance_id = xstrdup(in->id);
                ad->association_id = gen_id(r, "eipassoc-", WORLD_HEX, 17);
                free(in->public_ip);
                in->public_ip = xstrdup(ad->public_ip);
                break;
            }
        }
        GEN_PUSH(reg->addresses, reg->naddresses, ad);
    }
}

static const struct {
    const char *engine, *version;
} engines[] = {
    {"postgres", "15.4"},
    {"postgres", "14.9"},
    {"mysql", "8.0.35"},
    {"mariadb", "10.11.6"},
};
static const char *const db_classes[] = {"db.t3.micro", "db.t3.small", "db.t3.medium",
                                         "db.m5.large", "db.r5.large"};

static void gen_db_snapshots(wrng *r, const gen_account *g, sbx_region *reg, const sbx_db *db)
{
    long n = wrng_range(r, 0, 2);
    for (long i = 0; i < n; i++) {
        sbx_db_snapshot *s = xcalloc(1, sizeof(*s));
        s->create_time = gen_ago(r, g->now, 1, 300);
        if (i == 0) {
            struct tm tm;
            gmtime_r(&s->create_time, &tm);
            s->id = xasprintf("rds:%s-%04d-%02d-%02d-%02d-%02d", db->id, tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
        } else {
            s->id = xasprintf("%s-manual-%ld", db->id, i);
        }
        s->db_id = xstrdup(db->id);
        s->arn = xasprintf("arn:aws:rds:%s:%s:snapshot:%s", reg->name, g->a->id, s->id);
        s->encrypted = db->storage_encrypted;
        GEN_PUSH(reg->db_snapshots, reg->ndb_snapshots, s);
    }
}

static void gen_dbs(wrng *r, const gen_account *g, sbx_region *reg)
{
    long n = wrng_range(r, 1, 2 + g->size);
    for (long i = 0; i < n; i++) {
        sbx_db *db = xcalloc(1, sizeof(*db));
        int e = (int)wrng_below(r, N(engines));
        db->id = xasprintf("%s-%s-%ld", g->env, engines[e].engine, i + 1);
        db->arn = xasprintf("arn:aws:rds:%s:%s:db:%s", reg->name, g->a->id, db->id);
        db->instance_class = xstrdup(gen_pick(r, db_classes, N(db_classes)));
        db->engine = xstrdup(engines[e].engine);
        db->engine_version = xstrdup(engines[e].version);
        db->status = xstrdup(wrng_chance(r, 0.8) ? "available" : "stopped");
        db->publicly_accessible = wrng_chance(r, 0.15);
        db->storage_encrypted = wrng_chance(r, 0.75);
        db->multi_az = wrng_chance(r, 0.3);
        db->allocated_storage = (int)wrng_range(r, 2, 50) * 10;
        db->az = xasprintf("%s%c", reg->name, (int)('a' + wrng_below(r, NAZ)));
        db->create_time = gen_ago(r, g->now, 10, 900);
        gen_tag(&db->tags, "env", g->env);
        gen_tag(&db->tags, "team", gen_pick(r, teams, N(teams)));
        GEN_PUSH(reg->dbs, reg->ndbs, db);
        gen_db_snapshots(r, g, reg, db);
    }
}

static void gen_asgs(wrng *r, const gen_account *g, sbx_region *reg, const sgset *sgs,
                     char *const *amis)
{
    long n = g->size == 0 ? (wrng_chance(r, 0.3) ? 1 : 0) : g->size;
    static const char *const asg_roles[] = {"web", "api", "worker"};
    for (long i = 0; i < n; i++) {
        sbx_asg *asg = xcalloc(1, sizeof(*asg));
        const char *role = asg_roles[i % N(asg_roles)];
        asg->name = xasprintf("%s-%s-asg", g->env, role);
        char *uuid = gen_uuid(r);
        asg->arn =
            xasprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s",
                      reg->name, g->a->id, uuid, asg->name);
        free(uuid);
        asg->min_size = 1;
        asg->max_size = (int)wrng_range(r, 4, 6);
        asg->desired = (int)wrng_range(r, 1, 3);
        asg->launch_template = xasprintf("%s-lt", asg->name);
        asg->create_time = gen_ago(r, g->now, 30, 600);
        gen_tag(&asg->tags, "env", g->env);
        for (int k = 0; k < asg->desired; k++) {
            inst_opts o = {g->env, role, 100 + k, SBX_RUNNING, asg->name};
            sbx_instance *in = new_instance(r, g, reg, sgs, amis, &o);
            GEN_PUSH(asg->instance_ids, asg->ninstances, xstrdup(in->id));
        }
        GEN_PUSH(reg->asgs, reg->nasgs, asg);
    }
}

sbx_region *gen_region(const gen_account *g, const char *region)
{
    wrng r = wrng_stream(g->w->seed, region, whash_str(0, g->a->id));
    sbx_region *reg = xcalloc(1, sizeof(*reg));
    reg->name = xstrdup(region);
    reg->ebs_encryption_by_default = wrng_chance(&r, 0.3);
    reg->default_vpc_id = gen_id(&r, "vpc-", WORLD_HEX, 17);
    for (int i = 0; i < NAZ; i++)
        GEN_PUSH(reg->subnet_ids, reg->nsubnets, gen_id(&r, "subnet-", WORLD_HEX, 17));

    /* The region's images are shared by its instances, as a team's AMIs are. */
    wrng ami_rng = wrng_stream(g->w->seed, "ami", whash_str(0, region));
    char *amis[4];
    for (int i = 0; i < 4; i++)
        amis[i] = gen_id(&ami_rng, "ami-", WORLD_HEX, 17);

    bool has_db =
        world_cost_uses(g->w->seed, g->a->id, "Amazon Relational Database Service", region);
    bool first_region = g->a->nregions == 0;
    sgset sgs = gen_sgs(&r, reg, first_region, has_db);
    gen_instances(&r, g, reg, &sgs, amis);
    gen_asgs(&r, g, reg, &sgs, amis);
    gen_loose_volumes(&r, g, reg);
    gen_snapshots(&r, g, reg);
    gen_addresses(&r, g, reg);
    if (has_db)
        gen_dbs(&r, g, reg);
    for (int i = 0; i < 4; i++)
        free(amis[i]);
    return reg;
}
