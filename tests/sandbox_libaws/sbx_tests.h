/* The tests of test_libaws_sandbox, by file. Each runs against g_sbx; the
 * mode-taking ones run once blocking and once asynchronous (cmocka state
 * points at the sbx_mode). */
#ifndef ESCHER_TESTS_SANDBOX_LIBAWS_TESTS_H
#define ESCHER_TESTS_SANDBOX_LIBAWS_TESTS_H

/* test_identity.c */
void test_profiles(void **state);
void test_caller_identity(void **state);
void test_assume_role(void **state);
void test_errors(void **state);
void test_endpoint_from_environment(void **state);

/* test_readonly.c */
void test_readonly(void **state);
void test_blocking_wrappers(void **state);

/* test_paging.c */
void test_paging(void **state);

/* test_mutate.c */
void test_ec2_lifecycle(void **state);
void test_ec2_tags(void **state);
void test_ebs(void **state);
void test_rds(void **state);
void test_iam_credential_report(void **state);
void test_autoscaling_update(void **state);

#endif
