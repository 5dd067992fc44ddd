/* Minimal JSON output: string escaping for the --json modes of every command. */
#ifndef APPLIANCE_JSON_H
#define APPLIANCE_JSON_H

#include <stdio.h>

struct buf;

/* Write s as a JSON string literal (with quotes). NULL writes null. */
void json_str(FILE *f, const char *s);
void json_buf_str(struct buf *b, const char *s);

#endif
