/* Talos API client: the few machine.MachineService / storage.StorageService
 * calls the installer needs, over grpc.h (HTTP/2 + mutual TLS via libcurl),
 * with the protobuf messages encoded and decoded by hand.
 *
 * Messages used (siderolabs/talos api/machine/machine.proto, common.proto):
 *   BootstrapRequest { bool recover_etcd = 1; bool recover_skip_hash_check = 2; }
 *   BootstrapResponse { repeated Bootstrap messages = 1; }  Bootstrap { Metadata metadata = 1; }
 *   Kubeconfig(google.protobuf.Empty) returns (stream common.Data)
 *   common.Data { Metadata metadata = 1; bytes bytes = 2; }
 *   common.Metadata { string hostname = 1; string error = 2; google.rpc.Status status = 3; }
 *   storage BlockDeviceWipeRequest { repeated BlockDeviceWipeDescriptor devices = 1; }
 *   BlockDeviceWipeDescriptor { string device = 1; Method method = 2; ... }
 *
 * "Already bootstrapped": Talos answers a second Bootstrap with
 * ALREADY_EXISTS ("etcd data directory is not empty"); that is success.
 * FAILED_PRECONDITION "bootstrap is not available yet" (until the node's
 * container runtime is up) and "time is not in sync yet" are transient and
 * retried with bounded backoff, as is UNAVAILABLE; other
 * FAILED_PRECONDITIONs (a worker node) are failures. */
#ifndef APPLIANCE_TALOSAPI_H
#define APPLIANCE_TALOSAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "net/grpc.h"

struct app_err;
struct buf;

#define TALOSAPI_PORT 50000

/* Client credentials: PEM CA (of the Talos API, the OS CA), client cert and key. */
struct talos_creds {
	char *ca;
	size_t ca_len;
	char *crt;
	size_t crt_len;
	char *key; /* secret: wiped by talos_creds_free */
	size_t key_len;
};

/* Read a talosconfig (context: NAME, contexts: NAME: {ca, crt, key} as
 * base64 PEM). context NULL: the file's current context. */
int talos_creds_from_talosconfig(const char *path, const char *context, struct talos_creds *ret,
				 struct app_err *e);
/* Same from talosconfig text already in memory (name is used in messages). */
int talos_creds_parse_talosconfig(const char *text, size_t len, const char *name, const char *context,
				  struct talos_creds *ret, struct app_err *e);
/* Credentials from the site's secrets bundle: the OS CA, and a fresh
 * Ed25519 os:admin client certificate signed by it, in memory only. */
struct talos_bundle;
int talos_creds_from_bundle(const struct talos_bundle *b, time_t now, struct talos_creds *ret,
			    struct app_err *e);
int talos_creds_from_secrets(const char *path, time_t now, struct talos_creds *ret, struct app_err *e);
void talos_creds_free(struct talos_creds *c);

/* How long to keep trying while the node is not reachable yet. */
struct talosapi_retry {
	int attempts;	      /* 0: unlimited within deadline_ms */
	long deadline_ms;     /* total budget; 0: 600000 */
	long initial_ms;      /* first backoff; 0: 500 */
	long max_ms;	      /* backoff cap; 0: 10000 */
	long call_timeout_ms; /* per call; 0: 30000 */
	/* told before every wait (may be NULL): attempt number (1-based), why, delay */
	void (*on_retry)(void *ud, int attempt, const char *why, long delay_ms);
	void *ud;
};

struct talosapi_node {
	const char *host; /* address the node's certificate names */
	int port;	  /* 0: 50000 */
	const struct talos_creds *creds;
};

/* "host", "host:port", "[v6]" or "[v6]:port" -> host (caller frees) and
 * port (default 50000). -1 when malformed. */
int talosapi_parse_endpoint(const char *ep, char **host, int *port);

enum talosapi_bootstrap_result { TALOSAPI_BOOTSTRAPPED = 0, TALOSAPI_ALREADY_BOOTSTRAPPED };

/* Wait for apid on the node and call Bootstrap. Retries only while the call
 * cannot have run (connection refused/reset, UNAVAILABLE, time not in sync)
 * or when a timed-out call is safely repeatable (a repeat answers
 * ALREADY_EXISTS). TLS identity errors fail at once. */
int talosapi_bootstrap(const struct talosapi_node *n, const struct talosapi_retry *r,
		       enum talosapi_bootstrap_result *ret, struct app_err *e);

/* Fetch the admin kubeconfig (the stream of Data chunks forms a .tar.gz with
 * one file, "kubeconfig"); *ret receives the file's bytes. Retried like
 * talosapi_bootstrap. */
int talosapi_kubeconfig(const struct talosapi_node *n, const struct talosapi_retry *r, struct buf *ret,
			struct app_err *e);

/* Wipe a block device or partition on the node (storage.StorageService/
 * BlockDeviceWipe). device as the node names it ("nvme0n1p5"). Talos
 * refuses a partition that backs a volume ("in use by volume") unless
 * skip_volume_check; FAST clears only signatures, ZEROES overwrites
 * everything; drop_partition removes the partition entry afterwards
 * (internal/app/storaged/server.go). -ENOENT when the node has no such
 * device (NOT_FOUND). */
enum talosapi_wipe_method { TALOSAPI_WIPE_FAST = 0, TALOSAPI_WIPE_ZEROES = 1 };
struct talosapi_wipe {
	const char *device;
	enum talosapi_wipe_method method;
	bool skip_volume_check;
	bool drop_partition;
};
int talosapi_wipe_device(const struct talosapi_node *n, const struct talosapi_retry *r,
			 const struct talosapi_wipe *w, struct app_err *e);
int talosapi_encode_wipe_request(const struct talosapi_wipe *w, struct buf *out);

/* One call to the node, retried like talosapi_bootstrap while it cannot
 * have run (and after a timeout when repeat_safe_after_timeout). The
 * building block of every RPC here and in taloscall.c. */
struct talosapi_call {
	const char *path; /* "/machine.MachineService/Version" */
	const void *req;
	size_t req_len;
	int (*fn)(const void *msg, size_t len, void *ud, struct app_err *e); /* grpc_message_fn */
	void *ud;
	void (*reset)(void *ud); /* before each attempt: drop partial output (may be NULL) */
	bool repeat_safe_after_timeout;
	/* out: the status of the last attempt */
	struct grpc_status st;
};
int talosapi_call(const struct talosapi_node *n, const struct talosapi_retry *r, struct talosapi_call *c,
		  struct app_err *e);

/* common.Metadata { hostname = 1; error = 2; google.rpc.Status status = 3 }:
 * fail (-EREMOTEIO, naming the node) when error or a non-OK status is set. */
int talosapi_check_metadata(const void *data, size_t len, struct app_err *e);
/* Replies shaped { repeated X messages = 1 } with X { Metadata metadata = 1;
 * ... }: check each X's metadata (fail on the first error) and hand its other
 * fields to fn (may be NULL). */
struct pb_field;
typedef int (*talosapi_field_fn)(void *ud, const struct pb_field *f, struct app_err *e);
int talosapi_each_reply(const void *msg, size_t len, talosapi_field_fn fn, void *ud, struct app_err *e);
/* grpc_message_fn for replies shaped { repeated X messages = 1 } with
 * X { Metadata metadata = 1; ... }: fails on the first metadata error. */
int talosapi_decode_multi_reply(const void *msg, size_t len, void *ud, struct app_err *e);

/* Exposed for tests. */
int talosapi_encode_bootstrap_request(bool recover_etcd, bool skip_hash_check, struct buf *out);
/* Append the Data.bytes of one common.Data message to out; a Data carrying
 * metadata.error fails with that error. */
int talosapi_decode_data(const void *msg, size_t len, struct buf *out, struct app_err *e);
/* The single regular file in a .tar.gz (at most max bytes) into out. */
int talosapi_untar_single(const void *tgz, size_t len, const char *want_name, size_t max, struct buf *out,
			  struct app_err *e);

#endif
