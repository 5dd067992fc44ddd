/* A bounded queue of pointers between the image writer's threads: push blocks
 * while full, pop blocks while empty, close wakes everyone. */
#ifndef APPLIANCE_IMAGE_QUEUE_H
#define APPLIANCE_IMAGE_QUEUE_H

#include <pthread.h>
#include <stdbool.h>

#define BQUEUE_MAX 16

struct bqueue {
	void *v[BQUEUE_MAX];
	unsigned head, n, cap;
	bool closed;
	pthread_mutex_t mu;
	pthread_cond_t can_pop, can_push;
};

/* cap <= BQUEUE_MAX */
void bqueue_init(struct bqueue *q, unsigned cap);
void bqueue_destroy(struct bqueue *q);
/* -1 when the queue is closed */
int bqueue_push(struct bqueue *q, void *p);
/* NULL when closed and drained */
void *bqueue_pop(struct bqueue *q);
void bqueue_close(struct bqueue *q);

#endif
