#include "base/json.h"

#include <string.h>

#include "base/util.h"

static void esc(const char *s, void (*put)(void *, const char *, size_t), void *ctx)
{
	char u[8];

	if (!s) {
		put(ctx, "null", 4);
		return;
	}
	put(ctx, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			put(ctx, "\\\"", 2);
			break;
		case '\\':
			put(ctx, "\\\\", 2);
			break;
		case '\n':
			put(ctx, "\\n", 2);
			break;
		case '\r':
			put(ctx, "\\r", 2);
			break;
		case '\t':
			put(ctx, "\\t", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(u, sizeof(u), "\\u%04x", *p);
				put(ctx, u, 6);
			} else {
				put(ctx, (const char *)p, 1);
			}
		}
	}
	put(ctx, "\"", 1);
}

static void put_file(void *ctx, const char *s, size_t n)
{
	fwrite(s, 1, n, (FILE *)ctx);
}

static void put_buf(void *ctx, const char *s, size_t n)
{
	buf_append((struct buf *)ctx, s, n);
}

void json_str(FILE *f, const char *s)
{
	esc(s, put_file, f);
}

void json_buf_str(struct buf *b, const char *s)
{
	esc(s, put_buf, b);
}
