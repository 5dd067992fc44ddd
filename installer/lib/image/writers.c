/* Several data writes in flight; see writers.h. */
#include "image/writers.h"

#include <errno.h>
#include <stdlib.h>

#include "base/util.h"

struct job {
	struct chunk *c; /* NULL: zero [zoff, zoff + zlen), then zdone(tag) */
	size_t from, to;
	uint64_t zoff, zlen;
	void *tag;
};

static int run(struct writers *ws, const struct job *j, struct app_err *e)
{
	int r;

	if (!j->c)
		return target_zero(ws->t, j->zoff, j->zlen, e);
	r = target_pwrite_aligned(ws->t, j->c->data + j->from, j->to - j->from,
				  j->c->index * (uint64_t)IMAGE_CHUNK + j->from, e);
	if (r == 0)
		ws->written += j->to - j->from;
	return r;
}

static void *writer_thread(void *arg)
{
	struct writers *ws = arg;
	struct job *j;

	while ((j = bqueue_pop(&ws->q)) != NULL) {
		struct app_err err = { 0 };
		int r = 0;
		bool failed;

		pthread_mutex_lock(&ws->mu);
		failed = ws->rc < 0;
		pthread_mutex_unlock(&ws->mu);
		if (!failed)
			r = run(ws, j, &err);
		if (j->c && r == 0 && !failed)
			ws->done(ws->ctx, j->c);
		else if (!j->c)
			ws->zdone(ws->ctx, j->tag, r == 0 && !failed);
		pthread_mutex_lock(&ws->mu);
		if (r < 0 && ws->rc == 0) {
			ws->rc = r;
			ws->err = err;
		}
		if (--ws->inflight == 0)
			pthread_cond_broadcast(&ws->idle);
		pthread_mutex_unlock(&ws->mu);
		free(j);
	}
	return NULL;
}

int writers_start(struct writers *ws, struct image_target *t, unsigned n, writers_done_fn done,
		  writers_zdone_fn zdone, void *ctx, struct app_err *e)
{
	ws->t = t;
	ws->done = done;
	ws->zdone = zdone;
	ws->ctx = ctx;
	bqueue_init(&ws->q, BQUEUE_MAX);
	pthread_mutex_init(&ws->mu, NULL);
	pthread_cond_init(&ws->idle, NULL);
	for (ws->n = 0; ws->n < n && ws->n < WRITERS_MAX; ws->n++)
		if (pthread_create(&ws->th[ws->n], NULL, writer_thread, ws) != 0)
			return app_err_set(e, -EAGAIN, "cannot start the writer threads");
	return 0;
}

bool writers_failed(struct writers *ws)
{
	bool f;
	pthread_mutex_lock(&ws->mu);
	f = ws->rc < 0;
	pthread_mutex_unlock(&ws->mu);
	return f;
}

static int submit(struct writers *ws, struct job *j)
{
	if (writers_failed(ws)) {
		free(j);
		return -1;
	}
	pthread_mutex_lock(&ws->mu);
	ws->inflight++;
	pthread_mutex_unlock(&ws->mu);
	if (bqueue_push(&ws->q, j) < 0) {
		pthread_mutex_lock(&ws->mu);
		if (--ws->inflight == 0)
			pthread_cond_broadcast(&ws->idle);
		pthread_mutex_unlock(&ws->mu);
		free(j);
		return -1;
	}
	return 0;
}

int writers_submit(struct writers *ws, struct chunk *c, size_t from, size_t to)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->c = c;
	j->from = from;
	j->to = to;
	return submit(ws, j);
}

int writers_submit_zero(struct writers *ws, uint64_t off, uint64_t len, void *tag)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->zoff = off;
	j->zlen = len;
	j->tag = tag;
	return submit(ws, j);
}

int writers_drain(struct writers *ws, struct app_err *e)
{
	int r;

	pthread_mutex_lock(&ws->mu);
	while (ws->inflight)
		pthread_cond_wait(&ws->idle, &ws->mu);
	r = ws->rc;
	if (r < 0)
		*e = ws->err;
	pthread_mutex_unlock(&ws->mu);
	return r;
}

void writers_stop(struct writers *ws)
{
	struct job *j;

	if (!ws->t)
		return;
	pthread_mutex_lock(&ws->mu);
	if (ws->rc == 0)
		ws->rc = -ECANCELED; /* what is still queued is dropped, not written */
	pthread_mutex_unlock(&ws->mu);
	bqueue_close(&ws->q);
	for (unsigned i = 0; i < ws->n; i++)
		pthread_join(ws->th[i], NULL);
	while ((j = bqueue_pop(&ws->q)) != NULL) { /* closed: drains what is left */
		if (!j->c)
			ws->zdone(ws->ctx, j->tag, false);
		free(j);
	}
	bqueue_destroy(&ws->q);
	pthread_mutex_destroy(&ws->mu);
	pthread_cond_destroy(&ws->idle);
	ws->t = NULL;
}
