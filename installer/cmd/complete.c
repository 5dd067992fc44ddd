/* The internal commands the shell completions and the man page are made
 * from, both reading the command table (main.c) and the option tables
 * (options.c; doc.h):
 *   appliance _complete commands               NAME<TAB>SUMMARY per command
 *   appliance _complete subcommands CMD        one per line
 *   appliance _complete args CMD               its positional arguments
 *   appliance _complete options CMD [SUB]      --NAME<TAB>ARG (or -)<TAB>HELP
 *   appliance _complete nodes PROFILE [--site FILE]... [--set KEY=VALUE]...
 *                                              the profile's node names
 *   appliance _man                             the COMMANDS section (roff)
 * The options are those the command's --help names, described by the
 * command's table (options.c) where it has a row. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "cmd/cmd.h"
#include "cmd/doc.h"
#include "profile/model.h"

static const struct command *find(const char *name)
{
	size_t n;
	const struct command *c = cmd_commands(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			return &c[i];
	return NULL;
}

bool cmd_in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* The output of `appliance CMD --help` (NULL when it cannot be run). */
static char *help_text(const char *cmd)
{
	char self[4096], *argv[] = { self, (char *)cmd, (char *)"--help", NULL };
	struct buf b = { 0 };
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fd[2], st;
	pid_t pid;

	if (len <= 0 || pipe(fd) < 0)
		return NULL;
	self[len] = '\0';
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return NULL;
	}
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execv(self, argv);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		char chunk[4096];
		ssize_t r = read(fd[0], chunk, sizeof(chunk));
		if (r <= 0)
			break;
		buf_append(&b, chunk, (size_t)r);
	}
	close(fd[0]);
	waitpid(pid, &st, 0);
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

/* The help text after an option at the start of a line ("  --out DIR   the
 * tree"): from the first run of two spaces to the end of the line, and the
 * lines below indented deeper than the option (its continuation). */
static char *line_help(const char *text, const char *opt, const char *after)
{
	const char *l = opt, *e;
	struct buf b = { 0 };
	size_t col;

	while (l > text && l[-1] == ' ')
		l--;
	if (l > text && l[-1] != '\n')
		return xstrdup("");
	e = strstr(after, "  ");
	if (!e || memchr(after, '\n', (size_t)(e - after)))
		return xstrdup("");
	while (*e == ' ')
		e++;
	col = (size_t)(opt - l) + 4; /* deeper than the option lines: a continuation */
	for (;;) {
		size_t len = strcspn(e, "\n"), sp = 0;
		buf_append(&b, e, len);
		if (e[len] != '\n')
			break;
		e += len + 1;
		while (e[sp] == ' ')
			sp++;
		if (sp < col || !e[sp] || e[sp] == '\n' || e[sp] == '-')
			break;
		buf_puts(&b, " ");
		e += sp;
	}
	return b.data ? b.data : xstrdup("");
}

/* The options a --help names: "--name", "--name ARG" or "--name=ARG" (ARG in
 * capitals), with the text of the line that starts with it. Filled into a
 * NULL-terminated array the caller frees with help_options_free(). */
static struct cmd_opt *help_options(const char *cmd)
{
	char *text = help_text(cmd);
	struct cmd_opt *v = xcalloc(1, sizeof(*v));
	size_t n = 0;

	/* `help --help` is the program's usage: its options are the commands' */
	if (text && strncmp(text, "usage: appliance COMMAND", 24) == 0)
		*text = '\0';
	for (const char *p = text; p && (p = strstr(p, "--")) != NULL;) {
		const char *s = p + 2, *e = s, *opt = p, *ae = NULL;
		char *name, *arg = NULL;
		size_t k;

		p += 2;
		if ((opt > text && !strchr(" [(|,\n", opt[-1])) || !(*s >= 'a' && *s <= 'z'))
			continue;
		while ((*e >= 'a' && *e <= 'z') || (*e >= '0' && *e <= '9') || *e == '-')
			e++;
		name = xstrndup(opt, (size_t)(e - opt));
		if ((*e == ' ' || *e == '=') && e[1] >= 'A' && e[1] <= 'Z') {
			const char *a = e + 1;
			int depth = 0;
			ae = a;
			/* up to a blank or a closing bracket of the usage ("[--x ARG]"), keeping
			 * the value's own brackets ("HOST[:PORT]") */
			for (; *ae && !strchr(" \n)|,", *ae); ae++)
				if (*ae == '[')
					depth++;
				else if (*ae == ']' && depth-- == 0)
					break;
			arg = xstrndup(a, (size_t)(ae - a));
		}
		for (k = 0; k < n && strcmp(v[k].name, name) != 0; k++)
			;
		if (strcmp(name, "--help") == 0 || k < n) {
			free(name);
			free(arg);
		} else {
			v = xrealloc(v, (n + 2) * sizeof(*v));
			v[n++] = (struct cmd_opt){ .name = name, .arg = arg, .help = xstrdup("") };
			v[n] = (struct cmd_opt){ 0 };
		}
		if (k < n && !v[k].help[0]) {
			free((char *)v[k].help);
			v[k].help = line_help(text, opt, ae ? ae : e);
		}
	}
	free(text);
	return v;
}

static void help_options_free(struct cmd_opt *v)
{
	for (size_t i = 0; v && v[i].name; i++) {
		free((char *)v[i].name);
		free((char *)v[i].arg);
		free((char *)v[i].help);
	}
	free(v);
}

/* The positional arguments of C: its table's, else those its --help's usage
 * line names right after the command ("PROFILE", "[PROFILE]"). Caller frees. */
static char *args_of(const struct command *c)
{
	char *text, *p, *end, *r = NULL;
	size_t skip;

	if (c->doc && c->doc->args)
		return xstrdup(c->doc->args);
	text = help_text(c->name);
	skip = strlen("usage: appliance ") + strlen(c->name);
	if (text && strncmp(text, "usage: appliance ", 17) == 0 &&
	    strncmp(text + 17, c->name, skip - 17) == 0 && text[skip] == ' ') {
		p = end = text + skip + 1;
		/* words in capitals, bare or in brackets */
		while ((*end >= 'A' && *end <= 'Z') || (*end == '[' && end[1] >= 'A' && end[1] <= 'Z')) {
			while (*end && *end != ' ' && *end != '\n')
				end++;
			if (*end != ' ')
				break;
			end++;
		}
		while (end > p && (end[-1] == ' ' || end[-1] == '\n'))
			end--;
		if (end > p)
			r = xstrndup(p, (size_t)(end - p));
	}
	free(text);
	return r;
}

/* The options of C: those its --help names (the parser's own documentation,
 * held against the parser by tests/integration/cli_docs.sh), each described
 * by its row in C's table when there is one; so an option added to a command
 * and its --help shows up here with no other step, and a row its --help no
 * longer names is left out. Free the array; *own with help_options_free(). */
static struct cmd_opt *options_of(const struct command *c, struct cmd_opt **own)
{
	struct cmd_opt *named = help_options(c->name);
	size_t n = 0;
	struct cmd_opt *v;

	while (named[n].name)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i] = named[i];
		for (const struct cmd_opt *r = c->doc ? c->doc->opts : NULL; r && r->name; r++)
			if (strcmp(r->name, named[i].name) == 0)
				v[i] = *r;
	}
	*own = named;
	return v;
}

static int complete_nodes(int argc, char **argv)
{
	struct profile_opts o = { 0 };
	struct model *m;
	int r;

	for (int i = 0; i < argc; i++) {
		r = profile_opts_arg(&o, argc, argv, &i);
		if (r < 0)
			break;
		if (r == 0 && !o.profile && argv[i][0] != '-')
			o.profile = argv[i];
	}
	m = o.profile ? cmd_load_model(&o, true) : NULL;
	profile_opts_free(&o);
	if (!m)
		return EXIT_FAIL;
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].name)
			printf("%s\n", m->nodes[i].name);
	model_free(m);
	return EXIT_OK;
}

static const char complete_usage[] =
    "usage: appliance _complete commands\n"
    "       appliance _complete subcommands COMMAND\n"
    "       appliance _complete args COMMAND\n"
    "       appliance _complete options COMMAND [SUBCOMMAND]\n"
    "       appliance _complete nodes PROFILE [--site FILE]... [--set KEY=VALUE]...\n\n"
    "What the shell completions offer, from the program's own tables (internal).\n";

int cmd__complete(int argc, char **argv)
{
	const struct command *c = argc > 2 ? find(argv[2]) : NULL;
	size_t n;
	const struct command *cmds = cmd_commands(&n);

	if (argc > 1 && cmd_is_help(argv[1])) {
		fputs(complete_usage, stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		return cmd_usage_error("_complete", "expected commands, subcommands, args, options or nodes");
	if (strcmp(argv[1], "commands") == 0) {
		for (size_t i = 0; i < n; i++)
			if (cmds[i].name[0] != '_')
				printf("%s\t%s\n", cmds[i].name, cmds[i].summary);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "nodes") == 0)
		return complete_nodes(argc - 2, argv + 2);
	if (!c)
		return cmd_usage_error("_complete", "expected a command after '%s'", argv[1]);
	if (strcmp(argv[1], "subcommands") == 0) {
		const char *s = c->doc && c->doc->subs ? c->doc->subs : "";
		for (; *s; s++)
			putchar(*s == ' ' ? '\n' : *s);
		if (c->doc && c->doc->subs)
			putchar('\n');
		return EXIT_OK;
	}
	if (strcmp(argv[1], "args") == 0) {
		char *a = args_of(c);
		if (a)
			printf("%s\n", a);
		free(a);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "options") == 0) {
		const char *sub = argc > 3 ? argv[3] : NULL;
		struct cmd_opt *own, *all = options_of(c, &own);
		const struct cmd_opt *o = all;
		for (; o->name; o++)
			if (!sub || !o->subs || cmd_in_list(o->subs, sub))
				printf("%s\t%s\t%s\n", o->name, o->arg ? o->arg : "-", o->help);
		printf("--help\t-\tthis help\n");
		free(all);
		help_options_free(own);
		return EXIT_OK;
	}
	return cmd_usage_error("_complete", "unknown request '%s'", argv[1]);
}

/* ---- the man page's COMMANDS section ------------------------------------- */

/* TEXT for roff: '-' and '\' escaped, never a control character first. */
static void roff(const char *text)
{
	if (text[0] == '.' || text[0] == '\'')
		fputs("\\&", stdout);
	for (const char *p = text; *p; p++) {
		if (*p == '-')
			fputs("\\-", stdout);
		else if (*p == '\\')
			fputs("\\e", stdout);
		else
			putchar(*p);
	}
}

static void man_command(const struct command *c)
{
	struct cmd_opt *own, *all = options_of(c, &own);
	const struct cmd_opt *o = all;
	const struct cmd_doc *d = c->doc;
	char *args = args_of(c);

	fputs(".SS \"appliance ", stdout);
	roff(c->name);
	if (d && d->subs) {
		fputs(" ", stdout);
		for (const char *s = d->subs; *s; s++)
			if (*s == ' ')
				putchar('|');
			else if (*s == '-')
				fputs("\\-", stdout);
			else
				putchar(*s);
	}
	if (args) {
		fputs(" ", stdout);
		roff(args);
	}
	printf("%s\"\n", o->name ? " [OPTIONS]" : "");
	free(args);
	roff(c->summary);
	fputs(".\n", stdout);
	for (; o->name; o++) {
		fputs(".TP\n.B ", stdout);
		roff(o->name);
		if (o->arg) {
			fputs(" \\fI", stdout);
			roff(o->arg);
			fputs("\\fR", stdout);
		}
		putchar('\n');
		if (o->help[0]) {
			roff(o->help);
		} else {
			fputs("see\n.BR \"appliance ", stdout);
			roff(c->name);
			fputs(" \\-\\-help\" .", stdout);
		}
		if (o->subs) {
			fputs(" [", stdout);
			roff(o->subs);
			fputs("]", stdout);
		}
		putchar('\n');
	}
	free(all);
	if (d && d->exit) {
		fputs(".PP\nExit status: ", stdout);
		roff(d->exit);
		fputs(".\n", stdout);
	}
	help_options_free(own);
}

int cmd__man(int argc, char **argv)
{
	size_t n;
	const struct command *c = cmd_commands(&n);

	if (argc > 1 && cmd_is_help(argv[1])) {
		printf("usage: appliance _man\n\nThe COMMANDS section of appliance(1) in roff (internal).\n");
		return EXIT_OK;
	}
	if (argc > 1)
		return cmd_usage_error("_man", "unexpected argument '%s'", argv[1]);
	for (size_t i = 0; i < n; i++)
		if (c[i].name[0] != '_')
			man_command(&c[i]);
	return EXIT_OK;
}
