/* Hand-written protobuf wire format: the reader and writer the Talos API
 * clients (talosapi.c, taloscall.c) share. Only what those messages use:
 * varints, length-delimited fields, skipping fixed32/fixed64.
 * (protobuf.dev/programming-guides/encoding) */
#ifndef APPLIANCE_PB_H
#define APPLIANCE_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* A reader over one message's bytes. */
struct pb {
	const uint8_t *p, *end;
};

struct pb_field {
	uint32_t num;
	int wire; /* 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
	uint64_t v;
	const uint8_t *data; /* wire 2 */
	size_t len;
};

/* Start reading len bytes at data. */
struct pb pb_reader(const void *data, size_t len);
int pb_varint(struct pb *r, uint64_t *v);
/* The next field: 1 a field, 0 end, -1 malformed. */
int pb_next(struct pb *r, struct pb_field *f);

void pb_put_varint(struct buf *b, uint64_t v);
/* Field NUM, wire 2. */
void pb_put_bytes(struct buf *b, uint32_t num, const void *data, size_t len);
void pb_put_string(struct buf *b, uint32_t num, const char *s);
/* Field NUM, wire 0; proto3 leaves zero values out, so does this. */
void pb_put_uint(struct buf *b, uint32_t num, uint64_t v);
void pb_put_bool(struct buf *b, uint32_t num, bool v);

#endif
