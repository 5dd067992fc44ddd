/* Helpers the install steps share (see step.h). */
#include "install/step.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "disk/wipe.h"
#include "install/plan.h"

int step_unavailable(struct app_err *e, const char *what)
{
	return app_err_set(e, -ENOSYS, "not available yet: %s", what);
}

void step_action(struct ctx *c, const char *kind, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0) {
		report_action(c->rep, c->step, kind, "%s", s);
		free(s);
	}
	va_end(ap);
}

const char *step_disk_name(const struct hw_disk *d)
{
	return d->path ? d->path : d->name;
}

struct disk_claim step_claim(struct ctx *c, const struct hw_disk *d, enum disk_role role)
{
	struct disk_claim cl = {
		.path = d->dev,
		.role = role,
		.model = c->m,
		.node = c->node,
		.root = c->o->hw_root,
	};
	return cl;
}

void step_disk_inputs(struct buf *in, const char *key, const struct hw_disk *d)
{
	char id[256];

	buf_printf(in, "%s.path=%s\n%s.size=%llu\n%s.serial=%s\n%s.model=%s\n", key, step_disk_name(d), key,
		   (unsigned long long)d->size, key, d->serial ? d->serial : "", key,
		   d->model ? d->model : "");
	/* identity, not name: another disk at the same path is not "done" (issue 17) */
	disk_identity(d, NULL, id, sizeof(id));
	buf_printf(in, "%s.id=%s\n", key, id);
}

int step_need_install(struct ctx *c, struct app_err *e)
{
	return c->install ? 0 : step_unavailable(e, "the install disk is not resolved");
}

char *step_node_file(struct ctx *c, const char *name)
{
	return xasprintf("%s/%s", c->node_dir, name);
}

int step_wipe_plan(struct ctx *c, struct wipe_plan *p, struct app_err *e)
{
	struct wipe_opts wo = { .unattended = c->o->unattended, .root = c->o->hw_root };

	memset(p, 0, sizeof(*p));
	return wipe_plan_node(c->m, c->node, &c->inv, &wo, p, e);
}
