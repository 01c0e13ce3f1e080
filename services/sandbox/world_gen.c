/* Deterministic generation of an organization: the only inputs are the
 * params (p->now is the only time), and every random choice comes from a
 * splitmix64 stream named by what it generates, so the same params give a
 * byte-identical world and an account's contents do not depend on how
 * many accounts the world has. */
#include "world_gen_internal.h"

#include "core/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(x) (sizeof(x) / sizeof((x)[0]))

/* ---- small helpers shared with world_gen_region.c ---- */

void gen_tag(sbx_tags *t, const char *key, const char *value)
{
    t->items = xreallocarray(t->items, t->n + 1, sizeof(*t->items));
    t->items[t->n].key = xstrdup(key);
    t->items[t->n].value = xstrdup(value);
    t->n++;
}

char *gen_id(wrng *r, const char *prefix, const char *alphabet, size_t n)
{
    char *body = wrng_string(r, alphabet, n);
    char *id = xasprintf("%s%s", prefix, body);
    free(body);
    return id;
}

char *gen_uuid(wrng *r)
{
    char *a = wrng_string(r, WORLD_HEX, 8), *b = wrng_string(r, WORLD_HEX, 4);
    char *c = wrng_string(r, WORLD_HEX, 4), *d = wrng_string(r, WORLD_HEX, 4);
    char *e = wrng_string(r, WORLD_HEX, 12);
    char *u = xasprintf("%s-%s-%s-%s-%s", a, b, c, d, e);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    return u;
}

time_t gen_ago(wrng *r, time_t now, long min_days, long max_days)
{
    return now - (time_t)wrng_range(r, min_days * DAY_SECONDS, max_days * DAY_SECONDS);
}

const char *gen_pick(wrng *r, const char *const *set, size_t n)
{
    return set[wrng_below(r, n)];
}

/* ---- policies as the onboarding template writes them ---- */

static const char ADMIN_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
    "\"Resource\":\"*\"}]}";

#define READ_ACTIONS                                                                               \
    "\"ec2:Describe*\",\"ec2:Get*\",\"rds:Describe*\",\"rds:List*\",\"autoscaling:Describe*\","    \
    "\"cloudwatch:Get*\",\"cloudwatch:List*\",\"cloudwatch:Describe*\",\"s3:Get*\",\"s3:List*\","  \
    "\"cloudtrail:Describe*\",\"cloudtrail:Get*\",\"cloudtrail:List*\",\"iam:Get*\","              \
    "\"iam:List*\",\"iam:GenerateCredentialReport\",\"ce:Get*\",\"ce:Describe*\",\"ce:List*\","    \
    "\"organizations:Describe*\",\"organizations:List*\",\"sts:GetCallerIdentity\""

static const char READONLY_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"EscherRead\",\"Effect\":\"Allow\","
    "\"Action\":[" READ_ACTIONS "],\"Resource\":\"*\"}]}";

static const char OPERATOR_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"EscherRead\",\"Effect\":\"Allow\","
    "\"Action\":[" READ_ACTIONS "],\"Resource\":\"*\"},"
    "{\"Sid\":\"EscherOperate\",\"Effect\":\"Allow\",\"Action\":["
    "\"ec2:StartInstances\",\"ec2:StopInstances\",\"ec2:RebootInstances\","
    "\"ec2:ModifyInstanceAttribute\",\"ec2:CreateTags\",\"ec2:DeleteTags\","
    "\"ec2:CreateSnapshot\",\"ec2:DeleteSnapshot\",\"ec2:DeleteVolume\","
    "\"rds:StartDBInstance\",\"rds:StopDBInstance\",\"rds:RebootDBInstance\","
    "\"rds:CreateDBSnapshot\",\"rds:AddTagsToResource\",\"rds:ModifyDBInstance\","
    "\"autoscaling:UpdateAutoScalingGroup\",\"autoscaling:SetDesiredCapacity\","
    "\"autoscaling:CreateOrUpdateTags\"],\"Resource\":\"*\"}]}";

static const char COST_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"EscherCost\",\"Effect\":\"Allow\","
    "\"Action\":[\"ce:Get*\",\"ce:Describe*\",\"ce:List*\",\"organizations:Describe*\","
    "\"organizations:List*\",\"sts:GetCallerIdentity\"],\"Resource\":\"*\"}]}";

static const char *const user_policies[] = {
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"ec2:Describe*"
    "\","
    "\"s3:List*\",\"s3:Get*\"],\"Resource\":\"*\"}]}",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:*\"],"
    "\"Resource\":\"*\"}]}",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"ec2:*\","
    "\"autoscaling:*\"],\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":\"ec2:"
    "TerminateInstances\","
    "\"Resource\":\"*\"}]}",
};

static char *trust_hub(const char *hub_arn, const char *external_id)
{
    return xasprintf("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                     "\"Principal\":{\"AWS\":\"%s\"},"
                     /* Escher's broker sets SourceIdentity and session tags,
                      * which AWS authorizes as separate trust actions. */
                     "\"Action\":[\"sts:AssumeRole\",\"sts:SetSourceIdentity\","
                     "\"sts:TagSession\"],"
                     "\"Condition\":{\"StringEquals\":{\"sts:ExternalId\":\"%s\"}}}]}",
                     hub_arn, external_id);
}

static char *trust_account(const char *account_id)
{
    return xasprintf("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                     "\"Principal\":{\"AWS\":\"arn:aws:iam::%s:root\"},"
                     "\"Action\":\"sts:AssumeRole\"}]}",
                     account_id);
}

static const char TRUST_LAMBDA[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
    "\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}";

/* ---- IAM ---- */

static sbx_access_key *new_key(wrng *r, time_t created, bool active, time_t last_used)
{
    sbx_access_key *k = xcalloc(1, sizeof(*k));
    k->id = gen_id(r, "AKIA", WORLD_UPPER, 16);
    k->secret = wrng_string(r, WORLD_SECRET, 40);
    k->active = active;
    k->create_time = created;
    k->last_used = last_used;
    return k;
}

static sbx_user *new_user(wrng *r, sbx_account *a, const char *name, time_t created)
{
    sbx_user *u = xcalloc(1, sizeof(*u));
    u->name = xstrdup(name);
    u->id = gen_id(r, "AIDA", WORLD_UPPER, 16);
    u->arn = xasprintf("arn:aws:iam::%s:user/%s", a->id, name);
    u->create_time = created;
    GEN_PUSH(a->users, a->nusers, u);
    return u;
}

static void add_mfa(sbx_user *u, const sbx_account *a, time_t when)
{
    u->mfa = xreallocarray(u->mfa, u->nmfa + 1, sizeof(*u->mfa));
    u->mfa[u->nmfa].serial = xasprintf("arn:aws:iam::%s:mfa/%s", a->id, u->name);
    u->mfa[u->nmfa].enable_date = when;
    u->nmfa++;
}

/* Key usage as auditors find it: recent, stale (> 90 days), never. */
static time_t key_last_used(wrng *r, time_t created, time_t now)
{
    double u = wrng_unit(r);
    if (u < 0.15)
        return 0;
    time_t latest = u < 0.75 ? now - wrng_range(r, 60, 14 * DAY_SECONDS)
                             : now - wrng_range(r, 100 * DAY_SECONDS, 400 * DAY_SECONDS);
    return latest > created ? latest : created + 3600;
}

/* People: a console user with MFA who logs in, one without MFA, one who
 * never logged in; then random colleagues. */
static const struct {
    const char *name;
    bool mfa;
    int login; /* 0 never, 1 recent, 2 over 90 days ago */
} fixed_humans[] = {
    {"alice", true, 1},
    {"bob", false, 1},
    {"carol", false, 0},
};
static const char *const more_humans[] = {"dave",  "erin", "frank", "grace",
                                          "heidi", "ivan", "judy",  "mallory"};

/* Machines: a key over 90 days old in use, an inactive one (last used
 * before it was deactivated), one never used. */
static const struct {
    const char *name;
    long age_days;
    bool active;
    long used_days_ago; /* -1 never */
} fixed_programs[] = {
    {"ci-deploy", 400, true, 0},
    {"legacy-etl", 700, false, 300},
    {"backup-bot", 30, true, -1},
};
static const char *const more_programs[] = {"terraform", "grafana-reader", "log-shipper",
                                            "cost-exporter"};

static void gen_humans(wrng *r, const gen_account *g)
{
    sbx_account *a = g->a;
    size_t extra = (size_t)wrng_range(r, 0, 1 + 2 * g->size);
    for (size_t i = 0; i < N(fixed_humans) + extra && i < N(fixed_humans) + N(more_humans); i++) {
        bool fixed = i < N(fixed_humans);
        const char *name = fixed ? fixed_humans[i].name : more_humans[i - N(fixed_humans)];
        sbx_user *u = new_user(r, a, name, gen_ago(r, g->now, 120, 1200));
        u->console = fixed || wrng_chance(r, 0.85);
        int login = fixed ? fixed_humans[i].login : (int)wrng_below(r, 3);
        if (u->console && login == 1)
            u->password_last_used = g->now - wrng_range(r, 600, 20 * DAY_SECONDS);
        else if (u->console && login == 2)
            u->password_last_used = gen_ago(r, g->now, 95, 110);
        if (fixed ? fixed_humans[i].mfa : (u->console && wrng_chance(r, 0.6)))
            add_mfa(u, a, u->create_time + DAY_SECONDS);
        if (wrng_chance(r, 0.35)) {
            time_t created = gen_ago(r, g->now, 1, 110);
            GEN_PUSH(u->keys, u->nkeys,
                     new_key(r, created, true, key_last_used(r, created, g->now)));
        }
        GEN_PUSH(u->policies, u->npolicies,
                 xstrdup(user_policies[wrng_below(r, N(user_policies))]));
    }
}

static void gen_programs(wrng *r, const gen_account *g)
{
    sbx_account *a = g->a;
    size_t extra = (size_t)wrng_range(r, 0, 1 + g->size);
    for (size_t i = 0; i < N(fixed_programs) + extra && i < N(fixed_programs) + N(more_programs);
         i++) {
        bool fixed = i < N(fixed_programs);
        const char *name = fixed ? fixed_programs[i].name : more_programs[i - N(fixed_programs)];
        sbx_user *u = new_user(r, a, name, gen_ago(r, g->now, 720, 1000));
        time_t created =
            fixed ? g->now - fixed_programs[i].age_days * DAY_SECONDS : gen_ago(r, g->now, 1, 700);
        bool active = fixed ? fixed_programs[i].active : wrng_chance(r, 0.85);
        time_t used;
        if (fixed)
            used = fixed_programs[i].used_days_ago < 0
                       ? 0
                       : g->now - fixed_programs[i].used_days_ago * DAY_SECONDS -
                             wrng_range(r, 600, DAY_SECONDS);
        else if (active)
            used = key_last_used(r, created, g->now);
        else
            used = wrng_chance(r, 0.3) ? 0 : created + wrng_range(r, 1, 60) * DAY_SECONDS;
        GEN_PUSH(u->keys, u->nkeys, new_key(r, created, active, used));
        if (!fixed && wrng_chance(r, 0.3)) {
            time_t c2 = gen_ago(r, g->now, 1, 60);
            GEN_PUSH(u->keys, u->nkeys, new_key(r, c2, true, key_last_used(r, c2, g->now)));
        }
        /* One in ten machine users holds full admin: a finding. */
        const char *pol =
            wrng_chance(r, 0.1) ? ADMIN_POLICY : user_policies[wrng_below(r, N(user_policies))];
        GEN_PUSH(u->policies, u->npolicies, xstrdup(pol));
    }
}

static void gen_admin(wrng *r, const gen_account *g)
{
    sbx_user *u = new_user(r, g->a, "Administrator", g->a->joined + 3600);
    u->console = true;
    u->password_last_used = g->now - wrng_range(r, 600, 5 * DAY_SECONDS);
    add_mfa(u, g->a, u->create_time + 600);
    time_t created = gen_ago(r, g->now, 30, 200);
    GEN_PUSH(u->keys, u->nkeys, new_key(r, created, true, g->now - wrng_range(r, 60, DAY_SECONDS)));
    GEN_PUSH(u->policies, u->npolicies, xstrdup(ADMIN_POLICY));
}

static sbx_role *new_role(wrng *r, sbx_account *a, const char *name, char *trust,
                          const char *policy, time_t created)
{
    sbx_role *ro = xcalloc(1, sizeof(*ro));
    ro->name = xstrdup(name);
    ro->id = gen_id(r, "AROA", WORLD_UPPER, 16);
    ro->arn = xasprintf("arn:aws:iam::%s:role/%s", a->id, name);
    ro->trust_policy = trust;
    GEN_PUSH(ro->policies, ro->npolicies, xstrdup(policy));
    ro->max_session_duration = 3600;
    ro->create_time = created;
    GEN_PUSH(a->roles, a->nroles, ro);
    return ro;
}

static void gen_roles(wrng *r, const gen_account *g, const char *hub_arn, const char *mgmt_id)
{
    sbx_account *a = g->a;
    const char *ext = g->w->external_id;
    time_t onboarded = gen_ago(r, g->now, 5, 60);
    new_role(r, a, "EscherOperator", trust_hub(hub_arn, ext), OPERATOR_POLICY, onboarded);
    new_role(r, a, "EscherReadOnly", trust_hub(hub_arn, ext), READONLY_POLICY, onboarded);
    new_role(r, a, "OrganizationAccountAccessRole", trust_account(mgmt_id), ADMIN_POLICY,
             a->joined + 60);
    if (a->is_management)
        new_role(r, a, "EscherCostReader", trust_hub(hub_arn, ext), COST_POLICY, onboarded);
    if (wrng_chance(r, 0.6)) {
        sbx_role *l = new_role(r, a, "lambda-exec", xstrdup(TRUST_LAMBDA), user_policies[1],
                               gen_ago(r, g->now, 30, 500));
        l->max_session_duration = 7200;
    }
}

static void gen_account_settings(wrng *r, const gen_account *g)
{
    sbx_account *a = g->a;
    sbx_password_policy *pp = &a->password_policy;
    pp->present = a->is_management || wrng_chance(r, 0.5);
    if (pp->present) {
        pp->min_length = (int)wrng_range(r, 8, 14);
        pp->require_symbols = wrng_chance(r, 0.6);
        pp->require_numbers = wrng_chance(r, 0.8);
        pp->require_upper = wrng_chance(r, 0.7);
        pp->require_lower = wrng_chance(r, 0.7);
        pp->max_age_days = wrng_chance(r, 0.5) ? 90 : 0;
        pp->reuse_prevention = wrng_chance(r, 0.5) ? 24 : 0;
    }
    a->root_mfa = a->is_management || wrng_chance(r, 0.65);
}

/* ---- S3 and CloudTrail ---- */

static const char *const bucket_purposes[] = {
    "logs", "assets", "backups", "data", "terraform-state", "static-site", "artifacts"};

static sbx_bucket *new_bucket(wrng *r, const gen_account *g, const char *purpose)
{
    sbx_bucket *b = xcalloc(1, sizeof(*b));
    b->name = xasprintf("%s-%s-%s", g->a->name, purpose, g->a->id);
    b->region = xstrdup(g->w->region_names[wrng_below(r, g->w->nregions)]);
    b->create_time = gen_ago(r, g->now, 10, 1200);
    b->has_pab = wrng_chance(r, 0.6);
    for (int i = 0; i < 4; i++)
        b->pab[i] = b->has_pab && wrng_chance(r, 0.9);
    b->has_policy = wrng_chance(r, 0.45);
    bool site = strcmp(purpose, "static-site") == 0;
    b->policy_public = b->has_policy && !b->pab[2] && (site || wrng_chance(r, 0.15));
    double enc = wrng_unit(r);
    b->encryption = enc < 0.2 ? NULL : xstrdup(enc < 0.75 ? "AES256" : "aws:kms");
    GEN_PUSH(g->a->buckets, g->a->nbuckets, b);
    return b;
}

static void gen_storage(wrng *r, const gen_account *g)
{
    sbx_account *a = g->a;
    bool has_trail = a->is_management || wrng_chance(r, 0.7);
    if (has_trail) {
        sbx_bucket *tb = new_bucket(r, g, "cloudtrail");
        sbx_trail *t = xcalloc(1, sizeof(*t));
        t->name = a->is_management ? xstrdup("org-trail") : xasprintf("%s-trail", a->name);
        t->home_region = xstrdup(tb->region);
        t->arn = xasprintf("arn:aws:cloudtrail:%s:%s:trail/%s", t->home_region, a->id, t->name);
        t->multi_region = a->is_management || wrng_chance(r, 0.6);
        t->logging = a->is_management || wrng_chance(r, 0.85);
        t->log_file_validation = a->is_management || wrng_chance(r, 0.6);
        t->s3_bucket = xstrdup(tb->name);
        if (a->is_management || wrng_chance(r, 0.4)) {
            char *uuid = gen_uuid(r);
            t->kms_key_id = xasprintf("arn:aws:kms:%s:%s:key/%s", t->home_region, a->id, uuid);
            free(uuid);
        }
        GEN_PUSH(a->trails, a->ntrails, t);
    }
    size_t n = (size_t)wrng_range(r, 1 + g->size, 3 + g->size);
    size_t start = wrng_below(r, N(bucket_purposes));
    for (size_t i = 0; i < n && i < N(bucket_purposes); i++)
        new_bucket(r, g, bucket_purposes[(start + i) % N(bucket_purposes)]);
}

/* ---- the organization ---- */

/* Member accounts cycle through environments; each lands in its OU. */
static const struct {
    const char *env;
    int ou; /* index in ou_names */
} member_kinds[] = {
    {"dev", 1}, {"prod", 0}, {"sandbox", 2}, {"staging", 1}, {"prod", 0}, {"security", 3},
};
static const char *const ou_names[] = {"Production", "Development", "Sandbox", "Security"};

/* Instances per region for an account of a size class (plus Auto Scaling
 * instances). Measured: a 1,000-account x 4-region world holds about 90,000
 * instances in about 160 MiB of heap, so every world gets the full sizes. */
static int instances_per_region(wrng *r, int size)
{
    static const long lo[] = {10, 16, 28}, hi[] = {16, 28, 40};
    return (int)wrng_range(r, lo[size], hi[size]);
}

/* The env tag resources carry: dev, staging or prod. */
static const char *tag_env(const char *account_env)
{
    if (strcmp(account_env, "sandbox") == 0)
        return "dev";
    if (strcmp(account_env, "security") == 0)
        return "prod";
    return account_env;
}

static sbx_account *new_account(wrng *r, const char *id, const char *name, const char *email,
                                const char *parent, time_t joined)
{
    (void)r;
    sbx_account *a = xcalloc(1, sizeof(*a));
    a->id = xstrdup(id);
    a->name = xstrdup(name);
    a->email = xstrdup(email);
    a->ou_id = parent ? xstrdup(parent) : NULL;
    a->status = xstrdup("ACTIVE");
    a->joined = joined;
    return a;
}

static void fill_account(world *w, sbx_account *a, const char *env, const char *hub_arn,
                         const char *mgmt_id, const world_params *p)
{
    wrng r = wrng_stream(w->seed, "account", whash_str(0, a->id));
    gen_account g = {w, a, env, world_account_size(w->seed, a->id), 0, p->now};
    g.per_region = instances_per_region(&r, g.size);
    gen_account_settings(&r, &g);
    gen_admin(&r, &g);
    gen_humans(&r, &g);
    gen_programs(&r, &g);
    gen_roles(&r, &g, hub_arn, mgmt_id);
    gen_storage(&r, &g);
    for (size_t i = 0; i < w->nregions; i++)
        GEN_PUSH(a->regions, a->nregions, gen_region(&g, w->region_names[i]));
}

/* 12 digits, unique within the world (checked: the draw is random). */
static void account_ids(wrng *r, size_t n, char ids[][13])
{
    for (size_t i = 0; i < n; i++) {
        bool dup;
        do {
            ids[i][0] = (char)('1' + wrng_below(r, 9));
            for (int k = 1; k < 12; k++)
                ids[i][k] = (char)('0' + wrng_below(r, 10));
            ids[i][12] = '\0';
            dup = false;
            for (size_t j = 0; j < i && !dup; j++)
                dup = memcmp(ids[i], ids[j], 12) == 0;
        } while (dup);
    }
}

static void gen_ous(world *w, wrng *r, const char *mgmt_id)
{
    const char *root_suffix = w->root_id + 2;
    for (size_t i = 0; i < N(ou_names); i++) {
        sbx_ou *ou = xcalloc(1, sizeof(*ou));
        char *tail = wrng_string(r, WORLD_LOWER, 8);
        ou->id = xasprintf("ou-%s-%s", root_suffix, tail);
        free(tail);
        ou->name = xstrdup(ou_names[i]);
        ou->arn = xasprintf("arn:aws:organizations::%s:ou/%s/%s", mgmt_id, w->org_id, ou->id);
        ou->parent_id = xstrdup(w->root_id);
        GEN_PUSH(w->ous, w->nous, ou);
    }
}

static void gen_hub(world *w, wrng *r, const char *hub_id, time_t now)
{
    sbx_account *hub =
        new_account(r, hub_id, "escher-hub", "hub@escher.example", NULL, now - 900 * DAY_SECONDS);
    sbx_user *u = new_user(r, hub, "escher-hub", hub->joined + 3600);
    time_t created = gen_ago(r, now, 10, 80);
    GEN_PUSH(u->keys, u->nkeys, new_key(r, created, true, now - 300));
    /* The hub may assume roles anywhere; the customers' trust policies are
     * what limit it. */
    GEN_PUSH(u->policies, u->npolicies,
             xstrdup("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                     "\"Action\":[\"sts:AssumeRole\",\"sts:SetSourceIdentity\","
                     "\"sts:TagSession\",\"sts:GetCallerIdentity\","
                     "\"organizations:DescribeOrganization\"],"
                     "\"Resource\":\"*\"}]}"));
    w->hub = hub;
}

/* ---- anomalies and guarantees ---- */

static void gen_anomalies(world *w, time_t now)
{
    wrng r = wrng_stream(w->seed, "anomalies", 0);
    size_t n = 3 + w->naccounts / 25;
    if (n > 40)
        n = 40;
    time_t today = now - ((now % DAY_SECONDS) + DAY_SECONDS) % DAY_SECONDS;
    for (size_t i = 0; i < n; i++) {
        for (int attempt = 0; attempt < 50; attempt++) {
            const sbx_account *a = w->accounts[wrng_below(&r, w->naccounts)];
            const char *svc = world_cost_services[wrng_below(&r, world_ncost_services)];
            const char *region = w->region_names[wrng_below(&r, w->nregions)];
            time_t day = today - wrng_range(&r, 1, 60) * DAY_SECONDS;
            double factor = (double)wrng_range(&r, 30, 100) / 10.0;
            if (!world_cost_uses(w->seed, a->id, svc, region))
                continue;
            w->anomalies = xreallocarray(w->anomalies, w->nanomalies + 1, sizeof(*w->anomalies));
            sbx_anomaly *an = &w->anomalies[w->nanomalies++];
            an->account_id = xstrdup(a->id);
            an->service = xstrdup(svc);
            an->region = xstrdup(region);
            an->day = day;
            an->factor = factor;
            break;
        }
    }
}

/* Findings every world shows however small: at least one public snapshot,
 * public database and unencrypted database where any exist. */
static void gen_guarantees(world *w)
{
    sbx_snapshot *first_snap = NULL;
    sbx_db *first_db = NULL, *second_db = NULL;
    bool public_snap = false, public_db = false, plain_db = false;
    for (size_t i = 0; i < w->naccounts; i++) {
        for (size_t k = 0; k < w->accounts[i]->nregions; k++) {
            const sbx_region *reg = w->accounts[i]->regions[k];
            for (size_t s = 0; s < reg->nsnapshots; s++) {
                first_snap = first_snap ? first_snap : reg->snapshots[s];
                public_snap |= reg->snapshots[s]->is_public;
            }
            for (size_t d = 0; d < reg->ndbs; d++) {
                if (first_db == NULL)
                    first_db = reg->dbs[d];
                else if (second_db == NULL)
                    second_db = reg->dbs[d];
                public_db |= reg->dbs[d]->publicly_accessible;
                plain_db |= !reg->dbs[d]->storage_encrypted;
            }
        }
    }
    if (!public_snap && first_snap)
        first_snap->is_public = true;
    if (!public_db && first_db)
        first_db->publicly_accessible = true;
    if (!plain_db && (second_db || first_db))
        (second_db ? second_db : first_db)->storage_encrypted = false;
}

/* ---- params ---- */

static bool valid_region_name(const char *s)
{
    /* "us-east-1", "ap-southeast-2", "us-gov-west-1" */
    size_t n = strlen(s);
    if (n < 9 || n > 20 || !isdigit((unsigned char)s[n - 1]) || s[n - 2] != '-')
        return false;
    int dashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-')
            dashes++;
        else if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
            return false;
    }
    return dashes >= 2;
}

static bool valid_external_id(const char *s)
{
    /* AWS: 2-1224 characters of [\w+=,.@:/-]. */
    size_t n = strlen(s);
    if (n < 2 || n > 1224)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_+=,.@:/-", s[i]))
            return false;
    return true;
}

static bool check_params(const world_params *p, err *e)
{
    if (p == NULL)
        return err_set(e, ERR_INVALID, "world params missing");
    if (p->accounts < 0 || p->accounts > 1000)
        return err_set(e, ERR_INVALID, "accounts %d is outside 0..1000", p->accounts);
    if (p->nregions == 0 || p->regions == NULL)
        return err_set(e, ERR_INVALID, "at least one region is required");
    if (p->nregions > 32)
        return err_set(e, ERR_INVALID, "%zu regions is more than 32", p->nregions);
    for (size_t i = 0; i < p->nregions; i++) {
        if (p->regions[i] == NULL || !valid_region_name(p->regions[i]))
            return err_set(e, ERR_INVALID, "region '%s' is not a region name like us-east-1",
                           p->regions[i] ? p->regions[i] : "(null)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->regions[i], p->regions[j]) == 0)
                return err_set(e, ERR_INVALID, "region '%s' is listed twice", p->regions[i]);
    }
    if (p->external_id == NULL || !valid_external_id(p->external_id))
        return err_set(
            e, ERR_INVALID,
            "external id '%s' must be 2-1224 characters of letters, digits and _+=,.@:/-",
            p->external_id ? p->external_id : "(null)");
    if (p->now <= 0)
        return err_set(e, ERR_INVALID, "generation time %lld is not a positive time",
                       (long long)p->now);
    return true;
}

world *world_generate(const world_params *p, err *e)
{
    if (!check_params(p, e))
        return NULL;
    world *w = xcalloc(1, sizeof(*w));
    w->seed = p->seed;
    w->external_id = xstrdup(p->external_id);
    w->generated_at = p->now;
    for (size_t i = 0; i < p->nregions; i++)
        GEN_PUSH(w->region_names, w->nregions, xstrdup(p->regions[i]));

    wrng org = wrng_stream(p->seed, "organization", 0);
    w->org_id = gen_id(&org, "o-", WORLD_LOWER, 10);
    w->root_id = gen_id(&org, "r-", WORLD_LOWER, 4);
    size_t nacc = (size_t)p->accounts + 2; /* management, members, hub */
    char(*ids)[13] = xcalloc(nacc, sizeof(*ids));
    account_ids(&org, nacc, ids);
    const char *mgmt_id = ids[0], *hub_id = ids[nacc - 1];
    gen_ous(w, &org, mgmt_id);
    gen_hub(w, &org, hub_id, p->now);
    const char *hub_arn = w->hub->users[0]->arn;

    sbx_account *m = new_account(&org, mgmt_id, "management", "aws-management@example.com",
                                 w->root_id, p->now - 1600 * DAY_SECONDS);
    m->is_management = true;
    GEN_PUSH(w->accounts, w->naccounts, m);
    fill_account(w, m, "prod", hub_arn, mgmt_id, p);
    for (int i = 1; i <= p->accounts; i++) {
        const char *env = member_kinds[(i - 1) % N(member_kinds)].env;
        const sbx_ou *ou = w->ous[member_kinds[(i - 1) % N(member_kinds)].ou];
        char *name = xasprintf("%s-%d", env, i);
        char *email = xasprintf("aws-%s@example.com", name);
        sbx_account *a =
            new_account(&org, ids[i], name, email, ou->id, gen_ago(&org, p->now, 20, 1500));
        free(name);
        free(email);
        GEN_PUSH(w->accounts, w->naccounts, a);
        fill_account(w, a, tag_env(env), hub_arn, mgmt_id, p);
    }
    free(ids);
    gen_anomalies(w, p->now);
    gen_guarantees(w);
    return w;
}
