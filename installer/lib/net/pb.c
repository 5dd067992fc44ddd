/* Protobuf wire format helpers. See pb.h. */
#include "net/pb.h"

#include <string.h>

#include "base/util.h"

struct pb pb_reader(const void *data, size_t len)
{
	struct pb r = { data, (const uint8_t *)data + len };

	return r;
}

int pb_varint(struct pb *r, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		x |= (uint64_t)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int pb_next(struct pb *r, struct pb_field *f)
{
	uint64_t tag;

	if (r->p >= r->end)
		return 0;
	if (pb_varint(r, &tag) < 0 || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
		return -1;
	f->num = (uint32_t)(tag >> 3);
	f->wire = (int)(tag & 7);
	f->data = NULL;
	f->len = 0;
	switch (f->wire) {
	case 0:
		return pb_varint(r, &f->v) < 0 ? -1 : 1;
	case 1:
		if (r->end - r->p < 8)
			return -1;
		r->p += 8;
		return 1;
	case 5:
		if (r->end - r->p < 4)
			return -1;
		r->p += 4;
		return 1;
	case 2:
		if (pb_varint(r, &f->v) < 0 || f->v > (uint64_t)(r->end - r->p))
			return -1;
		f->data = r->p;
		f->len = (size_t)f->v;
		r->p += f->len;
		return 1;
	default:
		return -1;
	}
}

void pb_put_varint(struct buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	buf_append(b, tmp, n);
}

void pb_put_bytes(struct buf *b, uint32_t num, const void *data, size_t len)
{
	pb_put_varint(b, (uint64_t)num << 3 | 2);
	pb_put_varint(b, len);
	buf_append(b, data, len);
}

void pb_put_string(struct buf *b, uint32_t num, const char *s)
{
	if (s && *s)
		pb_put_bytes(b, num, s, strlen(s));
}

void pb_put_uint(struct buf *b, uint32_t num, uint64_t v)
{
	if (!v)
		return;
	pb_put_varint(b, (uint64_t)num << 3);
	pb_put_varint(b, v);
}

void pb_put_bool(struct buf *b, uint32_t num, bool v)
{
	pb_put_uint(b, num, v ? 1 : 0);
}
