/* base/util.c's monotonic clock and sleep (util_mono_ms, util_sleep_ms), the
 * one pair the network, NAS, day-2 and report code share: a sleep lasts its
 * whole time although signals keep interrupting it (nanosleep's EINTR is
 * resumed with the time left), and a report step's seconds cover the time it
 * took. Lower bounds only: nothing here asserts a speed. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include "base/util.h"
#include "install/report.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM every 2 ms, delivered without SA_RESTART: each one ends nanosleep
 * early with EINTR. */
static void interrupt_every_2ms(bool on)
{
	struct itimerval it = { { 0, on ? 2000 : 0 }, { 0, on ? 2000 : 0 } };
	struct sigaction sa = { 0 };

	sa.sa_handler = on ? on_alarm : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void test_sleep_survives_signals(void **state)
{
	long t0, slept;

	(void)state;
	alarms = 0;
	interrupt_every_2ms(true);
	t0 = util_mono_ms();
	util_sleep_ms(60);
	slept = util_mono_ms() - t0;
	interrupt_every_2ms(false);
	assert_true(alarms > 0);  /* it was interrupted... */
	assert_true(slept >= 60); /* ...and still slept its whole time */
}

static void test_sleep_zero_returns(void **state)
{
	long t0 = util_mono_ms();

	(void)state;
	util_sleep_ms(0);
	assert_true(util_mono_ms() >= t0); /* monotonic: never backwards */
}

/* report.c times a step with the same clock: its seconds cover the sleep */
static void test_report_step_seconds(void **state)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct report *r = report_new(f, REPORT_JSON);
	double secs;

	(void)state;
	report_begin(r, "install", "n1", true, 1);
	report_step_begin(r, 1, "s", "a step");
	util_sleep_ms(40);
	report_step_end(r, "s", REPORT_DONE, NULL);
	report_free(r);
	fclose(f);
	p = strstr(text, "\"seconds\":");
	assert_non_null(p);
	secs = strtod(p + strlen("\"seconds\":"), NULL);
	assert_true(secs >= 0.040);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sleep_survives_signals),
		cmocka_unit_test(test_sleep_zero_returns),
		cmocka_unit_test(test_report_step_seconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
