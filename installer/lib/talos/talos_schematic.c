#include "talos/talos_schematic.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "profile/model.h"
#include "base/util.h"

/* Words yaml.v3 resolves to a bool or null, or quotes as YAML 1.1 booleans
 * (isOldBool); compared case-insensitively, which is stricter than needed. */
static const char *const non_strings[] = { "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~" };

/* Why s cannot be written as a yaml.v3 plain scalar we reproduce exactly,
 * or NULL when it can. Conservative: characters [A-Za-z0-9._/=,:+-], a
 * letter, digit, '_' or '/' first (no numbers, timestamps, indicators),
 * no ':' last (it would start a mapping), at most 256 characters. */
static const char *scalar_problem(const char *s)
{
	size_t len = strlen(s);

	if (len == 0)
		return "it is empty";
	if (len > 256)
		return "it is longer than 256 characters";
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_' || s[0] == '/'))
		return "it does not start with a letter, '_' or '/'";
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._/=,:+-", c)))
			return "it contains a character outside [A-Za-z0-9._/=,:+-]";
	}
	if (s[len - 1] == ':')
		return "it ends with ':'";
	for (size_t i = 0; i < sizeof(non_strings) / sizeof(non_strings[0]); i++)
		if (strcasecmp(s, non_strings[i]) == 0)
			return "YAML would read it as a boolean or null";
	return NULL;
}

static int check_list(const char *const *v, size_t n, const char *what, struct app_err *e)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = scalar_problem(v[i]);
		if (why)
			return app_err_set(
			    e, -EINVAL,
			    "schematic %s '%s': cannot reproduce Image Factory's canonical form "
			    "exactly (%s); refusing to compute a schematic id",
			    what, v[i], why);
	}
	return 0;
}

static void put_list(struct buf *out, const char *indent, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%s- %s\n", indent, v[i]);
}

int talos_schematic_canonical(const char *const *kernel_args, size_t n_args, const char *const *extensions,
			      size_t n_ext, struct buf *out, struct app_err *e)
{
	int r;

	r = check_list(kernel_args, n_args, "kernel argument", e);
	if (r == 0)
		r = check_list(extensions, n_ext, "extension", e);
	if (r < 0)
		return r;
	/* Field order of schematic.Customization: extraKernelArgs, meta,
	 * systemExtensions, secureboot; empty ones are omitted. */
	if (n_args == 0 && n_ext == 0) {
		buf_puts(out, "customization: {}\n");
		return 0;
	}
	buf_puts(out, "customization:\n");
	if (n_args) {
		buf_puts(out, "    extraKernelArgs:\n");
		put_list(out, "        ", kernel_args, n_args);
	}
	if (n_ext) {
		buf_puts(out, "    systemExtensions:\n        officialExtensions:\n");
		put_list(out, "            ", extensions, n_ext);
	}
	return 0;
}

int talos_schematic_render(const struct model *m, struct buf *out, struct app_err *e)
{
	const struct talos_schematic *s = &m->talos.schematic;
	const char **args = xcalloc(s->kernel_args.n + 1, sizeof(*args));
	size_t n = 0;
	bool have_iso = false;
	int r;

	for (size_t i = 0; i < s->kernel_args.n; i++) {
		args[n++] = s->kernel_args.v[i];
		if (strcmp(s->kernel_args.v[i], TALOS_METAL_ISO_ARG) == 0)
			have_iso = true;
	}
	if (m->talos.config_delivery && strcmp(m->talos.config_delivery, "metal-iso") == 0 && !have_iso)
		args[n++] = TALOS_METAL_ISO_ARG;
	r = talos_schematic_canonical(args, n, (const char *const *)s->extensions.v, s->extensions.n, out, e);
	free(args);
	return r;
}

int talos_schematic_id(const struct model *m, char hex[65], struct app_err *e)
{
	struct buf text = { 0 };
	int r = talos_schematic_render(m, &text, e);

	if (r == 0)
		sha256_hex(text.data, text.len, hex);
	buf_free(&text);
	return r;
}
