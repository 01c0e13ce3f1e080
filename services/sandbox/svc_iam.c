/* AWS IAM (query protocol, 2010-05-08): the read side Escher's security
 * checks use — users, access keys, MFA devices, the credential report, the
 * password policy and the account summary — in IAM's wire shapes, with its
 * Marker/MaxItems paging and its error codes. IAM is global: every call
 * answers for the caller's account whatever the region. */
#include "call.h"

#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IAM_XMLNS "https://iam.amazonaws.com/doc/2010-05-08/"

#define IAM_DEFAULT_MAX_ITEMS 100
#define IAM_MAX_ITEMS         1000
/* AWS keeps a generated credential report for four hours. */
#define IAM_REPORT_TTL (4 * 3600)

/* ---- paging ---- */

/* MaxItems (1..1000, default 100) and the offset the Marker encodes. */
static bool iam_page(sbx_call *c, size_t *offset, size_t *max)
{
    const char *mi = call_param(c, "MaxItems");
    *max = IAM_DEFAULT_MAX_ITEMS;
    if (mi) {
        char *end;
        errno = 0;
        long v = strtol(mi, &end, 10);
        if (errno || end == mi || *end || v < 1 || v > IAM_MAX_ITEMS)
            return call_error(c, 400, "ValidationError",
                              "1 validation error detected: Value '%s' at 'maxItems' failed to "
                              "satisfy constraint: Member must have value %s",
                              mi,
                              (end != mi && !*end && v > IAM_MAX_ITEMS)
                                  ? "less than or equal to 1000"
                                  : "greater than or equal to 1");
        *max = (size_t)v;
    }
    return call_page_offset(c, call_param(c, "Marker"), offset);
}

/* IsTruncated and Marker after a page of the list's `total` items. */
static void iam_page_end(sbx_call *c, size_t offset, size_t max, size_t total)
{
    bool more = offset + max < total;
    call_xml_bool(c, "IsTruncated", more);
    if (more)
        call_xml_text(c, "Marker", call_page_token(c, offset + max));
}

/* ---- users ---- */

/* The user a call names with UserName, or the calling user when absent. */
static sbx_user *iam_target_user(sbx_call *c)
{
    const char *name = call_param(c, "UserName");
    const sbx_principal *p = call_principal(c);
    if (!name) {
        if (p->user && !p->session)
            return p->user;
        call_error(c, 400, "ValidationError",
                   "Must specify userName when calling with non-User credentials");
        return NULL;
    }
    sbx_user *u = world_user(call_account(c), name);
    if (!u)
        call_error(c, 404, "NoSuchEntity", "The user with name %s cannot be found.", name);
    return u;
}

static bool iam_list_users(sbx_call *c)
{
    size_t offset, max;
    if (!iam_page(c, &offset, &max))
        return false;
    const sbx_account *a = call_account(c);
    const char *prefix = call_param(c, "PathPrefix");
    /* Every simulated user has the path "/". */
    bool path_ok = !prefix || strcmp(prefix, "/") == 0;
    size_t total = path_ok ? a->nusers : 0;
    call_xml_open(c, "Users");
    for (size_t i = offset; i < total && i < offset + max; i++) {
        const sbx_user *u = a->users[i];
        call_xml_open(c, "member");
        call_xml_text(c, "Path", "/");
        call_xml_text(c, "UserName", u->name);
        call_xml_text(c, "UserId", u->id);
        call_xml_text(c, "Arn", u->arn);
        call_xml_time(c, "CreateDate", u->create_time);
        if (u->console && u->password_last_used)
            call_xml_time(c, "PasswordLastUsed", u->password_last_used);
        call_xml_close(c, "member");
    }
    call_xml_close(c, "Users");
    iam_page_end(c, offset, max, total);
    return true;
}

static bool iam_list_access_keys(sbx_call *c)
{
    sbx_user *u = iam_target_user(c);
    if (!u || !call_authorize(c, u->arn))
        return false;
    size_t offset, max;
    if (!iam_page(c, &offset, &max))
        return false;
    call_xml_open(c, "AccessKeyMetadata");
    for (size_t i = offset; i < u->nkeys && i < offset + max; i++) {
        const sbx_access_key *k = u->keys[i];
        call_xml_open(c, "member");
        call_xml_text(c, "UserName", u->name);
        call_xml_text(c, "AccessKeyId", k->id);
        call_xml_text(c, "Status", k->active ? "Active" : "Inactive");
        call_xml_time(c, "CreateDate", k->create_time);
        call_xml_close(c, "member");
    }
    call_xml_close(c, "AccessKeyMetadata");
    iam_page_end(c, offset, max, u->nkeys);
    return true;
}

static bool iam_list_mfa_devices(sbx_call *c)
{
    sbx_user *u = iam_target_user(c);
    if (!u || !call_authorize(c, u->arn))
        return false;
    size_t offset, max;
    if (!iam_page(c, &offset, &max))
        return false;
    call_xml_open(c, "MFADevices");
    for (size_t i = offset; i < u->nmfa && i < offset + max; i++) {
        call_xml_open(c, "member");
        call_xml_text(c, "UserName", u->name);
        call_xml_text(c, "SerialNumber", u->mfa[i].serial);
        call_xml_time(c, "EnableDate", u->mfa[i].enable_date);
        call_xml_close(c, "member");
    }
    call_xml_close(c, "MFADevices");
    iam_page_end(c, offset, max, u->nmfa);
    return true;
}

/* ---- credential report ---- */

static bool report_fresh(const sbx_account *a, time_t now)
{
    return a->credential_report_at && now - a->credential_report_at < IAM_REPORT_TTL;
}

static bool iam_generate_credential_report(sbx_call *c)
{
    sbx_account *a = call_account(c);
    time_t now = call_now(c);
    if (report_fresh(a, now)) {
        call_xml_text(c, "State", "COMPLETE");
        return true;
    }
    /* The sandbox builds the report at once; the first answer still says
     * STARTED, as AWS's does, so pollers take their usual path. */
    a->credential_report_at = now;
    call_xml_text(c, "State", "STARTED");
    call_xml_text(c, "Description", "No report exists. Starting a new report generation task");
    call_note(c, "credential report generated");
    return true;
}

/* The report's time format: 2024-05-01T12:00:00+00:00. */
static void csv_time(strbuf *sb, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strbuf_printf(sb, ",%04d-%02d-%02dT%02d:%02d:%02d+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void csv_time_or(strbuf *sb, time_t t, const char *otherwise)
{
    if (t)
        csv_time(sb, t);
    else
        strbuf_printf(sb, ",%s", otherwise);
}

/* access_key_N_active .. access_key_N_last_used_service for key i. */
static void csv_key(strbuf *sb, const sbx_user *u, size_t i, const char *region)
{
    if (i >= u->nkeys) {
        strbuf_puts(sb, ",false,N/A,N/A,N/A,N/A");
        return;
    }
    const sbx_access_key *k = u->keys[i];
    strbuf_puts(sb, k->active ? ",true" : ",false");
    csv_time(sb, k->create_time);
    csv_time_or(sb, k->last_used, "N/A");
    if (k->last_used)
        strbuf_printf(sb, ",%s,%s", region, "ec2");
    else
        strbuf_puts(sb, ",N/A,N/A");
}

static const char REPORT_HEADER[] =
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

static char *credential_csv(const world *w, const sbx_account *a)
{
    strbuf sb = STRBUF_INIT;
    strbuf_puts(&sb, REPORT_HEADER);
    strbuf_printf(&sb, "\n<root_account>,arn:aws:iam::%s:root", a->id);
    csv_time(&sb, a->joined);
    strbuf_puts(&sb, ",not_supported,no_information,not_supported,not_supported");
    strbuf_printf(&sb, ",%s", a->root_mfa ? "true" : "false");
    strbuf_puts(&sb, ",false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A");
    const char *region = w->nregions ? w->region_names[0] : "us-east-1";
    const sbx_password_policy *pp = &a->password_policy;
    for (size_t i = 0; i < a->nusers; i++) {
        const sbx_user *u = a->users[i];
        strbuf_printf(&sb, "\n%s,%s", u->name, u->arn);
        csv_time(&sb, u->create_time);
        if (u->console) {
            strbuf_puts(&sb, ",true");
            csv_time_or(&sb, u->password_last_used, "no_information");
            csv_time(&sb, u->create_time); /* set at creation, never rotated */
            if (pp->present && pp->max_age_days > 0)
                csv_time(&sb, u->create_time + (time_t)pp->max_age_days * 86400);
            else
                strbuf_puts(&sb, ",N/A");
        } else {
            strbuf_puts(&sb, ",false,N/A,N/A,N/A");
        }
        strbuf_puts(&sb, u->nmfa ? ",true" : ",false");
        csv_key(&sb, u, 0, region);
        csv_key(&sb, u, 1, region);
        strbuf_puts(&sb, ",false,N/A,false,N/A");
    }
    return strbuf_detach(&sb);
}

static bool iam_get_credential_report(sbx_call *c)
{
    const sbx_account *a = call_account(c);
    if (!a->credential_report_at)
        return call_error(c, 410, "ReportNotPresent",
                          "Credential report not present. Use GenerateCredentialReport to "
                          "generate a report.");
    if (!report_fresh(a, call_now(c)))
        return call_error(c, 410, "ReportExpired",
                          "Credential report expired. Use GenerateCredentialReport to generate "
                          "a new report.");
    char *csv = credential_csv(call_world(c), a);
    size_t len = strlen(csv);
    char *b64 = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)csv, (int)len);
    call_xml_text(c, "Content", b64);
    call_xml_text(c, "ReportFormat", "text/csv");
    call_xml_time(c, "GeneratedTime", a->credential_report_at);
    free(b64);
    free(csv);
    return true;
}

/* ---- account ---- */

static bool iam_get_account_password_policy(sbx_call *c)
{
    const sbx_account *a = call_account(c);
    const sbx_password_policy *pp = &a->password_policy;
    if (!pp->present)
        return call_error(c, 404, "NoSuchEntity",
                          "The Password Policy with domain name %s cannot be found.", a->id);
    call_xml_open(c, "PasswordPolicy");
    call_xml_int(c, "MinimumPasswordLength", pp->min_length);
    call_xml_bool(c, "RequireSymbols", pp->require_symbols);
    call_xml_bool(c, "RequireNumbers", pp->require_numbers);
    call_xml_bool(c, "RequireUppercaseCharacters", pp->require_upper);
    call_xml_bool(c, "RequireLowercaseCharacters", pp->require_lower);
    call_xml_bool(c, "AllowUsersToChangePassword", true);
    call_xml_bool(c, "ExpirePasswords", pp->max_age_days > 0);
    if (pp->max_age_days > 0)
        call_xml_int(c, "MaxPasswordAge", pp->max_age_days);
    if (pp->reuse_prevention > 0)
        call_xml_int(c, "PasswordReusePrevention", pp->reuse_prevention);
    call_xml_bool(c, "HardExpiry", false);
    call_xml_close(c, "PasswordPolicy");
    return true;
}

typedef struct summary_entry {
    const char *key;
    long long value;
} summary_entry;

/* IAM's default quotas, as a new account reports them. */
static const summary_entry summary_quotas[] = {
    {"UsersQuota", 5000},
    {"Groups", 0},
    {"GroupsQuota", 300},
    {"ServerCertificates", 0},
    {"ServerCertificatesQuota", 20},
    {"UserPolicySizeQuota", 2048},
    {"GroupPolicySizeQuota", 5120},
    {"GroupsPerUserQuota", 10},
    {"SigningCertificatesPerUserQuota", 2},
    {"AccessKeysPerUserQuota", 2},
    {"AccountAccessKeysPresent", 0},
    {"AccountSigningCertificatesPresent", 0},
    {"AttachedPoliciesPerGroupQuota", 10},
    {"AttachedPoliciesPerRoleQuota", 10},
    {"AttachedPoliciesPerUserQuota", 10},
    {"Policies", 0},
    {"PoliciesQuota", 1500},
    {"PolicySizeQuota", 6144},
    {"PolicyVersionsInUse", 0},
    {"PolicyVersionsInUseQuota", 10000},
    {"VersionsPerPolicyQuota", 5},
    {"RolesQuota", 1000},
    {"RolePolicySizeQuota", 10240},
    {"AssumeRolePolicySizeQuota", 2048},
    {"InstanceProfiles", 0},
    {"InstanceProfilesQuota", 1000},
    {"Providers", 0},
    {"GlobalEndpointTokenVersion", 1},
};

static void summary_put(sbx_call *c, const char *key, long long value)
{
    call_xml_open(c, "entry");
    call_xml_text(c, "key", key);
    call_xml_int(c, "value", value);
    call_xml_close(c, "entry");
}

static bool iam_get_account_summary(sbx_call *c)
{
    const sbx_account *a = call_account(c);
    /* Every simulated MFA device is assigned, the root's included. */
    long long mfa = a->root_mfa ? 1 : 0;
    for (size_t i = 0; i < a->nusers; i++)
        mfa += (long long)a->users[i]->nmfa;
    call_xml_open(c, "SummaryMap");
    summary_put(c, "Users", (long long)a->nusers);
    summary_put(c, "Roles", (long long)a->nroles);
    summary_put(c, "MFADevices", mfa);
    summary_put(c, "MFADevicesInUse", mfa);
    summary_put(c, "AccountMFAEnabled", a->root_mfa ? 1 : 0);
    for (size_t i = 0; i < sizeof summary_quotas / sizeof summary_quotas[0]; i++)
        summary_put(c, summary_quotas[i].key, summary_quotas[i].value);
    call_xml_close(c, "SummaryMap");
    return true;
}

/* ListAccessKeys and ListMFADevices authorize on the user's ARN, so a
 * policy limited to arn:aws:iam::*:user/${aws:username} works as in AWS. */
static const sbx_action iam_actions[] = {
    {"ListUsers", SBX_DESCRIBE, iam_list_users, false, NULL, NULL, false},
    {"ListAccessKeys", SBX_DESCRIBE, iam_list_access_keys, true, NULL, NULL, false},
    {"ListMFADevices", SBX_DESCRIBE, iam_list_mfa_devices, true, NULL, NULL, false},
    {"GenerateCredentialReport", SBX_MUTATE, iam_generate_credential_report, false, NULL, NULL,
     false},
    {"GetCredentialReport", SBX_DESCRIBE, iam_get_credential_report, false, NULL, NULL, false},
    {"GetAccountPasswordPolicy", SBX_DESCRIBE, iam_get_account_password_policy, false, NULL, NULL,
     false},
    {"GetAccountSummary", SBX_DESCRIBE, iam_get_account_summary, false, NULL, NULL, false},
};

/* AWS Identity and Access Management, API version 2010-05-08 (global). */
const sbx_service svc_iam = {
    .signing_name = "iam",
    .iam_prefix = "iam",
    .protocol = AWS_PROTO_QUERY,
    .xml_namespace = IAM_XMLNS,
    .json_target = NULL,
    .global = true,
    .actions = iam_actions,
    .nactions = sizeof iam_actions / sizeof iam_actions[0],
};
