/* Allocation that never returns NULL: on failure it prints what was asked for
 * and aborts, because a daemon out of memory cannot recover meaningfully and
 * checking every allocation would drown the real error handling. */
#ifndef ESCHER_CORE_XMALLOC_H
#define ESCHER_CORE_XMALLOC_H

#include <stddef.h>

/* All return memory the caller owns and frees with free(). Abort on failure. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grows an array to hold at least `count` items of `size`, checking for overflow. */
void *xreallocarray(void *ptr, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* memdup: copies n bytes and appends a NUL so text bodies can be used as strings. */
void *xmemdup(const void *p, size_t n);

#endif
