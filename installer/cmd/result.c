/* The --json result object of the commands that report one result (talos
 * secrets, image, pxe, bootstrap, rebuild): one object on stdout, whatever the
 * exit, so a script always has something to parse:
 *   {"command":"image fetch", <the command's fields>, "ok":true, "exit":0, "error":null}
 * A failure keeps the fields known so far and names the error: the first
 * message cmd_error, cmd_usage_error or a failed profile load printed on stderr
 * (already redacted there: no secret value reaches it). Long-running commands
 * with steps (plan, install, apply, upgrade) use the event stream of
 * lib/install/report.h instead. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "base/json.h"
#include "base/util.h"

static struct {
	bool on, done;
	char *command;
	struct buf fields;
	char *error;
} res;

bool cmd_json_begin(int argc, char **argv, const char *command)
{
	bool help = false;

	for (int i = 1; i < argc; i++)
		help |= cmd_is_help(argv[i]);
	for (int i = 1; i < argc && !res.on && !help; i++) /* --help: the help text only */
		res.on = strcmp(argv[i], "--json") == 0;
	if (res.on && !res.command)
		res.command = xstrdup(command);
	return res.on;
}

bool cmd_json(void)
{
	return res.on;
}

static void key(const char *k)
{
	buf_puts(&res.fields, ",");
	json_buf_str(&res.fields, k);
	buf_puts(&res.fields, ":");
}

void cmd_json_str(const char *k, const char *v)
{
	if (!res.on)
		return;
	key(k);
	json_buf_str(&res.fields, v);
}

void cmd_json_int(const char *k, long long v)
{
	if (!res.on)
		return;
	key(k);
	buf_printf(&res.fields, "%lld", v);
}

void cmd_json_bool(const char *k, bool v)
{
	if (!res.on)
		return;
	key(k);
	buf_puts(&res.fields, v ? "true" : "false");
}

void cmd_json_raw(const char *k, const char *json)
{
	if (!res.on)
		return;
	key(k);
	buf_puts(&res.fields, json);
}

void cmd_json_error(const char *msg)
{
	if (res.on && !res.error && msg)
		res.error = xstrdup(msg);
}

int cmd_json_end(int rc)
{
	if (!res.on || res.done)
		return rc;
	res.done = true;
	fputs("{\"command\":", stdout);
	json_str(stdout, res.command);
	if (res.fields.data)
		fputs(res.fields.data, stdout);
	printf(",\"ok\":%s,\"exit\":%d,\"error\":", rc == 0 ? "true" : "false", rc);
	/* a failure always says something, even when only a diagnostic list was printed */
	json_str(stdout, res.error ? res.error : rc ? "failed (details on stderr)" : NULL);
	fputs("}\n", stdout);
	fflush(stdout);
	buf_free(&res.fields);
	free(res.error);
	free(res.command);
	res.error = res.command = NULL;
	return rc;
}
