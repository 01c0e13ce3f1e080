/* Helpers shared by the sandbox world tests. */
#ifndef ESCHER_TEST_WORLD_TEST_H
#define ESCHER_TEST_WORLD_TEST_H

#include "world.h"

#include <stdbool.h>
#include <stddef.h>

/* The generation time every test world uses: 2025-06-15T15:06:40Z. */
#define WT_NOW         ((time_t)1750000000)
#define WT_EXTERNAL_ID "test-external-id-0123456789"

/* A world of `accounts` members in the first `nregions` of us-east-1,
 * eu-west-1, us-west-2, ap-southeast-2; fails the test if generation fails. */
world *wt_world(int accounts, size_t nregions, uint64_t seed);

/* True when s is prefix + exactly n characters of a class: "0" digits,
 * "0a" lower-case hex, "a0" lower-case alphanumerics, "A2" A-Z and 2-7. */
bool wt_matches(const char *s, const char *prefix, const char *cls, size_t n);

/* A new session for role_name in account a, as AssumeRole would make it
 * (not yet added to the world). */
sbx_session *wt_session(world *w, const sbx_account *a, const char *role_name, time_t expiration);

#endif
