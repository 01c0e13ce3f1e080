/* The scenarios of test_worker, one file per area, run in this order by
 * test_worker.c's main (the last two read what all the others left). */
#ifndef ESCHER_TESTS_WORKER_WTESTS_H
#define ESCHER_TESTS_WORKER_WTESTS_H

/* test_worker_kinds.c */
void test_verify_outcomes(void **state);
void test_discover(void **state);

/* test_worker_life.c */
void test_many_at_once(void **state);
void test_sigkill_mid_job(void **state);
void test_sigterm_hands_back(void **state);
void test_sigterm_finishes_in_grace(void **state);
void test_cancel_running(void **state);

/* test_worker.c */
void test_call_log_assume_roles(void **state);
void test_no_secrets_in_logs_or_database(void **state);

#endif
