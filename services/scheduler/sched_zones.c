/* The zone cache. See sched_zones.h. A linear search: tenants use a few
 * dozen zones at most, and a name compare costs less than hashing. */
#include "sched_zones.h"

#include "core/xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct sched_zones {
    tz_zone **zones;
    size_t n, cap;
};

sched_zones *sched_zones_new(void)
{
    return xcalloc(1, sizeof(sched_zones));
}

void sched_zones_free(sched_zones *zs)
{
    if (zs == NULL)
        return;
    for (size_t i = 0; i < zs->n; i++)
        tz_free(zs->zones[i]);
    free(zs->zones);
    free(zs);
}

const tz_zone *sched_zones_get(sched_zones *zs, const char *name, err *e)
{
    for (size_t i = 0; i < zs->n; i++)
        if (strcmp(tz_name(zs->zones[i]), name) == 0)
            return zs->zones[i];
    tz_zone *z = tz_load(name, e);
    if (z == NULL)
        return NULL;
    if (zs->n == zs->cap) {
        zs->cap = zs->cap ? zs->cap * 2 : 8;
        zs->zones = xreallocarray(zs->zones, zs->cap, sizeof *zs->zones);
    }
    zs->zones[zs->n++] = z;
    return z;
}
