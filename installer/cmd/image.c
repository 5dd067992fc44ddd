/* appliance image: fetch the node image into a cache, write it onto a disk,
 * add the metal-iso config partition. The work is in lib/image.c, fetch.c and
 * partition.c; this file parses options and prints. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "base/json.h"
#include "disk/disk.h"
#include "base/err.h"
#include "net/fetch.h"
#include "image/cache.h"
#include "image/image.h"
#include "profile/model.h"
#include "image/partition.h"
#include "talos/talos_schematic.h"
#include "base/util.h"

/* the cache install reads: STATE_DIR/cache ($APPLIANCE_STATE_DIR, else /var/lib/appliance) */
#define DEFAULT_CACHE "/var/lib/appliance/cache"

static const char usage_text[] =
    "usage: appliance image fetch PROFILE [--site FILE]... [--set KEY=VALUE]...\n"
    "                 [--cache DIR] [--trust-on-first-use] [--ca-file FILE] [--json]\n"
    "       appliance image write SOURCE DEVICE [--sha256 HEX] [--journal FILE]\n"
    "                 [--ca-file FILE] [--keep-backup-gpt] [--apply] [--json]\n"
    "       appliance image add-config DEVICE --volume FILE [--apply] [--json]\n"
    "\n"
    "fetch       download the profile's Talos image (Image Factory or\n"
    "            talos.image.mirror) into the cache install reads (default\n"
    "            $APPLIANCE_STATE_DIR/cache, else " DEFAULT_CACHE "),\n"
    "            resuming a partial download, and check it against the SHA-256\n"
    "            pinned in talos.image.pins. An unpinned image is refused unless\n"
    "            --trust-on-first-use, which records the hash it saw.\n"
    "write       write SOURCE (file or http(s) URL; zstd, xz, gzip or raw) onto\n"
    "            DEVICE (block device or image file): zero runs are zeroed\n"
    "            without writing, every chunk is read back and compared, the\n"
    "            partition table goes on last, the backup GPT moves to the end of\n"
    "            the disk. A re-run after an interruption skips chunks the journal\n"
    "            lists that read back correct. --sha256: expected hash of SOURCE.\n"
    "            Without --apply: print what would be written.\n"
    "add-config  add (or replace in place) the 'metal-iso' partition holding the\n"
    "            Talos config volume FILE right after the last partition.\n"
    "            Without --apply: plan only.\n"
    "--json      one JSON object on stdout: the result ({command, ..., ok, exit,\n"
    "            error}), also on failure; progress stays on stderr\n"
    "\n"
    "examples:\n"
    "  appliance image fetch site.yaml\n"
    "  appliance image write talos.raw.zst /dev/sdb --apply\n"
    "  appliance image fetch site.yaml --json | jq -r .file\n"
    "\n"
    "exit codes: 0 ok, 1 failure, 2 usage error or invalid input\n";

#define usage_error(...) cmd_usage_error("image", __VA_ARGS__)

/* ---- progress on stderr: a redrawn line on a TTY, else every 10% ---------------- */

struct prog {
	const char *what;
	bool tty;
	int last_pct;
	int last_phase;
};

static void prog_line(struct prog *p, const char *phase, uint64_t done, uint64_t total)
{
	char d[32], t[32];
	int pct = total ? (int)(done * 100 / total) : -1;

	if (!p->tty && (pct < 0 || pct / 10 == p->last_pct / 10))
		return;
	if (p->tty && pct == p->last_pct)
		return;
	p->last_pct = pct;
	fmt_bytes(done, d, sizeof(d));
	fmt_bytes(total, t, sizeof(t));
	if (total)
		fprintf(stderr, "%s%s: %s %s of %s (%d%%)%s", p->tty ? "\r" : "", p->what, phase, d, t, pct,
			p->tty ? "\033[K" : "\n");
	else
		fprintf(stderr, "%s%s: %s %s%s", p->tty ? "\r" : "", p->what, phase, d,
			p->tty ? "\033[K" : "\n");
}

static void fetch_prog(void *ctx, uint64_t done, uint64_t total)
{
	prog_line(ctx, "downloaded", done, total);
}

static void fetch_retry(void *ctx, int attempt, uint64_t at, const char *why)
{
	struct prog *p = ctx;
	fprintf(stderr, "%s%s: retry %d, resuming at byte %llu: %s\n", p->tty ? "\r\033[K" : "", p->what,
		attempt, (unsigned long long)at, why);
}

static void write_prog(void *ctx, const struct image_progress *ip)
{
	struct prog *p = ctx;
	if ((int)ip->phase != p->last_phase) {
		p->last_phase = (int)ip->phase;
		p->last_pct = -10;
		if (p->tty)
			fputc('\n', stderr);
	}
	prog_line(p, ip->phase == IMAGE_PHASE_WRITE ? "written" : "verified", ip->out_bytes, ip->out_total);
}

static void prog_end(struct prog *p)
{
	if (p->tty)
		fputc('\n', stderr);
}

/* ---- fetch ---------------------------------------------------------------------- */

static int do_fetch(int argc, char **argv)
{
	struct profile_opts po = { 0 };
	const char *cache, *ca = NULL;
	static char state_cache[4096];
	bool tofu = false;
	struct model *m = NULL;
	struct app_err e = { 0 };
	char schem[65], pinned[65], have[65];
	char *key = NULL, *url = NULL, *name = NULL, *file = NULL, *pins = NULL;
	struct prog pg = { .what = "image fetch", .tty = isatty(2), .last_pct = -10 };
	int rc = EXIT_FAIL, r;

	snprintf(state_cache, sizeof(state_cache), "%s/cache", cmd_state_dir());
	cache = state_cache;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (cmd_is_help(argv[i])) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
		r = profile_opts_arg(&po, argc, argv, &i);
		if (r < 0)
			goto usage;
		if (r > 0)
			continue;
		if ((r = cmd_opt_value(argc, argv, &i, "--cache", &v)) > 0) {
			cache = v;
		} else if (r == 0 && (r = cmd_opt_value(argc, argv, &i, "--ca-file", &v)) > 0) {
			ca = v;
		} else if (r < 0) {
			profile_opts_free(&po);
			return usage_error("option '%s' needs a value", argv[i]);
		} else if (strcmp(argv[i], "--trust-on-first-use") == 0) {
			tofu = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			/* the result object (cmd/result.c); progress stays on stderr */
		} else if (argv[i][0] == '-') {
			profile_opts_free(&po);
			return usage_error("unknown option '%s'", argv[i]);
		} else if (!po.profile) {
			po.profile = argv[i];
		} else {
			profile_opts_free(&po);
			return usage_error("unexpected argument '%s'", argv[i]);
		}
	}
	if (!po.profile) {
		profile_opts_free(&po);
		return usage_error("%s", "fetch needs a PROFILE");
	}
	m = cmd_load_model(&po, false);
	if (!m) {
		profile_opts_free(&po);
		return EXIT_USAGE;
	}
	if (!m->talos.image.pins || !*m->talos.image.pins) {
		cmd_error("the profile pins no image hashes: set talos.image.pins (see docs/image.md)");
		rc = EXIT_USAGE;
		goto out;
	}
	if ((r = talos_schematic_id(m, schem, &e)) < 0) {
		cmd_err(&e);
		goto out;
	}
	key = image_pin_key(m, schem);
	url = image_url(m, schem);
	name = image_cache_name(m, schem);
	file = xasprintf("%s/%s", cache, name);
	pins = model_path(m, m->talos.image.pins);
	cmd_json_str("key", key);
	cmd_json_str("url", url);
	cmd_json_str("file", file);
	cmd_json_str("pins", pins);
	r = image_pin_lookup(pins, key, pinned, &e);
	if (r < 0) {
		cmd_err(&e);
		rc = EXIT_USAGE;
		goto out;
	}
	if (r == 0 && !tofu) {
		cmd_error("image '%s' is not pinned in '%s'; refusing to use it (pass --trust-on-first-use "
			  "to record "
			  "the hash it has now)",
			  key, pins);
		goto out;
	}
	{
		/* the download-and-verify path install and pxe use; without a pin (trust on
		 * first use) it downloads again and the hash is recorded below */
		struct fetch_opts fo = {
			.url = url,
			.ca_file = ca,
			.progress = fetch_prog,
			.on_retry = fetch_retry,
			.ctx = &pg,
		};
		const char *b = getenv("APPLIANCE_FETCH_BACKOFF_MS");
		bool downloaded = false;
		int g;

		if (b)
			fo.backoff_ms = (unsigned)atoi(b);
		g = image_cache_get(&m->talos.image, &fo, file, r == 1 ? pinned : NULL, &downloaded, &e);
		if (g < 0 || downloaded)
			prog_end(&pg);
		if (g == -EBADMSG) {
			cmd_error("%s (the pin is in '%s')", e.msg, pins);
			goto out;
		}
		if (g < 0) {
			cmd_err(&e);
			goto out;
		}
		if (!downloaded) {
			cmd_json_str("sha256", pinned);
			cmd_json_str("source", "cache");
			cmd_json_bool("recorded", false);
			if (!cmd_json())
				printf("image %s\n  cached  %s\n  sha256  %s (as pinned)\n", key, file,
				       pinned);
			rc = EXIT_OK;
			goto out;
		}
	}
	if (r == 1)
		snprintf(have, sizeof(have), "%s", pinned);
	else if (image_file_sha256(file, have, &e) < 0) {
		cmd_err(&e);
		goto out;
	}
	cmd_json_str("sha256", have);
	cmd_json_str("source", "download");
	cmd_json_bool("recorded", r == 0);
	if (cmd_json()) {
		if (r == 0 && image_pin_record(pins, key, have, &e) < 0) {
			cmd_err(&e);
			goto out;
		}
	} else if (r == 0) {
		if (image_pin_record(pins, key, have, &e) < 0) {
			cmd_err(&e);
			goto out;
		}
		printf("image %s\n  from    %s\n  cached  %s\n  sha256  %s (trusted on first use, recorded "
		       "in %s)\n",
		       key, url, file, have, pins);
	} else {
		printf("image %s\n  from    %s\n  cached  %s\n  sha256  %s (as pinned)\n", key, url, file,
		       have);
	}
	rc = EXIT_OK;
out:
	free(key);
	free(url);
	free(name);
	free(file);
	free(pins);
	model_free(m);
	profile_opts_free(&po);
	return rc;
usage:
	profile_opts_free(&po);
	return usage_error("%s", "invalid options");
}

/* ---- write ---------------------------------------------------------------------- */

static uint64_t target_size(const char *path)
{
	struct stat st;
	uint64_t sz = 0;
	int fd;

	if (stat(path, &st) < 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
			sz = 0;
		close(fd);
	}
	return sz;
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdefABCDEF", *s))
			return false;
	return true;
}

/* write --json without --apply: what would be written, and whether it may be */
static int write_plan_json(const char *src, const struct image_info *ii, uint64_t dsz,
			   const struct disk_claim *dc)
{
	struct app_err e = { 0 };
	struct buf b = { 0 };

	cmd_json_str("format", ii->format);
	cmd_json_int("deviceSize", (long long)dsz);
	cmd_json_int("imageSize", (long long)ii->image_size);
	buf_puts(&b, "[");
	for (unsigned i = 0; ii->gpt && i < ii->n_parts; i++) {
		buf_printf(&b, "%s{\"partno\":%u,\"name\":", i ? "," : "", ii->parts[i].partno);
		json_buf_str(&b, ii->parts[i].name);
		buf_puts(&b, ",\"type\":");
		json_buf_str(&b, ii->parts[i].type);
		buf_printf(&b, ",\"start\":%llu,\"size\":%llu}", (unsigned long long)ii->parts[i].start,
			   (unsigned long long)ii->parts[i].size);
	}
	buf_puts(&b, "]");
	cmd_json_raw("partitions", b.data);
	buf_free(&b);
	if (dsz && ii->image_size > dsz) {
		cmd_error("disk '%s' is too small: image '%s' needs %llu bytes, the disk has %llu", dc->path,
			  src, (unsigned long long)ii->image_size, (unsigned long long)dsz);
		return EXIT_FAIL;
	}
	if (disk_policy_check(dc, &e) < 0) {
		cmd_err(&e);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int do_write(int argc, char **argv)
{
	const char *src = NULL, *dev = NULL, *sha = NULL, *journal = NULL, *ca = NULL;
	bool apply = false, keep_gpt = false;
	struct app_err e = { 0 };
	char a[32], b[32];

	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if (cmd_is_help(argv[i])) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
		if ((r = cmd_opt_value(argc, argv, &i, "--sha256", &v)) != 0)
			sha = v;
		else if ((r = cmd_opt_value(argc, argv, &i, "--journal", &v)) != 0)
			journal = v;
		else if ((r = cmd_opt_value(argc, argv, &i, "--ca-file", &v)) != 0)
			ca = v;
		else if (strcmp(argv[i], "--apply") == 0)
			apply = true;
		else if (strcmp(argv[i], "--keep-backup-gpt") == 0)
			keep_gpt = true;
		else if (strcmp(argv[i], "--json") == 0)
			; /* the result object (cmd/result.c); progress stays on stderr */
		else if (argv[i][0] == '-' && argv[i][1])
			return usage_error("unknown option '%s'", argv[i]);
		else if (!src)
			src = argv[i];
		else if (!dev)
			dev = argv[i];
		else
			return usage_error("unexpected argument '%s'", argv[i]);
		if (r < 0)
			return usage_error("option '%s' needs a value", argv[i]);
	}
	if (!src || !dev)
		return usage_error("%s", "write needs SOURCE and DEVICE");
	if (sha && !is_hex64(sha))
		return usage_error("--sha256 '%s': expected 64 hex digits", sha);

	cmd_json_str("source", src);
	cmd_json_str("device", dev);
	cmd_json_bool("apply", apply);
	if (access(dev, F_OK) != 0 && errno == ENOENT) {
		/* an image file is written only when it exists (disk policy): say how */
		cmd_error("'%s' does not exist: DEVICE is a disk or an image file; for a new image "
			  "file create it empty first ('truncate -s 0 %s'): it grows to the image's size",
			  dev, dev);
		return EXIT_FAIL;
	}
	if (!apply) {
		struct image_info ii;
		uint64_t dsz = target_size(dev);
		struct disk_claim dc = { .path = dev, .role = DISK_ROLE_INSTALL };
		if (image_inspect(src, ca, &ii, &e) < 0) {
			cmd_err(&e);
			return EXIT_FAIL;
		}
		if (cmd_json())
			return write_plan_json(src, &ii, dsz, &dc);
		fmt_bytes(dsz, a, sizeof(a));
		printf("would write %s (%s%s)\n", src, ii.format,
		       ii.source_size ? "" : ", size unknown until downloaded");
		printf("  to      %s (%s)\n", dev, dsz ? a : "empty: grows to the image's size");
		if (ii.gpt) {
			fmt_bytes(ii.image_size, b, sizeof(b));
			printf("  image   %llu bytes (%s), GPT:\n", (unsigned long long)ii.image_size, b);
			for (unsigned i = 0; i < ii.n_parts; i++) {
				fmt_bytes(ii.parts[i].size, b, sizeof(b));
				printf("    %u  %-10s %-18s start %llu  size %s\n", ii.parts[i].partno,
				       ii.parts[i].name, ii.parts[i].type,
				       (unsigned long long)ii.parts[i].start, b);
			}
			if (dsz && dsz > ii.image_size) {
				fmt_bytes(dsz - ii.image_size, b, sizeof(b));
				printf("  after   backup GPT moved to the end of the disk; %s stay free for "
				       "STATE and "
				       "EPHEMERAL\n",
				       b);
			}
		} else {
			printf("  image   no GPT found in its first bytes; size known after decompression\n");
		}
		if (dsz && ii.image_size > dsz) {
			cmd_error("disk '%s' is too small: image '%s' needs %llu bytes, the disk has %llu",
				  dev, src, (unsigned long long)ii.image_size, (unsigned long long)dsz);
			return EXIT_FAIL;
		}
		if (disk_policy_check(&dc, &e) < 0) {
			cmd_err(&e);
			return EXIT_FAIL;
		}
		printf("dry run: nothing written; add --apply to write\n");
		return EXIT_OK;
	}

	{
		struct image_write_opts wo = {
			.source = src,
			.ca_file = ca,
			.target = { .path = dev, .role = DISK_ROLE_INSTALL },
			.sha256 = sha,
			.journal = journal,
			.state_dir = cmd_state_dir(),
			.keep_backup_gpt = keep_gpt,
		};
		struct image_result res = { 0 };
		struct prog pg = {
			.what = "image write", .tty = isatty(2), .last_pct = -10, .last_phase = -1
		};
		const char *bo = getenv("APPLIANCE_FETCH_BACKOFF_MS");
		char w[32], z[32], s[32], v[32];
		int r;

		if (bo)
			wo.fetch_backoff_ms = (unsigned)atoi(bo);
		wo.on_retry = fetch_retry;
		wo.retry_ctx = &pg;
		r = image_write(&wo, write_prog, &pg, &res, &e);
		prog_end(&pg);
		if (r < 0) {
			cmd_err(&e);
			return EXIT_FAIL;
		}
		if (cmd_json()) {
			cmd_json_str("format", res.format);
			cmd_json_int("imageSize", (long long)res.image_size);
			cmd_json_int("written", (long long)res.written);
			cmd_json_int("zeroed", (long long)res.zeroed);
			cmd_json_int("skipped", (long long)res.skipped);
			cmd_json_int("verified", (long long)res.verified);
			cmd_json_bool("directIO", res.direct_io);
			cmd_json_str("sourceSha256", sha ? res.source_sha256 : NULL);
			cmd_json_bool("gptRelocated", res.gpt_relocated);
			return EXIT_OK;
		}
		fmt_bytes(res.image_size, a, sizeof(a));
		fmt_bytes(res.written, w, sizeof(w));
		fmt_bytes(res.zeroed, z, sizeof(z));
		fmt_bytes(res.skipped, s, sizeof(s));
		fmt_bytes(res.verified, v, sizeof(v));
		printf("wrote %s to %s: image %llu bytes (%s, %s)\n", src, dev,
		       (unsigned long long)res.image_size, a, res.format);
		printf("  written  %llu bytes (%s)%s\n", (unsigned long long)res.written, w,
		       res.direct_io ? " with O_DIRECT" : "");
		printf("  zeroed   %llu bytes (%s) without writing data\n", (unsigned long long)res.zeroed,
		       z);
		printf("  skipped  %llu bytes (%s) already on the disk\n", (unsigned long long)res.skipped,
		       s);
		printf("  verified %llu bytes (%s) read back equal\n", (unsigned long long)res.verified, v);
		if (sha)
			printf("  source   sha256 %s (as expected)\n", res.source_sha256);
		if (res.gpt_relocated)
			printf("  gpt      backup header moved to the end of the disk\n");
	}
	return EXIT_OK;
}

/* ---- add-config ---------------------------------------------------------------- */

static int do_add_config(int argc, char **argv)
{
	const char *dev = NULL, *vol = NULL;
	bool apply = false;
	struct app_err e = { 0 };
	struct partition_entry pe;
	enum partition_config_action act;
	static const char *act_names[] = { "create", "reuse", "grow" };
	struct stat st;
	char a[32];
	int fd, r, rc = EXIT_FAIL;

	for (int i = 1; i < argc; i++) {
		const char *v;
		if (cmd_is_help(argv[i])) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
		if ((r = cmd_opt_value(argc, argv, &i, "--volume", &v)) != 0) {
			if (r < 0)
				return usage_error("option '%s' needs a value", argv[i]);
			vol = v;
		} else if (strcmp(argv[i], "--apply") == 0) {
			apply = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			/* the result object (cmd/result.c) */
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("unknown option '%s'", argv[i]);
		} else if (!dev) {
			dev = argv[i];
		} else {
			return usage_error("unexpected argument '%s'", argv[i]);
		}
	}
	if (!dev || !vol)
		return usage_error("%s", "add-config needs DEVICE and --volume FILE");
	errno = 0;
	if (stat(vol, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		cmd_error("config volume '%s': %s", vol,
			  errno ? strerror(errno) : "not a non-empty regular file");
		return EXIT_USAGE;
	}
	if (apply) {
		struct disk_claim dc = { .path = dev, .role = DISK_ROLE_INSTALL };
		fd = disk_open_write(&dc, 0, &e);
	} else {
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fd = app_err_set(&e, -errno, "cannot open '%s': %s", dev, strerror(errno));
	}
	if (fd < 0) {
		cmd_err(&e);
		return EXIT_FAIL;
	}
	r = partition_config(fd, dev, (uint64_t)st.st_size, apply, &pe, &act, &e);
	if (r < 0) {
		cmd_err(&e);
		goto out;
	}
	fmt_bytes(pe.size, a, sizeof(a));
	cmd_json_str("device", dev);
	cmd_json_str("volume", vol);
	cmd_json_bool("apply", apply);
	cmd_json_str("action", act_names[act]);
	cmd_json_int("partno", pe.partno);
	cmd_json_str("name", PARTITION_CONFIG_NAME);
	cmd_json_int("start", (long long)pe.start);
	cmd_json_int("size", (long long)pe.size);
	cmd_json_int("volumeBytes", (long long)st.st_size);
	if (!apply && cmd_json()) {
		rc = EXIT_OK;
		goto out;
	}
	if (!apply) {
		printf(
		    "would %s partition %u '%s' on %s at byte %llu, %s, and write %s (%lld bytes) into it\n",
		    act_names[act], pe.partno, PARTITION_CONFIG_NAME, dev, (unsigned long long)pe.start, a,
		    vol, (long long)st.st_size);
		printf("dry run: nothing written; add --apply to write\n");
		rc = EXIT_OK;
		goto out;
	}
	{
		struct buf b = { 0 };
		char *zeros;
		uint64_t off = pe.start + (uint64_t)st.st_size, end = pe.start + pe.size;
		r = read_file(vol, 64u << 20, &b, &e);
		if (r == 0 && pwrite(fd, b.data, b.len, (off_t)pe.start) != (ssize_t)b.len)
			r = app_err_set(&e, -errno, "cannot write the config volume to '%s': %s", dev,
					strerror(errno));
		buf_free(&b);
		/* the rest of the partition reads as zeros: no stale volume tail */
		zeros = xcalloc(1, 1 << 20);
		while (r == 0 && off < end) {
			size_t n = end - off < (1 << 20) ? (size_t)(end - off) : (1 << 20);
			if (pwrite(fd, zeros, n, (off_t)off) != (ssize_t)n)
				r = app_err_set(&e, -errno, "cannot write to '%s': %s", dev, strerror(errno));
			off += n;
		}
		free(zeros);
		if (r == 0 && fsync(fd) < 0)
			r = app_err_set(&e, -errno, "cannot sync '%s': %s", dev, strerror(errno));
		if (r < 0) {
			cmd_err(&e);
			goto out;
		}
	}
	if (!cmd_json())
		printf("%s partition %u '%s' on %s at byte %llu, %s; wrote %s (%lld bytes)\n",
		       act == PARTITION_CONFIG_CREATE	? "created"
		       : act == PARTITION_CONFIG_RESIZE ? "grew"
							: "reused",
		       pe.partno, PARTITION_CONFIG_NAME, dev, (unsigned long long)pe.start, a, vol,
		       (long long)st.st_size);
	rc = EXIT_OK;
out:
	close(fd);
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} subs[] = {
	{ "fetch", do_fetch },
	{ "write", do_write },
	{ "add-config", do_add_config },
};

int cmd_image(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%s", "missing subcommand (fetch, write, add-config)");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0) {
			char *name = xasprintf("image %s", subs[i].name);
			cmd_json_begin(argc, argv, name);
			free(name);
		}
	cmd_json_begin(argc, argv, "image"); /* an unknown subcommand: still a JSON answer */
	if (cmd_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	return usage_error("unknown subcommand '%s'", argv[1]);
}
