/* Install steps wipe-ceph, boot-order, gitops and summary (see step.h). */
#ifndef APPLIANCE_STEPS_FINISH_H
#define APPLIANCE_STEPS_FINISH_H

#include "install/step.h"

extern const struct step step_wipe;
extern const struct step step_boot;
extern const struct step step_gitops;
extern const struct step step_summary;

#endif
