#include "fixture.h"

#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>

char *fixture_load(const char *rel, size_t *len)
{
    const char *dir = getenv("ESCHER_TEST_DATA");
    if (dir == NULL) {
        fprintf(stderr, "ESCHER_TEST_DATA is not set\n");
        abort();
    }
    char *path = xasprintf("%s/aws/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        abort();
    }
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    fclose(f);
    free(path);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}
