/* Install steps write-image and config-partition (see step.h). */
#ifndef APPLIANCE_STEPS_DISK_H
#define APPLIANCE_STEPS_DISK_H

#include "install/step.h"

extern const struct step step_write;
extern const struct step step_config_part;

#endif
