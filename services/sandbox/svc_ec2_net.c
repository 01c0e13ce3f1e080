/* EC2 networking: DescribeSecurityGroups and DescribeAddresses. */
#include "svc_ec2_internal.h"

#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- security groups ---- */

typedef struct sg_row {
    const sbx_sg *g;
    const char *owner;
} sg_row;

#define SG(res) (((const sg_row *)(res))->g)

static bool any_rule(const sbx_sg_rule *rules, size_t n, const ec2_filter *f,
                     bool (*test)(const sbx_sg_rule *, const ec2_filter *))
{
    for (size_t i = 0; i < n; i++)
        if (test(&rules[i], f))
            return true;
    return false;
}

static bool rule_cidr(const sbx_sg_rule *r, const ec2_filter *f)
{
    return ec2_fv(f, r->cidr);
}
static bool rule_from(const sbx_sg_rule *r, const ec2_filter *f)
{
    return ec2_fv_int(f, r->from_port);
}
static bool rule_to(const sbx_sg_rule *r, const ec2_filter *f)
{
    return ec2_fv_int(f, r->to_port);
}
static bool rule_proto(const sbx_sg_rule *r, const ec2_filter *f)
{
    return ec2_fv(f, r->protocol);
}

static bool f_in_cidr(const void *res, const ec2_filter *f)
{
    return any_rule(SG(res)->ingress, SG(res)->ningress, f, rule_cidr);
}
static bool f_in_from(const void *res, const ec2_filter *f)
{
    return any_rule(SG(res)->ingress, SG(res)->ningress, f, rule_from);
}
static bool f_in_to(const void *res, const ec2_filter *f)
{
    return any_rule(SG(res)->ingress, SG(res)->ningress, f, rule_to);
}
static bool f_in_proto(const void *res, const ec2_filter *f)
{
    return any_rule(SG(res)->ingress, SG(res)->ningress, f, rule_proto);
}
static bool f_eg_cidr(const void *res, const ec2_filter *f)
{
    return any_rule(SG(res)->egress, SG(res)->negress, f, rule_cidr);
}
static bool f_eg_from(const void *res, const ec2_filter *f)
{
    return any_rule(SG(res)->egress, SG(res)->negress, f, rule_from);
}
static bool f_eg_to(const void *res, const ec2_filter *f)
{
    return any_rule(SG(res)->egress, SG(res)->negress, f, rule_to);
}
static bool f_eg_proto(const void *res, const ec2_filter *f)
{
    return any_rule(SG(res)->egress, SG(res)->negress, f, rule_proto);
}
static bool f_sg_id(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, SG(res)->id);
}
static bool f_sg_name(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, SG(res)->name);
}
static bool f_sg_desc(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, SG(res)->description);
}
static bool f_sg_vpc(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, SG(res)->vpc_id);
}
static bool f_sg_owner(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ((const sg_row *)res)->owner);
}

/* As in AWS, each ip-permission.* filter matches any rule on its own: they
 * need not all hold for the same rule. */
static const ec2_filter_def sg_filters[] = {
    {"group-id", f_sg_id},
    {"group-name", f_sg_name},
    {"description", f_sg_desc},
    {"vpc-id", f_sg_vpc},
    {"owner-id", f_sg_owner},
    {"ip-permission.cidr", f_in_cidr},
    {"ip-permission.from-port", f_in_from},
    {"ip-permission.to-port", f_in_to},
    {"ip-permission.protocol", f_in_proto},
    {"egress.ip-permission.cidr", f_eg_cidr},
    {"egress.ip-permission.from-port", f_eg_from},
    {"egress.ip-permission.to-port", f_eg_to},
    {"egress.ip-permission.protocol", f_eg_proto},
};

static const sbx_tags *sg_tags(const void *res)
{
    return &SG(res)->tags;
}

static bool same_permission(const sbx_sg_rule *a, const sbx_sg_rule *b)
{
    return strcmp(a->protocol, b->protocol) == 0 && a->from_port == b->from_port &&
           a->to_port == b->to_port;
}

/* AWS returns one IpPermission per (protocol, ports) with all its CIDRs in
 * ipRanges; the world stores one rule per CIDR, so rules are grouped here.
 * Protocol "-1" (all traffic) carries no ports. */
static void write_permissions(sbx_call *c, const char *elem, const sbx_sg_rule *rules, size_t n)
{
    call_xml_open(c, elem);
    for (size_t i = 0; i < n; i++) {
        bool earlier = false;
        for (size_t k = 0; k < i && !earlier; k++)
            earlier = same_permission(&rules[k], &rules[i]);
        if (earlier)
            continue;
        call_xml_open(c, "item");
        call_xml_text(c, "ipProtocol", rules[i].protocol);
        if (strcmp(rules[i].protocol, "-1") != 0) {
            call_xml_int(c, "fromPort", rules[i].from_port);
            call_xml_int(c, "toPort", rules[i].to_port);
        }
        call_xml_open(c, "groups");
        call_xml_close(c, "groups");
        call_xml_open(c, "ipRanges");
        for (size_t j = i; j < n; j++) {
            if (!same_permission(&rules[i], &rules[j]))
                continue;
            call_xml_open(c, "item");
            call_xml_text(c, "cidrIp", rules[j].cidr);
            call_xml_close(c, "item");
        }
        call_xml_close(c, "ipRanges");
        call_xml_open(c, "ipv6Ranges");
        call_xml_close(c, "ipv6Ranges");
        call_xml_open(c, "prefixListIds");
        call_xml_close(c, "prefixListIds");
        call_xml_close(c, "item");
    }
    call_xml_close(c, elem);
}

static void write_sg(sbx_call *c, const sbx_sg *g, const char *owner)
{
    call_xml_open(c, "item");
    call_xml_text(c, "ownerId", owner);
    call_xml_text(c, "groupId", g->id);
    call_xml_text(c, "groupName", g->name);
    call_xml_text(c, "groupDescription", g->description ? g->description : "");
    write_permissions(c, "ipPermissions", g->ingress, g->ningress);
    write_permissions(c, "ipPermissionsEgress", g->egress, g->negress);
    call_xml_text(c, "vpcId", g->vpc_id);
    if (g->tags.n)
        call_xml_tags(c, "tagSet", "item", &g->tags);
    call_xml_close(c, "item");
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* Answers InvalidGroup.NotFound for the first requested id or name that
 * is not in the region. */
static bool check_groups_exist(sbx_call *c, sbx_region *r, const char *const *ids, size_t nids,
                               const char *const *names, size_t nnames)
{
    for (size_t i = 0; i < nids; i++)
        if (!ec2_find_sg(r, ids[i]))
            return call_error(c, 400, "InvalidGroup.NotFound",
                              "The security group '%s' does not exist", ids[i]);
    for (size_t i = 0; i < nnames; i++) {
        bool found = false;
        for (size_t k = 0; r && k < r->nsgs && !found; k++)
            found = strcmp(r->sgs[k]->name, names[i]) == 0;
        if (!found)
            return call_error(c, 400, "InvalidGroup.NotFound",
                              "The security group '%s' does not exist", names[i]);
    }
    return true;
}

bool ec2_describe_security_groups(sbx_call *c)
{
    size_t nids = 0, nnames = 0;
    const char *const *ids = call_param_list(c, "GroupId", &nids);
    const char *const *names = call_param_list(c, "GroupName", &nnames);
    if ((nids || nnames) && call_param(c, "MaxResults"))
        return call_error(c, 400, "InvalidParameterCombination",
                          "The parameter groupId cannot be used with the parameter maxResults");
    for (size_t i = 0; i < nids; i++)
        if (!ec2_id_wellformed(ids[i], "sg-"))
            return call_error(c, 400, "InvalidGroupId.Malformed", "Invalid id: \"%s\"", ids[i]);
    ec2_page page;
    if (!ec2_page_parse(c, 5, 1000, &page))
        return false;
    sbx_region *r = call_region_state(c);
    if (!check_groups_exist(c, r, ids, nids, names, nnames))
        return false;
    ec2_filters fs;
    if (!ec2_filters_parse(c, sg_filters, sizeof sg_filters / sizeof sg_filters[0], sg_tags, &fs))
        return false;
    if (ec2_dry_run(c)) {
        ec2_filters_free(&fs);
        return false;
    }
    const char *owner = call_account(c)->id;
    size_t total = 0;
    call_xml_open(c, "securityGroupInfo");
    for (size_t i = 0; r && i < r->nsgs; i++) {
        sg_row row = {r->sgs[i], owner};
        if (nids && !in_list(ids, nids, row.g->id))
            continue;
        if (nnames && !in_list(names, nnames, row.g->name))
            continue;
        if (!ec2_filters_match(&fs, &row))
            continue;
        if (ec2_page_has(&page, total))
            write_sg(c, row.g, owner);
        total++;
    }
    call_xml_close(c, "securityGroupInfo");
    ec2_page_finish(c, &page, total);
    ec2_filters_free(&fs);
    return true;
}

/* ---- addresses ---- */

typedef struct addr_row {
    const sbx_address *a;
    const char *private_ip; /* of the associated instance, or NULL */
    const char *region;
} addr_row;

#define ADDR(res) (((const addr_row *)(res))->a)

static bool f_alloc(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ADDR(res)->allocation_id);
}
static bool f_assoc(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ADDR(res)->association_id);
}
static bool f_domain(const void *res, const ec2_filter *f)
{
    (void)res;
    return ec2_fv(f, "vpc");
}
static bool f_addr_instance(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ADDR(res)->instance_id);
}
static bool f_addr_public(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ADDR(res)->public_ip);
}
static bool f_addr_private(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ((const addr_row *)res)->private_ip);
}
static bool f_addr_border(const void *res, const ec2_filter *f)
{
    return ec2_fv(f, ((const addr_row *)res)->region);
}

static const ec2_filter_def addr_filters[] = {
    {"allocation-id", f_alloc},
    {"association-id", f_assoc},
    {"domain", f_domain},
    {"instance-id", f_addr_instance},
    {"public-ip", f_addr_public},
    {"private-ip-address", f_addr_private},
    {"network-border-group", f_addr_border},
};

static const sbx_tags *addr_tags(const void *res)
{
    return &ADDR(res)->tags;
}

static void write_address(sbx_call *c, const addr_row *row, const char *owner)
{
    const sbx_address *a = row->a;
    call_xml_open(c, "item");
    call_xml_text(c, "publicIp", a->public_ip);
    call_xml_text(c, "allocationId", a->allocation_id);
    call_xml_text(c, "domain", "vpc");
    if (a->instance_id) {
        call_xml_text(c, "instanceId", a->instance_id);
        call_xml_text(c, "associationId", a->association_id);
        call_xml_text(c, "networkInterfaceOwnerId", owner);
        call_xml_text(c, "privateIpAddress", row->private_ip);
    }
    if (a->tags.n)
        call_xml_tags(c, "tagSet", "item", &a->tags);
    call_xml_text(c, "publicIpv4Pool", "amazon");
    call_xml_text(c, "networkBorderGroup", row->region);
    call_xml_close(c, "item");
}

static bool check_addresses_exist(sbx_call *c, sbx_region *r, const char *const *allocs,
                                  size_t nallocs, const char *const *ips, size_t nips)
{
    for (size_t i = 0; i < nallocs; i++) {
        bool found = false;
        for (size_t k = 0; r && k < r->naddresses && !found; k++)
            found = strcmp(r->addresses[k]->allocation_id, allocs[i]) == 0;
        if (!found)
            return call_error(c, 400, "InvalidAllocationID.NotFound",
                              "The allocation ID '%s' does not exist", allocs[i]);
    }
    for (size_t i = 0; i < nips; i++) {
        bool found = false;
        for (size_t k = 0; r && k < r->naddresses && !found; k++)
            found = strcmp(r->addresses[k]->public_ip, ips[i]) == 0;
        if (!found)
            return call_error(c, 400, "InvalidAddress.NotFound", "Address '%s' not found.", ips[i]);
    }
    return true;
}

/* DescribeAddresses has no paging in AWS: an account has few addresses. */
bool ec2_describe_addresses(sbx_call *c)
{
    size_t nallocs = 0, nips = 0;
    const char *const *allocs = call_param_list(c, "AllocationId", &nallocs);
    const char *const *ips = call_param_list(c, "PublicIp", &nips);
    for (size_t i = 0; i < nallocs; i++)
        if (!ec2_id_wellformed(allocs[i], "eipalloc-"))
            return call_error(c, 400, "InvalidAllocationID.Malformed", "Invalid id: \"%s\"",
                              allocs[i]);
    sbx_region *r = call_region_state(c);
    if (!check_addresses_exist(c, r, allocs, nallocs, ips, nips))
        return false;
    ec2_filters fs;
    if (!ec2_filters_parse(c, addr_filters, sizeof addr_filters / sizeof addr_filters[0], addr_tags,
                           &fs))
        return false;
    if (ec2_dry_run(c)) {
        ec2_filters_free(&fs);
        return false;
    }
    const char *owner = call_account(c)->id;
    call_xml_open(c, "addressesSet");
    for (size_t i = 0; r && i < r->naddresses; i++) {
        const sbx_address *a = r->addresses[i];
        if (nallocs && !in_list(allocs, nallocs, a->allocation_id))
            continue;
        if (nips && !in_list(ips, nips, a->public_ip))
            continue;
        const sbx_instance *in = a->instance_id ? ec2_find_instance(r, a->instance_id) : NULL;
        addr_row row = {a, in ? in->private_ip : NULL, call_region(c)};
        if (!ec2_filters_match(&fs, &row))
            continue;
        write_address(c, &row, owner);
    }
    call_xml_close(c, "addressesSet");
    ec2_filters_free(&fs);
    return true;
}
