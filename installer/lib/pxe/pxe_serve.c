/* Serve-once HTTP payload server. See pxe_serve.h. */
#include "pxe/pxe_serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "profile/model.h"
#include "pxe/pxe.h"

#define HEAD_MAX 4096
#define IO_TIMEOUT_S 10
#define PAYLOAD_MAX (64UL * 1024 * 1024)
#define IMAGE_STREAMS_MAX 16

int pxe_serve_listen(const char *listen_at, int *ret_fd, int *ret_port, struct app_err *e)
{
	const char *colon = listen_at ? strrchr(listen_at, ':') : NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char addr[INET_ADDRSTRLEN];
	char *end = NULL;
	long port;
	int fd, one = 1;

	if (!colon || (size_t)(colon - listen_at) >= sizeof(addr))
		goto bad;
	memcpy(addr, listen_at, (size_t)(colon - listen_at));
	addr[colon - listen_at] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || port < 0 || port > 65535 ||
	    inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		goto bad;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return app_err_set(e, -errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
		int err = errno;
		close(fd);
		return app_err_set(e, -err, "cannot listen on %s: %s", listen_at, strerror(err));
	}
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*ret_fd = fd;
	*ret_port = ntohs(sa.sin_port);
	return 0;
bad:
	return app_err_set(e, -EINVAL, "listen address '%s': expected IPv4ADDR:PORT like 10.0.2.2:8069",
			   listen_at ? listen_at : "");
}

int pxe_iface_addr(const char *ifname, char *out, size_t n, struct app_err *e)
{
	struct ifaddrs *ifa, *i;
	int r = -ENOENT;

	if (getifaddrs(&ifa) != 0)
		return app_err_set(e, -errno, "getifaddrs: %s", strerror(errno));
	for (i = ifa; i && r < 0; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, ifname) == 0 &&
		    inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)n))
			r = 0;
	freeifaddrs(ifa);
	if (r < 0)
		return app_err_set(e, r, "interface '%s' has no IPv4 address", ifname);
	return 0;
}

/* ---- one request ------------------------------------------------------------------- */

struct req {
	const struct pxe_serve_opts *o;
	int fd;
	char time[32], client[64], mac[18], detail[1400];
	const char *node;
};

static void report(struct req *q, const char *verdict, int status)
{
	struct pxe_serve_event ev = {
		.time = q->time,
		.client = q->client,
		.mac = q->mac[0] ? q->mac : "-",
		.node = q->node ? q->node : "-",
		.verdict = verdict,
		.status = status,
		.detail = q->detail,
	};

	if (q->o->log)
		q->o->log(q->o->ctx, &ev);
}

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void answer(struct req *q, int status, const char *reason, const char *verdict)
{
	char *body = xasprintf("%s\n", q->detail);
	char *head = xasprintf("HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			       "Connection: close\r\n\r\n",
			       status, reason, strlen(body));

	send_all(q->fd, head, strlen(head));
	send_all(q->fd, body, strlen(body));
	free(head);
	free(body);
	report(q, verdict, status);
}

/* Read the request head; the request line into line (NUL-terminated) and the
 * start of a "Range: bytes=N-" header into *range_from (0 without one). */
static int read_head(int fd, char *line, size_t n, long long *range_from)
{
	char buf[HEAD_MAX + 1];
	size_t used = 0;
	char *eol;

	while (used < HEAD_MAX) {
		ssize_t r = recv(fd, buf + used, HEAD_MAX - used, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		used += (size_t)r;
		buf[used] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	buf[used] = '\0';
	*range_from = 0;
	for (char *h = strchr(buf, '\n'); h; h = strchr(h + 1, '\n'))
		if (strncasecmp(h + 1, "Range: bytes=", 13) == 0)
			*range_from = strtoll(h + 14, NULL, 10);
	eol = strpbrk(buf, "\r\n");
	if (!eol || (size_t)(eol - buf) >= n)
		return -1;
	memcpy(line, buf, (size_t)(eol - buf));
	line[eol - buf] = '\0';
	return 0;
}

static const struct model_node *node_by_mac(const struct model *m, const char *hh)
{
	for (size_t i = 0; i < m->n_nodes; i++)
		for (size_t j = 0; j < m->nodes[i].identity.macs.n; j++) {
			char k[18];
			if (pxe_mac_hexhyp(m->nodes[i].identity.macs.v[j], k, NULL) == 0 &&
			    strcmp(k, hh) == 0)
				return &m->nodes[i];
		}
	return NULL;
}

/* Overwrite then remove a delivered payload. */
static void scrub(const char *path)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		char zero[4096] = { 0 };
		for (off_t done = 0; done < st.st_size; done += (off_t)sizeof(zero))
			if (write(fd, zero, sizeof(zero)) < 0)
				break;
		fsync(fd);
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static void deliver(struct req *q, const struct model_node *n)
{
	const struct pxe_serve_opts *o = q->o;
	char *payload = xasprintf("%s/%s.cpio", o->payload_dir, n->name);
	char *mark = xasprintf("%s/%s.served", o->payload_dir, n->name);
	struct buf b = { 0 }, old = { 0 };
	struct app_err e = { 0 };
	int fd, ok;

	q->node = n->name;
	if (read_file(mark, 4096, &old, NULL) == 0) {
		snprintf(
		    q->detail, sizeof(q->detail),
		    "node '%s' already got its payload (%.*s); refusing a second copy: if this is the node "
		    "re-installing, rebuild with appliance pxe; if not, someone else claimed it",
		    n->name, (int)strcspn(old.data, "\n"), old.data);
		answer(q, 410, "Gone", "refused");
		goto out;
	}
	if (access(payload, F_OK) != 0) {
		snprintf(q->detail, sizeof(q->detail),
			 "no payload for node '%s' (was the tree built with --secrets?)", n->name);
		answer(q, 404, "Not Found", "unknown");
		goto out;
	}
	if (o->approve) {
		int a = o->ask ? o->ask(o->ctx, n->name, q->mac, q->client) : -1;
		if (a <= 0) {
			snprintf(q->detail, sizeof(q->detail), "node '%s': %s", n->name,
				 a == 0 ? "the operator refused to send the payload"
					: "--approve and no terminal to ask on: payload not sent");
			answer(q, 403, "Forbidden", "refused");
			goto out;
		}
	}
	/* claim first: whatever happens to the transfer, this payload has left */
	fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(q->detail, sizeof(q->detail), "node '%s': cannot record the delivery in '%s': %s",
			 n->name, mark, strerror(errno));
		answer(q, 410, "Gone", "refused");
		goto out;
	}
	{
		char *line = xasprintf("delivered at %s to %s for MAC %s\n", q->time, q->client, q->mac);
		ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0;
		free(line);
		close(fd);
	}
	if (!ok || read_file(payload, PAYLOAD_MAX, &b, &e) < 0) {
		snprintf(q->detail, sizeof(q->detail), "node '%s': %s", n->name,
			 ok ? e.msg : "cannot write the mark");
		answer(q, 500, "Internal Server Error", "refused");
		goto out;
	}
	{
		char *head = xasprintf("HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
				       "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				       b.len);
		ok = send_all(q->fd, head, strlen(head)) == 0 && send_all(q->fd, b.data, b.len) == 0;
		free(head);
	}
	scrub(payload);
	if (ok)
		snprintf(q->detail, sizeof(q->detail), "payload of node '%s' sent (%zu bytes); removed here",
			 n->name, b.len);
	else
		snprintf(q->detail, sizeof(q->detail),
			 "payload of node '%s' cut off after the claim: counted as delivered; rebuild to "
			 "re-install",
			 n->name);
	report(q, ok ? "sent" : "sent-partial", 200);
out:
	if (b.data)
		secure_free(b.data, b.cap);
	buf_free(&old);
	free(payload);
	free(mark);
}

/* ---- the pinned Talos image, to every node, as often as asked ------------------------- */

static int image_streams; /* image transfers under way (atomic) */

struct image_job {
	struct req q;
	long long from;
};

static void *image_send(void *arg)
{
	struct image_job *j = arg;
	struct req *q = &j->q;
	int in = open(q->o->image_file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	off_t off = (off_t)j->from;
	long long sent = 0;
	int status = 200;

	if (in < 0 || fstat(in, &st) < 0) {
		snprintf(q->detail, sizeof(q->detail), "image '%s': %s", q->o->image_file, strerror(errno));
		answer(q, 500, "Internal Server Error", "image");
		goto out;
	}
	if (off < 0 || off > st.st_size) {
		snprintf(q->detail, sizeof(q->detail), "range from %lld past the image's %lld bytes",
			 (long long)off, (long long)st.st_size);
		answer(q, 416, "Range Not Satisfiable", "image");
		goto out;
	}
	{
		char *head;
		if (off > 0) {
			status = 206;
			head = xasprintf(
			    "HTTP/1.0 206 Partial Content\r\nContent-Type: application/octet-stream\r\n"
			    "Content-Range: bytes %lld-%lld/%lld\r\nContent-Length: %lld\r\n"
			    "Connection: close\r\n\r\n",
			    (long long)off, (long long)st.st_size - 1, (long long)st.st_size,
			    (long long)(st.st_size - off));
		} else
			head = xasprintf("HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
					 "Content-Length: %lld\r\nConnection: close\r\n\r\n",
					 (long long)st.st_size);
		if (send_all(q->fd, head, strlen(head)) < 0)
			off = st.st_size + 1;
		free(head);
	}
	while (off < st.st_size) {
		ssize_t w = sendfile(q->fd, in, &off, (size_t)(st.st_size - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		sent += w;
	}
	snprintf(q->detail, sizeof(q->detail), "image %s: %lld of %lld bytes from offset %lld%s",
		 q->o->image_key, sent, (long long)st.st_size, j->from,
		 j->from + sent == st.st_size ? "" : " (cut off)");
	report(q, "image", status);
out:
	if (in >= 0)
		close(in);
	close(q->fd);
	__atomic_sub_fetch(&image_streams, 1, __ATOMIC_SEQ_CST);
	free(j);
	return NULL;
}

/* Start the image transfer on its own thread (payload requests are not held
 * up behind it). 1: the thread owns fd now. */
static int image_start(struct req *q, long long from)
{
	struct image_job *j;
	pthread_attr_t a;
	pthread_t t;
	int r;

	if (__atomic_add_fetch(&image_streams, 1, __ATOMIC_SEQ_CST) > IMAGE_STREAMS_MAX) {
		__atomic_sub_fetch(&image_streams, 1, __ATOMIC_SEQ_CST);
		snprintf(q->detail, sizeof(q->detail), "%d image transfers under way; try again",
			 IMAGE_STREAMS_MAX);
		answer(q, 503, "Service Unavailable", "image");
		return 0;
	}
	j = xmalloc(sizeof(*j));
	j->q = *q;
	j->from = from;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &a, image_send, j);
	pthread_attr_destroy(&a);
	if (r != 0) {
		free(j);
		__atomic_sub_fetch(&image_streams, 1, __ATOMIC_SEQ_CST);
		snprintf(q->detail, sizeof(q->detail), "cannot start a transfer: %s", strerror(r));
		answer(q, 503, "Service Unavailable", "image");
		return 0;
	}
	return 1;
}

/* 1 when the request was handed to a thread that now owns fd. */
static int handle(const struct pxe_serve_opts *o, int fd, const struct sockaddr_in *peer)
{
	struct req q = { .o = o, .fd = fd };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	char line[512], addr[INET_ADDRSTRLEN] = "?", hh[18];
	time_t now = time(NULL);
	struct tm tm;
	const struct model_node *n;
	const char *path, *last, *img;
	long long from;

	gmtime_r(&now, &tm);
	strftime(q.time, sizeof(q.time), "%Y-%m-%dT%H:%M:%SZ", &tm);
	inet_ntop(AF_INET, &peer->sin_addr, addr, sizeof(addr));
	snprintf(q.client, sizeof(q.client), "%s:%u", addr, ntohs(peer->sin_port));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_head(fd, line, sizeof(line), &from) < 0) {
		snprintf(q.detail, sizeof(q.detail), "no complete request line");
		answer(&q, 400, "Bad Request", "bad-request");
		return 0;
	}
	if (strncmp(line, "GET ", 4) != 0) {
		snprintf(q.detail, sizeof(q.detail), "only GET is served");
		answer(&q, 405, "Method Not Allowed", "bad-request");
		return 0;
	}
	path = line + 4;
	line[4 + strcspn(path, " ")] = '\0';
	img = strstr(path, "/image/");
	if (img && o->image_file) {
		if (strcmp(img + 7, o->image_key) == 0)
			return image_start(&q, from);
		snprintf(q.detail, sizeof(q.detail), "no image '%s' here (this server has %s)", img + 7,
			 o->image_key);
		answer(&q, 404, "Not Found", "image");
		return 0;
	}
	last = strrchr(path, '/');
	last = last ? last + 1 : path;
	if (pxe_mac_hexhyp(last, hh, NULL) < 0) {
		snprintf(q.detail, sizeof(q.detail), "expected GET .../aa-bb-cc-dd-ee-ff (a MAC)");
		answer(&q, 404, "Not Found", "bad-request");
		return 0;
	}
	for (int i = 0; i < 17; i++)
		q.mac[i] = hh[i] == '-' ? ':' : hh[i];
	n = node_by_mac(o->m, hh);
	if (!n) {
		snprintf(q.detail, sizeof(q.detail), "no node of the profile has MAC %s", q.mac);
		answer(&q, 404, "Not Found", "unknown");
		return 0;
	}
	deliver(&q, n);
	return 0;
}

int pxe_serve_run(const struct pxe_serve_opts *o, int fd, struct app_err *e)
{
	while (!(o->stop && *o->stop)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_in peer = { 0 };
		socklen_t pl = sizeof(peer);
		int c, r = poll(&p, 1, 500);

		if (r <= 0)
			continue;
		c = accept4(fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			return app_err_set(e, -errno, "accept: %s", strerror(errno));
		}
		if (!handle(o, c, &peer))
			close(c);
	}
	return 0;
}
