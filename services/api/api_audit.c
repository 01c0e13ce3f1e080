/* Routes of the audit area (placeholder until its handlers land). */
#include "api_route.h"

const api_route api_routes_audit[] = {
    {0},
};
