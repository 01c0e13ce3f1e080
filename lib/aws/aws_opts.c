#include "aws/aws_opts.h"

#include <string.h>

void aws_opts_client_options(const opts *o, aws_client_options *out)
{
    memset(out, 0, sizeof *out);
    out->region = opts_get_string(o, "region");
    out->endpoint_url = opts_get_string(o, "endpoint-url");
    out->connect_timeout_ms = (long)opts_get_duration_ms(o, "connect-timeout");
    out->timeout_ms = (long)opts_get_duration_ms(o, "timeout");
    out->max_attempts = (int)opts_get_int(o, "max-attempts");
    out->ca_file = opts_get_string(o, "ca-file");
}
