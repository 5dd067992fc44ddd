/* libcurl downloads with resume and retries; see fetch.h. */
#include "net/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "profile/model.h"
#include "profile/profile.h"

/* Failures worth another attempt: the network or the server had a bad moment. */
static const CURLcode transient_curl[] = {
	CURLE_COULDNT_CONNECT,	 CURLE_OPERATION_TIMEDOUT,   CURLE_PARTIAL_FILE, CURLE_RECV_ERROR,
	CURLE_SEND_ERROR,	 CURLE_GOT_NOTHING,	     CURLE_HTTP2,	 CURLE_HTTP2_STREAM,
	CURLE_SSL_CONNECT_ERROR, CURLE_COULDNT_RESOLVE_HOST,
};
static const long transient_http[] = { 408, 425, 429, 500, 502, 503, 504 };

struct xfer {
	const struct fetch_opts *o;
	int fd;		    /* file mode, else -1 */
	fetch_sink_fn sink; /* stream mode */
	void *sink_ctx;
	CURL *curl;
	uint64_t delivered; /* bytes of the body that are safely delivered */
	uint64_t skip;	    /* stream mode: bytes to drop after a server ignored Range */
	uint64_t total;	    /* full size when known */
	bool range_asked;
	bool started;	/* first body byte of this attempt seen */
	bool restarted; /* the server ignored Range at least once */
	long start;	/* util_mono_ms() at the start of the whole transfer (deadline_s) */
	int sink_err;	/* negative errno from the sink or write(2) */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

bool fetch_is_url(const char *s)
{
	return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}

static bool is_transient(CURLcode rc, long http)
{
	if (rc == CURLE_HTTP_RETURNED_ERROR) {
		for (size_t i = 0; i < sizeof(transient_http) / sizeof(transient_http[0]); i++)
			if (http == transient_http[i])
				return true;
		return false;
	}
	for (size_t i = 0; i < sizeof(transient_curl) / sizeof(transient_curl[0]); i++)
		if (rc == transient_curl[i])
			return true;
	return false;
}

/* A body (announced or received) past the ceiling stops the transfer. */
static int too_big(struct xfer *x, uint64_t bytes)
{
	if (x->o->max_bytes && bytes > x->o->max_bytes) {
		x->sink_err = -EFBIG;
		return -1;
	}
	return 0;
}

/* Milliseconds left before the deadline (LONG_MAX without one, 0 when past). */
static long left_ms(const struct xfer *x)
{
	long left;

	if (x->o->deadline_s <= 0)
		return LONG_MAX;
	left = x->o->deadline_s * 1000L - (util_mono_ms() - x->start);
	return left > 0 ? left : 0;
}

/* First body bytes of an attempt: did the server honour our Range? */
static int attempt_start(struct xfer *x)
{
	long code = 0;
	curl_off_t len = -1;

	x->started = true;
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	if (x->range_asked && code != 206) {
		/* Range ignored: the body starts at byte 0 again. */
		x->restarted = true;
		if (x->fd >= 0) {
			if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0) {
				x->sink_err = -errno;
				return -1;
			}
			x->delivered = 0;
		} else {
			x->skip = x->delivered;
		}
		if (len >= 0)
			x->total = (uint64_t)len;
		return too_big(x, x->total);
	}
	if (len >= 0)
		x->total = x->delivered + (uint64_t)len;
	return too_big(x, x->total);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb, off = 0;

	if (!x->started && attempt_start(x) < 0)
		return 0;
	if (x->skip) {
		off = x->skip < n ? (size_t)x->skip : n;
		x->skip -= off;
	}
	if (off == n)
		return n;
	if (too_big(x, x->delivered + (n - off)) < 0)
		return 0;
	if (x->fd >= 0) {
		const char *p = data + off;
		size_t left = n - off;
		while (left) {
			ssize_t w = write(x->fd, p, left);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				x->sink_err = -errno;
				return 0;
			}
			p += w;
			left -= (size_t)w;
		}
	} else if (x->sink(x->sink_ctx, data + off, n - off) != 0) {
		x->sink_err = -ECANCELED;
		return 0;
	}
	x->delivered += n - off;
	return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = ud;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (x->o->progress)
		x->o->progress(x->o->ctx, x->delivered, x->total);
	return 0;
}

static int run(struct xfer *x, struct app_err *e)
{
	const struct fetch_opts *o = x->o;
	int retries = o->retries == 0 ? 6 : o->retries < 0 ? 0 : o->retries;
	unsigned backoff = o->backoff_ms ? o->backoff_ms : 500;
	char errbuf[CURL_ERROR_SIZE];
	int r = 0;

	pthread_once(&curl_once, curl_init_once);
	x->start = util_mono_ms();
	x->curl = curl_easy_init();
	if (!x->curl)
		return app_err_set(e, -ENOMEM, "cannot start a download of '%s'", o->url);

	for (int attempt = 0;; attempt++) {
		CURL *c = x->curl;
		char range[32];
		long http = 0;
		CURLcode rc;

		curl_easy_reset(c);
		errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, o->url);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
		curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		if (o->ca_file)
			curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
				 o->connect_timeout_s ? o->connect_timeout_s : 15L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s ? o->low_speed_time_s : 30L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit ? o->low_speed_limit : 1024L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "appliance-image/1");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		if (o->deadline_s > 0)
			curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left_ms(x) > 1 ? left_ms(x) : 1L);
		x->range_asked = x->delivered > 0;
		x->started = false;
		x->skip = 0;
		if (x->range_asked) {
			snprintf(range, sizeof(range), "%llu-", (unsigned long long)x->delivered);
			curl_easy_setopt(c, CURLOPT_RANGE, range);
		}

		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
		if (rc == CURLE_OK && !x->started && !x->range_asked)
			attempt_start(x); /* empty body */
		if (rc == CURLE_OK && x->total && x->delivered != x->total)
			rc = CURLE_PARTIAL_FILE;
		if (rc == CURLE_OK)
			break;
		if (x->sink_err == -EFBIG) {
			char lim[32];

			r = app_err_set(e, -EFBIG, "download of '%s' is larger than %s; refusing the rest",
					o->url, fmt_bytes(o->max_bytes, lim, sizeof(lim)));
			break;
		}
		if (x->sink_err) {
			r = app_err_set(e, x->sink_err, "download of '%s': cannot store the data: %s", o->url,
					strerror(-x->sink_err));
			break;
		}
		if (left_ms(x) == 0) {
			r = app_err_set(e, -ETIMEDOUT,
					"download of '%s' did not finish within %ld s (%llu bytes so far)",
					o->url, o->deadline_s, (unsigned long long)x->delivered);
			break;
		}
		if (rc == CURLE_HTTP_RETURNED_ERROR && http == 416 && x->delivered > 0) {
			/* our partial file is not a prefix of what the server has: start over */
			if (x->fd >= 0 && (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)) {
				r = app_err_set(e, -errno,
						"download of '%s': cannot truncate the partial file", o->url);
				break;
			}
			if (x->fd < 0) {
				r = app_err_set(e, -EIO,
						"download of '%s': the server refused to resume at byte %llu",
						o->url, (unsigned long long)x->delivered);
				break;
			}
			x->delivered = 0;
			x->total = 0;
		} else if (!is_transient(rc, http) || attempt >= retries) {
			if (rc == CURLE_HTTP_RETURNED_ERROR)
				r = app_err_set(e, -EIO, "download of '%s' failed: HTTP %ld%s", o->url, http,
						attempt ? " (after retries)" : "");
			else
				r = app_err_set(e, -EIO, "download of '%s' failed after %d attempt%s: %s",
						o->url, attempt + 1, attempt ? "s" : "",
						errbuf[0] ? errbuf : curl_easy_strerror(rc));
			break;
		}
		if (o->on_retry)
			o->on_retry(o->ctx, attempt + 1, x->delivered,
				    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		util_sleep_ms(left_ms(x) < (long)backoff ? left_ms(x) : (long)backoff);
		backoff = backoff >= 15000 ? 30000 : backoff * 2;
	}
	if (r == 0 && o->progress)
		o->progress(o->ctx, x->delivered, x->total ? x->total : x->delivered);
	curl_easy_cleanup(x->curl);
	x->curl = NULL;
	return r;
}

int fetch_file(const struct fetch_opts *o, const char *dest, struct app_err *e)
{
	struct xfer x = { .o = o, .fd = -1 };
	char *part = xasprintf("%s.part", dest);
	struct stat st;
	int r;

	x.fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (x.fd < 0) {
		r = app_err_set(e, -errno, "cannot open '%s': %s", part, strerror(errno));
		free(part);
		return r;
	}
	if (fstat(x.fd, &st) == 0)
		x.delivered = (uint64_t)st.st_size;
	r = run(&x, e);
	if (r == 0 && fsync(x.fd) < 0)
		r = app_err_set(e, -errno, "cannot sync '%s': %s", part, strerror(errno));
	close(x.fd);
	if (r == -ENOSPC || r == -EDQUOT || r == -EFBIG) {
		/* a resume could only fail the same way: leave no partial file behind */
		unlink(part);
		if (e) {
			size_t l = strlen(e->msg);

			snprintf(e->msg + l, sizeof(e->msg) - l, "; removed '%s'", part);
		}
	}
	if (r == 0 && rename(part, dest) < 0)
		r = app_err_set(e, -errno, "cannot rename '%s' to '%s': %s", part, dest, strerror(errno));
	free(part);
	return r;
}

int fetch_stream(const struct fetch_opts *o, fetch_sink_fn sink, void *sink_ctx, struct app_err *e)
{
	struct xfer x = { .o = o, .fd = -1, .sink = sink, .sink_ctx = sink_ctx };
	return run(&x, e);
}

void fetch_image_bounds(const struct talos_image *im, struct fetch_opts *o)
{
	long long ms = 0;

	o->max_bytes = im->max_size.bytes;
	if (im->fetch_timeout && profile_parse_duration(im->fetch_timeout, &ms) == 0 && ms > 0)
		o->deadline_s = (long)((ms + 999) / 1000);
}
