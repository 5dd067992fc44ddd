/* One reporter for plan/install progress. Three renderings of the same events:
 * - TTY: a live line per step with bytes, rate and ETA, redrawn in place;
 * - plain: one line per event (logs, serial consoles, pipes);
 * - JSON: one object per line ({"event":...}) for automation and PXE runs.
 * Callers pass only names, paths, sizes and digests: never secret values.
 * OWNER: install work (issue 9). */
#ifndef APPLIANCE_REPORT_H
#define APPLIANCE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum report_mode { REPORT_PLAIN = 0, REPORT_TTY, REPORT_JSON };

/* What happened to a step (also the plan's verdict for it). One table in
 * report.c maps these to their words. */
enum report_status {
	REPORT_TODO = 0,    /* plan: will run */
	REPORT_REDO,	    /* plan: ran before, must run again (why in detail) */
	REPORT_RESUME,	    /* plan: interrupted before, will resume */
	REPORT_SKIP,	    /* done before, inputs unchanged, result checks out */
	REPORT_DONE,	    /* ran now */
	REPORT_FAILED,	    /* ran now and failed */
	REPORT_UNAVAILABLE, /* the capability is not built into this binary */
	REPORT_NOTHING,	    /* nothing to do for this node/profile */
	REPORT_STOPPED,	    /* interrupted (Ctrl-C) */
	REPORT_BLOCKED,	    /* not run: a step it needs failed (why in detail) */
};

const char *report_status_name(enum report_status s);

struct report;

/* mode: REPORT_TTY is downgraded to plain when f is not a terminal. */
struct report *report_new(FILE *f, enum report_mode mode);
void report_free(struct report *r);
enum report_mode report_get_mode(const struct report *r);

/* Text modes: -1 quiet (what changes, what failed, the summary; a step's
 * title only when it shows something), 0 normal, 1 verbose (also every
 * step's inputs). JSON always has everything. */
void report_set_verbosity(struct report *r, int v);
/* A failed step shows its detail on its own line ("failed: DETAIL") instead
 * of "see below": for commands that do not print the failure again at the end
 * (apply, upgrade: several nodes may fail, each with its own reason). */
void report_set_inline_failures(struct report *r, bool on);
int report_get_verbosity(const struct report *r);

/* A run: command ("plan" | "install" | "apply" | "upgrade"), node name (NULL:
 * a run over several nodes), whether it applies. */
void report_begin(struct report *r, const char *command, const char *node, bool apply, int n_steps);

/* A step starts / ends. idx is 1-based. detail may be NULL. */
void report_step_begin(struct report *r, int idx, const char *step, const char *title);
void report_step_end(struct report *r, const char *step, enum report_status st, const char *detail);

/* Plan lines: what a step will change ("write", "partition", "erase", "file",
 * "firmware") or never touch ("keep"), and facts it found ("info"). */
void report_action(struct report *r, const char *step, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Byte progress inside the current step (total 0 when unknown). Cheap to call
 * often: the TTY redraws at most 10 times a second, plain prints every 10%. */
void report_progress(struct report *r, const char *step, uint64_t done, uint64_t total);

/* A new phase of byte progress inside the step (e.g. read-back after write):
 * rate and ETA start over. */
void report_progress_restart(struct report *r);

/* Free-form line (summary, hints); indented under its step when step is set. */
void report_note(struct report *r, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* End of the run: exit code and one-line outcome. */
void report_end(struct report *r, int exit_code, const char *outcome);

#endif
