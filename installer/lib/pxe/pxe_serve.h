/* The payload server of `appliance pxe --serve`: a minimal HTTP/1.0 responder
 * (GET only, one request per connection, one connection at a time) that hands
 * each node's payload (pxe_payload.h) out at most once.
 *
 *   GET <anything>/<mac>   mac as aa-bb-cc-dd-ee-ff (iPXE ${mac:hexhyp}) or with ':'
 *     200  the payload of the node that MAC belongs to; the payload file is then
 *          wiped and removed, and NODE.served records when, to whom, for which MAC
 *     410  that node's payload was already handed out (NODE.served exists): a second
 *          request means a second machine claims the node, so it is refused and
 *          reported, and the genuine install fails loudly instead of a theft passing
 *          silently
 *     403  --approve and the operator said no (or there is no terminal to ask on)
 *     404  no node has that MAC, or no payload was built for it
 *   GET <anything>/image/<key>   the pinned Talos image (image_key, from image_file
 *     in the admin machine's cache, verified before serving began), to every node
 *     and as often as asked, "Range: bytes=N-" honoured (206); on its own thread,
 *     so payload requests are not held up behind a transfer
 *     400/405 anything else
 * Claiming (creating NODE.served with O_EXCL) happens before the first byte is
 * sent, so a transfer cut midway also counts as delivered.
 * Library code: never prints; every request is reported through o->log. */
#ifndef APPLIANCE_PXE_SERVE_H
#define APPLIANCE_PXE_SERVE_H

#include <signal.h>
#include <stdbool.h>

struct model;
struct app_err;

struct pxe_serve_event {
	const char *time;    /* 2026-12-04T21:00:00Z */
	const char *client;  /* address:port */
	const char *mac;     /* as requested (normalised to aa:bb:..), or "-" */
	const char *node;    /* the node the MAC belongs to, or "-" */
	const char *verdict; /* sent, refused, unknown, bad-request */
	int status;	     /* HTTP status sent */
	const char *detail;
};

struct pxe_serve_opts {
	const struct model *m;
	const char *payload_dir;
	const char *image_file; /* the pinned image to serve, or NULL */
	const char *image_key;	/* its pin key: served at .../image/<key> */
	bool approve;
	void (*log)(void *ctx, const struct pxe_serve_event *ev);
	/* --approve: 1 send, 0 the operator refused, negative: cannot ask */
	int (*ask)(void *ctx, const char *node, const char *mac, const char *client);
	void *ctx;
	volatile sig_atomic_t *stop; /* checked at least twice a second */
};

/* Listen on "ADDR:PORT" (IPv4; PORT 0 picks one). *ret_port: the port bound. */
int pxe_serve_listen(const char *listen, int *ret_fd, int *ret_port, struct app_err *e);

/* The first IPv4 address of interface ifname into out (INET_ADDRSTRLEN). */
int pxe_iface_addr(const char *ifname, char *out, size_t n, struct app_err *e);

/* Serve until *o->stop. Returns 0, or a negative errno when accept fails. */
int pxe_serve_run(const struct pxe_serve_opts *o, int fd, struct app_err *e);

#endif
