/* What the day-2 commands make of a node's MachineStatus stage (read with
 * talosops_machine_status). Talos itself does not refuse ApplyConfiguration
 * while an upgrade runs (a REBOOT-mode apply takes the sequence over and drops
 * the upgrade) and acknowledges, then ignores, an Upgrade while a sequence
 * runs: apply and upgrade look at the stage before they act. */
#ifndef APPLIANCE_DAY2_MACHSTAT_H
#define APPLIANCE_DAY2_MACHSTAT_H

#include <stdbool.h>

/* A stage in which a day-2 change must not start because a sequence runs
 * there: installing, rebooting, shutting down, resetting, upgrading (the
 * words of siderolabs/talos v1.10.5 pkg/machinery/resources/runtime/
 * machinestage.go; controllers/runtime/machine_status.go sets them as the
 * Install, Reboot, Shutdown, Reset and Upgrade sequences start). */
bool machstat_busy(const char *stage);

#endif
