/* libFuzzer target: arbitrary bytes as a gRPC response stream (HTTP/2 DATA
 * payload): deframed with the client's limits, each message decoded as the
 * Talos API replies are (multi-reply metadata, common.Data), plus the raw
 * protobuf reader and the grpc-message percent-decoder. Never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "net/grpc.h"
#include "net/pb.h"
#include "net/talosapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_message(const void *msg, size_t len, void *ud, struct app_err *e)
{
	struct buf out = { 0 };
	struct pb r = pb_reader(msg, len);
	struct pb_field f;
	int depth = 0;

	(void)ud;
	talosapi_decode_multi_reply(msg, len, NULL, e);
	talosapi_check_metadata(msg, len, e);
	talosapi_decode_data(msg, len, &out, e);
	buf_free(&out);
	while (pb_next(&r, &f) == 1 && depth++ < 4096)
		if (f.wire == 2) {
			struct pb in = pb_reader(f.data, f.len);
			struct pb_field g;

			while (pb_next(&in, &g) == 1)
				;
		}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct app_err e = { 0 };
	size_t used = 0;
	char text[512];

	grpc_deframe(data, size, 1u << 20, on_message, NULL, &used, &e);
	grpc_percent_decode((const char *)data, size, text, sizeof(text));
	return 0;
}
