#include "install/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "base/wrap.h"

struct report {
	FILE *f;
	enum report_mode mode;
	int n_steps;
	/* current step */
	char step[64];
	double step_t0;
	double prog_t0; /* start of the current progress phase (rate, ETA) */
	double last_draw;
	int last_pct;
	bool line_open; /* TTY: a progress line is being redrawn */
	int verbosity;	/* -1 quiet, 0 normal, 1 verbose (text modes only) */
	bool begun;	/* quiet: the current step's title is not printed yet */
	int idx;
	char title[160];
	bool inline_failures; /* a failure's detail on its step, not "see below" */
};

void report_set_verbosity(struct report *r, int v)
{
	r->verbosity = v;
}

void report_set_inline_failures(struct report *r, bool on)
{
	r->inline_failures = on;
}

int report_get_verbosity(const struct report *r)
{
	return r->verbosity;
}

/* quiet: a step's title only once it has something to show */
static void quiet_title(struct report *r)
{
	if (r->verbosity < 0 && !r->begun) {
		fprintf(r->f, "[%d/%d] %s: %s\n", r->idx, r->n_steps, r->step, r->title);
		r->begun = true;
	}
}

static const char *const status_names[] = {
	[REPORT_TODO] = "todo",
	[REPORT_REDO] = "redo",
	[REPORT_RESUME] = "resume",
	[REPORT_SKIP] = "skip",
	[REPORT_DONE] = "done",
	[REPORT_FAILED] = "failed",
	[REPORT_UNAVAILABLE] = "not-available",
	[REPORT_NOTHING] = "nothing-to-do",
	[REPORT_STOPPED] = "stopped",
	[REPORT_BLOCKED] = "blocked",
};

const char *report_status_name(enum report_status s)
{
	if ((size_t)s >= sizeof(status_names) / sizeof(status_names[0]) || !status_names[s])
		return "unknown";
	return status_names[s];
}

/* Seconds on the monotonic clock (step times, rate and ETA). */
static double now(void)
{
	return (double)util_mono_ms() / 1e3;
}

struct report *report_new(FILE *f, enum report_mode mode)
{
	struct report *r = xcalloc(1, sizeof(*r));

	r->f = f;
	if (mode == REPORT_TTY && !isatty(fileno(f)))
		mode = REPORT_PLAIN;
	r->mode = mode;
	return r;
}

void report_free(struct report *r)
{
	free(r);
}

enum report_mode report_get_mode(const struct report *r)
{
	return r->mode;
}

static void close_line(struct report *r)
{
	if (r->line_open) {
		fputs("\r\033[K", r->f);
		r->line_open = false;
	}
}

/* JSON object helpers: {"event":E,"step":S ... } */
static void j_open(struct report *r, const char *event, const char *step)
{
	fputs("{\"event\":", r->f);
	json_str(r->f, event);
	if (step) {
		fputs(",\"step\":", r->f);
		json_str(r->f, step);
	}
}

static void j_kv(struct report *r, const char *k, const char *v)
{
	fprintf(r->f, ",\"%s\":", k);
	json_str(r->f, v);
}

static void j_close(struct report *r)
{
	fputs("}\n", r->f);
	fflush(r->f);
}

void report_begin(struct report *r, const char *command, const char *node, bool apply, int n_steps)
{
	r->n_steps = n_steps;
	if (r->mode == REPORT_JSON) {
		j_open(r, "begin", NULL);
		j_kv(r, "command", command);
		j_kv(r, "node", node);
		fprintf(r->f, ",\"apply\":%s,\"steps\":%d", apply ? "true" : "false", n_steps);
		j_close(r);
		return;
	}
	/* node NULL: a run over several nodes (apply, upgrade) */
	fprintf(r->f, "%s%s%s%s (%d step%s)%s\n", command, node ? " for node '" : "", node ? node : "",
		node ? "'" : "", n_steps, n_steps == 1 ? "" : "s",
		apply ? "" : ": dry run (the default), nothing is changed");
	fflush(r->f);
}

void report_step_begin(struct report *r, int idx, const char *step, const char *title)
{
	snprintf(r->step, sizeof(r->step), "%s", step);
	r->step_t0 = r->prog_t0 = now();
	r->last_draw = 0;
	r->last_pct = -1;
	if (r->mode == REPORT_JSON) {
		j_open(r, "step-begin", step);
		fprintf(r->f, ",\"index\":%d,\"total\":%d", idx, r->n_steps);
		j_kv(r, "title", title);
		j_close(r);
		return;
	}
	close_line(r);
	r->idx = idx;
	snprintf(r->title, sizeof(r->title), "%s", title);
	r->begun = false;
	if (r->verbosity < 0)
		return;
	fprintf(r->f, "[%d/%d] %s: %s\n", idx, r->n_steps, step, title);
	fflush(r->f);
}

/* Text modes: one detail for people, digests short, wrapped at WRAP_WIDTH
 * (JSON keeps the full text). */
static void text_line(struct report *r, const char *prefix, const char *text, int hang)
{
	char *t = wrap_short_hex(text);
	wrap_print(r->f, prefix, t, hang);
	free(t);
}

/* A note: a command to paste ("appliance ...") keeps every character and
 * wraps with " \"; a column-aligned note ("write-image       image ...")
 * continues under its second column; any other under its own indentation. */
static void text_note(struct report *r, const char *prefix, const char *text)
{
	size_t lead = strspn(text, " "), pl = strlen(prefix);
	const char *gap;

	if (strncmp(text + lead, "appliance ", 10) == 0) {
		wrap_command(r->f, prefix, text, (int)(pl + lead + 4));
		return;
	}
	gap = strstr(text + lead, "  ");
	if (gap && gap - text < 30 && !memchr(text + lead, ' ', (size_t)(gap - text - (long)lead)))
		text_line(r, prefix, text, (int)(pl + (size_t)(gap - text) + strspn(gap, " ")));
	else
		text_line(r, prefix, text, (int)(pl + lead + 2));
}

void report_step_end(struct report *r, const char *step, enum report_status st, const char *detail)
{
	double secs = r->step_t0 > 0 ? now() - r->step_t0 : 0;

	if (r->mode == REPORT_JSON) {
		j_open(r, "step-end", step);
		j_kv(r, "status", report_status_name(st));
		if (detail)
			j_kv(r, "detail", detail);
		fprintf(r->f, ",\"seconds\":%.3f", secs);
		j_close(r);
		return;
	}
	close_line(r);
	/* quiet keeps the last step's end: the summary's counts (how many failed, blocked) */
	if (r->verbosity < 0 && st != REPORT_FAILED && st != REPORT_BLOCKED && st != REPORT_STOPPED &&
	    r->idx != r->n_steps) {
		r->step_t0 = 0;
		return;
	}
	quiet_title(r);
	if (st == REPORT_FAILED && !(r->inline_failures && detail && *detail))
		/* the command prints the failure, once, at the end */
		fprintf(r->f, "      %s (%.1fs): see below\n", report_status_name(st), secs);
	else if (detail && *detail) {
		char prefix[32], *text = xasprintf("%s (%.1fs)", detail, secs);
		snprintf(prefix, sizeof(prefix), "      %s: ", report_status_name(st));
		text_line(r, prefix, text, 8);
		free(text);
	} else
		fprintf(r->f, "      %s (%.1fs)\n", report_status_name(st), secs);
	fflush(r->f);
	r->step_t0 = 0;
}

static void vline(struct report *r, const char *event, const char *step, const char *kind, const char *fmt,
		  va_list ap)
{
	char *text;

	if (vasprintf(&text, fmt, ap) < 0)
		return;
	if (r->mode == REPORT_JSON) {
		j_open(r, event, step);
		if (kind)
			j_kv(r, "kind", kind);
		j_kv(r, "text", text);
		j_close(r);
	} else if (r->verbosity < 0 &&
		   (!kind || strcmp(kind, "info") == 0 || strcmp(kind, "ok") == 0 ||
		    strcmp(kind, "skip") == 0) &&
		   step && strcmp(step, "summary") != 0) {
		/* quiet: what changes and what went wrong, not the facts that checked out */
	} else {
		close_line(r);
		quiet_title(r);
		if (kind) {
			char prefix[32];
			snprintf(prefix, sizeof(prefix), "      %-9s ", kind);
			text_line(r, prefix, text, 16);
		} else /* notes of a step are indented under it */
			text_note(r, step ? "      " : "", text);
		fflush(r->f);
	}
	free(text);
}

void report_action(struct report *r, const char *step, const char *kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(r, "action", step, kind, fmt, ap);
	va_end(ap);
}

void report_note(struct report *r, const char *step, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(r, "note", step, NULL, fmt, ap);
	va_end(ap);
}

void report_progress(struct report *r, const char *step, uint64_t done, uint64_t total)
{
	double t = now(), el = r->prog_t0 > 0 ? t - r->prog_t0 : 0;
	double rate = el >= 0.05 ? (double)done / el : 0; /* too early to tell: no rate */
	double eta = (rate > 0 && total > done) ? (double)(total - done) / rate : 0;
	int pct = total ? (int)(done * 100 / total) : -1;
	char hd[32], ht[32], hr[32], he[32];

	if (done == 0 && total == 0)
		return; /* nothing known yet */
	switch (r->mode) {
	case REPORT_JSON:
		if (pct == r->last_pct && t - r->last_draw < 1.0 && done != total)
			return;
		r->last_pct = pct;
		r->last_draw = t;
		j_open(r, "progress", step);
		fprintf(r->f, ",\"bytes\":%llu,\"total\":%llu,\"rate\":%.0f,\"eta\":%.1f",
			(unsigned long long)done, (unsigned long long)total, rate, eta);
		j_close(r);
		return;
	case REPORT_PLAIN:
		if (pct / 10 == r->last_pct / 10 && r->last_pct >= 0 && done != total)
			return;
		if (pct == r->last_pct)
			return;
		r->last_pct = pct;
		break;
	case REPORT_TTY:
		if (t - r->last_draw < 0.1 && done != total)
			return;
		r->last_draw = t;
		break;
	}
	fmt_bytes(done, hd, sizeof(hd));
	fmt_bytes(total, ht, sizeof(ht));
	if (rate > 0) {
		fmt_bytes((uint64_t)rate, hr, sizeof(hr) - 2);
		strcat(hr, "/s");
		snprintf(he, sizeof(he), "%.0fs", eta);
	} else {
		snprintf(hr, sizeof(hr), "-");
		snprintf(he, sizeof(he), "-");
	}
	if (r->mode == REPORT_TTY) {
		int w = 30, fill = total ? (int)((double)done / (double)total * w) : 0;
		fprintf(r->f, "\r\033[K      [");
		for (int i = 0; i < w; i++)
			fputc(i < fill ? '#' : '.', r->f);
		fprintf(r->f, "] %s / %s  %s  ETA %s", hd, ht, hr, he);
		r->line_open = true;
	} else {
		fprintf(r->f, "      %3d%%  %s / %s  %s  ETA %s\n", pct < 0 ? 0 : pct, hd, ht, hr, he);
	}
	fflush(r->f);
}

void report_progress_restart(struct report *r)
{
	r->prog_t0 = now();
	r->last_draw = 0;
	r->last_pct = -1;
}

void report_end(struct report *r, int exit_code, const char *outcome)
{
	if (r->mode == REPORT_JSON) {
		j_open(r, "end", NULL);
		fprintf(r->f, ",\"exit\":%d", exit_code);
		j_kv(r, "outcome", outcome);
		j_close(r);
		return;
	}
	close_line(r);
	/* line by line: the outcome may end with the command to run next */
	for (const char *l = outcome; l && *l;) {
		const char *nl = strchr(l, '\n');
		char *line = xstrndup(l, nl ? (size_t)(nl - l) : strlen(l));
		text_note(r, "", line);
		free(line);
		l = nl ? nl + 1 : NULL;
	}
	fflush(r->f);
}
