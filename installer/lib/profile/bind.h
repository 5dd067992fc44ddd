/* The schema walk: check every value of the merged tree against its row in
 * the schema tables (profile_schema.c) and bind it into the typed model, in
 * one pass; unknown keys, missing required keys and defaults from the rows. */
#ifndef APPLIANCE_PROFILE_BIND_H
#define APPLIANCE_PROFILE_BIND_H

#include "profile/diag.h"
#include "profile/model.h"

struct ynode;

/* Bind ROOT (the merged mapping) into M; every problem goes to C. */
void profile_bind(struct diag_ctx *c, const struct ynode *root, struct model *m);

#endif
