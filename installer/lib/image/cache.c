/* The image cache: verify what is there, download what is not, once. */
#include "image/cache.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "image/pin.h"

int image_cache_get(const struct talos_image *im, const struct fetch_opts *how, const char *dest,
		    const char *want, bool *ret_downloaded, struct app_err *e)
{
	struct fetch_opts fo = *how;
	char have[65], *dir;
	int r;

	if (access(dest, F_OK) == 0) {
		r = want ? image_file_sha256(dest, have, e) : 0;
		if (r < 0)
			return r;
		if (want && strcmp(have, want) == 0) {
			if (ret_downloaded)
				*ret_downloaded = false;
			return 0;
		}
		unlink(dest);
	}
	dir = xstrdup(dest);
	r = mkdir_p(dirname(dir), 0755, e);
	free(dir);
	if (r < 0)
		return r;
	fetch_image_bounds(im, &fo);
	r = fetch_file(&fo, dest, e);
	if (r < 0)
		return r;
	r = want ? image_file_sha256(dest, have, e) : 0;
	if (r < 0)
		return r;
	if (want && strcmp(have, want) != 0) {
		unlink(dest);
		return app_err_set(e, -EBADMSG, "image from '%s' has sha256 %s, pinned %s; removed it",
				   fo.url, have, want);
	}
	if (ret_downloaded)
		*ret_downloaded = true;
	return 0;
}
