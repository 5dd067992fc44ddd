/* The image cache: a pinned Talos image as a verified file, downloaded at most
 * once. Shared by install (the node's own cache) and `appliance pxe --serve`
 * (the admin machine's cache, served to every PXE node). */
#ifndef APPLIANCE_IMAGE_CACHE_H
#define APPLIANCE_IMAGE_CACHE_H

#include <stdbool.h>

#include "net/fetch.h"

struct app_err;
struct talos_image;

/* dest holds the image whose sha256 is want (64 hex): kept when it already
 * matches; otherwise downloaded from url within the profile's bounds (im:
 * talos.image maxSize, fetchTimeout) and verified. A download that does not
 * match the pin is removed. *ret_downloaded (may be NULL) says which. */
int image_cache_get(const struct talos_image *im, const char *url, const char *dest, const char *want,
		    const char *ca_file, fetch_progress_fn progress, void *ctx, bool *ret_downloaded,
		    struct app_err *e);

#endif
