/* Image Factory naming and the pins file (sha256 of each image by key, trust
 * on first use). */
#ifndef APPLIANCE_IMAGE_PIN_H
#define APPLIANCE_IMAGE_PIN_H

struct app_err;
struct model;

/* Image Factory naming. key: "<schematic>/<version>/<platform>-<arch>.<format>"
 * (the pin key); url: mirror (when set) or factory + "/image/" + key. */
char *image_pin_key(const struct model *m, const char *schematic_id);
char *image_url(const struct model *m, const char *schematic_id);
char *image_cache_name(const struct model *m, const char *schematic_id); /* key with '/' -> '-' */

/* Pins file: a YAML mapping "pins: {KEY: SHA256HEX}". Looks KEY up: 1 found
 * (hex in ret, 65 bytes), 0 not pinned, negative on error. A missing file
 * counts as empty. */
int image_pin_lookup(const char *pins_path, const char *key, char ret[65], struct app_err *e);
/* Record KEY -> hex (trust on first use); refuses to change an existing pin. */
int image_pin_record(const char *pins_path, const char *key, const char *hex, struct app_err *e);

/* SHA-256 of a whole file, hex. */
int image_file_sha256(const char *path, char ret[65], struct app_err *e);

/* A 32-byte digest as lower-case hex. */
void image_hex32(const unsigned char d[32], char ret[65]);

#endif
