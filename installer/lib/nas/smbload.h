/* libsmbclient, loaded with dlopen() the first time a NAS is reached instead
 * of at every start: samba's ~90 shared libraries cost each run of every
 * other command ~22 ms before main() and ~10 MiB of resident memory
 * (measured: an empty program linked with and without -lsmbclient). Calls go
 * through SMBC(name), typed by libsmbclient.h's own declaration. */
#ifndef APPLIANCE_NAS_SMBLOAD_H
#define APPLIANCE_NAS_SMBLOAD_H

#include <libsmbclient.h>

#include "base/err.h"

/* Load libsmbclient once (thread-safe); 0, or -ELIBACC with dlerror()'s words. */
int smbload(struct app_err *e);

/* The address of libsmbclient's function name; smbload() must have succeeded. */
void *smbload_sym(const char *name);

#define SMBC(f) ((__typeof__(f) *)smbload_sym(#f))

#endif
