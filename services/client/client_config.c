/* Login state file. Written through a temporary file created 0600 and renamed
 * over the old one, so the token is never readable by others even for a moment
 * and a crash never leaves half a file. */
#include "client_config.h"

#include "core/secure.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *config_dir(err *e)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && xdg[0])
        return xasprintf("%s/escher", xdg);
    const char *home = getenv("HOME");
    if (home && home[0])
        return xasprintf("%s/.config/escher", home);
    err_set(e, ERR_CONFIG, "neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login");
    return NULL;
}

char *client_config_path(err *e)
{
    char *dir = config_dir(e);
    if (!dir)
        return NULL;
    char *path = xasprintf("%s/config", dir);
    free(dir);
    return path;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

bool client_config_load(char **url, char **token, err *e)
{
    *url = NULL;
    *token = NULL;
    char *path = client_config_path(e);
    if (!path)
        return false;
    FILE *f = fopen(path, "r");
    if (!f) {
        bool ok = errno == ENOENT;
        if (!ok)
            err_set(e, ERR_IO, "cannot read %s: %s", path, strerror(errno));
        free(path);
        return ok;
    }
    /* The token acts as the user: say so when others can read it (login
     * writes 0600; a copy or an editor may not have kept that). */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr, "escher: warning: %s is readable by others (mode %03o): chmod 600 it\n",
                path, (unsigned)(st.st_mode & 0777));
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        const char *key = trim(line);
        const char *val = trim(eq + 1);
        if (strcmp(key, "server") == 0) {
            free(*url);
            *url = xstrdup(val);
        } else if (strcmp(key, "token") == 0) {
            free(*token);
            *token = xstrdup(val);
        }
    }
    secure_wipe(line, sizeof line);
    fclose(f);
    free(path);
    return true;
}

bool client_config_save(const char *url, const char *token, err *e)
{
    char *dir = config_dir(e);
    if (!dir)
        return false;
    char *path = xasprintf("%s/config", dir);
    char *tmp = xasprintf("%s/config.tmp.%ld", dir, (long)getpid());
    bool ok = false;
    /* Parents of the directory (e.g. ~/.config) get the usual mode; ours 0700. */
    char *parent = xstrdup(dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        mkdir(parent, 0755);
    }
    free(parent);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        err_set(e, ERR_IO, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(e, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        err_set(e, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fprintf(f,
            "# Written by 'escher login'. Keep private: the token acts as you.\n"
            "server = %s\ntoken = %s\n",
            url, token);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        err_set(e, ERR_IO, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    ok = true;
out:
    free(tmp);
    free(path);
    free(dir);
    return ok;
}
