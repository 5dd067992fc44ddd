/* The image writer's chunk journal; see journal.h. */
#include "image/journal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/util.h"
#include "image/image.h"

void image_journal_init(struct image_journal *j)
{
	memset(j, 0, sizeof(*j));
	pthread_mutex_init(&j->mu, NULL);
}

/* More chunks than any disk holds (2 MiB chunks: 32 TiB): a journal line past
 * it is garbage, and following it would allocate without bound. */
#define IMAGE_JOURNAL_MAX_CHUNKS (1u << 24)

static void jr_set(struct image_journal *j, uint64_t i, bool have)
{
	if (i >= IMAGE_JOURNAL_MAX_CHUNKS)
		return; /* not remembered: that chunk is simply written again */
	if (i >= j->n) {
		size_t n = j->n ? j->n : 64;
		while (n <= i)
			n *= 2;
		j->have = xrealloc(j->have, n * sizeof(*j->have));
		memset(j->have + j->n, 0, (n - j->n) * sizeof(*j->have));
		j->n = n;
	}
	j->have[i] = have;
}

bool image_journal_has(struct image_journal *j, uint64_t i)
{
	bool r;
	if (!j->f)
		return false;
	pthread_mutex_lock(&j->mu);
	r = i < j->n && j->have[i];
	pthread_mutex_unlock(&j->mu);
	return r;
}

int image_journal_open(struct image_journal *j, const char *path, const struct image_target *t,
		       const char *source_id, struct app_err *e)
{
	struct stat st;
	char line[1300], head[1200];
	bool match = false;
	FILE *f;

	if (fstat(t->fd, &st) < 0)
		return app_err_set(e, -errno, "cannot stat '%s': %s", t->path, strerror(errno));
	if (t->blockdev)
		snprintf(j->id, sizeof(j->id), "blk:%u:%u", major(st.st_rdev), minor(st.st_rdev));
	else
		snprintf(j->id, sizeof(j->id), "file:%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
	snprintf(head, sizeof(head), "appliance-image-journal 2 chunk=%u target=%s source=%.1000s\n",
		 IMAGE_CHUNK, j->id, source_id);
	j->path = xstrdup(path);
	f = fopen(path, "re");
	if (f) {
		if (fgets(line, sizeof(line), f) && strcmp(line, head) == 0) {
			match = true;
			while (fgets(line, sizeof(line), f)) {
				unsigned long long i;
				size_t l = strlen(line);
				if (l == 0 || line[l - 1] != '\n')
					break; /* torn last line */
				if (sscanf(line, "w %llu", &i) == 1)
					jr_set(j, i, true);
				else if (sscanf(line, "d %llu", &i) == 1)
					jr_set(j, i, false);
			}
		}
		fclose(f);
	}
	{
		char *dir = xstrdup(path), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			mkdir_p(dir, 0755, NULL);
		}
		free(dir);
	}
	j->f = fopen(path, match ? "ae" : "we");
	if (!j->f)
		return app_err_set(e, -errno, "cannot open journal '%s': %s", path, strerror(errno));
	if (!match) {
		free(j->have);
		j->have = NULL;
		j->n = 0;
		fputs(head, j->f);
	}
	fflush(j->f);
	return 0;
}

int image_journal_sync(struct image_journal *j, struct app_err *e)
{
	int r = 0;

	if (!j->f)
		return 0;
	pthread_mutex_lock(&j->mu);
	if (fflush(j->f) != 0 || fdatasync(fileno(j->f)) < 0)
		r = app_err_set(e, -errno, "cannot write journal '%s': %s", j->path, strerror(errno));
	pthread_mutex_unlock(&j->mu);
	return r;
}

void image_journal_add(struct image_journal *j, uint64_t i, bool written)
{
	if (!j->f)
		return;
	pthread_mutex_lock(&j->mu);
	fprintf(j->f, "%c %llu\n", written ? 'w' : 'd', (unsigned long long)i);
	fflush(j->f); /* survives kill -9; fsynced at the next checkpoint */
	jr_set(j, i, written);
	pthread_mutex_unlock(&j->mu);
}

void image_journal_close(struct image_journal *j)
{
	if (j->f)
		fclose(j->f);
	free(j->path);
	free(j->have);
	pthread_mutex_destroy(&j->mu);
	j->f = NULL;
	j->path = NULL;
	j->have = NULL;
}
