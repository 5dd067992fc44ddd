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
	return journal_open_as(dir, lock, "install", ret, e);
}

/* The holder of DIR/lock wrote "COMMAND PID\n" into it: "upgrade (pid 42)". */
static void lock_holder(int fd, const char *who, char *out, size_t n)
{
	char text[96] = "", cmd[32];
	long pid;
	ssize_t k = pread(fd, text, sizeof(text) - 1, 0);

	if (k > 0)
		text[k] = '\0';
	if (k > 0 && sscanf(text, "%31s %ld", cmd, &pid) == 2)
		snprintf(out, n, "%s (pid %ld)", cmd, pid);
	else
		snprintf(out, n, "%s", who);
}

int journal_open_as(const char *dir, bool lock, const char *who, struct journal **ret, struct app_err *e)
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
			char holder[96];

			lock_holder(fd, who, holder, sizeof(holder));
			close(fd);
			return app_err_set(e, -EBUSY, "state directory '%s' is in use by another %s", dir,
					   holder);
		}
		{ /* say who holds it, for the next one's message */
			char text[64];
			int k = snprintf(text, sizeof(text), "%s %ld\n", who, (long)getpid());

			if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)k, 0) < 0)
				(void)0; /* only a hint */
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
	if (j->lock_fd >= 0) {
		if (ftruncate(j->lock_fd, 0) < 0)
			(void)0; /* the holder's name was only a hint */
		close(j->lock_fd);
	}
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

static bool is_hex64(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

int journal_parse(const char *text, size_t len, struct journal_entry *ret)
{
	char *copy = xstrndup(text, len), *line, *save = NULL;
	bool have_status = false;

	memset(ret, 0, sizeof(*ret));
	if (strlen(copy) != len) {
		snprintf(ret->problem, sizeof(ret->problem), "it holds a NUL byte");
		goto bad;
	}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');

		if (!v) {
			snprintf(ret->problem, sizeof(ret->problem), "line '%.40s' is not KEY=VALUE", line);
			goto bad;
		}
		*v++ = '\0';
		if (strcmp(line, "status") == 0) {
			have_status = false;
			for (size_t i = 0; i < sizeof(status_words) / sizeof(status_words[0]); i++)
				if (strcmp(v, status_words[i]) == 0) {
					ret->status = (enum journal_status)i;
					have_status = true;
				}
			if (!have_status) {
				snprintf(ret->problem, sizeof(ret->problem), "unknown status '%.40s'", v);
				goto bad;
			}
		} else if (strcmp(line, "inputs") == 0) {
			if (*v && !is_hex64(v)) {
				snprintf(ret->problem, sizeof(ret->problem), "inputs is not a sha256");
				goto bad;
			}
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
	if (!have_status) {
		snprintf(ret->problem, sizeof(ret->problem), "it has no status line");
		goto bad;
	}
	free(copy);
	return 0;
bad:
	free(copy);
	ret->status = JOURNAL_NONE;
	ret->inputs[0] = ret->result[0] = '\0';
	ret->runs = 0;
	return -EBADMSG;
}

int journal_get(struct journal *j, const char *step, struct journal_entry *ret, struct app_err *e)
{
	struct buf b = { 0 };
	char *p = entry_path(j, step);
	struct app_err why = { 0 };
	int r;

	(void)e; /* the journal is a hint: nothing here stops a run */
	memset(ret, 0, sizeof(*ret));
	r = read_regular(p, JOURNAL_ENTRY_MAX, &b, &why);
	if (r == -EFBIG)
		snprintf(ret->problem, sizeof(ret->problem), "'%.200s' is larger than %u bytes", p,
			 JOURNAL_ENTRY_MAX);
	else if (r < 0 && r != -ENOENT)
		snprintf(ret->problem, sizeof(ret->problem), "%.250s", why.msg);
	else if (r == 0 && journal_parse(b.data, b.len, ret) < 0) {
		char what[100];

		snprintf(what, sizeof(what), "%.90s", ret->problem);
		snprintf(ret->problem, sizeof(ret->problem), "'%.120s' is not a journal entry: %.100s", p,
			 what);
	}
	free(p);
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
	int r = read_regular(p, 1 << 20, out, e);

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
