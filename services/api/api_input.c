/* Checks on request body fields (see api_input.h). */
#include "api_input.h"

#include "core/text.h"

#include "core/strbuf.h"

#include <stdio.h>
#include <string.h>

/* Longest stretch of a value quoted back in a message: enough to recognise
 * it, short enough that a megabyte of junk does not come back. */
#define QUOTE_MAX 100

/* Copies at most QUOTE_MAX bytes of s into out, cut on a UTF-8 character
 * boundary, with "..." when shortened. */
static void quote_value(const char *s, char out[QUOTE_MAX + 4])
{
    size_t n = strlen(s);
    if (n <= QUOTE_MAX) {
        memcpy(out, s, n + 1);
        return;
    }
    n = QUOTE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(out, s, n);
    memcpy(out + n, "...", 4);
}

bool api_input_fail_field(api_req *r, const char *name, const char *value, const char *want)
{
    char q[QUOTE_MAX + 4];
    quote_value(value, q);
    return api_fail(r, 400, "invalid_field", "field '%s' is '%s': want %s", name, q, want);
}

bool api_input_only(api_req *r, const json_t *obj, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (ok)
            continue;
        strbuf names;
        strbuf_init(&names);
        for (const char *const *k = known; *k; k++)
            strbuf_printf(&names, "%s%s", k == known ? "" : ", ", *k);
        char q[QUOTE_MAX + 4];
        quote_value(key, q);
        api_fail(r, 400, "invalid_field", "unknown field '%s' (known: %s)", q,
                 names.len ? strbuf_str(&names) : "none");
        strbuf_free(&names);
        return false;
    }
    return true;
}

/* Checks one string value of field name (what names the field in messages,
 * e.g. "regions[2]"). */
static bool check_string(api_req *r, const char *what, const char *s, size_t max_len)
{
    if (*s == '\0')
        return api_fail(r, 400, "invalid_field", "field '%s' is empty: want a non-empty string",
                        what);
    if (text_has_control(s)) {
        char q[QUOTE_MAX + 4];
        quote_value(s, q);
        for (char *p = q; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?'; /* the message must not carry the control characters either */
        return api_fail(r, 400, "invalid_field",
                        "field '%s' is '%s': control characters are not allowed", what, q);
    }
    if (max_len > 0 && text_utf8_chars(s) > max_len) {
        char q[QUOTE_MAX + 4];
        quote_value(s, q);
        return api_fail(r, 400, "invalid_field",
                        "field '%s' is '%s' (%zu characters): want at most %zu characters", what, q,
                        text_utf8_chars(s), max_len);
    }
    return true;
}

bool api_input_string(api_req *r, const json_t *obj, const char *name, size_t max_len,
                      const char **out)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return api_fail(r, 400, "invalid_field", "field '%s' is required", name);
    if (!json_is_string(v))
        return api_fail(r, 400, "invalid_field", "field '%s' must be a string, not %s", name,
                        text_json_type(v));
    if (!check_string(r, name, json_string_value(v), max_len))
        return false;
    *out = json_string_value(v);
    return true;
}

bool api_input_opt_string(api_req *r, const json_t *obj, const char *name, size_t max_len,
                          bool nullable, const char **out, api_field *state)
{
    api_field st = API_FIELD_ABSENT;
    const json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v != NULL && json_is_null(v) && nullable) {
        st = API_FIELD_NULL;
    } else if (v != NULL) {
        if (!json_is_string(v))
            return api_fail(r, 400, "invalid_field", "field '%s' must be a string%s, not %s", name,
                            nullable ? " or null" : "", text_json_type(v));
        if (!check_string(r, name, json_string_value(v), max_len))
            return false;
        *out = json_string_value(v);
        st = API_FIELD_SET;
    }
    if (state)
        *state = st;
    return true;
}

bool api_input_opt_bool(api_req *r, const json_t *obj, const char *name, bool *out)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return true;
    if (!json_is_boolean(v))
        return api_fail(r, 400, "invalid_field", "field '%s' must be true or false, not %s", name,
                        text_json_type(v));
    *out = json_is_true(v);
    return true;
}

bool api_input_opt_int(api_req *r, const json_t *obj, const char *name, long long min,
                       long long max, long long *out)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL)
        return true;
    if (!json_is_integer(v))
        return api_fail(r, 400, "invalid_field", "field '%s' must be an integer, not %s", name,
                        json_is_real(v) ? "a number with a fraction" : text_json_type(v));
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return api_fail(r, 400, "invalid_field", "field '%s' is %lld: want %lld to %lld", name,
                        (long long)n, min, max);
    *out = (long long)n;
    return true;
}

bool api_input_opt_object(api_req *r, const json_t *obj, const char *name, json_t **out)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v == NULL)
        return true;
    if (!json_is_object(v))
        return api_fail(r, 400, "invalid_field", "field '%s' must be an object, not %s", name,
                        text_json_type(v));
    *out = v;
    return true;
}

bool api_input_opt_strings(api_req *r, const json_t *obj, const char *name, size_t max_items,
                           size_t max_len, bool nullable, json_t **out, api_field *state)
{
    api_field st = API_FIELD_ABSENT;
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v != NULL && json_is_null(v) && nullable) {
        st = API_FIELD_NULL;
    } else if (v != NULL) {
        if (!json_is_array(v))
            return api_fail(r, 400, "invalid_field",
                            "field '%s' must be an array of strings%s, not %s", name,
                            nullable ? " or null" : "", text_json_type(v));
        if (max_items > 0 && json_array_size(v) > max_items)
            return api_fail(r, 400, "invalid_field", "field '%s' has %zu items: want at most %zu",
                            name, json_array_size(v), max_items);
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (!json_is_string(item))
                return api_fail(r, 400, "invalid_field",
                                "field '%s' must be an array of strings: item %zu is %s", name, i,
                                text_json_type(item));
            char what[160];
            snprintf(what, sizeof what, "%s[%zu]", name, i);
            if (!check_string(r, what, json_string_value(item), max_len))
                return false;
        }
        *out = v;
        st = API_FIELD_SET;
    }
    if (state)
        *state = st;
    return true;
}

bool api_input_is_dotted_name(const char *s, size_t max_len)
{
    size_t n = strlen(s);
    if (n < 1 || n > max_len)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("_.:-", *s)))
            return false;
    return true;
}

/* ---- AWS shapes ------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

bool api_input_is_account_id(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (!is_digit(s[i]))
            return false;
    return s[12] == '\0';
}

bool api_input_is_region(const char *s)
{
    /* <2 letters>(-<letters>){1,2}-<1..2 digits>: "us-east-1",
     * "us-gov-west-1", "us-isob-east-1". */
    size_t len = strlen(s);
    if (len < 6 || len > 32)
        return false;
    if (!is_lower(s[0]) || !is_lower(s[1]) || s[2] != '-')
        return false;
    const char *p = s + 3;
    int words = 0;
    for (;;) {
        const char *start = p;
        while (is_lower(*p))
            p++;
        if (p == start)
            break;
        if (*p != '-')
            return false;
        words++;
        p++;
    }
    if (words < 1 || words > 2)
        return false;
    const char *digits = p;
    while (is_digit(*p))
        p++;
    return *p == '\0' && p - digits >= 1 && p - digits <= 2;
}

static bool is_role_char(char c)
{
    /* c != '\0' first: strchr finds the terminator, and the scan would run
     * past the end of the string. */
    return is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c != '\0' && strchr("+=,.@_-", c) != NULL);
}

bool api_input_is_role_path_name(const char *s)
{
    /* Segments separated by '/', each non-empty; the last (the name) at most
     * 64 characters; IAM caps the path at 512. */
    size_t total = strlen(s);
    if (total == 0 || total > 512 + 64)
        return false;
    const char *seg = s;
    for (;;) {
        const char *p = seg;
        while (is_role_char(*p))
            p++;
        if (p == seg)
            return false;
        if (*p == '\0')
            return p - seg <= 64 && (size_t)(seg - s) <= 512;
        if (*p != '/')
            return false;
        seg = p + 1;
    }
}

bool api_input_parse_role_arn(const char *s, api_role_arn *out)
{
    static const char *const partitions[] = {"aws-us-gov", "aws-cn", "aws"};
    if (strncmp(s, "arn:", 4) != 0)
        return false;
    const char *p = s + 4;
    const char *partition = NULL;
    for (size_t i = 0; i < sizeof partitions / sizeof *partitions; i++) {
        size_t n = strlen(partitions[i]);
        if (strncmp(p, partitions[i], n) == 0 && p[n] == ':') {
            partition = partitions[i];
            p += n + 1;
            break;
        }
    }
    if (partition == NULL || strncmp(p, "iam::", 5) != 0)
        return false;
    p += 5;
    for (int i = 0; i < 12; i++)
        if (!is_digit(p[i]))
            return false;
    if (strncmp(p + 12, ":role/", 6) != 0)
        return false;
    const char *rest = p + 18;
    if (!api_input_is_role_path_name(rest))
        return false;
    if (out) {
        snprintf(out->partition, sizeof out->partition, "%s", partition);
        memcpy(out->account_id, p, 12);
        out->account_id[12] = '\0';
        const char *slash = strrchr(rest, '/');
        out->name = slash ? slash + 1 : rest;
    }
    return true;
}

bool api_input_role_arn(api_req *r, const char *name, const char *value, api_role_arn *out)
{
    if (api_input_parse_role_arn(value, out))
        return true;
    return api_input_fail_field(r, name, value,
                                "arn:<aws|aws-cn|aws-us-gov>:iam::<12 digits>:role/"
                                "<optional path/><name: 1-64 of A-Z a-z 0-9 +=,.@_->");
}

bool api_input_account_id(api_req *r, const char *name, const char *value)
{
    if (api_input_is_account_id(value))
        return true;
    return api_input_fail_field(r, name, value, "an AWS account id of exactly 12 digits");
}

bool api_input_opt_regions(api_req *r, const json_t *obj, const char *name, bool nullable,
                           json_t **out, api_field *state)
{
    json_t *arr;
    api_field st;
    *out = NULL;
    if (!api_input_opt_strings(r, obj, name, 8 * API_REGIONS_MAX, 32, nullable, &arr, &st))
        return false;
    if (state)
        *state = st;
    if (st != API_FIELD_SET)
        return true;
    json_t *uniq = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        const char *s = json_string_value(item);
        if (!api_input_is_region(s)) {
            char what[160];
            snprintf(what, sizeof what, "%s[%zu]", name, i);
            json_decref(uniq);
            return api_input_fail_field(r, what, s,
                                        "a region code like us-east-1, eu-central-2, "
                                        "us-gov-west-1 or cn-north-1");
        }
        bool seen = false;
        size_t j;
        json_t *u;
        json_array_foreach(uniq, j, u)
        {
            seen = seen || strcmp(json_string_value(u), s) == 0;
        }
        if (!seen)
            json_array_append(uniq, item);
    }
    if (json_array_size(uniq) > API_REGIONS_MAX) {
        size_t n = json_array_size(uniq);
        json_decref(uniq);
        return api_fail(r, 400, "invalid_field",
                        "field '%s' has %zu distinct regions: want at most %d", name, n,
                        API_REGIONS_MAX);
    }
    *out = uniq;
    return true;
}
