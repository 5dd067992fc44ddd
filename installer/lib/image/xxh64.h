/* XXH64, the 64-bit xxHash, streamed: what a zstd frame's content checksum is
 * (its low 32 bits, RFC 8878 3.1.1), computed by the writer off the decoder's
 * thread (see decoder.h). Written from the published algorithm
 * (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md). */
#ifndef APPLIANCE_IMAGE_XXH64_H
#define APPLIANCE_IMAGE_XXH64_H

#include <stddef.h>
#include <stdint.h>

struct xxh64 {
	uint64_t v[4];
	uint64_t total;
	unsigned char buf[32];
	size_t n; /* bytes in buf */
	uint64_t seed;
};

void xxh64_init(struct xxh64 *h, uint64_t seed);
void xxh64_update(struct xxh64 *h, const void *p, size_t len);
uint64_t xxh64_digest(const struct xxh64 *h);

#endif
