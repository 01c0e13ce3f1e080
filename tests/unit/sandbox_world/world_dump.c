/* Prints a generated world as JSON: how config/sandbox/example-world.json
 * is made (see config/sandbox/README.md), and a quick way to look at what
 * a seed generates.
 *
 *   sandbox_world_dump ACCOUNTS REGION[,REGION...] SEED EXTERNAL_ID NOW_ISO8601 */
#include "world.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REGIONS 32

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s ACCOUNTS REGION[,REGION...] SEED EXTERNAL_ID NOW_ISO8601\n",
                argv[0]);
        return 2;
    }
    const char *regions[MAX_REGIONS];
    size_t nregions = 0;
    char *list = argv[2], *save = NULL;
    for (char *r = strtok_r(list, ",", &save); r && nregions < MAX_REGIONS;
         r = strtok_r(NULL, ",", &save))
        regions[nregions++] = r;
    err e;
    time_t now;
    if (!timeutil_parse_iso8601(argv[5], &now, &e)) {
        fprintf(stderr, "%s\n", e.message);
        return 2;
    }
    world_params p = {atoi(argv[1]), regions, nregions, strtoull(argv[3], NULL, 10), argv[4], now};
    world *w = world_generate(&p, &e);
    if (w == NULL) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    char *text = world_save_json(w);
    fputs(text, stdout);
    free(text);
    world_free(w);
    return 0;
}
