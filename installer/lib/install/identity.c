#include "install/identity.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/util.h"

static char *read_trim(const char *path)
{
	struct buf b = { 0 };
	struct app_err ignore;
	char *s, *end;

	if (read_file(path, 4096, &b, &ignore) < 0) {
		buf_free(&b);
		return NULL;
	}
	s = b.data;
	while (*s && isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	s = *s ? xstrdup(s) : NULL;
	buf_free(&b);
	return s;
}

static void lower(char *s)
{
	for (; s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int identity_read(const char *sysfs, struct identity *ret, struct app_err *e)
{
	struct identity id = { 0 };
	char *dir, *p;
	DIR *d;
	struct dirent *de;

	if (!sysfs)
		sysfs = "/sys";
	dir = xasprintf("%s/class/net", sysfs);
	d = opendir(dir);
	if (!d && errno != ENOENT) {
		int r = app_err_set(e, -errno, "cannot list network interfaces in '%s': %s", dir,
				    strerror(errno));
		free(dir);
		return r;
	}
	while (d && (de = readdir(d))) {
		char *mac;
		if (de->d_name[0] == '.' || strcmp(de->d_name, "lo") == 0)
			continue;
		p = xasprintf("%s/%s/address", dir, de->d_name);
		mac = read_trim(p);
		free(p);
		if (!mac)
			continue;
		lower(mac);
		if (strcmp(mac, "00:00:00:00:00:00") == 0 || strlen(mac) != 17) {
			free(mac);
			continue;
		}
		id.macs.v = xrealloc(id.macs.v, sizeof(char *) * (id.macs.n + 1));
		id.macs.v[id.macs.n++] = mac;
	}
	if (d)
		closedir(d);
	free(dir);
	if (id.macs.n > 1)
		qsort(id.macs.v, id.macs.n, sizeof(char *), cmp_str);
	p = xasprintf("%s/class/dmi/id/product_serial", sysfs);
	id.serial = read_trim(p);
	free(p);
	p = xasprintf("%s/class/dmi/id/product_uuid", sysfs);
	id.uuid = read_trim(p);
	lower(id.uuid);
	free(p);
	*ret = id;
	return 0;
}

void identity_free(struct identity *id)
{
	for (size_t i = 0; i < id->macs.n; i++)
		free(id->macs.v[i]);
	free(id->macs.v);
	free(id->serial);
	free(id->uuid);
	memset(id, 0, sizeof(*id));
}

char *identity_describe(const struct identity *id)
{
	struct buf b = { 0 };

	buf_puts(&b, "macs ");
	if (!id->macs.n)
		buf_puts(&b, "(none)");
	for (size_t i = 0; i < id->macs.n; i++)
		buf_printf(&b, "%s%s", i ? "," : "", id->macs.v[i]);
	buf_printf(&b, ", serial %s, uuid %s", id->serial ? id->serial : "(unreadable)",
		   id->uuid ? id->uuid : "(unreadable)");
	return b.data;
}

/* Why node matches, or NULL. Caller frees. */
static char *node_matches(const struct model_node *n, const struct identity *id)
{
	for (size_t i = 0; i < n->identity.macs.n; i++)
		for (size_t k = 0; k < id->macs.n; k++)
			if (strcasecmp(n->identity.macs.v[i], id->macs.v[k]) == 0)
				return xasprintf("mac %s", id->macs.v[k]);
	if (n->identity.serial && id->serial && strcmp(n->identity.serial, id->serial) == 0)
		return xasprintf("serial %s", id->serial);
	if (n->identity.uuid && id->uuid && strcasecmp(n->identity.uuid, id->uuid) == 0)
		return xasprintf("uuid %s", id->uuid);
	return NULL;
}

int identity_match(const struct model *m, const struct identity *id, const struct model_node **ret,
		   struct app_err *e)
{
	const struct model_node *found = NULL;
	struct buf which = { 0 };
	size_t n = 0;
	char *seen;
	int r = 0;

	for (size_t i = 0; i < m->n_nodes; i++) {
		char *why = node_matches(&m->nodes[i], id);
		if (!why)
			continue;
		buf_printf(&which, "%s'%s' (%s)", n ? ", " : "", m->nodes[i].name, why);
		free(why);
		found = &m->nodes[i];
		n++;
	}
	seen = identity_describe(id);
	if (n == 0)
		r = app_err_set(
		    e, -ENOENT,
		    "no node of the profile matches this machine (seen: %s); pass --node NAME or add "
		    "one of these identities to the node",
		    seen);
	else if (n > 1)
		r = app_err_set(e, -EEXIST,
				"several nodes match this machine: %s (seen: %s); pass --node NAME",
				which.data, seen);
	else
		*ret = found;
	free(seen);
	buf_free(&which);
	return r;
}
