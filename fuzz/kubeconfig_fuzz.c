/* libFuzzer target: arbitrary bytes as the .tar.gz the Talos API streams for
 * Kubeconfig, read the way talosapi_kubeconfig() reads it (the member
 * "kubeconfig", at most 1 MiB). Must never crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/util.h"
#include "net/talosapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = { 0 };
	struct app_err e = { 0 };

	talosapi_untar_single(data, size, "kubeconfig", 1u << 20, &out, &e);
	if (out.data)
		secure_free(out.data, out.cap);
	return 0;
}
