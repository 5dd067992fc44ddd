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
 * matches; otherwise downloaded as how says (url, CA, progress, retries; its
 * size and deadline are the profile's bounds, im: talos.image maxSize,
 * fetchTimeout) and verified. A download that does not match the pin is
 * removed. want NULL is trust on first use: there is no pin to keep a cached
 * file by, so dest is downloaded again and its hash is the caller's to record.
 * *ret_downloaded (may be NULL) says whether it was downloaded. */
int image_cache_get(const struct talos_image *im, const struct fetch_opts *how, const char *dest,
		    const char *want, bool *ret_downloaded, struct app_err *e);

#endif
