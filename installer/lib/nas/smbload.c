/* libsmbclient loaded on first use; see smbload.h. */
#include "nas/smbload.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Debian 12's libsmbclient package ships this soname (the -dev package only adds the link) */
#define SMBCLIENT_SONAME "libsmbclient.so.0"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *lib;
static char why[256];

static void load(void)
{
	lib = dlopen(SMBCLIENT_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		snprintf(why, sizeof(why), "%s", dlerror());
}

int smbload(struct app_err *e)
{
	pthread_once(&once, load);
	if (lib)
		return 0;
	return app_err_set(e, -ELIBACC, "cannot load the SMB client library: %s", why);
}

void *smbload_sym(const char *name)
{
	void *p = lib ? dlsym(lib, name) : NULL;
	if (!p)
		abort(); /* a programming error: smbload() first; or a libsmbclient without name */
	return p;
}
