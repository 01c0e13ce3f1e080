/* The table of every simulated service. Each svc_<name>.c defines one
 * sbx_service; CMake defines SBX_HAVE_SVC_<NAME> for the files present, so a
 * service not written yet is simply absent (its requests answer as an
 * unknown service) instead of breaking the link. */
#include "call.h"

#if SBX_HAVE_SVC_STS
extern const sbx_service svc_sts;
#endif
#if SBX_HAVE_SVC_IAM
extern const sbx_service svc_iam;
#endif
#if SBX_HAVE_SVC_ORGANIZATIONS
extern const sbx_service svc_organizations;
#endif
#if SBX_HAVE_SVC_EC2
extern const sbx_service svc_ec2;
#endif
#if SBX_HAVE_SVC_RDS
extern const sbx_service svc_rds;
#endif
#if SBX_HAVE_SVC_S3
extern const sbx_service svc_s3;
#endif
#if SBX_HAVE_SVC_CLOUDTRAIL
extern const sbx_service svc_cloudtrail;
#endif
#if SBX_HAVE_SVC_CLOUDWATCH
extern const sbx_service svc_cloudwatch;
#endif
#if SBX_HAVE_SVC_CE
extern const sbx_service svc_ce;
#endif
#if SBX_HAVE_SVC_AUTOSCALING
extern const sbx_service svc_autoscaling;
#endif

const sbx_service *const sbx_services[] = {
#if SBX_HAVE_SVC_STS
    &svc_sts,
#endif
#if SBX_HAVE_SVC_IAM
    &svc_iam,
#endif
#if SBX_HAVE_SVC_ORGANIZATIONS
    &svc_organizations,
#endif
#if SBX_HAVE_SVC_EC2
    &svc_ec2,
#endif
#if SBX_HAVE_SVC_RDS
    &svc_rds,
#endif
#if SBX_HAVE_SVC_S3
    &svc_s3,
#endif
#if SBX_HAVE_SVC_CLOUDTRAIL
    &svc_cloudtrail,
#endif
#if SBX_HAVE_SVC_CLOUDWATCH
    &svc_cloudwatch,
#endif
#if SBX_HAVE_SVC_CE
    &svc_ce,
#endif
#if SBX_HAVE_SVC_AUTOSCALING
    &svc_autoscaling,
#endif
    NULL, /* keeps the array non-empty before any service exists */
};

const size_t sbx_nservices = sizeof sbx_services / sizeof sbx_services[0] - 1;
