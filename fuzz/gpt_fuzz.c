/* libFuzzer target: arbitrary bytes as the first bytes of a disk image (a
 * protective MBR and primary GPT), read the way the image writer's plan reads
 * them: the size the GPT announces, then the partitions (libfdisk on a sparse
 * memfd). Must never crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>

#include "base/err.h"
#include "image/partition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct partition_entry parts[16];
	struct app_err e = { 0 };
	uint64_t isz = partition_image_size(data, size);
	unsigned n = 0;

	if (isz)
		partition_list_head(data, size, isz, parts, 16, &n, &e);
	return 0;
}
