/* The steps that write the install disk: the pinned Talos image (written,
 * read back, backup GPT moved) and the metal-iso partition holding the
 * node's config volume. */
#include "install/steps_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "image/image.h"
#include "image/partition.h"
#include "install/journal.h"

/* ---- write image ----------------------------------------------------------------- */

static int write_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	int r = step_need_install(c, e);

	if (r < 0)
		return r;
	if (!c->image_file)
		return step_unavailable(e, "no image (preflight-image did not run)");
	step_disk_inputs(in, "disk", c->install);
	buf_printf(in, "image.sha256=%s\n", c->image_sha);
	return 0;
}

static void write_describe(struct ctx *c)
{
	char sz[32];

	step_action(c, "write", "%s (%s): the whole disk is overwritten with Talos image %s (sha256 %s)",
		    step_disk_name(c->install), fmt_bytes(c->install->size, sz, sizeof(sz)), c->image_key,
		    c->image_sha);
	for (size_t i = 0; i < c->install->n_parts; i++)
		step_action(c, "erase", "%s partition %d (%s) is replaced", step_disk_name(c->install),
			    c->install->parts[i].partno,
			    fmt_bytes(c->install->parts[i].size, sz, sizeof(sz)));
}

static void image_progress(void *ctx, const struct image_progress *p)
{
	static const char *const phase_names[] = {
		[IMAGE_PHASE_WRITE] = "writing",
		[IMAGE_PHASE_VERIFY] = "reading back and comparing",
		[IMAGE_PHASE_FINISH] = "moving the backup GPT to the end of the disk",
	};
	struct ctx *c = ctx;

	if ((int)p->phase != c->image_phase &&
	    (size_t)p->phase < sizeof(phase_names) / sizeof(phase_names[0])) {
		c->image_phase = (int)p->phase;
		report_note(c->rep, c->step, "%s", phase_names[p->phase]);
		report_progress_restart(c->rep);
	}
	report_progress(c->rep, c->step, p->out_bytes, p->out_total);
}

static char *image_journal_path(struct ctx *c)
{
	return xasprintf("%s/image-%s.journal", journal_dir(c->j), c->install->name);
}

static int write_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct image_result res = { 0 };
	char *jp = image_journal_path(c);
	struct image_write_opts wo = {
		.source = c->image_file,
		.target = step_claim(c, c->install, DISK_ROLE_INSTALL),
		.sha256 = c->image_sha,
		.journal = jp,
	};
	int r;

	c->disks_touched = true;
	c->image_phase = -1;
	r = image_write(&wo, image_progress, c, &res, e);
	free(jp);
	if (r < 0)
		return r;
	snprintf(result, n, "image %s (%llu bytes) on %s, read back ok", res.image_digest,
		 (unsigned long long)res.image_size, step_disk_name(c->install));
	return 0;
}

/* The image's partitions are still where the image put them. */
static int write_check(struct ctx *c, const char *result, struct app_err *e)
{
	struct image_info ii;
	struct hw_sig *sigs = NULL;
	struct hw_part *parts = NULL;
	size_t ns = 0, np = 0;
	char *pt = NULL;
	int fd, r;

	r = image_inspect(c->image_file, NULL, &ii, e);
	if (r < 0)
		return r;
	fd = open(c->install->dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return app_err_set(e, -ESTALE, "cannot read '%s': %s", c->install->dev, strerror(errno));
	r = hw_probe_fd(fd, c->install->size, c->install->dev, &sigs, &ns, &parts, &np, &pt, e);
	close(fd);
	if (r == 0) {
		for (unsigned i = 0; i < ii.n_parts && r == 0; i++) {
			bool found = false;
			for (size_t k = 0; k < np; k++)
				found |= (unsigned)parts[k].partno == ii.parts[i].partno &&
					 parts[k].start == ii.parts[i].start &&
					 parts[k].size == ii.parts[i].size;
			if (!found)
				r = app_err_set(
				    e, -ESTALE, "'%s' no longer has the image's partition %u (%s)",
				    step_disk_name(c->install), ii.parts[i].partno, ii.parts[i].name);
		}
	}
	hw_sigs_free(sigs, ns);
	hw_parts_free(parts, np);
	free(pt);
	return r;
}

/* ---- config partition (image work: partition.h) --------------------------------- */

static int cpart_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	int r = step_need_install(c, e);

	if (r < 0)
		return r;
	step_disk_inputs(in, "disk", c->install);
	return 0;
}

static void cpart_describe(struct ctx *c)
{
	step_action(c, "partition",
		    "%s: add GPT partition '%s' after the image's last partition, holding %s/metal-iso.iso",
		    step_disk_name(c->install), PARTITION_CONFIG_NAME, c->node_dir);
}

static int cpart_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct disk_claim cl = step_claim(c, c->install, DISK_ROLE_INSTALL);
	struct partition_entry pe;
	enum partition_config_action act;
	struct buf vol = { 0 };
	char *vp = step_node_file(c, "metal-iso.iso"), sha[65];
	int fd, r;

	r = read_file(vp, 64u << 20, &vol, e);
	free(vp);
	if (r < 0)
		goto out;
	c->disks_touched = true;
	fd = disk_open_write_inv(&cl, &c->inv, c->install, 0, e);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = partition_config(fd, c->install->dev, vol.len, true, &pe, &act, e);
	if (r == 0 && pwrite(fd, vol.data, vol.len, (off_t)pe.start) != (ssize_t)vol.len)
		r = app_err_set(e, -errno ? -errno : -EIO,
				"cannot write the config volume to '%s' at %llu: %s",
				step_disk_name(c->install), (unsigned long long)pe.start, strerror(errno));
	if (r == 0 && fsync(fd) < 0)
		r = app_err_set(e, -errno, "cannot sync '%s': %s", step_disk_name(c->install),
				strerror(errno));
	close(fd);
	if (r == 0) {
		sha256_hex(vol.data, vol.len, sha);
		snprintf(result, n, "partition %u '%s' at %llu, %llu bytes, volume sha256 %s", pe.partno,
			 PARTITION_CONFIG_NAME, (unsigned long long)pe.start, (unsigned long long)pe.size,
			 sha);
	}
out:
	buf_free(&vol);
	return r;
}

/* The metal-iso partition is there and holds the volume we wrote. */
static int cpart_check(struct ctx *c, const char *result, struct app_err *e)
{
	struct partition_entry pe[16];
	unsigned np = 0;
	struct buf vol = { 0 };
	char *vp = step_node_file(c, "metal-iso.iso"), have[65], want[65];
	const char *w = strstr(result, "sha256 ");
	int fd, r;

	r = read_file(vp, 64u << 20, &vol, e);
	free(vp);
	if (r < 0) {
		buf_free(&vol);
		return -ESTALE;
	}
	sha256_hex(vol.data, vol.len, want);
	if (!w || strcmp(w + 7, want) != 0) {
		buf_free(&vol);
		return app_err_set(e, -ESTALE, "the config volume changed since it was written");
	}
	fd = open(c->install->dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		buf_free(&vol);
		return app_err_set(e, -ESTALE, "cannot read '%s': %s", step_disk_name(c->install),
				   strerror(errno));
	}
	r = partition_list(fd, c->install->dev, pe, 16, &np, NULL, e);
	if (r == 0) {
		r = app_err_set(e, -ESTALE, "'%s' has no '%s' partition", step_disk_name(c->install),
				PARTITION_CONFIG_NAME);
		for (unsigned i = 0; i < np; i++) {
			if (strcmp(pe[i].name, PARTITION_CONFIG_NAME) != 0)
				continue;
			if (pread(fd, vol.data, vol.len, (off_t)pe[i].start) != (ssize_t)vol.len) {
				r = app_err_set(e, -ESTALE, "cannot read '%s' partition %u",
						step_disk_name(c->install), pe[i].partno);
				break;
			}
			sha256_hex(vol.data, vol.len, have);
			r = strcmp(have, want) == 0
				? 0
				: app_err_set(e, -ESTALE, "'%s' partition %u does not hold the config volume",
					      step_disk_name(c->install), pe[i].partno);
			break;
		}
	}
	close(fd);
	buf_free(&vol);
	return r < 0 ? -ESTALE : 0;
}

/* ---- the rows --------------------------------------------------------------------- */

const struct step step_write = { .needs = BIT(S_RESOLVE) | BIT(S_IMAGE),
				 .title = "write the Talos image",
				 .kind = KIND_CHANGE,
				 .anytime = true,
				 .deps = BIT(S_IMAGE),
				 .inputs = write_inputs,
				 .describe = write_describe,
				 .run = write_run,
				 .check = write_check };
const struct step step_config_part = { .needs = BIT(S_RESOLVE) | BIT(S_WRITE) | BIT(S_CONFIG),
				       .title = "add the metal-iso config partition",
				       .kind = KIND_CHANGE,
				       .deps = BIT(S_WRITE) | BIT(S_CONFIG),
				       .inputs = cpart_inputs,
				       .describe = cpart_describe,
				       .run = cpart_run,
				       .check = cpart_check };
