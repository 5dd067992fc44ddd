#include "base/err.h"

#include <stdio.h>
#include <string.h>

int app_err_setv(struct app_err *e, int code, const char *fmt, va_list ap)
{
	if (code >= 0)
		code = -1;
	if (e) {
		e->code = code;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	return code;
}

int app_err_set(struct app_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	code = app_err_setv(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int app_err_prefix(struct app_err *e, const char *fmt, ...)
{
	char prefix[512];
	size_t pl, ol;
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	pl = strlen(prefix);
	ol = strnlen(e->msg, sizeof(e->msg) - 1);
	if (pl + 2 + ol >= sizeof(e->msg))
		ol = sizeof(e->msg) - pl - 3;
	memmove(e->msg + pl + 2, e->msg, ol);
	memcpy(e->msg, prefix, pl);
	memcpy(e->msg + pl, ": ", 2);
	e->msg[pl + 2 + ol] = '\0';
	return e->code;
}
