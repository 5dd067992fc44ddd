/* libFuzzer target: arbitrary bytes as an S3 response body, through every
 * parser the S3 client runs on one (ListObjectsV2 page, error body, Barman
 * backup.info status, LastModified timestamps). Must never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "net/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly size bytes, no terminator: the parsers take a length and must
	 * not read past it (ASan reports a read of the byte after) */
	char *xml = malloc(size ? size : 1), code[128], msg[256], status[32], *t;
	struct s3_objects o = { 0 };
	struct app_err e = { 0 };
	bool truncated = false;
	char *next = NULL;

	if (!xml)
		return 0;
	memcpy(xml, data, size);
	s3_parse_list(xml, size, &o, &truncated, &next, &e);
	free(next);
	s3_objects_free(&o);
	s3_parse_error(xml, size, code, sizeof(code), msg, sizeof(msg));
	s3_barman_status(xml, size, status, sizeof(status));
	t = strndup(xml, size < 64 ? size : 64);
	if (t) {
		(void)s3_parse_time(t);
		free(t);
	}
	free(xml);
	return 0;
}
