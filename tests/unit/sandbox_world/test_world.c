/* The sandbox world: deterministic generation, the shape of what is
 * generated, lookups, access keys and sessions, state transitions and
 * run-time ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "world.h"
#include "world_test.h"

#include "core/timeutil.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void test_same_params_same_world(void **state)
{
    (void)state;
    world *a = wt_world(3, 2, 7), *b = wt_world(3, 2, 7);
    char *da = world_save_json(a), *db = world_save_json(b);
    assert_non_null(da);
    assert_string_equal(da, db);
    free(da);
    free(db);
    world_free(a);
    world_free(b);
}

static void test_different_seed_different_world(void **state)
{
    (void)state;
    world *a = wt_world(3, 2, 7), *b = wt_world(3, 2, 8);
    char *da = world_save_json(a), *db = world_save_json(b);
    assert_string_not_equal(da, db);
    assert_string_not_equal(a->accounts[0]->id, b->accounts[0]->id);
    assert_string_not_equal(a->org_id, b->org_id);
    free(da);
    free(db);
    world_free(a);
    world_free(b);
}

/* An account's contents come from its own streams: adding accounts to the
 * world does not change the accounts already there. */
static void test_accounts_independent_of_count(void **state)
{
    (void)state;
    world *a = wt_world(2, 1, 7), *b = wt_world(5, 1, 7);
    for (size_t i = 0; i < a->naccounts; i++) {
        assert_string_equal(a->accounts[i]->id, b->accounts[i]->id);
        assert_int_equal(a->accounts[i]->regions[0]->ninstances,
                         b->accounts[i]->regions[0]->ninstances);
        assert_string_equal(a->accounts[i]->regions[0]->instances[0]->id,
                            b->accounts[i]->regions[0]->instances[0]->id);
    }
    world_free(a);
    world_free(b);
}

static void test_bad_params(void **state)
{
    (void)state;
    const char *regions[] = {"us-east-1"}, *bad_regions[] = {"Narnia"};
    const char *dup_regions[] = {"us-east-1", "us-east-1"};
    world_params p = {2, regions, 1, 1, "ext-id-1", WT_NOW};
    err e;
    p.accounts = 1001;
    assert_null(world_generate(&p, &e));
    assert_int_equal(e.code, ERR_INVALID);
    assert_non_null(strstr(e.message, "1001"));
    p.accounts = 2;
    p.regions = bad_regions;
    assert_null(world_generate(&p, &e));
    assert_non_null(strstr(e.message, "'Narnia'"));
    p.regions = dup_regions;
    p.nregions = 2;
    assert_null(world_generate(&p, &e));
    assert_non_null(strstr(e.message, "twice"));
    p.regions = regions;
    p.nregions = 1;
    p.external_id = "has space";
    assert_null(world_generate(&p, &e));
    assert_non_null(strstr(e.message, "'has space'"));
    p.external_id = NULL;
    assert_null(world_generate(&p, &e));
    p.external_id = "ok";
    p.nregions = 0;
    assert_null(world_generate(&p, &e));
    p.nregions = 1;
    p.accounts = 0;
    world *w = world_generate(&p, &e);
    assert_non_null(w);
    assert_int_equal(w->naccounts, 1);
    world_free(w);
}

static void test_organization_shape(void **state)
{
    (void)state;
    world *w = wt_world(6, 2, 7);
    assert_true(wt_matches(w->org_id, "o-", "a0", 10));
    assert_true(wt_matches(w->root_id, "r-", "a0", 4));
    assert_int_equal(w->naccounts, 7);
    assert_true(w->accounts[0]->is_management);
    assert_string_equal(w->accounts[0]->ou_id, w->root_id);
    assert_string_equal(w->accounts[1]->name, "dev-1");
    assert_string_equal(w->accounts[2]->name, "prod-2");
    assert_string_equal(w->accounts[3]->name, "sandbox-3");
    assert_int_equal(w->nous, 4);
    for (size_t i = 0; i < w->nous; i++) {
        assert_string_equal(w->ous[i]->parent_id, w->root_id);
        assert_int_equal(strncmp(w->ous[i]->id, "ou-", 3), 0);
        assert_int_equal(strncmp(w->ous[i]->id + 3, w->root_id + 2, 4), 0);
    }
    for (size_t i = 0; i < w->naccounts; i++) {
        sbx_account *a = w->accounts[i];
        assert_true(wt_matches(a->id, "", "0", 12));
        assert_int_equal(i > 0 && a->is_management, 0);
        assert_string_equal(a->status, "ACTIVE");
        assert_non_null(strchr(a->email, '@'));
        bool parent_known = strcmp(a->ou_id, w->root_id) == 0;
        for (size_t k = 0; k < w->nous; k++)
            parent_known |= strcmp(a->ou_id, w->ous[k]->id) == 0;
        assert_true(parent_known);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(a->id, w->accounts[j]->id);
        assert_string_not_equal(a->id, w->hub->id);
    }
    /* The hub is outside the organization, with the one Escher user. */
    assert_null(w->hub->ou_id);
    sbx_user *hu = world_user(w->hub, "escher-hub");
    assert_non_null(hu);
    assert_int_equal(hu->nkeys, 1);
    assert_true(hu->keys[0]->active);
    world_free(w);
}

static void check_role_trusts_hub(const world *w, const sbx_account *a, const char *name)
{
    sbx_role *r = world_role(a, name);
    assert_non_null(r);
    assert_true(wt_matches(r->id, "AROA", "A2", 16));
    char *hub_arn = xasprintf("\"AWS\":\"arn:aws:iam::%s:user/escher-hub\"", w->hub->id);
    assert_non_null(strstr(r->trust_policy, hub_arn));
    free(hub_arn);
    assert_non_null(strstr(r->trust_policy, "\"sts:ExternalId\":\"" WT_EXTERNAL_ID "\""));
    assert_non_null(strstr(r->trust_policy, "StringEquals"));
    assert_int_equal(r->max_session_duration, 3600);
    assert_int_equal(r->npolicies, 1);
}

static void test_identities(void **state)
{
    (void)state;
    world *w = wt_world(4, 1, 7);
    const sbx_account *mgmt = w->accounts[0];
    for (size_t i = 0; i < w->naccounts; i++) {
        const sbx_account *a = w->accounts[i];
        check_role_trusts_hub(w, a, "EscherOperator");
        check_role_trusts_hub(w, a, "EscherReadOnly");
        assert_non_null(strstr(world_role(a, "EscherOperator")->policies[0], "ec2:StopInstances"));
        assert_null(strstr(world_role(a, "EscherReadOnly")->policies[0], "ec2:StopInstances"));
        assert_non_null(strstr(world_role(a, "EscherReadOnly")->policies[0], "ec2:Describe*"));
        sbx_role *oa = world_role(a, "OrganizationAccountAccessRole");
        assert_non_null(oa);
        char *root = xasprintf("arn:aws:iam::%s:root", mgmt->id);
        assert_non_null(strstr(oa->trust_policy, root));
        free(root);

        sbx_user *admin = world_user(a, "Administrator");
        assert_non_null(admin);
        assert_string_equal(admin->policies[0], "{\"Version\":\"2012-10-17\",\"Statement\":[{"
                                                "\"Effect\":\"Allow\",\"Action\":\"*\","
                                                "\"Resource\":\"*\"}]}");
        assert_true(admin->nkeys >= 1 && admin->keys[0]->active);
        size_t mfa = 0, nomfa = 0, stale = 0, inactive = 0, never = 0;
        for (size_t u = 0; u < a->nusers; u++) {
            const sbx_user *us = a->users[u];
            assert_true(wt_matches(us->id, "AIDA", "A2", 16));
            if (us->console && us->nmfa)
                mfa++;
            if (us->console && !us->nmfa)
                nomfa++;
            for (size_t k = 0; k < us->nkeys; k++) {
                const sbx_access_key *key = us->keys[k];
                assert_true(wt_matches(key->id, "AKIA", "A2", 16));
                assert_int_equal(strlen(key->secret), 40);
                assert_true(key->create_time <= WT_NOW);
                stale += key->active && key->create_time < WT_NOW - 90 * 86400;
                inactive += !key->active;
                never += key->last_used == 0;
            }
        }
        assert_true(mfa >= 1 && nomfa >= 1 && stale >= 1 && inactive >= 1 && never >= 1);
    }
    assert_non_null(world_role(mgmt, "EscherCostReader"));
    assert_null(world_role(w->accounts[1], "EscherCostReader"));
    world_free(w);
}

static void test_region_resources(void **state)
{
    (void)state;
    world *w = wt_world(4, 2, 7);
    size_t public_snap = 0, open22 = 0, public_db = 0, plain_db = 0, loose = 0, plain_vol = 0;
    for (size_t i = 0; i < w->naccounts; i++) {
        const sbx_account *a = w->accounts[i];
        assert_int_equal(a->nregions, 2);
        assert_string_equal(a->regions[1]->name, "eu-west-1");
        for (size_t b = 0; b < a->nbuckets; b++)
            for (size_t c = 0; c < i; c++)
                for (size_t d = 0; d < w->accounts[c]->nbuckets; d++)
                    assert_string_not_equal(a->buckets[b]->name, w->accounts[c]->buckets[d]->name);
        for (size_t k = 0; k < a->nregions; k++) {
            const sbx_region *r = a->regions[k];
            assert_true(wt_matches(r->default_vpc_id, "vpc-", "0a", 17));
            assert_int_equal(r->nsubnets, 3);
            assert_true(r->ninstances >= 10 && r->ninstances <= 60);
            size_t running = 0, stopped = 0;
            for (size_t n = 0; n < r->ninstances; n++) {
                const sbx_instance *in = r->instances[n];
                assert_true(wt_matches(in->id, "i-", "0a", 17));
                assert_int_equal(strncmp(in->az, r->name, strlen(r->name)), 0);
                assert_true(in->launch_time <= WT_NOW && in->launch_time >= WT_NOW - 401 * 86400);
                running += in->state == SBX_RUNNING;
                stopped += in->state == SBX_STOPPED;
                if (in->state != SBX_RUNNING)
                    assert_null(in->public_ip);
            }
            assert_true(running >= 1 && stopped >= 1);
            for (size_t n = 0; n < r->nvolumes; n++) {
                assert_true(wt_matches(r->volumes[n]->id, "vol-", "0a", 17));
                loose += r->volumes[n]->instance_id == NULL;
                plain_vol += !r->volumes[n]->encrypted;
            }
            for (size_t n = 0; n < r->nsnapshots; n++) {
                assert_true(wt_matches(r->snapshots[n]->id, "snap-", "0a", 17));
                public_snap += r->snapshots[n]->is_public;
            }
            for (size_t n = 0; n < r->nsgs; n++) {
                assert_true(wt_matches(r->sgs[n]->id, "sg-", "0a", 17));
                for (size_t q = 0; q < r->sgs[n]->ningress; q++)
                    open22 += r->sgs[n]->ingress[q].from_port == 22 &&
                              strcmp(r->sgs[n]->ingress[q].cidr, "0.0.0.0/0") == 0;
            }
            for (size_t n = 0; n < r->naddresses; n++)
                assert_true(wt_matches(r->addresses[n]->allocation_id, "eipalloc-", "0a", 17));
            for (size_t n = 0; n < r->ndbs; n++) {
                public_db += r->dbs[n]->publicly_accessible;
                plain_db += !r->dbs[n]->storage_encrypted;
            }
            for (size_t n = 0; n < r->nasgs; n++)
                assert_int_equal(r->asgs[n]->ninstances, (size_t)r->asgs[n]->desired);
        }
    }
    assert_true(public_snap >= 1 && open22 >= 1 && public_db >= 1 && plain_db >= 1);
    assert_true(loose >= 1 && plain_vol >= 1);
    world_free(w);
}

static void test_lookups(void **state)
{
    (void)state;
    world *w = wt_world(3, 2, 7);
    for (size_t i = 0; i < w->naccounts; i++)
        assert_ptr_equal(world_account(w, w->accounts[i]->id), w->accounts[i]);
    assert_ptr_equal(world_account(w, w->hub->id), w->hub);
    assert_null(world_account(w, "000000000000"));
    assert_null(world_account(w, NULL));
    const sbx_account *a = w->accounts[1];
    assert_ptr_equal(world_region(a, "eu-west-1"), a->regions[1]);
    assert_null(world_region(a, "ap-south-1"));
    assert_non_null(world_role(a, "EscherOperator"));
    assert_null(world_role(a, "Nope"));
    assert_non_null(world_user(a, "alice"));
    assert_null(world_user(a, "nobody"));
    world_free(w);
}

static void test_find_key(void **state)
{
    (void)state;
    world *w = wt_world(5, 1, 7);
    sbx_principal p;
    for (size_t i = 0; i < w->naccounts; i++) {
        sbx_account *a = w->accounts[i];
        for (size_t u = 0; u < a->nusers; u++) {
            for (size_t k = 0; k < a->users[u]->nkeys; k++) {
                assert_true(world_find_key(w, a->users[u]->keys[k]->id, &p));
                assert_ptr_equal(p.account, a);
                assert_ptr_equal(p.user, a->users[u]);
                assert_null(p.session);
                assert_string_equal(p.secret, a->users[u]->keys[k]->secret);
                assert_string_equal(p.arn, a->users[u]->arn);
            }
        }
    }
    assert_true(world_find_key(w, w->hub->users[0]->keys[0]->id, &p));
    assert_ptr_equal(p.account, w->hub);
    assert_string_equal(p.arn, w->hub->users[0]->arn);
    assert_false(world_find_key(w, "AKIAUNKNOWNUNKNOWN00", &p));

    /* A session, then one added after the index exists, then one expired. */
    sbx_account *target = w->accounts[2];
    for (int n = 0; n < 3; n++) {
        sbx_session *s =
            wt_session(w, target, "EscherOperator", n == 2 ? WT_NOW - 10 : WT_NOW + 3600);
        char *id = xstrdup(s->access_key_id);
        world_add_session(w, s);
        assert_true(world_find_key(w, id, &p));
        assert_ptr_equal(p.session, s);
        assert_ptr_equal(p.account, target);
        assert_ptr_equal(p.role, world_role(target, "EscherOperator"));
        assert_string_equal(p.secret, s->secret);
        assert_non_null(s->arn);
        char *arn = xasprintf("arn:aws:sts::%s:assumed-role/EscherOperator/%s", target->id,
                              s->session_name);
        assert_string_equal(p.arn, arn);
        free(arn);
        free(id);
    }

    /* A key added to a user behind the index's back is still found, and a
     * removed one is no longer found. */
    sbx_user *bob = world_user(w->accounts[3], "bob");
    sbx_access_key *k = xcalloc(1, sizeof(*k));
    k->id = xstrdup("AKIARUNTIMEADDEDKEY1");
    k->secret = xstrdup("0123456789012345678901234567890123456789");
    k->active = true;
    bob->keys = xreallocarray(bob->keys, bob->nkeys + 1, sizeof(*bob->keys));
    bob->keys[bob->nkeys++] = k;
    assert_true(world_find_key(w, "AKIARUNTIMEADDEDKEY1", &p));
    assert_ptr_equal(p.user, bob);
    bob->nkeys--;
    assert_false(world_find_key(w, "AKIARUNTIMEADDEDKEY1", &p));
    free(k->id);
    free(k->secret);
    free(k);
    world_free(w);
}

static void test_sessions_purged_when_many(void **state)
{
    (void)state;
    world *w = wt_world(1, 1, 7);
    w->clock_offset = (long)(WT_NOW - time(NULL)) + 30 * 86400;
    for (int i = 0; i < 5000; i++)
        world_add_session(w, wt_session(w, w->accounts[1], "EscherReadOnly", WT_NOW + 3600));
    /* All of them expired 29 days ago by the sandbox clock: dropped at 4096. */
    assert_true(w->nsessions < 1000);
    sbx_principal p;
    assert_true(world_find_key(w, w->sessions[w->nsessions - 1]->access_key_id, &p));
    world_free(w);
}

static sbx_instance *find_in(sbx_region *r, sbx_istate st, bool with_public_ip)
{
    for (size_t i = 0; i < r->ninstances; i++) {
        sbx_instance *in = r->instances[i];
        bool eip = false;
        for (size_t k = 0; k < r->naddresses; k++)
            eip |=
                r->addresses[k]->instance_id && strcmp(r->addresses[k]->instance_id, in->id) == 0;
        if (in->state == st && !eip && (!with_public_ip || in->public_ip))
            return in;
    }
    return NULL;
}

static size_t volumes_of(const sbx_region *r, const char *instance_id)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nvolumes; i++)
        n += r->volumes[i]->instance_id && strcmp(r->volumes[i]->instance_id, instance_id) == 0;
    return n;
}

static void test_settle_instances(void **state)
{
    (void)state;
    world *w = wt_world(2, 1, 7);
    sbx_region *r = w->accounts[1]->regions[0];
    sbx_instance *run = find_in(r, SBX_RUNNING, true);
    assert_non_null(run);
    run->state = SBX_STOPPING;
    run->transition_at = WT_NOW + 60;
    world_settle(r, WT_NOW + 59);
    assert_int_equal(run->state, SBX_STOPPING);
    assert_non_null(run->public_ip);
    world_settle(r, WT_NOW + 60);
    assert_int_equal(run->state, SBX_STOPPED);
    assert_null(run->public_ip);
    assert_int_equal(run->transition_at, 0);

    run->state = SBX_PENDING;
    run->transition_at = WT_NOW + 5;
    world_settle(r, WT_NOW + 10);
    assert_int_equal(run->state, SBX_RUNNING);

    /* A stopped instance keeps its Elastic IP. */
    for (size_t k = 0; k < r->naddresses; k++) {
        sbx_address *ad = r->addresses[k];
        if (ad->instance_id == NULL)
            continue;
        for (size_t i = 0; i < r->ninstances; i++) {
            sbx_instance *in = r->instances[i];
            if (strcmp(in->id, ad->instance_id) != 0)
                continue;
            in->state = SBX_STOPPING;
            in->transition_at = WT_NOW;
            world_settle(r, WT_NOW);
            assert_int_equal(in->state, SBX_STOPPED);
            assert_non_null(in->public_ip);
            assert_string_equal(in->public_ip, ad->public_ip);
        }
    }

    /* Termination deletes the root volume and releases the address. */
    sbx_instance *t = find_in(r, SBX_STOPPED, false);
    assert_non_null(t);
    assert_true(volumes_of(r, t->id) >= 1);
    size_t before = r->nvolumes, attached = volumes_of(r, t->id);
    t->state = SBX_SHUTTING_DOWN;
    t->transition_at = WT_NOW;
    world_settle(r, WT_NOW + 1);
    assert_int_equal(t->state, SBX_TERMINATED);
    assert_int_equal(volumes_of(r, t->id), 0);
    assert_int_equal(r->nvolumes, before - 1);
    (void)attached;
    world_settle(NULL, WT_NOW);
    world_free(w);
}

static void test_settle_databases(void **state)
{
    (void)state;
    world *w = wt_world(1, 1, 7);
    sbx_region *r = w->accounts[0]->regions[0];
    sbx_db *db = xcalloc(1, sizeof(*db));
    db->id = xstrdup("test-db");
    db->arn = xstrdup("arn:aws:rds:us-east-1:1:db:test-db");
    db->instance_class = xstrdup("db.t3.micro");
    db->engine = xstrdup("postgres");
    db->engine_version = xstrdup("15.4");
    db->status = xstrdup("stopping");
    db->transition_at = WT_NOW + 100;
    r->dbs = xreallocarray(r->dbs, r->ndbs + 1, sizeof(*r->dbs));
    r->dbs[r->ndbs++] = db;
    world_settle(r, WT_NOW);
    assert_string_equal(db->status, "stopping");
    world_settle(r, WT_NOW + 100);
    assert_string_equal(db->status, "stopped");
    free(db->status);
    db->status = xstrdup("starting");
    db->transition_at = WT_NOW + 200;
    world_settle(r, WT_NOW + 300);
    assert_string_equal(db->status, "available");
    assert_int_equal(db->transition_at, 0);
    world_free(w);
}

static void test_new_ids(void **state)
{
    (void)state;
    world *a = wt_world(1, 1, 7), *b = wt_world(1, 1, 7);
    char *x1 = world_new_id(a, "i-", 17), *x2 = world_new_id(a, "i-", 17);
    char *y1 = world_new_id(b, "i-", 17);
    assert_true(wt_matches(x1, "i-", "0a", 17));
    assert_string_not_equal(x1, x2);
    assert_string_equal(x1, y1);
    assert_int_equal(a->id_counter, 2);
    char *k = world_new_chars(a, "ASIA", NULL, 16);
    assert_true(wt_matches(k, "ASIA", "A2", 16));
    free(x1);
    free(x2);
    free(y1);
    free(k);
    world_free(a);
    world_free(b);
}

static void test_clock(void **state)
{
    (void)state;
    world *w = wt_world(0, 1, 7);
    /* Same clock as world_now (time() may read a coarser clock that lags
     * it across a second boundary). */
    time_t before = timeutil_now();
    w->clock_offset = 3600;
    time_t now = world_now(w);
    time_t after = timeutil_now();
    assert_true(now >= before + 3600 && now <= after + 3600);
    w->clock_offset = -86400;
    assert_true(world_now(w) <= timeutil_now() - 86400);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_params_same_world),
        cmocka_unit_test(test_different_seed_different_world),
        cmocka_unit_test(test_accounts_independent_of_count),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_organization_shape),
        cmocka_unit_test(test_identities),
        cmocka_unit_test(test_region_resources),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_find_key),
        cmocka_unit_test(test_sessions_purged_when_many),
        cmocka_unit_test(test_settle_instances),
        cmocka_unit_test(test_settle_databases),
        cmocka_unit_test(test_new_ids),
        cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
