/* PLACEHOLDER: replaced by the work on this command. */
#include "cmd.h"

int cmd_install(int argc, char **argv)
{
	if (argc > 1 && cmd_is_help(argv[1])) {
		printf("usage: appliance install ... (not implemented yet)\n");
		return EXIT_OK;
	}
	cmd_error("'install' is not implemented yet");
	return EXIT_FAIL;
}
