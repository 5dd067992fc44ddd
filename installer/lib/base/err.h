/* Error reporting for library code. Library functions never print or exit:
 * they return a negative errno (or -1) and fill a struct app_err with a
 * message a person can act on. Only installer/cmd/ prints and picks exit codes. */
#ifndef APPLIANCE_ERR_H
#define APPLIANCE_ERR_H

#include <stdarg.h>

struct app_err {
	int code;	/* negative errno, or -1 */
	char msg[1024]; /* lower-case, no trailing full stop, names the thing */
};

/* Set *e (when e is non-NULL) and return code (a negative number). */
int app_err_set(struct app_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int app_err_setv(struct app_err *e, int code, const char *fmt, va_list ap);

/* Prefix an existing message: "<prefix>: <old message>". Returns e->code. */
int app_err_prefix(struct app_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
