/* Fuzz target for the cron parser: any bytes either parse or fail with
 * ERR_INVALID; a parsed expression's canonical text parses to the same text,
 * and cron_next in UTC and Europe/Berlin returns a later instant or
 * ERR_NOT_FOUND. Built with libFuzzer under ESCHER_FUZZ=ON (clang), and
 * replayed over tests/fuzz/corpus/cron by fuzz_replay.c in every build. */
#include "cron/cron.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *text)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cron: %s for input '%s'\n", what, text);
        abort();
    }
}

static tz_zone *load_once(tz_zone **slot, const char *name)
{
    if (!*slot) {
        err e;
        *slot = tz_load(name, &e);
        if (!*slot) {
            fprintf(stderr, "fuzz_cron: %s\n", e.message);
            abort();
        }
    }
    return *slot;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tz_zone *utc, *berlin;
    tz_zone *zones[2] = {load_once(&utc, "UTC"), load_once(&berlin, "Europe/Berlin")};
    if (size > 4096)
        return 0;
    /* The first 4 bytes, when present, pick the start instant; the rest is the text. */
    time_t after = 1774800000; /* 2026-03-29T16:00:00Z */
    if (size >= 5 && data[0] == 0xff) {
        uint32_t v =
            (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
        after = (time_t)v; /* 1970-2106 */
        data += 5;
        size -= 5;
    }
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    cron_expr *c = NULL;
    err e;
    if (!cron_parse(text, &c, &e)) {
        check(c == NULL && e.code == ERR_INVALID && e.message[0] != '\0', "bad failure", text);
        free(text);
        return 0;
    }
    char *canon = cron_text(c);
    cron_expr *again = NULL;
    check(cron_parse(canon, &again, &e), "canonical text does not parse", text);
    char *canon2 = cron_text(again);
    check(strcmp(canon, canon2) == 0, "canonical text is not a fixed point", text);
    for (int i = 0; i < 2; i++) {
        time_t t = after, next;
        for (int k = 0; k < 4; k++) {
            if (!cron_next(c, zones[i], t, &next, &e)) {
                check(e.code == ERR_NOT_FOUND, "cron_next failed oddly", text);
                break;
            }
            check(next > t && next <= t + 5 * 366 * 86400LL, "cron_next out of order", text);
            time_t next2;
            check(cron_next(again, zones[i], t, &next2, &e) && next2 == next,
                  "canonical text fires differently", text);
            t = next;
        }
    }
    free(canon);
    free(canon2);
    cron_free(again);
    cron_free(c);
    free(text);
    return 0;
}
