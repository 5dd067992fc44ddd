/* HTTP(S) downloads with libcurl: TLS verified, bounded timeouts, retries with
 * exponential backoff on transient errors, and HTTP Range resume (into a
 * DEST.part file, or inside a stream). A server that ignores Range (answers
 * 200 to a range request) is handled: a file download restarts cleanly from 0,
 * a stream skips the bytes it already delivered. OWNER: image work (issue 7). */
#ifndef APPLIANCE_FETCH_H
#define APPLIANCE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app_err;

/* done/total in bytes of the whole file (total 0 when unknown). */
typedef void (*fetch_progress_fn)(void *ctx, uint64_t done, uint64_t total);
/* Receives the body in order, each byte once. Non-zero return aborts. */
typedef int (*fetch_sink_fn)(void *ctx, const void *data, size_t len);
/* Told about each retry (attempt is 1-based; resume_at is where it restarts). */
typedef void (*fetch_retry_fn)(void *ctx, int attempt, uint64_t resume_at, const char *why);

struct fetch_opts {
	const char *url;
	const char *ca_file;	/* extra CA bundle (tests' private CA); NULL: system store */
	int retries;		/* transient failures tolerated; 0: default 6, <0: none */
	long connect_timeout_s; /* 0: 15 s */
	long low_speed_time_s;	/* abort a transfer slower than low_speed_limit for this long; 0: 30 s */
	long low_speed_limit;	/* bytes/s; 0: 1024 */
	unsigned backoff_ms;	/* first retry delay, doubling up to 30 s; 0: 500 ms */
	uint64_t max_bytes;	/* refuse a body larger than this (announced or sent); 0: no ceiling */
	long deadline_s;	/* the whole transfer, retries included; 0: none */
	fetch_progress_fn progress;
	fetch_retry_fn on_retry;
	void *ctx; /* passed to progress and on_retry */
};

/* Download o->url into dest: the body goes to "DEST.part" (resumed with Range
 * when it exists), which is fsynced and renamed to dest when complete. A full
 * disk (ENOSPC, EDQUOT) or a body past max_bytes removes DEST.part: a resume
 * could only fail the same way. A missed deadline keeps it for a resume. */
int fetch_file(const struct fetch_opts *o, const char *dest, struct app_err *e);

/* Stream o->url into sink, resuming after transient failures. */
int fetch_stream(const struct fetch_opts *o, fetch_sink_fn sink, void *sink_ctx, struct app_err *e);

/* The profile's bounds on an image download (talos.image.maxSize and
 * fetchTimeout) into o->max_bytes and o->deadline_s. */
struct talos_image;
void fetch_image_bounds(const struct talos_image *im, struct fetch_opts *o);

/* True for http:// and https:// URLs. */
bool fetch_is_url(const char *s);

#endif
