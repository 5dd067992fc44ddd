/* mkinitramfs: write a Linux initramfs (cpio "newc", optionally compressed)
 * from a list file, with libarchive's cpio writer. Build-time tool of the
 * live system (iso/build.sh); not part of the installer.
 *
 * List format (one entry a line, like the kernel's gen_init_cpio; '#' starts
 * a comment, fields are separated by blanks):
 *   dir   NAME MODE
 *   file  NAME SOURCE MODE
 *   slink NAME TARGET
 *   nod   NAME MODE c|b MAJOR MINOR
 * NAME is the absolute path inside the archive. MODE is octal. Owners are
 * always root and every timestamp is SOURCE_DATE_EPOCH (default 0), so the
 * same inputs give the same bytes.
 *
 * usage: mkinitramfs [-c gzip|zstd|xz|none] -o OUT LIST
 * exit: 0 ok, 1 an input or the output failed, 2 usage. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct writer {
	struct archive *a;
	const char *list;
	int line;
	long ino;
	time_t mtime;
};

__attribute__((format(printf, 2, 3))) static int fail(const struct writer *w, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mkinitramfs: %s:%d: ", w->list, w->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static struct archive_entry *new_entry(struct writer *w, const char *name, mode_t type, const char *mode)
{
	struct archive_entry *e = archive_entry_new();
	char *end = NULL;
	unsigned long perm = strtoul(mode, &end, 8);

	if (!e)
		return NULL;
	if (*mode == '\0' || *end != '\0' || perm > 07777) {
		archive_entry_free(e);
		fail(w, "mode '%s' is not an octal permission", mode);
		return NULL;
	}
	/* The kernel's unpacker wants names without the leading '/'. */
	while (*name == '/')
		name++;
	archive_entry_set_pathname(e, *name ? name : ".");
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, (mode_t)perm);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, w->mtime, 0);
	archive_entry_set_ino(e, ++w->ino);
	archive_entry_set_nlink(e, type == AE_IFDIR ? 2 : 1);
	archive_entry_set_size(e, 0);
	return e;
}

static int write_header(struct writer *w, struct archive_entry *e)
{
	int r = archive_write_header(w->a, e);

	if (r != ARCHIVE_OK)
		fail(w, "writing header: %s", archive_error_string(w->a));
	return r == ARCHIVE_OK ? 0 : -1;
}

static int add_file(struct writer *w, const char *name, const char *src, const char *mode)
{
	struct archive_entry *e;
	struct stat st;
	char buf[1 << 16];
	ssize_t n;
	int fd, r = 0;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return fail(w, "source '%s' is not a readable regular file", src);
	}
	e = new_entry(w, name, AE_IFREG, mode);
	if (!e) {
		close(fd);
		return -1;
	}
	archive_entry_set_size(e, st.st_size);
	if (write_header(w, e) != 0)
		r = -1;
	while (r == 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(w->a, buf, (size_t)n) != n)
			r = fail(w, "writing data: %s", archive_error_string(w->a));
	if (r == 0 && n < 0)
		r = fail(w, "reading '%s' failed", src);
	archive_entry_free(e);
	close(fd);
	return r;
}

static int add_simple(struct writer *w, const char *name, mode_t type, const char *mode, const char *target,
		      dev_t rdev)
{
	struct archive_entry *e = new_entry(w, name, type, mode);
	int r;

	if (!e)
		return -1;
	if (target)
		archive_entry_set_symlink(e, target);
	if (type == AE_IFCHR || type == AE_IFBLK)
		archive_entry_set_rdev(e, rdev);
	r = write_header(w, e);
	archive_entry_free(e);
	return r;
}

/* One list line, already split into fields. */
static int add_line(struct writer *w, char **f, int n)
{
	if (strcmp(f[0], "dir") == 0 && n == 3)
		return add_simple(w, f[1], AE_IFDIR, f[2], NULL, 0);
	if (strcmp(f[0], "file") == 0 && n == 4)
		return add_file(w, f[1], f[2], f[3]);
	if (strcmp(f[0], "slink") == 0 && n == 3)
		return add_simple(w, f[1], AE_IFLNK, "0777", f[2], 0);
	if (strcmp(f[0], "nod") == 0 && n == 6 && (strcmp(f[3], "c") == 0 || strcmp(f[3], "b") == 0))
		return add_simple(w, f[1], f[3][0] == 'c' ? AE_IFCHR : AE_IFBLK, f[2], NULL,
				  makedev(strtoul(f[4], NULL, 10), strtoul(f[5], NULL, 10)));
	return fail(w,
		    "expected 'dir NAME MODE', 'file NAME SRC MODE', 'slink NAME TARGET' or "
		    "'nod NAME MODE c|b MAJ MIN', found '%s ...'",
		    f[0]);
}

static int set_filter(struct archive *a, const char *c)
{
	static const struct {
		const char *name;
		int (*add)(struct archive *);
	} filters[] = {
		{ "gzip", archive_write_add_filter_gzip },
		{ "zstd", archive_write_add_filter_zstd },
		{ "xz", archive_write_add_filter_xz },
		{ "none", archive_write_add_filter_none },
	};
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		if (strcmp(filters[i].name, c) == 0)
			return filters[i].add(a) == ARCHIVE_OK ? 0 : -1;
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mkinitramfs [-c gzip|zstd|xz|none] -o OUT LIST\n");
}

int main(int argc, char **argv)
{
	struct writer w = { .list = NULL };
	const char *out = NULL, *comp = "gzip", *epoch = getenv("SOURCE_DATE_EPOCH");
	char *line = NULL, *tmp;
	size_t cap = 0;
	FILE *in;
	int opt, r = 0;

	while ((opt = getopt(argc, argv, "c:o:h")) != -1) {
		switch (opt) {
		case 'c':
			comp = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!out || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	w.list = argv[optind];
	w.mtime = epoch ? (time_t)strtoll(epoch, NULL, 10) : 0;
	in = fopen(w.list, "r");
	if (!in) {
		fprintf(stderr, "mkinitramfs: cannot open list '%s': %s\n", w.list, strerror(errno));
		return 1;
	}
	w.a = archive_write_new();
	if (archive_write_set_format_cpio_newc(w.a) != ARCHIVE_OK || set_filter(w.a, comp) != 0) {
		fprintf(stderr, "mkinitramfs: compression '%s' is not one of gzip, zstd, xz, none\n", comp);
		archive_write_free(w.a);
		fclose(in);
		return 2;
	}
	/* Pad the output to 512 bytes with zeros: the kernel skips zeros between
	 * concatenated initramfs archives but finds the next one only at a 4-byte
	 * aligned offset, and the EFI stub concatenates initrd= files unpadded. */
	archive_write_set_bytes_per_block(w.a, 512);
	archive_write_set_bytes_in_last_block(w.a, 512);
	tmp = malloc(strlen(out) + 8);
	if (!tmp)
		abort();
	sprintf(tmp, "%s.tmp", out);
	if (archive_write_open_filename(w.a, tmp) != ARCHIVE_OK) {
		fprintf(stderr, "mkinitramfs: cannot create '%s': %s\n", tmp, archive_error_string(w.a));
		r = -1;
	}
	while (r == 0 && getline(&line, &cap, in) > 0) {
		char *f[8], *save = NULL, *tok;
		int n = 0;

		w.line++;
		line[strcspn(line, "#\n")] = '\0';
		for (tok = strtok_r(line, " \t", &save); tok && n < 8; tok = strtok_r(NULL, " \t", &save))
			f[n++] = tok;
		if (n > 0)
			r = add_line(&w, f, n);
	}
	if (r == 0 && archive_write_close(w.a) != ARCHIVE_OK) {
		fprintf(stderr, "mkinitramfs: writing '%s': %s\n", tmp, archive_error_string(w.a));
		r = -1;
	}
	archive_write_free(w.a);
	fclose(in);
	free(line);
	if (r == 0 && rename(tmp, out) != 0) {
		fprintf(stderr, "mkinitramfs: cannot rename '%s' to '%s': %s\n", tmp, out, strerror(errno));
		r = -1;
	}
	if (r != 0)
		unlink(tmp);
	free(tmp);
	return r == 0 ? 0 : 1;
}
