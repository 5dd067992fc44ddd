/* The install journal: one small file per step under STATE_DIR/journal/,
 * rewritten atomically (write_file_atomic: temp file, fsync, rename) when the
 * step starts and when it ends. A power cut leaves each file either at its
 * previous content or its new one, never torn. A lock file keeps two installs
 * from sharing one state directory. OWNER: install work (issue 9). */
#ifndef APPLIANCE_JOURNAL_H
#define APPLIANCE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

struct app_err;
struct buf;
struct journal;

enum journal_status { JOURNAL_NONE = 0, JOURNAL_STARTED, JOURNAL_DONE };

struct journal_entry {
	enum journal_status status;
	char inputs[65];	     /* sha256 hex of the step's inputs */
	char result[512];	     /* what the step left behind (digest, partition, order) */
	long long started, finished; /* unix seconds */
	int runs;		     /* how many times the step was started */
	char problem[256];	     /* non-empty: the entry could not be read or made no sense,
				      * so it counts as not done (status JOURNAL_NONE); says why */
};

#define JOURNAL_ENTRY_MAX (64u << 10) /* a larger entry is not read: not done */

/* Parse one entry's text (what journal_get reads). 0 when it is a whole,
 * well-formed entry; else -EBADMSG, status JOURNAL_NONE and ret->problem set.
 * Pure: exposed for the fuzzer and the tests. */
int journal_parse(const char *text, size_t len, struct journal_entry *ret);

/* Open the state directory. lock (writers): create it and take an exclusive
 * lock on DIR/lock (-EBUSY when another run holds it); without lock
 * (readers: plan) nothing is created and a missing directory reads as empty. */
int journal_open(const char *dir, bool lock, struct journal **ret, struct app_err *e);
/* The same for command who ("install", "apply", "upgrade"): the lock file
 * names the holder ("upgrade 4242"), and -EBUSY says "in use by another
 * upgrade (pid 4242)" (who itself when the holder did not say). */
int journal_open_as(const char *dir, bool lock, const char *who, struct journal **ret, struct app_err *e);
void journal_close(struct journal *j);
const char *journal_dir(const struct journal *j);

/* Entry for step (status JOURNAL_NONE when never recorded). The journal is a
 * hint: an entry that cannot be read (unreadable, larger than
 * JOURNAL_ENTRY_MAX, garbage) reads as JOURNAL_NONE with ret->problem saying
 * why, never as an error; the next journal_begin rewrites it. */
int journal_get(struct journal *j, const char *step, struct journal_entry *ret, struct app_err *e);

/* Record that step starts with these inputs (keeps the run counter).
 * inputs_text ("key=value" lines, never secret values) is kept beside the
 * entry so a later plan can say which inputs changed. */
int journal_begin(struct journal *j, const char *step, const char *inputs, const char *inputs_text,
		  struct app_err *e);

/* The inputs text recorded by the last journal_begin of step ("" when none). */
int journal_inputs(struct journal *j, const char *step, struct buf *out, struct app_err *e);
/* Record that step finished with these inputs and result. */
int journal_done(struct journal *j, const char *step, const char *inputs, const char *result,
		 struct app_err *e);

#endif
