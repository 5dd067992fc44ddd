/* Install steps preflight-nas, preflight-image, preflight-secrets and
 * render-config (see step.h). */
#ifndef APPLIANCE_STEPS_PREFLIGHT_H
#define APPLIANCE_STEPS_PREFLIGHT_H

#include "install/step.h"

extern const struct step step_nas;
extern const struct step step_image;
extern const struct step step_secrets;
extern const struct step step_config;

#endif
