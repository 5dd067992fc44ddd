/* PLACEHOLDER: replaced by the work on this command. */
#include "cmd.h"

int cmd_plan(int argc, char **argv)
{
	if (argc > 1 && cmd_is_help(argv[1])) {
		printf("usage: appliance plan ... (not implemented yet)\n");
		return EXIT_OK;
	}
	cmd_error("'plan' is not implemented yet");
	return EXIT_FAIL;
}
