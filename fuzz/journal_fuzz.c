/* libFuzzer target: arbitrary bytes as a journal: the install journal's entry
 * parser (journal_parse) and the image writer's chunk journal as a re-run
 * reads it (image_journal_open on the bytes as the journal file). Both are
 * hints: any input must parse to something or nothing, never crash, leak,
 * hang or allocate without bound. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "image/image.h"
#include "image/journal.h"
#include "install/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int jfd = -1, tfd = -1;
	struct journal_entry en;
	struct image_journal j;
	struct image_target t = { .path = "target" };
	struct app_err e = { 0 };
	char path[64], head[256];
	struct stat st;
	int hl = 0;

	journal_parse((const char *)data, size, &en);
	if (jfd < 0)
		jfd = memfd_create("journal", 0);
	if (tfd < 0)
		tfd = memfd_create("target", 0);
	if (jfd < 0 || tfd < 0 || fstat(tfd, &st) < 0 || ftruncate(jfd, 0) < 0)
		return 0;
	/* an odd first byte: the header a re-run of the same target and source
	 * expects goes first, so the chunk lines after it are parsed too */
	if (size && (data[0] & 1)) {
		hl = snprintf(head, sizeof(head),
			      "appliance-image-journal 2 chunk=%u target=file:%llu:%llu source=fuzz\n",
			      IMAGE_CHUNK, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		if (pwrite(jfd, head, (size_t)hl, 0) != hl)
			return 0;
		data++;
		size--;
	}
	if (pwrite(jfd, data, size, hl) != (ssize_t)size)
		return 0;
	t.fd = tfd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", jfd);
	image_journal_init(&j);
	if (image_journal_open(&j, path, &t, "fuzz", &e) == 0)
		(void)image_journal_has(&j, 0);
	image_journal_close(&j);
	return 0;
}
