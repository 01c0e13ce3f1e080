/* Wire protocols and their error documents.
 *
 * Each AWS service speaks one protocol (botocore's metadata.protocol). An
 * error answer has a different shape in each; this turns any of them into an
 * err with code ERR_AWS, the HTTP status, the AWS error code, the message
 * and the request id. */
#ifndef ESCHER_AWS_AWSERROR_H
#define ESCHER_AWS_AWSERROR_H

#include "aws/http.h"
#include "core/err.h"

typedef enum aws_protocol {
    AWS_PROTO_QUERY,     /* STS, IAM, RDS, Auto Scaling, CloudWatch: <ErrorResponse><Error> */
    AWS_PROTO_EC2,       /* EC2: <Response><Errors><Error>, <RequestID> */
    AWS_PROTO_JSON,      /* JSON 1.0/1.1 (X-Amz-Target): {"__type","message"} */
    AWS_PROTO_REST_XML,  /* S3: <Error><Code> at the root, x-amz-request-id header */
    AWS_PROTO_REST_JSON, /* REST-JSON: x-amzn-ErrorType header or body "code"/"__type" */
} aws_protocol;

/* Name as botocore writes it ("query", "ec2", "json", "rest-xml", "rest-json"). */
const char *awserror_protocol_name(aws_protocol p);

/* Fills e from an error answer (status >= 300) of protocol p: ERR_AWS,
 * http_status, remote_code (e.g. "Throttling"; namespace prefixes such as
 * "com.amazonaws...#" stripped), request_id (body or x-amz-request-id /
 * x-amzn-RequestId header) and message "<Code>: <Message> (HTTP <status>)".
 * A body that cannot be parsed still yields an error naming the status and
 * the start of the body. Always returns false. */
bool awserror_from_response(aws_protocol p, const http_response *resp, err *e);

#endif
