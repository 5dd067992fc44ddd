/* The MachineStatus stages a day-2 change waits out (see machstat.h). */
#include "day2/machstat.h"

#include <string.h>

static const char *const BUSY[] = { "installing", "rebooting", "shutting down", "resetting", "upgrading" };

bool machstat_busy(const char *stage)
{
	for (size_t i = 0; i < sizeof(BUSY) / sizeof(BUSY[0]); i++)
		if (strcmp(stage, BUSY[i]) == 0)
			return true;
	return false;
}
