/* This machine's identity (network MACs, DMI serial and UUID) read from sysfs
 * under a configurable root, and matched against the profile's nodes for
 * `install --auto`. OWNER: install work (issue 9). */
#ifndef APPLIANCE_IDENTITY_H
#define APPLIANCE_IDENTITY_H

#include "profile/model.h"

struct app_err;

struct identity {
	struct strlist macs; /* lower-case, sorted, without loopback/all-zero */
	char *serial;	     /* DMI product_serial, trimmed; NULL when unreadable */
	char *uuid;	     /* DMI product_uuid, lower-case; NULL when unreadable */
};

/* sysfs: the sysfs mount ("/sys" when NULL); reads class/net/<if>/address and
 * class/dmi/id/{product_serial,product_uuid}. Missing files are not errors. */
int identity_read(const char *sysfs, struct identity *ret, struct app_err *e);
void identity_free(struct identity *id);

/* "macs aa:..,bb:.., serial S, uuid U" (what was seen), caller frees. */
char *identity_describe(const struct identity *id);

/* The one node whose MAC, serial or UUID matches. None or several: -ENOENT /
 * -EEXIST with a message naming what was seen (and the matching nodes). */
int identity_match(const struct model *m, const struct identity *id, const struct model_node **ret,
		   struct app_err *e);

#endif
