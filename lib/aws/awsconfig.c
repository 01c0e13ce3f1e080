#include "aws/awsconfig.h"

#include "core/secure.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Shared files are small; a cap keeps a mistaken path (a log, /dev/zero)
 * from eating memory. */
#define AWSCONFIG_MAX_FILE (4u * 1024u * 1024u)

typedef struct kv {
    char *key;
    char *value;       /* configparser's joined value */
    struct kv *nested; /* parsed sub-section when value starts with '\n' */
    size_t nnested;
} kv;

typedef struct section {
    char *name;
    kv *items;
    size_t count;
    size_t cap;
} section;

struct awsconfig {
    section *sections;
    size_t count;
    size_t cap;
};

static void kv_wipe(kv *k)
{
    free(k->key);
    secure_free_string(k->value);
    for (size_t i = 0; i < k->nnested; i++)
        kv_wipe(&k->nested[i]);
    free(k->nested);
}

void awsconfig_free(awsconfig *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++) {
        section *s = &c->sections[i];
        for (size_t j = 0; j < s->count; j++)
            kv_wipe(&s->items[j]);
        free(s->items);
        free(s->name);
    }
    free(c->sections);
    free(c);
}

static char *trim_dup(const char *s, size_t len)
{
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return xstrndup(s, len);
}

static section *find_section(const awsconfig *c, const char *name)
{
    if (c == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->sections[i].name, name) == 0)
            return &c->sections[i];
    return NULL;
}

static kv *find_key(const section *s, const char *key)
{
    if (s == NULL || key == NULL)
        return NULL;
    for (size_t i = 0; i < s->count; i++)
        if (strcasecmp(s->items[i].key, key) == 0)
            return &s->items[i];
    return NULL;
}

/* botocore's _parse_nested: one level, `key = value` per non-blank line. */
static bool parse_nested(kv *k, const char *name, const char *secname, err *e)
{
    const char *p = k->value;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = trim_dup(p, len);
        if (line[0] != '\0') {
            char *eq = strchr(line, '=');
            if (eq == NULL) {
                free(line);
                return err_set(e, ERR_PARSE,
                               "%s: section [%s]: nested value of '%s' has a line without '='",
                               name, secname, k->key);
            }
            k->nested = xreallocarray(k->nested, k->nnested + 1, sizeof *k->nested);
            kv *n = &k->nested[k->nnested++];
            memset(n, 0, sizeof *n);
            n->key = trim_dup(line, (size_t)(eq - line));
            n->value = trim_dup(eq + 1, strlen(eq + 1));
        }
        secure_free_string(line);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return true;
}

static void rstrip(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
}

bool awsconfig_parse(const char *text, size_t len, const char *name, awsconfig **out, err *e)
{
    awsconfig *c = xcalloc(1, sizeof *c);
    section *cur = NULL;
    kv *opt = NULL;
    size_t opt_indent = 0;
    size_t lineno = 0;
    const char *p = text;
    const char *end = text + len;
    strbuf sb = STRBUF_INIT;
    *out = NULL;

    /* A BOM written by some Windows editors is not part of the first header. */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (memchr(p, '\0', (size_t)(le - p)) != NULL) {
            awsconfig_free(c);
            return err_set(e, ERR_PARSE, "%s: line %zu: NUL byte", name, lineno);
        }
        size_t ind = 0;
        while (p + ind < le && isspace((unsigned char)p[ind]))
            ind++;
        char *line = trim_dup(p, (size_t)(le - p));
        p = nl ? nl + 1 : end;

        if (line[0] == '#' || line[0] == ';') {
            secure_free_string(line);
            continue;
        }
        if (line[0] == '\0') {
            if (opt != NULL) {
                strbuf_reset(&sb);
                strbuf_puts(&sb, opt->value);
                strbuf_putc(&sb, '\n');
                secure_free_string(opt->value);
                opt->value = xstrdup(strbuf_str(&sb));
            }
            free(line);
            continue;
        }
        if (cur != NULL && opt != NULL && ind > opt_indent) {
            strbuf_reset(&sb);
            strbuf_puts(&sb, opt->value);
            strbuf_putc(&sb, '\n');
            strbuf_puts(&sb, line);
            secure_free_string(opt->value);
            opt->value = xstrdup(strbuf_str(&sb));
            secure_free_string(line);
            continue;
        }
        char *close = line[0] == '[' ? strrchr(line, ']') : NULL;
        if (close != NULL && close > line + 1) {
            char *secname = xstrndup(line + 1, (size_t)(close - line - 1));
            free(line);
            if (find_section(c, secname) != NULL) {
                err_set(e, ERR_PARSE, "%s: line %zu: section [%s] appears twice", name, lineno,
                        secname);
                free(secname);
                goto fail;
            }
            c->sections = xreallocarray(c->sections, c->count + 1, sizeof *c->sections);
            cur = &c->sections[c->count++];
            memset(cur, 0, sizeof *cur);
            cur->name = secname;
            opt = NULL;
            continue;
        }
        if (cur == NULL) {
            secure_free_string(line);
            err_set(e, ERR_PARSE, "%s: line %zu: a setting before any [section] header", name,
                    lineno);
            goto fail;
        }
        size_t d = strcspn(line, "=:");
        if (line[d] == '\0' || d == 0) {
            secure_free_string(line);
            err_set(e, ERR_PARSE, "%s: line %zu: expected 'name = value' in section [%s]", name,
                    lineno, cur->name);
            goto fail;
        }
        char *key = trim_dup(line, d);
        for (char *k = key; *k; k++)
            *k = (char)tolower((unsigned char)*k);
        if (find_key(cur, key) != NULL) {
            secure_free_string(line);
            err_set(e, ERR_PARSE, "%s: line %zu: '%s' set twice in section [%s]", name, lineno, key,
                    cur->name);
            free(key);
            goto fail;
        }
        if (cur->count == cur->cap) {
            cur->cap = cur->cap ? cur->cap * 2 : 8;
            cur->items = xreallocarray(cur->items, cur->cap, sizeof *cur->items);
        }
        opt = &cur->items[cur->count++];
        memset(opt, 0, sizeof *opt);
        opt->key = key;
        opt->value = trim_dup(line + d + 1, strlen(line + d + 1));
        opt_indent = ind;
        secure_free_string(line);
    }
    strbuf_free_secret(&sb);

    for (size_t i = 0; i < c->count; i++) {
        section *s = &c->sections[i];
        for (size_t j = 0; j < s->count; j++) {
            rstrip(s->items[j].value);
            if (s->items[j].value[0] == '\n' && !parse_nested(&s->items[j], name, s->name, e)) {
                awsconfig_free(c);
                return false;
            }
        }
    }
    *out = c;
    return true;

fail:
    strbuf_free_secret(&sb);
    awsconfig_free(c);
    return false;
}

bool awsconfig_load(const char *path, awsconfig **out, err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return true;
        return err_set(e, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return err_set(e, ERR_IO, "cannot read '%s': is a directory", path);
    }
    strbuf sb = STRBUF_INIT;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (sb.len + n > AWSCONFIG_MAX_FILE) {
            fclose(f);
            strbuf_free_secret(&sb);
            secure_wipe(buf, sizeof buf);
            return err_set(e, ERR_LIMIT, "'%s' is larger than %u bytes", path, AWSCONFIG_MAX_FILE);
        }
        strbuf_append(&sb, buf, n);
    }
    bool failed = ferror(f) != 0;
    int saved = errno;
    fclose(f);
    secure_wipe(buf, sizeof buf);
    if (failed) {
        strbuf_free_secret(&sb);
        return err_set(e, ERR_IO, "cannot read '%s': %s", path, strerror(saved));
    }
    bool ok = awsconfig_parse(sb.buf ? sb.buf : "", sb.len, path, out, e);
    strbuf_free_secret(&sb);
    return ok;
}

size_t awsconfig_section_count(const awsconfig *c)
{
    return c ? c->count : 0;
}

const char *awsconfig_section_name(const awsconfig *c, size_t i)
{
    return (c && i < c->count) ? c->sections[i].name : NULL;
}

bool awsconfig_has_section(const awsconfig *c, const char *s)
{
    return find_section(c, s) != NULL;
}

const char *awsconfig_get(const awsconfig *c, const char *s, const char *key)
{
    kv *k = find_key(find_section(c, s), key);
    return k ? k->value : NULL;
}

const char *awsconfig_get_nested(const awsconfig *c, const char *s, const char *key,
                                 const char *subkey)
{
    kv *k = find_key(find_section(c, s), key);
    if (k == NULL)
        return NULL;
    for (size_t i = 0; i < k->nnested; i++)
        if (strcmp(k->nested[i].key, subkey) == 0)
            return k->nested[i].value;
    return NULL;
}

const char *awsconfig_profile_section(const awsconfig *c, const char *profile)
{
    const char *found = NULL;
    if (c == NULL || profile == NULL)
        return NULL;
    for (size_t i = 0; i < c->count; i++) {
        const char *name = c->sections[i].name;
        if (strcmp(name, "default") == 0) {
            if (strcmp(profile, "default") == 0)
                found = name;
            continue;
        }
        /* botocore: startswith("profile") and shlex.split gives two words. */
        if (strncmp(name, "profile", 7) != 0)
            continue;
        char **words = NULL;
        size_t nwords = 0;
        if (!awsconfig_shell_split(name, &words, &nwords, NULL))
            continue;
        if (nwords == 2 && strcmp(words[0], "profile") == 0 && strcmp(words[1], profile) == 0)
            found = name;
        awsconfig_free_words(words);
    }
    return found;
}

bool awsconfig_shell_split(const char *s, char ***argv_out, size_t *argc_out, err *e)
{
    char **argv = xcalloc(1, sizeof *argv);
    size_t argc = 0;
    strbuf word = STRBUF_INIT;
    bool in_word = false;
    const char *p = s;

    *argv_out = NULL;
    if (argc_out)
        *argc_out = 0;
    for (;;) {
        char ch = *p;
        if (ch == '\0' || isspace((unsigned char)ch)) {
            if (in_word) {
                argv = xreallocarray(argv, argc + 2, sizeof *argv);
                argv[argc++] = strbuf_detach(&word);
                argv[argc] = NULL;
                in_word = false;
            }
            if (ch == '\0')
                break;
            p++;
            continue;
        }
        in_word = true;
        if (ch == '\'') {
            const char *q = strchr(p + 1, '\'');
            if (q == NULL)
                goto unclosed;
            strbuf_append(&word, p + 1, (size_t)(q - p - 1));
            p = q + 1;
        } else if (ch == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    goto unclosed;
                if (*p == '"') {
                    p++;
                    break;
                }
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                    strbuf_putc(&word, p[1]);
                    p += 2;
                    continue;
                }
                strbuf_putc(&word, *p++);
            }
        } else if (ch == '\\') {
            if (p[1] == '\0') {
                strbuf_free(&word);
                awsconfig_free_words(argv);
                return err_set(e, ERR_PARSE, "no escaped character after a final backslash");
            }
            strbuf_putc(&word, p[1]);
            p += 2;
        } else {
            strbuf_putc(&word, ch);
            p++;
        }
        /* An empty quoted word ("") still counts as a word. */
        if (word.buf == NULL)
            strbuf_puts(&word, "");
    }
    *argv_out = argv;
    if (argc_out)
        *argc_out = argc;
    return true;

unclosed:
    strbuf_free(&word);
    awsconfig_free_words(argv);
    return err_set(e, ERR_PARSE, "no closing quotation");
}

void awsconfig_free_words(char **argv)
{
    if (argv == NULL)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

bool aws_shared_files_load(const char *config_path, const char *credentials_path,
                           aws_shared_files *out, err *e)
{
    memset(out, 0, sizeof *out);
    awsconfig *cfg = NULL, *cred = NULL;
    if (!awsconfig_load(config_path, &cfg, e))
        return false;
    if (!awsconfig_load(credentials_path, &cred, e)) {
        awsconfig_free(cfg);
        return false;
    }
    out->config_path = xstrdup(config_path);
    out->credentials_path = xstrdup(credentials_path);
    out->config = cfg;
    out->credentials = cred;
    return true;
}

void aws_shared_files_free(aws_shared_files *f)
{
    if (f == NULL)
        return;
    free(f->config_path);
    free(f->credentials_path);
    awsconfig_free(f->config);
    awsconfig_free(f->credentials);
    memset(f, 0, sizeof *f);
}

bool aws_shared_files_has_profile(const aws_shared_files *f, const char *profile)
{
    return awsconfig_has_section(f->credentials, profile) ||
           awsconfig_profile_section(f->config, profile) != NULL;
}

const char *aws_shared_files_get(const aws_shared_files *f, const char *profile, const char *key)
{
    const char *v = awsconfig_get(f->credentials, profile, key);
    if (v != NULL)
        return v;
    return awsconfig_get(f->config, awsconfig_profile_section(f->config, profile), key);
}

const char *aws_shared_files_where(const aws_shared_files *f, const char *profile, const char *key)
{
    if (awsconfig_get(f->credentials, profile, key) != NULL)
        return f->credentials_path;
    if (awsconfig_get(f->config, awsconfig_profile_section(f->config, profile), key) != NULL)
        return f->config_path;
    return NULL;
}
