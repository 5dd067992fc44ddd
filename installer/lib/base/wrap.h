/* Text for people on an 80-column terminal: long details wrap onto indented
 * continuation lines, long hex digests show as a short prefix, a command stays
 * pasteable. The one place every human rendering (the reporter, the commands'
 * result lines) wraps text; JSON output and journals keep the full values. */
#ifndef APPLIANCE_WRAP_H
#define APPLIANCE_WRAP_H

#include <stdio.h>

/* Where text wraps: lines stay shorter than this many columns, or than
 * $COLUMNS when it is set (a terminal's width; the tests set it wide). */
#define WRAP_WIDTH 80
int wrap_width(void);
/* Hex runs of at least this many digits (SHA-256, SHA-1, schematic ids) are
 * shortened to WRAP_HEX_SHORT digits and "..." for people. */
#define WRAP_HEX_MIN 40
#define WRAP_HEX_SHORT 12

/* s with every hex run of WRAP_HEX_MIN digits or more cut to its first
 * WRAP_HEX_SHORT digits followed by "...". Caller frees. */
char *wrap_short_hex(const char *s);

/* Print prefix then text, broken at spaces so every line is shorter than wrap_width();
 * continuation lines start at column hang (a word longer than a line goes on
 * a line of its own, unbroken). Ends with a newline. */
void wrap_print(FILE *f, const char *prefix, const char *text, int hang);

/* A shell command line (prefix, then cmd): broken before its options
 * ("--name value" stays together) with " \" at the end of each broken line,
 * so it can still be pasted as it is. Continuation lines start at column hang. */
void wrap_command(FILE *f, const char *prefix, const char *cmd, int hang);

#endif
