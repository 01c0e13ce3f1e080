/* Routes of the onboarding area: what a Manager needs to create Escher's
 * roles in AWS (GET /v1/onboarding: the tenant's ExternalId, the principal
 * to trust and the CloudFormation parameters of deploy/aws/), and the
 * discovery of an AWS Organization's member accounts (POST /v1/discovery:
 * an org.discover job, run by the workers). */
#include "api_enqueue.h"
#include "api_input.h"
#include "api_route.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The role names customer-role.yaml creates by default; discovery assumes
 * them in member accounts unless told otherwise. */
#define OPERATOR_ROLE   "EscherOperator"
#define READ_ONLY_ROLE  "EscherReadOnly"
#define MAX_SESSION     "3600"
#define ROLE_TEMPLATE   "deploy/aws/customer-role.yaml"
#define ORG_TEMPLATE    "deploy/aws/customer-role-stackset.yaml"
#define ROLE_STACK_NAME "escher-access"

/* ---- GET /v1/onboarding -------------------------------------------------- */

/* The partition of an IAM principal ARN in the shape customer-role.yaml's
 * EscherPrincipalArn admits (role, user or account root), or NULL: a value
 * the template would refuse is a misconfiguration to report, not to hand on. */
static const char *principal_partition(const char *arn)
{
    static const char *const partitions[] = {"aws-us-gov", "aws-cn", "aws"};
    if (strncmp(arn, "arn:", 4) != 0)
        return NULL;
    const char *p = arn + 4, *partition = NULL;
    for (size_t i = 0; i < sizeof partitions / sizeof *partitions && !partition; i++) {
        size_t n = strlen(partitions[i]);
        if (strncmp(p, partitions[i], n) == 0 && p[n] == ':') {
            partition = partitions[i];
            p += n + 1;
        }
    }
    if (partition == NULL || strncmp(p, "iam::", 5) != 0)
        return NULL;
    p += 5;
    for (int i = 0; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return NULL;
    p += 12;
    if (strcmp(p, ":root") == 0)
        return partition;
    if (strncmp(p, ":user/", 6) == 0)
        p += 6;
    else if (strncmp(p, ":role/", 6) == 0)
        p += 6;
    else
        return NULL;
    if (*p == '\0')
        return NULL;
    for (; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("+=,.@_/-", *p)))
            return NULL;
    return partition;
}

static void add_param(json_t *params, const char *key, const char *value)
{
    json_array_append_new(params,
                          json_pack("{s:s, s:s}", "ParameterKey", key, "ParameterValue", value));
}

/* The console's quick-create link: the stack form opens filled in, and the
 * Manager only acknowledges the IAM capability. */
static json_t *quick_create_url(const char *partition, const char *template_url,
                                const char *principal, const char *external_id)
{
    const char *console = strcmp(partition, "aws-cn") == 0 ? "https://console.amazonaws.cn"
                          : strcmp(partition, "aws-us-gov") == 0
                              ? "https://console.amazonaws-us-gov.com"
                              : "https://console.aws.amazon.com";
    char *t = evhttp_encode_uri(template_url);
    char *p = evhttp_encode_uri(principal);
    char *x = evhttp_encode_uri(external_id);
    json_t *url = json_sprintf("%s/cloudformation/home#/stacks/quickcreate?templateURL=%s"
                               "&stackName=" ROLE_STACK_NAME
                               "&param_EscherPrincipalArn=%s&param_ExternalId=%s",
                               console, t, p, x);
    free(t);
    free(p);
    free(x);
    return url;
}

static void onboarding(api_req *r)
{
    const char *principal = api_setting(r, "escher-principal-arn");
    if (principal == NULL || *principal == '\0') {
        api_fail(r, 503, "not_configured",
                 "onboarding is not configured: this server has no Escher principal ARN to "
                 "trust; its operator sets --escher-principal-arn "
                 "(ESCHER_API_ESCHER_PRINCIPAL_ARN)");
        return;
    }
    const char *partition = principal_partition(principal);
    if (partition == NULL) {
        api_fail(r, 503, "not_configured",
                 "onboarding is misconfigured: --escher-principal-arn is '%.200s', which "
                 "customer-role.yaml refuses (want an IAM role, user or root ARN such as "
                 "arn:aws:iam::123456789012:role/escher-hub)",
                 principal);
        return;
    }
    const char *template_url = api_setting(r, "template-url");
    if (template_url && *template_url == '\0')
        template_url = NULL;
    const char *tenant[] = {api_caller_of(r)->tenant_id};
    PGresult *res = api_sql_final(r, "SELECT external_id FROM tenants WHERE id = $1", 1, tenant);
    if (res == NULL)
        return;
    if (PQntuples(res) != 1) {
        PQclear(res);
        api_fail(r, 500, "internal", "the caller's tenant is not visible; request id %s",
                 api_request_id(r));
        return;
    }
    const char *external_id = PQgetvalue(res, 0, 0);

    /* Every parameter of customer-role.yaml, defaults included, so what the
     * Manager pastes is what Escher assumes (discovery uses these names). */
    json_t *role_params = json_array();
    add_param(role_params, "EscherPrincipalArn", principal);
    add_param(role_params, "ExternalId", external_id);
    add_param(role_params, "OperatorRoleName", OPERATOR_ROLE);
    add_param(role_params, "ReadOnlyRoleName", READ_ONLY_ROLE);
    add_param(role_params, "MaxSessionDuration", MAX_SESSION);

    /* The StackSet also needs where to deploy, which only the Manager knows,
     * and the role template's S3 URL when this server has none. */
    json_t *org_params = json_array();
    json_t *to_provide = json_pack("[s]", "OrganizationalUnitIds");
    if (template_url)
        add_param(org_params, "RoleTemplateURL", template_url);
    else
        json_array_append_new(to_provide, json_string("RoleTemplateURL"));
    json_array_extend(org_params, role_params);

    json_t *body = json_pack(
        "{s:s, s:s,"
        " s:{s:s, s:s?, s:s, s:[s], s:o, s:o},"
        " s:{s:s, s:s, s:[s, s], s:o, s:o}}",
        "external_id", external_id, "escher_principal_arn", principal, "cloudformation", "template",
        ROLE_TEMPLATE, "template_url", template_url, "stack_name", ROLE_STACK_NAME, "capabilities",
        "CAPABILITY_NAMED_IAM", "parameters", role_params, "quick_create_url",
        template_url ? quick_create_url(partition, template_url, principal, external_id)
                     : json_null(),
        "stackset", "template", ORG_TEMPLATE, "stack_name", ROLE_STACK_NAME "-org", "capabilities",
        "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND", "parameters", org_params,
        "parameters_to_provide", to_provide);
    PQclear(res);
    api_reply(r, 200, body);
}

/* ---- POST /v1/discovery ---------------------------------------------------- */

/* Checks a role name template of field name: "{account_id}" stands for the
 * member's 12-digit id, and what results must be an IAM role path/name. */
static bool role_name_template(api_req *r, const char *name, const char *value)
{
    static const char placeholder[] = "{account_id}";
    char expanded[1024];
    size_t n = 0;
    bool fits = true;
    for (const char *p = value; *p && fits;) {
        const char *piece = p;
        size_t len = 1;
        if (strncmp(p, placeholder, sizeof placeholder - 1) == 0) {
            piece = "123456789012";
            len = 12;
            p += sizeof placeholder - 1;
        } else {
            p++;
        }
        fits = n + len < sizeof expanded;
        if (fits) {
            memcpy(expanded + n, piece, len);
            n += len;
        }
    }
    expanded[n] = '\0';
    if (fits && api_input_is_role_path_name(expanded))
        return true;
    return api_input_fail_field(r, name, value,
                                "an IAM role name (optionally with a path) of 1-64 of A-Z a-z "
                                "0-9 +=,.@_- where {account_id} stands for the member's id");
}

static void discovery(api_req *r)
{
    static const char *const known[] = {"management_role_arn", "role_name", "readonly_role_name",
                                        "regions", NULL};
    json_t *body = api_body_object(r);
    if (body == NULL || !api_input_only(r, body, known))
        return;
    const char *mgmt, *role_name, *ro_name;
    api_field ro_st;
    json_t *regions = NULL;
    if (!api_input_string(r, body, "management_role_arn", 2048, &mgmt) ||
        !api_input_role_arn(r, "management_role_arn", mgmt, NULL) ||
        !api_input_opt_string(r, body, "role_name", 600, false, &role_name, NULL) ||
        (role_name && !role_name_template(r, "role_name", role_name)) ||
        !api_input_opt_string(r, body, "readonly_role_name", 600, true, &ro_name, &ro_st) ||
        (ro_name && !role_name_template(r, "readonly_role_name", ro_name)) ||
        !api_input_opt_regions(r, body, "regions", false, &regions, NULL))
        return;
    if (role_name == NULL)
        role_name = OPERATOR_ROLE;
    if (ro_st == API_FIELD_ABSENT)
        ro_name = READ_ONLY_ROLE;
    /* Absent keys, not nulls, for "no read-only role" and "all regions":
     * the worker's reading of the payload. */
    json_t *payload = json_pack("{s:s, s:s, s:s*, s:o*}", "management_role_arn", mgmt, "role_name",
                                role_name, "readonly_role_name", ro_name, "regions", regions);
    char job[QUEUE_ID_LEN];
    if (!api_enqueue(r, "org.discover", payload, NULL, job)) {
        json_decref(payload);
        return;
    }
    char target[64];
    snprintf(target, sizeof target, "job:%s", job);
    bool ok = api_audit(r, "discovery.start", target, payload);
    json_decref(payload);
    if (ok)
        api_enqueue_accepted(r, job);
}

const api_route api_routes_onboarding[] = {
    {"GET", "/v1/onboarding", API_ROLE_MANAGER, onboarding,
     "What to put in AWS: ExternalId, principal to trust, CloudFormation parameters."},
    {"POST", "/v1/discovery", API_ROLE_MANAGER, discovery,
     "Queue discovery of an AWS Organization's member accounts (org.discover)."},
    {0},
};
