#include "install/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"

struct journal {
	char *dir;
	int lock_fd;
};

static const char *const status_words[] = {
	[JOURNAL_NONE] = "none",
	[JOURNAL_STARTED] = "started",
	[JOURNAL_DONE] = "done",
};

/* Temp files of write_file_atomic() left by a power cut during a write. */
static void remove_stale_temps(const char *dir)
{
	char *p = xasprintf("%s/journal", dir);
	DIR *d = opendir(p);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strstr(de->d_name, ".tmp.")) {
			char *f = xasprintf("%s/%s", p, de->d_name);
			unlink(f);
			free(f);
		}
	if (d)
		closedir(d);
	free(p);
}

int journal_open(const char *dir, bool lock, struct journal **ret, struct app_err *e)
{
	struct journal *j;
	char *p;
	int r, fd = -1;

	if (lock) { /* a reader (plan) creates nothing: a missing journal reads as empty */
		r = mkdir_p(dir, 0700, e);
		if (r < 0)
			return r;
		p = xasprintf("%s/journal", dir);
		r = mkdir_p(p, 0700, e);
		free(p);
		if (r < 0)
			return r;
		remove_stale_temps(dir);
		p = xasprintf("%s/lock", dir);
		fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = app_err_set(e, -errno, "state directory '%s': cannot open lock file: %s", dir,
					strerror(errno));
			free(p);
			return r;
		}
		free(p);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			return app_err_set(e, -EBUSY, "state directory '%s' is in use by another install",
					   dir);
		}
	}
	j = xcalloc(1, sizeof(*j));
	j->dir = xstrdup(dir);
	j->lock_fd = fd;
	*ret = j;
	return 0;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j->dir);
	free(j);
}

const char *journal_dir(const struct journal *j)
{
	return j->dir;
}

static char *entry_path(const struct journal *j, const char *step)
{
	return xasprintf("%s/journal/%s", j->dir, step);
}

int journal_get(struct journal *j, const char *step, struct journal_entry *ret, struct app_err *e)
{
	struct buf b = { 0 };
	char *p = entry_path(j, step), *line, *save = NULL;
	struct app_err ignore;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = read_file(p, 1 << 16, &b, &ignore);
	if (r < 0) {
		free(p);
		buf_free(&b);
		if (r == -ENOENT)
			return 0;
		return app_err_set(e, r, "journal '%s/journal/%s': %s", j->dir, step, ignore.msg);
	}
	free(p);
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = '\0';
		if (strcmp(line, "status") == 0) {
			for (size_t i = 0; i < sizeof(status_words) / sizeof(status_words[0]); i++)
				if (strcmp(v, status_words[i]) == 0)
					ret->status = (enum journal_status)i;
		} else if (strcmp(line, "inputs") == 0) {
			snprintf(ret->inputs, sizeof(ret->inputs), "%s", v);
		} else if (strcmp(line, "result") == 0) {
			snprintf(ret->result, sizeof(ret->result), "%s", v);
		} else if (strcmp(line, "started") == 0) {
			ret->started = atoll(v);
		} else if (strcmp(line, "finished") == 0) {
			ret->finished = atoll(v);
		} else if (strcmp(line, "runs") == 0) {
			ret->runs = atoi(v);
		}
	}
	buf_free(&b);
	return 0;
}

static int put(struct journal *j, const char *step, const struct journal_entry *en, struct app_err *e)
{
	struct buf b = { 0 };
	char *p = entry_path(j, step);
	int r;

	buf_printf(&b, "step=%s\nstatus=%s\ninputs=%s\nstarted=%lld\nfinished=%lld\nruns=%d\nresult=%s\n",
		   step, status_words[en->status], en->inputs, en->started, en->finished, en->runs,
		   en->result);
	r = write_file_atomic(p, b.data, b.len, 0600, e);
	free(p);
	buf_free(&b);
	return r;
}

int journal_inputs(struct journal *j, const char *step, struct buf *out, struct app_err *e)
{
	char *p = xasprintf("%s/journal/%s.inputs", j->dir, step);
	int r = read_file(p, 1 << 20, out, e);

	free(p);
	if (r == -ENOENT) {
		buf_puts(out, "");
		return 0;
	}
	return r;
}

int journal_begin(struct journal *j, const char *step, const char *inputs, const char *inputs_text,
		  struct app_err *e)
{
	struct journal_entry en;
	int r = journal_get(j, step, &en, e);
	char *p;

	if (r < 0)
		return r;
	p = xasprintf("%s/journal/%s.inputs", j->dir, step);
	r = write_file_atomic(p, inputs_text ? inputs_text : "", inputs_text ? strlen(inputs_text) : 0, 0600,
			      e);
	free(p);
	if (r < 0)
		return r;
	en.status = JOURNAL_STARTED;
	snprintf(en.inputs, sizeof(en.inputs), "%s", inputs);
	en.result[0] = '\0';
	en.started = (long long)time(NULL);
	en.finished = 0;
	en.runs++;
	return put(j, step, &en, e);
}

int journal_done(struct journal *j, const char *step, const char *inputs, const char *result,
		 struct app_err *e)
{
	struct journal_entry en;
	int r = journal_get(j, step, &en, e);

	if (r < 0)
		return r;
	en.status = JOURNAL_DONE;
	snprintf(en.inputs, sizeof(en.inputs), "%s", inputs);
	/* results are single-line by construction; keep the file line-based */
	snprintf(en.result, sizeof(en.result), "%s", result ? result : "");
	for (char *c = en.result; *c; c++)
		if (*c == '\n')
			*c = ' ';
	en.finished = (long long)time(NULL);
	return put(j, step, &en, e);
}
