/* A bounded queue of pointers; see queue.h. */
#include "image/queue.h"

#include <string.h>

void bqueue_init(struct bqueue *q, unsigned cap)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->can_pop, NULL);
	pthread_cond_init(&q->can_push, NULL);
}

void bqueue_destroy(struct bqueue *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->can_pop);
	pthread_cond_destroy(&q->can_push);
}

int bqueue_push(struct bqueue *q, void *p)
{
	pthread_mutex_lock(&q->mu);
	while (q->n == q->cap && !q->closed)
		pthread_cond_wait(&q->can_push, &q->mu);
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	q->v[(q->head + q->n++) % q->cap] = p;
	pthread_cond_signal(&q->can_pop);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void *bqueue_pop(struct bqueue *q)
{
	void *p = NULL;

	pthread_mutex_lock(&q->mu);
	while (q->n == 0 && !q->closed)
		pthread_cond_wait(&q->can_pop, &q->mu);
	if (q->n) {
		p = q->v[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		pthread_cond_signal(&q->can_push);
	}
	pthread_mutex_unlock(&q->mu);
	return p;
}

void bqueue_close(struct bqueue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->can_pop);
	pthread_cond_broadcast(&q->can_push);
	pthread_mutex_unlock(&q->mu);
}
