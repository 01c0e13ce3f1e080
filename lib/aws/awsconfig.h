/* The AWS shared config and credentials files (~/.aws/config,
 * ~/.aws/credentials), read the way botocore reads them: Python configparser
 * rules (RawConfigParser) plus botocore's one level of nested sub-sections
 * and its profile map.
 *
 * File rules, as configparser has them:
 *  - `[section]` headers; anything after the last `]` is ignored;
 *  - `key = value` or `key: value`, split at the first `=` or `:`; keys are
 *    lower-cased, keys and values trimmed; no inline comments (`a = b # c`
 *    keeps "b # c");
 *  - lines whose first non-blank character is `#` or `;` are comments;
 *  - a line indented deeper than its key continues that key's value; a value
 *    that is empty on the key's line and continued below is a nested
 *    sub-section (`s3 =` then indented `key = value` lines);
 *  - a duplicate section or a duplicate key in one section, a key line
 *    before any section, a line without a delimiter: parse errors.
 *
 * Profiles: in the config file `[profile NAME]` (split like a shell word, so
 * `[profile "a b"]` names "a b") and `[default]`; in the credentials file
 * every section is a profile of that exact name. A key set in both files
 * takes the credentials file's value (botocore's full_config). */
#ifndef ESCHER_AWS_AWSCONFIG_H
#define ESCHER_AWS_AWSCONFIG_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct awsconfig awsconfig;

/* Parses INI text. `name` (usually the path) labels error messages, which
 * give the line number but never a value (credentials files hold secrets).
 * On success *out is a new object (free with awsconfig_free). Fails with
 * ERR_PARSE. */
bool awsconfig_parse(const char *text, size_t len, const char *name, awsconfig **out, err *e);

/* Reads and parses the file at path. A missing file is not an error: it
 * returns true with *out = NULL. Fails with ERR_IO (unreadable, or a
 * directory) or ERR_PARSE; messages name the path. */
bool awsconfig_load(const char *path, awsconfig **out, err *e);

/* Frees c, wiping values (they may be secrets). NULL is accepted. */
void awsconfig_free(awsconfig *c);

/* Sections in file order; names are owned by c. */
size_t awsconfig_section_count(const awsconfig *c);
const char *awsconfig_section_name(const awsconfig *c, size_t i);
/* True when c (may be NULL) has a section named exactly `section`. */
bool awsconfig_has_section(const awsconfig *c, const char *section);

/* Value of key (compare lower-case) in section; NULL when c is NULL or the
 * section or key is absent. A nested key's value is its raw text (starting
 * with a newline). Owned by c. */
const char *awsconfig_get(const awsconfig *c, const char *section, const char *key);
/* Value of subkey inside the nested key `key` (e.g. "s3", "addressing_style");
 * NULL when absent or when key is not nested. Owned by c. */
const char *awsconfig_get_nested(const awsconfig *c, const char *section, const char *key,
                                 const char *subkey);

/* Name of the config-file section that holds profile `profile`
 * ("profile NAME", or "default" for the default profile; when both forms
 * exist the later one in the file wins, as in botocore); NULL if none.
 * Owned by c. */
const char *awsconfig_profile_section(const awsconfig *c, const char *profile);

/* Splits a command line into words like Python's shlex.split (POSIX mode):
 * whitespace separates, single quotes are literal, double quotes allow
 * backslash-escaping of `"` and `\`, a backslash outside quotes escapes any
 * character. On success *argv_out is a NULL-terminated array (free with
 * awsconfig_free_words) and *argc_out its length. Fails with ERR_PARSE
 * ("no closing quotation", "no escaped character"). */
bool awsconfig_shell_split(const char *s, char ***argv_out, size_t *argc_out, err *e);
void awsconfig_free_words(char **argv);

/* Both shared files, merged into botocore's profile view. */
typedef struct aws_shared_files {
    char *config_path; /* as given, for messages */
    char *credentials_path;
    awsconfig *config;      /* NULL when the file does not exist */
    awsconfig *credentials; /* NULL when the file does not exist */
} aws_shared_files;

/* Loads both files (either may be missing). Fails like awsconfig_load; on
 * failure *out holds nothing to free. Free with aws_shared_files_free. */
bool aws_shared_files_load(const char *config_path, const char *credentials_path,
                           aws_shared_files *out, err *e);
void aws_shared_files_free(aws_shared_files *f);

/* True when profile exists in either file. */
bool aws_shared_files_has_profile(const aws_shared_files *f, const char *profile);
/* Profile setting, the credentials file winning over the config file; NULL if
 * absent. Owned by f. */
const char *aws_shared_files_get(const aws_shared_files *f, const char *profile, const char *key);
/* Path of the file that supplies aws_shared_files_get's value, for messages;
 * NULL if absent. */
const char *aws_shared_files_where(const aws_shared_files *f, const char *profile, const char *key);

#endif
