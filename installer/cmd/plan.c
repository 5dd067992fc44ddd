/* appliance plan: `appliance install` without --apply (cmd/install.c). */
#include <stdbool.h>

#include "cmd.h"

int install_command(int argc, char **argv, bool plan_only);

int cmd_plan(int argc, char **argv)
{
	return install_command(argc, argv, true);
}
