/* libFuzzer target: arbitrary bytes as a profile, through the whole loader
 * (parse, merge over the defaults, validate, bind, free). Must never crash,
 * leak or hang. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "profile/model.h"
#include "profile/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	struct profile_input in = { .profile = path };
	struct diags d = { 0 };
	struct model *m = NULL;

	if (fd < 0)
		fd = memfd_create("profile", 0);
	if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	profile_load(&in, &m, &d);
	if (m) {
		char *s = model_expand(m, "${CLUSTER_NAME}/${LOCATION}");
		free(s);
		model_where(m, "nodes[0].name");
	}
	model_free(m);
	diags_free(&d);
	return 0;
}
