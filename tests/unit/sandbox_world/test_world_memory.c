/* The 1,000-account x 4-region world fits well under 1 GiB. Measured as
 * the heap the world holds (the allocator's own count, under ASan its
 * allocator's), which is what the sandbox's RSS is made of; the figure is
 * printed for docs/performance.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "world.h"
#include "world_test.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
/* From ASan's runtime (sanitizer/allocator_interface.h, not always installed). */
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_in_use(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}
#endif

static void test_thousand_accounts_four_regions(void **state)
{
    (void)state;
    size_t before = heap_in_use();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    world *w = wt_world(1000, 4, 42);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sbx_principal p;
    /* Build the lookup tables too: the server holds them. */
    assert_true(world_find_key(w, w->accounts[999]->users[0]->keys[0]->id, &p));
    size_t bytes = heap_in_use() - before;

    size_t instances = 0, volumes = 0, keys = 0;
    for (size_t i = 0; i < w->naccounts; i++) {
        for (size_t r = 0; r < w->accounts[i]->nregions; r++) {
            instances += w->accounts[i]->regions[r]->ninstances;
            volumes += w->accounts[i]->regions[r]->nvolumes;
        }
        for (size_t u = 0; u < w->accounts[i]->nusers; u++)
            keys += w->accounts[i]->users[u]->nkeys;
    }
    double mib = (double)bytes / (1024.0 * 1024.0);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("world 1000 accounts x 4 regions: %zu accounts, %zu instances, %zu volumes, "
           "%zu access keys; heap %.1f MiB; generated in %.2f s\n",
           w->naccounts, instances, volumes, keys, mib, secs);
    assert_int_equal(w->naccounts, 1001);
    assert_true(instances > 40000);
    assert_true(bytes < (size_t)1 << 30);
    /* Well under: leave the server room for everything else. */
    assert_true(mib < 512);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousand_accounts_four_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
