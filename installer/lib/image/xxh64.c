/* XXH64; see xxh64.h. */
#include "image/xxh64.h"

#include <string.h>

#define P1 11400714785074694791ull
#define P2 14029467366897019727ull
#define P3 1609587929392839161ull
#define P4 9650029242287828579ull
#define P5 2870177450012600261ull

static inline uint64_t rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t le64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint32_t le32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t in)
{
	return rotl(acc + in * P2, 31) * P1;
}

static inline uint64_t merge(uint64_t acc, uint64_t v)
{
	return (acc ^ round64(0, v)) * P1 + P4;
}

void xxh64_init(struct xxh64 *h, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->seed = seed;
	h->v[0] = seed + P1 + P2;
	h->v[1] = seed + P2;
	h->v[2] = seed;
	h->v[3] = seed - P1;
}

/* whole 32-byte stripes of p: the four lanes, kept in registers */
static size_t stripes(uint64_t v[4], const unsigned char *p, size_t len)
{
	uint64_t a = v[0], b = v[1], c = v[2], d = v[3];
	size_t done = 0;

	for (; len - done >= 32; done += 32) {
		a = round64(a, le64(p + done));
		b = round64(b, le64(p + done + 8));
		c = round64(c, le64(p + done + 16));
		d = round64(d, le64(p + done + 24));
	}
	v[0] = a, v[1] = b, v[2] = c, v[3] = d;
	return done;
}

void xxh64_update(struct xxh64 *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	h->total += len;
	if (h->n) {
		size_t k = 32 - h->n < len ? 32 - h->n : len;
		memcpy(h->buf + h->n, p, k);
		h->n += k;
		p += k;
		len -= k;
		if (h->n < 32)
			return;
		stripes(h->v, h->buf, 32);
		h->n = 0;
	}
	{
		size_t done = stripes(h->v, p, len);
		memcpy(h->buf, p + done, len - done);
		h->n = len - done;
	}
}

uint64_t xxh64_digest(const struct xxh64 *h)
{
	const unsigned char *p = h->buf, *end = h->buf + h->n;
	uint64_t x;

	if (h->total >= 32) {
		x = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) + rotl(h->v[3], 18);
		for (int i = 0; i < 4; i++)
			x = merge(x, h->v[i]);
	} else {
		x = h->seed + P5;
	}
	x += h->total;
	for (; end - p >= 8; p += 8)
		x = rotl(x ^ round64(0, le64(p)), 27) * P1 + P4;
	if (end - p >= 4) {
		x = rotl(x ^ (uint64_t)le32(p) * P1, 23) * P2 + P3;
		p += 4;
	}
	for (; p < end; p++)
		x = rotl(x ^ *p * P5, 11) * P1;
	x ^= x >> 33;
	x *= P2;
	x ^= x >> 29;
	x *= P3;
	x ^= x >> 32;
	return x;
}
