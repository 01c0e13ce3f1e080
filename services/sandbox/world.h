/* The sandbox's simulated AWS organization: accounts, identities and
 * resources, held as typed C structs (the hot path renders thousands of
 * instances a second). Generated deterministically from a seed, or loaded
 * from JSON; saved to the same JSON.
 *
 * Costs and CloudWatch series are not stored: they are pure functions of
 * (seed, account, service/instance, region, day) plus the injected
 * anomalies, so a 1,000-account world stays small (world_cost_daily,
 * world_cpu_at).
 *
 * Ownership: the world owns everything reachable from it; handlers get
 * borrowed pointers that stay valid until the resource is deleted or the
 * world is freed. Arrays are arrays of pointers so growth never moves an
 * element. Not thread-safe: the sandbox serves from one event loop. */
#ifndef ESCHER_SANDBOX_WORLD_H
#define ESCHER_SANDBOX_WORLD_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct sbx_tag {
    char *key;
    char *value;
} sbx_tag;

typedef struct sbx_tags {
    sbx_tag *items;
    size_t n;
} sbx_tags;

/* EC2 instance states with AWS's codes. */
typedef enum sbx_istate {
    SBX_PENDING = 0,
    SBX_RUNNING = 16,
    SBX_SHUTTING_DOWN = 32,
    SBX_TERMINATED = 48,
    SBX_STOPPING = 64,
    SBX_STOPPED = 80,
} sbx_istate;

typedef struct sbx_instance {
    char *id;   /* "i-" + 17 hex */
    char *type; /* "t3.micro" */
    sbx_istate state;
    time_t transition_at; /* pending/stopping/shutting-down end here (sandbox clock); 0 none */
    time_t launch_time;
    char *image_id;
    char *az; /* "us-east-1a" */
    char *vpc_id;
    char *subnet_id;
    char *private_ip;
    char *public_ip;       /* NULL when stopped or none */
    char *key_name;        /* NULL when none */
    bool imds_v2_required; /* MetadataOptions.HttpTokens = required */
    char **sg_ids;
    size_t nsg;
    sbx_tags tags;
} sbx_instance;

typedef struct sbx_volume {
    char *id; /* "vol-" + 17 hex */
    int size_gib;
    char *type; /* "gp3" */
    char *az;
    bool encrypted;
    char *instance_id; /* attached to, or NULL (state "available") */
    char *device;      /* "/dev/xvda" when attached */
    time_t create_time;
    sbx_tags tags;
} sbx_volume;

typedef struct sbx_snapshot {
    char *id; /* "snap-" + 17 hex */
    char *volume_id;
    int size_gib;
    bool encrypted;
    bool is_public; /* createVolumePermission includes group "all" */
    char *description;
    time_t start_time;
    time_t complete_at; /* state "pending" until then, "completed" after */
    sbx_tags tags;
} sbx_snapshot;

typedef struct sbx_sg_rule {
    char *protocol; /* "tcp", "udp", "-1" */
    int from_port;  /* -1 for all */
    int to_port;
    char *cidr; /* "0.0.0.0/0" */
} sbx_sg_rule;

typedef struct sbx_sg {
    char *id; /* "sg-" + 17 hex */
    char *name;
    char *description;
    char *vpc_id;
    sbx_sg_rule *ingress;
    size_t ningress;
    sbx_sg_rule *egress;
    size_t negress;
    sbx_tags tags;
} sbx_sg;

typedef struct sbx_address {
    char *allocation_id; /* "eipalloc-" + 17 hex */
    char *public_ip;
    char *instance_id; /* associated instance or NULL */
    char *association_id;
    sbx_tags tags;
} sbx_address;

typedef struct sbx_db {
    char *id; /* DBInstanceIdentifier */
    char *arn;
    char *instance_class; /* "db.t3.micro" */
    char *engine;         /* "postgres" */
    char *engine_version;
    char *status; /* "available", "stopping", "stopped", "starting" */
    time_t transition_at;
    bool publicly_accessible;
    bool storage_encrypted;
    bool multi_az;
    int allocated_storage;
    char *az;
    time_t create_time;
    sbx_tags tags;
} sbx_db;

typedef struct sbx_db_snapshot {
    char *id; /* DBSnapshotIdentifier */
    char *db_id;
    char *arn;
    time_t create_time;
    bool encrypted;
} sbx_db_snapshot;

typedef struct sbx_asg {
    char *name;
    char *arn;
    int min_size;
    int max_size;
    int desired;
    char **instance_ids;
    size_t ninstances;
    char *launch_template; /* name */
    time_t create_time;
    sbx_tags tags;
} sbx_asg;

/* Everything one account has in one region. */
typedef struct sbx_region {
    char *name; /* "us-east-1" */
    bool ebs_encryption_by_default;
    /* The default VPC (172.31.0.0/16) and its default subnets, one per AZ:
     * subnet_ids[i] is in <name> + ('a' + i), CIDR 172.31.(16*i).0/20. */
    char *default_vpc_id; /* "vpc-" + 17 hex */
    char **subnet_ids;    /* "subnet-" + 17 hex */
    size_t nsubnets;
    sbx_instance **instances;
    size_t ninstances;
    sbx_volume **volumes;
    size_t nvolumes;
    sbx_snapshot **snapshots;
    size_t nsnapshots;
    sbx_sg **sgs;
    size_t nsgs;
    sbx_address **addresses;
    size_t naddresses;
    sbx_db **dbs;
    size_t ndbs;
    sbx_db_snapshot **db_snapshots;
    size_t ndb_snapshots;
    sbx_asg **asgs;
    size_t nasgs;
} sbx_region;

typedef struct sbx_access_key {
    char *id;     /* "AKIA" + 16 upper alnum */
    char *secret; /* 40 chars */
    bool active;
    time_t create_time;
    time_t last_used; /* 0 never */
} sbx_access_key;

typedef struct sbx_mfa {
    char *serial; /* arn:aws:iam::<acct>:mfa/<user> */
    time_t enable_date;
} sbx_mfa;

typedef struct sbx_user {
    char *name;
    char *id; /* "AIDA" + 16 */
    char *arn;
    time_t create_time;
    bool console;              /* has a login profile (password) */
    time_t password_last_used; /* 0 never */
    sbx_mfa *mfa;
    size_t nmfa;
    sbx_access_key **keys;
    size_t nkeys;
    char **policies; /* identity policy documents (JSON text) */
    size_t npolicies;
} sbx_user;

typedef struct sbx_role {
    char *name;
    char *id; /* "AROA" + 16 */
    char *arn;
    char *trust_policy; /* JSON text */
    char **policies;    /* identity policy documents (JSON text) */
    size_t npolicies;
    int max_session_duration; /* seconds, 3600..43200 */
    time_t create_time;
} sbx_role;

typedef struct sbx_bucket {
    char *name;
    char *region;
    time_t create_time;
    bool has_pab; /* GetPublicAccessBlock: NoSuchPublicAccessBlockConfiguration when false */
    bool pab[4];  /* BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets */
    bool has_policy; /* GetBucketPolicyStatus: NoSuchBucketPolicy when false */
    bool policy_public;
    char *encryption; /* "AES256", "aws:kms", or NULL:
                         ServerSideEncryptionConfigurationNotFoundError */
} sbx_bucket;

typedef struct sbx_trail {
    char *name;
    char *arn;
    char *home_region;
    bool multi_region;
    bool logging;
    bool log_file_validation;
    char *s3_bucket;
    char *kms_key_id; /* NULL when not encrypted */
} sbx_trail;

typedef struct sbx_password_policy {
    bool present; /* false: GetAccountPasswordPolicy answers NoSuchEntity */
    int min_length;
    bool require_symbols, require_numbers, require_upper, require_lower;
    int max_age_days;     /* 0: none */
    int reuse_prevention; /* 0: none */
} sbx_password_policy;

typedef struct sbx_account {
    char *id; /* 12 digits */
    char *name;
    char *email;
    char *ou_id;  /* parent: an OU id or the root id */
    char *status; /* "ACTIVE" */
    time_t joined;
    bool is_management;
    sbx_user **users;
    size_t nusers;
    sbx_role **roles;
    size_t nroles;
    sbx_bucket **buckets;
    size_t nbuckets;
    sbx_trail **trails;
    size_t ntrails;
    sbx_password_policy password_policy;
    bool root_mfa;               /* GetAccountSummary AccountMFAEnabled */
    time_t credential_report_at; /* 0: not generated yet */
    sbx_region **regions;
    size_t nregions;
} sbx_account;

typedef struct sbx_ou {
    char *id; /* "ou-" + root suffix + "-" + 8 */
    char *name;
    char *arn;
    char *parent_id; /* root id or another OU */
} sbx_ou;

/* A temporary credential issued by AssumeRole. */
typedef struct sbx_session {
    char *access_key_id; /* "ASIA" + 16 */
    char *secret;
    char *token;
    char *account_id; /* the role's account */
    char *role_name;
    char *role_arn;
    char *session_name;
    char *assumed_role_id; /* "AROA...:session" */
    char *arn;    /* "arn:aws:sts::<acct>:assumed-role/<role>/<session>"; world_add_session fills it
                     when NULL */
    char *policy; /* session policy JSON or NULL */
    char *source_identity; /* or NULL */
    char *external_id;     /* what the caller presented, for the call log */
    bool chained;          /* assumed with assumed-role credentials */
    time_t expiration;     /* sandbox clock */
} sbx_session;

/* Who signed a request: a user's long-term key or an assumed-role session. */
typedef struct sbx_principal {
    sbx_account *account;
    sbx_user *user;       /* set for IAM users */
    sbx_session *session; /* set for assumed roles */
    sbx_role *role;       /* the session's role */
    const char *secret;   /* to verify the signature */
    const char *arn;      /* "arn:aws:iam::1:user/x" or "arn:aws:sts::1:assumed-role/R/s" */
} sbx_principal;

typedef struct sbx_anomaly {
    char *account_id;
    char *service; /* Cost Explorer service name, "Amazon Elastic Compute Cloud - Compute" */
    char *region;
    time_t day;    /* UTC midnight */
    double factor; /* multiplies that day's cost */
} sbx_anomaly;

typedef struct world_params {
    int accounts; /* member accounts, 0..1000 */
    const char *const *regions;
    size_t nregions;
    uint64_t seed;
    const char *external_id; /* required by EscherOperator/EscherReadOnly trust policies */
    time_t now;              /* generation time (resource ages, cost history end) */
} world_params;

typedef struct world {
    uint64_t seed;
    char *org_id;  /* "o-" + 10 */
    char *root_id; /* "r-" + 4 */
    char *external_id;
    char **region_names;
    size_t nregions;
    sbx_account **accounts; /* accounts[0] is the management account */
    size_t naccounts;
    sbx_ou **ous;
    size_t nous;
    /* The Escher hub principal customers trust: an IAM user in its own
     * account (not part of the organization). */
    sbx_account *hub;
    sbx_session **sessions;
    size_t nsessions;
    sbx_anomaly *anomalies;
    size_t nanomalies;
    time_t generated_at;
    long clock_offset;   /* seconds added to the real clock (admin "advance") */
    uint64_t id_counter; /* for ids of resources created at run time */
    /* Private lookup tables (world.c), built lazily; not saved. */
    struct world_index *index;
} world;

/* Builds a deterministic world: the same params give the same world, byte
 * for byte in world_save_json. Fails with ERR_INVALID on bad params. */
world *world_generate(const world_params *p, err *e);
void world_free(world *w);

/* JSON round trip. Save output is stable (sorted keys, fixed order) so two
 * dumps can be compared. Load validates and fails with ERR_PARSE naming the
 * path of the bad field. */
char *world_save_json(const world *w);
world *world_load_json(const char *text, err *e);

/* Sandbox clock: real UTC plus the admin offset. */
time_t world_now(const world *w);

/* Lookups; NULL when absent. world_account also finds the hub account
 * (it is not in w->accounts). */
sbx_account *world_account(const world *w, const char *account_id);
sbx_region *world_region(const sbx_account *a, const char *region);
sbx_role *world_role(const sbx_account *a, const char *name);
sbx_user *world_user(const sbx_account *a, const char *name);
/* Finds who owns access key id (users' keys, then live sessions). Fills *out;
 * false when unknown. An expired session is still found (caller checks). */
bool world_find_key(world *w, const char *access_key_id, sbx_principal *out);

/* Applies due state transitions (stopping -> stopped, ...) in one region as
 * of now; handlers call it before reading or changing state. Instances:
 * pending -> running; stopping -> stopped (public_ip dropped unless an
 * Elastic IP is associated); shutting-down -> terminated (public_ip
 * dropped, Elastic IPs disassociated, the /dev/xvda root volume deleted,
 * other volumes detached). RDS: stopping -> stopped; starting, rebooting,
 * modifying, creating, backing-up -> available. transition_at becomes 0. */
void world_settle(sbx_region *r, time_t now);

/* A new unique id with prefix ("i-", "snap-", ...) from the world's counter
 * (deterministic). Caller frees. */
char *world_new_id(world *w, const char *prefix, int hex_digits);

/* Adds a session (AssumeRole); the world owns it. Fills s->arn when NULL.
 * Sessions expired for more than a week are dropped once there are
 * thousands, so a loop of AssumeRole cannot grow the world without bound. */
void world_add_session(world *w, sbx_session *s);

/* Like world_new_id with n characters from alphabet (NULL: AWS key-id
 * characters A-Z2-7), e.g. world_new_chars(w, "ASIA", NULL, 16). */
char *world_new_chars(world *w, const char *prefix, const char *alphabet, size_t n);

/* Free one resource (and everything it owns) that a handler removed from
 * its array: DeleteVolume, DeleteSnapshot, an expired session, ... */
void world_free_instance(sbx_instance *x);
void world_free_volume(sbx_volume *x);
void world_free_snapshot(sbx_snapshot *x);
void world_free_sg(sbx_sg *x);
void world_free_address(sbx_address *x);
void world_free_db(sbx_db *x);
void world_free_db_snapshot(sbx_db_snapshot *x);
void world_free_asg(sbx_asg *x);
void world_free_session(sbx_session *x);
/* Frees the tags' strings and array and leaves t empty. */
void world_free_tags(sbx_tags *t);

/* Daily unblended cost in USD for (account, service, region, UTC day):
 * deterministic, seasonal, with anomalies applied; 0 outside the 13 months
 * before generation or for services an account does not use. */
double world_cost_daily(const world *w, const char *account_id, const char *service,
                        const char *region, time_t day);
/* The same values as world_cost_daily for the ndays consecutive UTC days
 * from the day holding `from`, into out[ndays]: the line's constants are
 * worked out once, so a 13-month range costs little more than its days. */
void world_cost_series(const world *w, const char *account_id, const char *service,
                       const char *region, time_t from, size_t ndays, double *out);
/* Cost Explorer service names the world has costs for. */
extern const char *const world_cost_services[];
extern const size_t world_ncost_services;

/* CPUUtilization percent of an instance at time t (5-minute resolution):
 * a pure function of (seed, instance id, t), two in five instances idle at
 * 1-3%, the rest with a daily cycle. It does not look at the instance's
 * state or launch time: callers skip times it was not running. */
double world_cpu_at(const world *w, const char *instance_id, time_t t);

#endif
