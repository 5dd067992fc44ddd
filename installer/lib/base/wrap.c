#include "base/wrap.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

char *wrap_short_hex(const char *s)
{
	struct buf b = { 0 };

	buf_puts(&b, "");
	while (*s) {
		size_t n = 0;
		while (isxdigit((unsigned char)s[n]))
			n++;
		/* only a whole run: not the tail of a longer word like a base64 blob */
		bool word_start = b.len == 0 || !isalnum((unsigned char)b.data[b.len - 1]);
		if (n >= WRAP_HEX_MIN && word_start && !isalnum((unsigned char)s[n])) {
			buf_append(&b, s, WRAP_HEX_SHORT);
			buf_puts(&b, "...");
			s += n;
		} else if (n > 0) {
			buf_append(&b, s, n);
			s += n;
		} else {
			buf_append(&b, s, 1);
			s++;
		}
	}
	return b.data;
}

int wrap_width(void)
{
	const char *c = getenv("COLUMNS");
	char *end;
	long n = c && *c ? strtol(c, &end, 10) : 0;

	return n >= 40 && n <= 10000 && !*end ? (int)n : WRAP_WIDTH;
}

static void spaces(FILE *f, int n)
{
	for (int i = 0; i < n; i++)
		fputc(' ', f);
}

/* Print the units [text, end) as lines: a unit is a word (wrap_print) or an
 * option with its value (wrap_command). cont is printed at the end of every
 * broken line. */
static void wrap_units(FILE *f, const char *prefix, const char *text, int hang, bool command)
{
	const char *cont = command ? " \\" : "";
	int width = wrap_width() - (int)strlen(cont);
	int col = (int)strlen(prefix);
	bool first = true;
	const char *p = text;
	int gap = 1; /* spaces before the next unit in the text */

	fputs(prefix, f);
	/* leading spaces of text belong to the first line */
	while (*p == ' ') {
		fputc(' ', f);
		col++;
		p++;
	}
	while (*p) {
		const char *u = p, *end, *sp;
		/* a unit: one word; for a command, an option and the words after it
		 * up to the next option */
		end = u;
		do {
			while (*end && *end != ' ')
				end++;
			if (!command || !*end || end[1] == '-' || end[1] == '\0')
				break;
			end++;
		} while (*end);
		int len = (int)(end - u);
		if (!first && col + gap + len >= width) {
			fputs(cont, f);
			fputc('\n', f);
			spaces(f, hang);
			col = hang;
		} else if (!first) {
			spaces(f, gap); /* the text's own spacing (aligned columns) */
			col += gap;
		}
		fwrite(u, 1, (size_t)len, f);
		col += len;
		first = false;
		sp = end;
		while (*end == ' ')
			end++;
		p = end;
		gap = (int)(end - sp);
	}
	fputc('\n', f);
}

void wrap_print(FILE *f, const char *prefix, const char *text, int hang)
{
	wrap_units(f, prefix, text, hang, false);
}

void wrap_command(FILE *f, const char *prefix, const char *cmd, int hang)
{
	wrap_units(f, prefix, cmd, hang, true);
}
