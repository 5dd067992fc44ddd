/* Chunks of the decompressed image; see chunk.h. */
#include "image/chunk.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/util.h"

#define HUGE_PAGE (2u << 20)

void *chunk_buf_alloc(size_t n)
{
	void *p = NULL;
	size_t align = n >= HUGE_PAGE ? HUGE_PAGE : CHUNK_BLK;

	if (posix_memalign(&p, align, n) != 0)
		p = xmalloc(0); /* unreachable in practice; keeps the contract */
	/* transparent huge pages where the system allows them on request: every
	 * O_DIRECT read and write pins the buffer's pages (one PMD instead of 512
	 * PTEs), and the decoder, the zero maps and the compare walk it (fewer TLB
	 * misses); only a hint */
	else if (align == HUGE_PAGE)
		madvise(p, n, MADV_HUGEPAGE);
	return p;
}

void chunk_zmap(struct chunk *c)
{
	size_t nblk = (c->len + CHUNK_BLK - 1) / CHUNK_BLK;

	memset(c->zmap, 0, CHUNK_ZMAP_BYTES);
	for (size_t b = 0; b < nblk; b++) {
		size_t n = (b + 1) * CHUNK_BLK <= c->len ? CHUNK_BLK : c->len - b * CHUNK_BLK;
		if (mem_all_zero(c->data + b * CHUNK_BLK, n))
			c->zmap[b / 8] |= (unsigned char)(1u << (b % 8));
	}
}

bool chunk_zero_block(const struct chunk *c, size_t b)
{
	return (c->zmap[b / 8] & (1u << (b % 8))) && (b + 1) * CHUNK_BLK <= c->len;
}

bool chunk_zero(const struct chunk *c)
{
	size_t nblk = (c->len + CHUNK_BLK - 1) / CHUNK_BLK;

	for (size_t b = 0; b < nblk; b++)
		if (!chunk_zero_block(c, b))
			return false;
	return true;
}

bool chunk_next_run(const struct chunk *c, size_t *from, size_t *to, bool *zero)
{
	size_t nblk = (c->len + CHUNK_BLK - 1) / CHUNK_BLK, b = *to / CHUNK_BLK;

	if (*to >= c->len)
		return false;
	*from = *to;
	*zero = chunk_zero_block(c, b);
	while (b < nblk && chunk_zero_block(c, b) == *zero)
		b++;
	*to = b * CHUNK_BLK < c->len ? b * CHUNK_BLK : c->len;
	return true;
}
