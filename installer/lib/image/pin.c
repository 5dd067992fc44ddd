/* Image Factory naming and the pins file; see pin.h. */
#include "image/pin.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "profile/model.h"

#define HASH_BLOCK (1u << 20)

void image_hex32(const unsigned char d[32], char out[65])
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[64] = '\0';
}

char *image_pin_key(const struct model *m, const char *schematic_id)
{
	const struct talos_image *im = &m->talos.image;
	return xasprintf("%s/%s/%s-%s.%s", schematic_id, m->talos.version,
			 im->platform ? im->platform : "metal", im->arch ? im->arch : "amd64",
			 im->format ? im->format : "raw.zst");
}

char *image_url(const struct model *m, const char *schematic_id)
{
	const struct talos_image *im = &m->talos.image;
	const char *base = im->mirror && *im->mirror ? im->mirror : im->factory;
	char *key = image_pin_key(m, schematic_id), *url;
	size_t bl = strlen(base);

	while (bl && base[bl - 1] == '/')
		bl--;
	url = xasprintf("%.*s/image/%s", (int)bl, base, key);
	free(key);
	return url;
}

char *image_cache_name(const struct model *m, const char *schematic_id)
{
	char *k = image_pin_key(m, schematic_id);
	for (char *p = k; *p; p++)
		if (*p == '/')
			*p = '-';
	return k;
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* The pins file is line-oriented YAML we also append to:
 *   pins:
 *     "KEY": HEX
 * Comments and blank lines are allowed. Anything else is an error with its line. */
int image_pin_lookup(const char *pins_path, const char *key, char ret[65], struct app_err *e)
{
	struct buf b = { 0 };
	char *line, *save = NULL;
	int lineno = 0, found = 0, r;
	bool in_pins = false;

	if (access(pins_path, F_OK) != 0)
		return 0;
	r = read_file(pins_path, 16u << 20, &b, e);
	if (r < 0)
		return r;
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char k[512], v[128];
		lineno++;
		if (line[strspn(line, " \t")] == '#' || line[strspn(line, " \t\r")] == '\0')
			continue;
		if (strncmp(line, "pins:", 5) == 0 && line[5 + strspn(line + 5, " \t\r")] == '\0') {
			in_pins = true;
			continue;
		}
		if (in_pins &&
		    (sscanf(line, " \"%511[^\"]\": %127s", k, v) == 2 ||
		     sscanf(line, " %511[^:\" ]: %127s", k, v) == 2) &&
		    (line[0] == ' ' || line[0] == '\t')) {
			if (!is_hex64(v)) {
				r = app_err_set(e, -EINVAL,
						"%s: pin '%s' is not a lower-case sha256 hex digest",
						pins_path, k);
				break;
			}
			if (strcmp(k, key) == 0) {
				memcpy(ret, v, 65);
				found = 1;
			}
			continue;
		}
		r = app_err_set(e, -EINVAL, "%s: unexpected line (expected 'pins:' then '  \"KEY\": SHA256')",
				pins_path);
		break;
	}
	buf_free(&b);
	return r < 0 ? r : found;
}

int image_pin_record(const char *pins_path, const char *key, const char *hex, struct app_err *e)
{
	struct buf b = { 0 };
	char have[65];
	int r = image_pin_lookup(pins_path, key, have, e);

	if (r < 0)
		return r;
	if (r == 1) {
		if (strcmp(have, hex) == 0)
			return 0;
		return app_err_set(e, -EEXIST, "%s: '%s' is already pinned to %s; refusing to record %s",
				   pins_path, key, have, hex);
	}
	if (access(pins_path, F_OK) == 0 && (r = read_file(pins_path, 16u << 20, &b, e)) < 0)
		return r;
	if (b.len == 0)
		buf_puts(&b, "# sha256 of Image Factory files, by "
			     "\"<schematic>/<version>/<platform>-<arch>.<format>\"\npins:\n");
	else if (b.data[b.len - 1] != '\n')
		buf_puts(&b, "\n");
	buf_printf(&b, "  \"%s\": %s\n", key, hex);
	r = write_file_atomic(pins_path, b.data, b.len, 0644, e);
	buf_free(&b);
	return r;
}

int image_file_sha256(const char *path, char ret[65], struct app_err *e)
{
	EVP_MD_CTX *md;
	unsigned char d[32];
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return app_err_set(e, -errno, "cannot open '%s': %s", path, strerror(errno));
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	buf = xmalloc(HASH_BLOCK);
	while ((n = read(fd, buf, HASH_BLOCK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = app_err_set(e, -errno, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
	}
	EVP_DigestFinal_ex(md, d, NULL);
	image_hex32(d, ret);
	EVP_MD_CTX_free(md);
	free(buf);
	close(fd);
	return r;
}
