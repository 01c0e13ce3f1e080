/* Fuzz target for the TZif reader and its POSIX footer parser: the input is
 * written as a zone file into a private $TZDIR and loaded; a loaded zone must
 * answer tz_to_local, tz_offset and tz_from_local consistently (every instant
 * is found again from its local time). */
#include "cron/tz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/escher-fuzz-tz-XXXXXX");
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof(path), "%s/Zone", dir);
        setenv("TZDIR", dir, 1);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    err e;
    tz_zone *z = tz_load("Zone", &e);
    unlink(path);
    if (!z) {
        if (e.code != ERR_INVALID)
            abort();
        return 0;
    }
    static const time_t probes[] = {-5000000000LL, -1,           0,
                                    1000000000,    1774746000,   2147483647,
                                    2147483648LL,  4102444800LL, 32503680000LL};
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        time_t t = probes[i], change, out[2];
        struct tm tm;
        int off;
        const char *abbr;
        tz_to_local(z, t, &tm, &off, &abbr);
        if (tz_offset(z, t, &change) != off || change <= t || strlen(abbr) > 64)
            abort();
        int n = tz_from_local(z, &tm, out);
        /* t itself has this local time; a fuzzed zone may have more than two
         * instants for it, of which only the earliest two are returned. */
        if (n < 1 || n > 2 || (n == 1 && out[0] != t)) {
            fprintf(stderr, "fuzz_cron_tz: instant %lld not found from its local time\n",
                    (long long)t);
            abort();
        }
    }
    tz_free(z);
    return 0;
}
