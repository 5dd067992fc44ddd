/* Install steps identify, inventory and resolve-disks (see step.h). */
#ifndef APPLIANCE_STEPS_NODE_H
#define APPLIANCE_STEPS_NODE_H

#include "install/step.h"

extern const struct step step_identify;
extern const struct step step_inventory;
extern const struct step step_resolve;

#endif
