/* PLACEHOLDER: replaced by the work on this command. */
#include "cmd.h"

int cmd_disks(int argc, char **argv)
{
	if (argc > 1 && cmd_is_help(argv[1])) {
		printf("usage: appliance disks ... (not implemented yet)\n");
		return EXIT_OK;
	}
	cmd_error("'disks' is not implemented yet");
	return EXIT_FAIL;
}
