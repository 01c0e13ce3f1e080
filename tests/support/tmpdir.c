/* See tmpdir.h. */
#include "support/tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void tmpdir_make(char *out, size_t n, const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, n, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    if (mkdtemp(out) == NULL) {
        fprintf(stderr, "tmpdir: mkdtemp %s: %s\n", out, strerror(errno));
        abort();
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tmpdir_remove(const char *dir)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
