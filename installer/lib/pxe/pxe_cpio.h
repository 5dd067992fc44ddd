/* A cpio (newc) archive built in memory, for the PXE tree's site.cpio and the
 * per-node payloads. Entries are owned by root (uid/gid 0), dated 0 (the same
 * input gives the same bytes), files 0600 and directories 0700; missing parent
 * directories are added. Library code: never prints. */
#ifndef APPLIANCE_PXE_CPIO_H
#define APPLIANCE_PXE_CPIO_H

#include <stddef.h>
#include <sys/types.h>

#include "profile/model.h"

struct app_err;

struct pxe_cpio {
	struct archive *a;
	long ino;
	struct strlist dirs; /* directories already written */
	char *mem;	     /* the archive once closed (may hold secrets: pxe_cpio_free wipes it) */
	size_t cap, used;
	const char *what; /* for messages: "site.cpio", "payload of node 'x'" */
};

int pxe_cpio_open(struct pxe_cpio *c, const char *what, size_t cap, struct app_err *e);
/* type: AE_IFREG, AE_IFDIR or AE_IFLNK (link is the symlink target). */
int pxe_cpio_add(struct pxe_cpio *c, const char *name, unsigned type, const char *link, const void *data,
		 size_t len, struct app_err *e);
/* A file read from src (at most max bytes), as name. */
int pxe_cpio_add_file(struct pxe_cpio *c, const char *name, const char *src, size_t max, struct app_err *e);
int pxe_cpio_close(struct pxe_cpio *c, struct app_err *e);
void pxe_cpio_free(struct pxe_cpio *c);

#endif
