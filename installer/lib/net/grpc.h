/* A small gRPC client over libcurl: HTTP/2 over TLS with a client
 * certificate (mutual TLS), unary and server-streaming calls, raw message
 * bytes in and out (callers encode their own protobuf). Enough for the Talos
 * API; no compression, no client streaming.
 *
 * Wire format (grpc/doc/PROTOCOL-HTTP2.md): POST /package.Service/Method,
 * content-type application/grpc, te: trailers; every message is framed as
 * 1 byte "compressed" flag + 4 bytes big-endian length + bytes. The status
 * is grpc-status / grpc-message, in the response headers ("trailers-only"
 * replies) or in the trailers after the messages. */
#ifndef APPLIANCE_GRPC_H
#define APPLIANCE_GRPC_H

#include <stdbool.h>
#include <stddef.h>

struct app_err;

/* gRPC status codes (the ones callers test by name). */
enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

/* "ALREADY_EXISTS" etc.; "UNKNOWN(n)" style is not needed: out-of-range -> "UNKNOWN". */
const char *grpc_code_name(int code);

/* Where and how to connect. PEM blobs stay in memory (never written out). */
struct grpc_target {
	const char *host; /* name or address the server certificate must name */
	int port;
	const char *ca_pem; /* CA that signed the server certificate */
	size_t ca_len;
	const char *cert_pem; /* client certificate */
	size_t cert_len;
	const char *key_pem; /* its private key */
	size_t key_len;
	long connect_timeout_ms; /* 0: 5000 */
	long timeout_ms;	 /* whole call; 0: 30000 */
	size_t max_message;	 /* 0: 16 MiB */
};

/* Outcome of a call that reached the server. */
struct grpc_status {
	int code;	   /* enum grpc_code; -1 when the server sent none */
	char message[512]; /* grpc-message, percent-decoded */
};

/* Called for every response message. Return 0 to go on; a negative value
 * (with *e filled) aborts the call and is returned by grpc_call(). */
typedef int (*grpc_message_fn)(const void *msg, size_t len, void *ud, struct app_err *e);

/* Kinds of transport failure, so callers can decide to retry. */
enum grpc_fail {
	GRPC_FAIL_NONE = 0,
	GRPC_FAIL_CONNECT,     /* refused, unreachable, timed out: nothing was sent */
	GRPC_FAIL_TIMEOUT,     /* timed out after connecting: the call may have run */
	GRPC_FAIL_SERVER_CA,   /* server certificate not signed by target->ca_pem */
	GRPC_FAIL_SERVER_NAME, /* server certificate does not name target->host */
	GRPC_FAIL_CLIENT_CERT, /* the server refused our client certificate */
	GRPC_FAIL_TLS,	       /* any other TLS problem */
	GRPC_FAIL_PROTOCOL,    /* not HTTP/2, not gRPC, bad framing, HTTP error */
	GRPC_FAIL_CALLBACK,    /* the message callback aborted */
	GRPC_FAIL_STATUS,      /* the server answered with a non-OK grpc-status */
};

/* Make one call: send req (one message, may be empty) to path
 * ("/machine.MachineService/Bootstrap") and feed every response message to
 * fn. Returns 0 when the call ended with grpc-status OK. Otherwise returns a
 * negative errno with *e naming the server and the problem, *ret_fail (when
 * non-NULL) saying which kind, and *st (when non-NULL) the status the server
 * sent (GRPC_FAIL_STATUS: -EREMOTEIO). */
int grpc_call(const struct grpc_target *t, const char *path, const void *req, size_t req_len,
	      grpc_message_fn fn, void *ud, struct grpc_status *st, enum grpc_fail *ret_fail,
	      struct app_err *e);

/* Message framing, exposed for tests: parse as many complete messages from
 * data as there are, calling fn for each; *consumed = bytes used. */
int grpc_deframe(const unsigned char *data, size_t len, size_t max_message, grpc_message_fn fn, void *ud,
		 size_t *consumed, struct app_err *e);

/* Percent-decode a grpc-message value into out (always NUL-terminated). */
void grpc_percent_decode(const char *in, size_t len, char *out, size_t out_size);

#endif
