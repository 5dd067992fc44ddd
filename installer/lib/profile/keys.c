/* The key reference (see keys.h). */
#include "profile/keys.h"

#include <stdlib.h>

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

static void print_keys(FILE *f, const struct table *t, const char *path)
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
		if (fl->def)
			fprintf(f, "\tdefault %s", fl->def);
		fputc('\n', f);
		if (fl->type == T_STRUCT) {
			print_keys(f, fl->sub, p);
		} else if (fl->type == T_LIST) {
			char *ip = xasprintf("%s[]", p);
			print_keys(f, fl->sub, ip);
			free(ip);
		}
		free(p);
	}
}

void profile_print_keys(FILE *f)
{
	print_keys(f, &profile_root_table, "");
}
