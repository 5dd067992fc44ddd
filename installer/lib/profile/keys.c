/* The key reference (see keys.h). */
#include "profile/keys.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ytree.h"
#include "profile/diag.h"
#include "profile/profile.h"

#include "base/util.h"
#include "profile/profile_schema.h"

static const char *const type_names[] = {
	[T_STR] = "string",
	[T_NAME] = "name",
	[T_HOST] = "hostname",
	[T_ADDR] = "host-or-ip",
	[T_IP] = "ip",
	[T_CIDR] = "cidr",
	[T_MAC] = "mac",
	[T_URL] = "url",
	[T_CRON] = "cron",
	[T_DURATION] = "duration",
	[T_RETENTION] = "retention",
	[T_VERSION] = "version",
	[T_SECRET] = "secret-name",
	[T_SECREF] = "secret-ref",
	[T_ENUM] = "enum",
	[T_MODE] = "octal-mode",
	[T_QTY] = "quantity",
	[T_VARNAME] = "variable",
	[T_PATHSEG] = "folder",
	[T_HEX64] = "sha256",
	[T_SIZE] = "size",
	[T_INT] = "int",
	[T_BOOL] = "bool",
	[T_LIST_STR] = "list",
	[T_KV] = "map",
	[T_TREE] = "free-map",
	[T_STRUCT] = "section",
	[T_LIST] = "list-of-sections",
};

/* The built-in default of PATH (profiles/defaults.yaml) as one short text,
 * or NULL: scalars, and lists of scalars while they stay short. */
static char *builtin_default(const struct ytree *d, const char *path)
{
	const struct ynode *n = d && !strchr(path, '[') ? ytree_get(d->root, path) : NULL;
	struct buf b = { 0 };

	if (!n)
		return NULL;
	if (n->type == YN_SCALAR)
		return xstrdup(n->value);
	if (n->type != YN_SEQ)
		return NULL;
	buf_puts(&b, "[");
	for (size_t i = 0; i < n->n; i++) {
		if (n->items[i]->type != YN_SCALAR) {
			buf_free(&b);
			return NULL;
		}
		buf_printf(&b, "%s%s", i ? ", " : "", n->items[i]->value);
	}
	buf_puts(&b, "]");
	if (b.len > 60) {
		buf_free(&b);
		return xstrdup("(a list; appliance config shows it)");
	}
	return b.data;
}

static void print_keys(FILE *f, const struct table *t, const char *path, const struct ytree *d)
{
	for (const struct field *fl = t->fields; fl->key; fl++) {
		char *p = path[0] ? xasprintf("%s.%s", path, fl->key) : xstrdup(fl->key);
		fprintf(f, "%s\t%s", p, type_names[fl->type]);
		if (fl->type == T_LIST_STR || fl->type == T_KV)
			fprintf(f, " of %s", type_names[fl->elem]);
		if (fl->type == T_ENUM) {
			fputs(" (", f);
			for (int i = 0; fl->choices[i]; i++)
				fprintf(f, "%s%s", i ? "|" : "", fl->choices[i]);
			fputs(")", f);
		}
		if (fl->flags & F_REQUIRED)
			fputs("\trequired", f);
		{
			char *def = fl->type == T_STRUCT || fl->type == T_LIST ? NULL : builtin_default(d, p);
			if (def || fl->def)
				fprintf(f, "\tdefault %s", def ? def : fl->def);
			free(def);
		}
		if (fl->desc)
			fprintf(f, "\t# %s", fl->desc);
		fputc('\n', f);
		if (fl->type == T_STRUCT) {
			print_keys(f, fl->sub, p, d);
		} else if (fl->type == T_LIST) {
			char *ip = xasprintf("%s[]", p);
			print_keys(f, fl->sub, ip, d);
			free(ip);
		}
		free(p);
	}
}

void profile_print_keys(FILE *f)
{
	const char *text = profile_defaults_yaml();
	struct ytree *d = NULL;
	struct app_err e = { 0 };

	ytree_parse(PROFILE_DEFAULTS_NAME, text, strlen(text), &d, &e);
	print_keys(f, &profile_root_table, "", d);
	ytree_free(d);
}
