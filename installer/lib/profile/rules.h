/* Rules that span fields, run after binding: duplicate node names,
 * hostnames, MACs and serials; control-plane count; disk selectors; static
 * vs DHCP addressing; ${VAR} references; the supported Talos versions; and
 * the values derived from others (CLUSTER_NAME, hostnames, Flux manifest,
 * database names, Immich hostnames). */
#ifndef APPLIANCE_PROFILE_RULES_H
#define APPLIANCE_PROFILE_RULES_H

#include "profile/diag.h"
#include "profile/model.h"

struct ytree;

/* Check M (bound from T) and fill its derived values; problems go to C. */
void profile_check_rules(struct diag_ctx *c, struct model *m, const struct ytree *t);

#endif
