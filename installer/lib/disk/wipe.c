/* Ceph disk preparation: plan, parallel apply, verify, backup and restore. */
#include "disk/wipe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk/disk.h"
#include "base/err.h"
#include "disk/selector.h"
#include "base/util.h"

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)
#define EDGE_ZERO (100 * MiB)	/* first/last bytes zeroed when not discarding */
#define ROOK_ZAP (200 * 1024)	/* dd bs=1K count=200 */
#define GPT_ENTRIES (16 * 1024) /* 128 entries x 128 bytes */
#define CHUNK (1 * MiB)
#define READ_BUF (2 * MiB) /* backup reads: a multiple of CHUNK, one huge page */

static const char *const kind_names[] = {
	[WIPE_SIGNATURE] = "signature", [WIPE_MBR] = "mbr",	    [WIPE_GPT] = "gpt",
	[WIPE_ROOK] = "rook-zap",	[WIPE_DISCARD] = "discard", [WIPE_ZERO] = "zero",
};

const char *wipe_kind_name(enum wipe_kind k)
{
	if ((unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]))
		return kind_names[k];
	return "?";
}

/* Rook's zap offsets (docs: "Zapping Devices"), with their names. */
static const struct {
	uint64_t offset;
	const char *name;
} rook_offsets[] = {
	{ 0, "rook-0" },
	{ 1 * GiB, "rook-1G" },
	{ 10 * GiB, "rook-10G" },
	{ 100 * GiB, "rook-100G" },
	{ 1000 * GiB, "rook-1000G" },
};

static void add_region(struct wipe_target *t, uint64_t off, uint64_t len, enum wipe_kind k, const char *type,
		       int partno)
{
	if (off >= t->size || len == 0)
		return;
	if (len > t->size - off)
		len = t->size - off;
	t->v = xrealloc(t->v, sizeof(*t->v) * (t->n + 1));
	t->v[t->n++] = (struct wipe_region){
		.offset = off, .length = len, .kind = k, .type = xstrdup(type), .partno = partno
	};
}

void wipe_plan_disk(const struct hw_disk *d, bool backup, struct wipe_target *t)
{
	uint64_t ls = d->lsec ? d->lsec : 512;

	memset(t, 0, sizeof(*t));
	t->path = xstrdup(d->path);
	t->size = d->size;
	t->lsec = (uint32_t)ls;
	t->discard = d->discard && !backup;
	for (size_t i = 0; i < d->n_sigs; i++)
		add_region(t, d->sigs[i].offset, d->sigs[i].length, WIPE_SIGNATURE, d->sigs[i].type,
			   d->sigs[i].partno);
	add_region(t, 0, ls, WIPE_MBR, "mbr", 0);
	add_region(t, ls, ls + GPT_ENTRIES, WIPE_GPT, "gpt-primary", 0);
	if (d->size > 2 * (ls + GPT_ENTRIES))
		add_region(t, d->size - ls - GPT_ENTRIES, ls + GPT_ENTRIES, WIPE_GPT, "gpt-backup", 0);
	for (size_t i = 0; i < sizeof(rook_offsets) / sizeof(rook_offsets[0]); i++)
		add_region(t, rook_offsets[i].offset, ROOK_ZAP, WIPE_ROOK, rook_offsets[i].name, 0);
	if (t->discard) {
		add_region(t, 0, d->size, WIPE_DISCARD, "discard", 0);
	} else {
		add_region(t, 0, EDGE_ZERO, WIPE_ZERO, "zero-start", 0);
		if (d->size > EDGE_ZERO)
			add_region(t, d->size > 2 * EDGE_ZERO ? d->size - EDGE_ZERO : EDGE_ZERO,
				   d->size > 2 * EDGE_ZERO ? EDGE_ZERO : d->size - EDGE_ZERO, WIPE_ZERO,
				   "zero-end", 0);
	}
}

static void target_free(struct wipe_target *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].type);
	free(t->v);
	free(t->path);
	free(t->key);
}

void wipe_plan_free(struct wipe_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		target_free(&p->v[i]);
	free(p->v);
	free(p->root);
	free(p->live);
	memset(p, 0, sizeof(*p));
}

void wipe_result_free(struct wipe_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].path);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* fn(item) for each of the n items of size bytes at v, one thread each (in
 * this thread when none can be started); returns once all are done. */
static void run_parallel(void *v, size_t size, size_t n, void *(*fn)(void *))
{
	pthread_t *th = xcalloc(n ? n : 1, sizeof(*th));
	bool *started = xcalloc(n ? n : 1, sizeof(*started));

	for (size_t i = 0; i < n; i++) {
		void *it = (char *)v + i * size;
		started[i] = pthread_create(&th[i], NULL, fn, it) == 0;
		if (!started[i])
			fn(it);
	}
	for (size_t i = 0; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	free(th);
	free(started);
}

static void plan_disks_free(struct hw_disk *pd, const char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hw_disk_free(&pd[i]);
	free(pd);
	free(keys);
}

static void *probe_worker(void *arg)
{
	hw_probe_disk(arg);
	return NULL;
}

int wipe_plan_node(const struct model *m, const struct model_node *node, const struct hw_inventory *inv,
		   const struct wipe_opts *o, struct wipe_plan *ret, struct app_err *e)
{
	struct selector_result sr = { 0 };
	struct wipe_plan p = { 0 };
	const struct hw_disk *only = NULL;
	struct hw_disk *pd = NULL; /* the disks to wipe (copies: probed here when inv was not) */
	const char **keys = NULL;  /* the selector key of each */
	size_t n_pd = 0;
	bool only_found = false;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = selector_resolve_node(m, node, inv, &sr, e);
	if (r < 0) {
		selector_result_free(&sr);
		return r;
	}
	if (o && o->only) {
		only = hw_find(inv, o->only);
		if (!only) {
			selector_result_free(&sr);
			return app_err_set(e, -ENOENT, "disk '%s' is not a disk this machine lists", o->only);
		}
	}
	p.model = m;
	p.node = node;
	p.inv = inv;
	p.root = o && o->root ? xstrdup(o->root) : NULL;
	p.live = o && o->live ? xstrdup(o->live) : NULL;
	for (size_t i = 0; i < sr.n; i++) {
		const struct selector_role *x = &sr.v[i];

		if (x->role != DISK_ROLE_CEPH)
			continue;
		for (size_t k = 0; k < x->n_disks; k++) {
			const struct hw_disk *d = &inv->v[x->disks[k]];
			struct disk_claim c = { .path = d->path,
						.role = DISK_ROLE_CEPH,
						.model = m,
						.node = node,
						.min_size = x->min_size,
						.root = p.root,
						.live = p.live };

			if (only && only != d)
				continue;
			only_found = true;
			r = disk_policy_check_inv(&c, inv, d, e);
			if (r < 0)
				goto fail;
			if (o && o->unattended && !x->wipe) {
				r = app_err_set(
				    e, -EPERM,
				    "%s does not say 'wipe: true'; refusing to wipe '%s' unattended", x->key,
				    d->path);
				goto fail;
			}
			/* sysfs-only inventory: libblkid reads just the disks to wipe, below */
			pd = xrealloc(pd, sizeof(*pd) * (n_pd + 1));
			hw_disk_copy(d, &pd[n_pd]);
			keys = xrealloc(keys, sizeof(*keys) * (n_pd + 1));
			keys[n_pd++] = x->key;
		}
	}
	/* the disks are probed in parallel, like they are wiped: N disks take the
	 * time of one */
	if (!inv->probed)
		run_parallel(pd, sizeof(*pd), n_pd, probe_worker);
	for (size_t i = 0; i < n_pd; i++) {
		struct wipe_target t;

		if (pd[i].probe_error) {
			r = app_err_set(e, -EIO, "disk '%s': %s", pd[i].path, pd[i].probe_error);
			goto fail;
		}
		wipe_plan_disk(&pd[i], o && o->backup, &t);
		t.key = xstrdup(keys[i]);
		p.v = xrealloc(p.v, sizeof(*p.v) * (p.n + 1));
		p.v[p.n++] = t;
	}
	if (only && !only_found) {
		struct disk_claim c = { .path = only->path,
					.role = DISK_ROLE_CEPH,
					.model = m,
					.node = node,
					.root = p.root,
					.live = p.live };

		r = disk_policy_check_inv(&c, inv, only, e);
		if (r == 0)
			r = app_err_set(e, -EPERM,
					"disk '%s' is not named by any cephDisks selector of node '%s'; "
					"refusing to write",
					only->path, node->name);
		goto fail;
	}
	plan_disks_free(pd, keys, n_pd);
	selector_result_free(&sr);
	*ret = p;
	return 0;
fail:
	plan_disks_free(pd, keys, n_pd);
	selector_result_free(&sr);
	wipe_plan_free(&p);
	return r;
}

/* ---- low-level I/O ------------------------------------------------------ */

static const unsigned char zeros[CHUNK];

static int write_zeros(int fd, uint64_t off, uint64_t len, uint64_t *count)
{
	while (len) {
		size_t n = len > CHUNK ? CHUNK : (size_t)len;
		ssize_t w = pwrite(fd, zeros, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)w;
		len -= (uint64_t)w;
		*count += (uint64_t)w;
	}
	return 0;
}

/* Zero [off, off+len). Large ranges go to the kernel: BLKZEROOUT on block
 * devices (write-zeroes offload; loop devices turn it into fallocate on the
 * backing file) for the 512-byte aligned middle, FALLOC_FL_ZERO_RANGE on image
 * files; small or unaligned bits, and anything the kernel refuses, are written. */
static int zero_range(int fd, bool is_blk, uint64_t off, uint64_t len, uint64_t *count)
{
	if (len >= 64 * 1024 && is_blk) {
		uint64_t a = (off + 511) & ~511ULL, b = (off + len) & ~511ULL;
		uint64_t range[2] = { a, b - a };

		if (b > a && ioctl(fd, BLKZEROOUT, &range) == 0) {
			int r = write_zeros(fd, off, a - off, count);

			*count += b - a;
			return r < 0 ? r : write_zeros(fd, b, off + len - b, count);
		}
	} else if (len >= 64 * 1024 &&
		   fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0) {
		*count += len;
		return 0;
	}
	return write_zeros(fd, off, len, count);
}

/* Discard the whole device (block: BLKDISCARD; file: punch a hole). */
static int discard_all(int fd, bool is_blk, uint64_t size)
{
	if (is_blk) {
		uint64_t range[2] = { 0, size };

		return ioctl(fd, BLKDISCARD, &range) == 0 ? 0 : -errno;
	}
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)size) == 0 ? 0 : -errno;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)r;
	}
	return 0;
}

/* Make the kernel forget (or learn) the partitions: BLKRRPART, else BLKPG
 * delete every partition and, with readd, add the ones the table now has
 * (loop devices without partscan, where partx -a made the nodes; a wiped
 * disk has none: its probe, one of three libblkid probes per disk, is
 * skipped). */
static void reread_partitions(int fd, uint64_t size, bool readd)
{
	struct hw_sig *sigs = NULL;
	struct hw_part *parts = NULL;
	size_t ns = 0, np = 0;
	struct app_err e = { 0 };

	if (ioctl(fd, BLKRRPART) == 0)
		return;
	for (int i = 1; i <= 128; i++) {
		struct blkpg_partition bp = { .pno = i };
		struct blkpg_ioctl_arg a = { .op = BLKPG_DEL_PARTITION, .datalen = sizeof(bp), .data = &bp };

		ioctl(fd, BLKPG, &a);
	}
	if (readd && hw_probe_fd(fd, size, "disk", &sigs, &ns, &parts, &np, NULL, &e) == 0) {
		for (size_t i = 0; i < np; i++) {
			struct blkpg_partition bp = { .start = (long long)parts[i].start,
						      .length = (long long)parts[i].size,
						      .pno = parts[i].partno };
			struct blkpg_ioctl_arg a = { .op = BLKPG_ADD_PARTITION,
						     .datalen = sizeof(bp),
						     .data = &bp };

			ioctl(fd, BLKPG, &a);
		}
		hw_sigs_free(sigs, ns);
		hw_parts_free(parts, np);
	}
}

/* snprintf into a message buffer; long names are cut, not an error */
static void msgf(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- backup ------------------------------------------------------------- */

struct span {
	uint64_t off, len, file_off;
	char sha[65];
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* The disjoint, sorted byte ranges a target's regions touch (discard excluded). */
static struct span *target_spans(const struct wipe_target *t, size_t *ret_n)
{
	struct span *v = xcalloc(t->n + 1, sizeof(*v));
	size_t n = 0, m = 0;
	uint64_t pos = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].kind != WIPE_DISCARD)
			v[n++] = (struct span){ .off = t->v[i].offset, .len = t->v[i].length };
	qsort(v, n, sizeof(*v), span_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m && v[i].off <= v[m - 1].off + v[m - 1].len) {
			uint64_t end = v[i].off + v[i].len;

			if (end > v[m - 1].off + v[m - 1].len)
				v[m - 1].len = end - v[m - 1].off;
		} else {
			v[m++] = v[i];
		}
	}
	for (size_t i = 0; i < m; i++) {
		v[i].file_off = pos;
		pos += v[i].len;
	}
	*ret_n = m;
	return v;
}

/* A region's hash. Index version 3: the sha256 of the list of the sha256 of
 * each CHUNK-sized block of the region (a hash list), where the digest of an
 * all-zero block is taken once: a wiped region is mostly zeros, and hashing
 * 200 MiB of them per disk was nearly all of a backup's CPU (4 disks' worth
 * on 2 cores made the backup 4x one disk). Every byte still counts: a zero
 * block that changes changes its digest. Version 2 (a flat sha256 of the
 * region) is still read for --restore. */
struct region_hash {
	EVP_MD_CTX *ctx;
	bool list; /* version 3 */
};

static pthread_once_t zero_digest_once = PTHREAD_ONCE_INIT;
static unsigned char zero_digest[32]; /* of CHUNK zeros */

static void zero_digest_init(void)
{
	unsigned char *z = xcalloc(1, CHUNK);

	EVP_Digest(z, CHUNK, zero_digest, NULL, EVP_sha256(), NULL);
	free(z);
}

static void region_hash_init(struct region_hash *h, bool list)
{
	h->ctx = EVP_MD_CTX_new();
	h->list = list;
	EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

/* The next block (CHUNK bytes, the region's last one maybe fewer); zero: it
 * is all zeros (mem_all_zero(), which the caller needed anyway). */
static void region_hash_block(struct region_hash *h, const unsigned char *buf, size_t k, bool zero)
{
	unsigned char md[32];

	if (!h->list) {
		EVP_DigestUpdate(h->ctx, buf, k);
		return;
	}
	if (k == CHUNK && zero) {
		pthread_once(&zero_digest_once, zero_digest_init);
		memcpy(md, zero_digest, sizeof(md));
	} else {
		EVP_Digest(buf, k, md, NULL, EVP_sha256(), NULL);
	}
	EVP_DigestUpdate(h->ctx, md, sizeof(md));
}

static void region_hash_final(struct region_hash *h, char hex[65])
{
	unsigned char md[32];
	unsigned mdlen = 0;

	EVP_DigestFinal_ex(h->ctx, md, &mdlen);
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	for (unsigned j = 0; j < mdlen; j++)
		snprintf(hex + 2 * j, 3, "%02x", md[j]);
}

/* fd's O_DIRECT flag on or off; false when the kernel refuses it. */
static bool set_direct(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && fcntl(fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) == 0;
}

/* Read n bytes at off for the backup: O_DIRECT when both are multiples of
 * align (the disk's bytes themselves, and no page cache filled with 200 MiB
 * per disk that nobody reads again: buffered, the kernel's allocation and
 * copies of that cache were most of a backup's time, and four disks' worth
 * competed for the two cores); buffered for small unaligned signature bits,
 * or when the device or file refuses O_DIRECT. */
static int pread_backup(int fd, void *buf, size_t n, uint64_t off, unsigned align, bool *direct)
{
	bool want = *direct && off % align == 0 && n % align == 0;
	int r;

	if (!want || !set_direct(fd, true))
		return pread_full(fd, buf, n, off);
	r = pread_full(fd, buf, n, off);
	set_direct(fd, false);
	if (r == -EINVAL) {
		*direct = false; /* refused after all: buffered from now on */
		r = pread_full(fd, buf, n, off);
	}
	return r;
}

/* Copy the spans of disk fd into file (sparse where the disk reads zero). */
static int save_spans(int fd, unsigned align, const char *file, struct span *v, size_t n, char *err,
		      size_t errn)
{
	unsigned char *buf = NULL;
	int out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	uint64_t total = 0;
	bool direct = true;
	int r = 0;

	if (out < 0) {
		snprintf(err, errn, "cannot create backup '%s': %s", file, strerror(errno));
		return -errno;
	}
	/* READ_BUF at a time (fewer waits), in a huge page where the system allows
	 * it (one to pin per O_DIRECT read instead of 512 pages) */
	if (posix_memalign((void **)&buf, READ_BUF, READ_BUF) != 0) {
		close(out);
		snprintf(err, errn, "cannot allocate a read buffer for backup '%s'", file);
		return -ENOMEM;
	}
	madvise(buf, READ_BUF, MADV_HUGEPAGE);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct region_hash h;

		region_hash_init(&h, true);
		for (uint64_t done = 0; done < v[i].len && r == 0;) {
			size_t m = v[i].len - done > READ_BUF ? READ_BUF : (size_t)(v[i].len - done);

			r = pread_backup(fd, buf, m, v[i].off + done, align, &direct);
			if (r < 0) {
				snprintf(err, errn, "cannot read %zu bytes at offset %llu: %s", m,
					 (unsigned long long)(v[i].off + done), strerror(-r));
				break;
			}
			/* CHUNK blocks: the hash list's, and the backup's sparseness */
			for (size_t at = 0; at < m && r == 0; at += CHUNK) {
				size_t k = m - at > CHUNK ? CHUNK : m - at;
				bool zero = mem_all_zero(buf + at, k);

				region_hash_block(&h, buf + at, k, zero);
				if (!zero) {
					r = pwrite_full(out, buf + at, k, v[i].file_off + done + at);
					if (r < 0)
						snprintf(err, errn, "cannot write backup '%s': %s", file,
							 strerror(-r));
				}
			}
			done += m;
		}
		region_hash_final(&h, v[i].sha);
		total = v[i].file_off + v[i].len;
	}
	if (r == 0 && (ftruncate(out, (off_t)total) != 0 || fsync(out) != 0)) {
		r = -errno;
		snprintf(err, errn, "cannot write backup '%s': %s", file, strerror(errno));
	}
	close(out);
	free(buf);
	return r;
}

/* ---- the per-disk worker ------------------------------------------------- */

struct job {
	const struct wipe_target *t;
	int fd;
	bool is_blk;
	const char *backup_file; /* phase 1 only */
	char id[256];		 /* disk_identity at backup time ("" when none) */
	struct span *spans;
	size_t n_spans;
	struct wipe_disk_result *res;
};

static void *backup_worker(void *arg)
{
	struct job *j = arg;
	int r;

	j->spans = target_spans(j->t, &j->n_spans);
	r = save_spans(j->fd, j->t->lsec >= 512 ? j->t->lsec : 512, j->backup_file, j->spans, j->n_spans,
		       j->res->msg, sizeof(j->res->msg));
	if (r < 0) {
		char tmp[sizeof(j->res->msg)];

		msgf(tmp, sizeof(tmp), "disk '%s': %s", j->t->path, j->res->msg);
		memcpy(j->res->msg, tmp, sizeof(tmp));
		j->res->rc = r;
	}
	return NULL;
}

static int verify_clean(int fd, const struct wipe_target *t, char *msg, size_t n)
{
	struct hw_sig *sigs = NULL;
	struct hw_part *parts = NULL;
	size_t ns = 0, np = 0;
	struct app_err e = { 0 };
	int r;

	r = hw_probe_fd(fd, t->size, t->path, &sigs, &ns, &parts, &np, NULL, &e);
	if (r < 0) {
		msgf(msg, n, "disk '%s': cannot re-probe: %s", t->path, e.msg);
		return r;
	}
	if (ns) {
		snprintf(msg, n,
			 "disk '%s' is not clean after wiping: libblkid still finds '%s' at offset 0x%llx",
			 t->path, sigs[0].type, (unsigned long long)sigs[0].offset);
		r = -EIO;
	} else if (np) {
		snprintf(msg, n,
			 "disk '%s' is not clean after wiping: a partition table still lists %zu partitions",
			 t->path, np);
		r = -EIO;
	}
	hw_sigs_free(sigs, ns);
	hw_parts_free(parts, np);
	return r;
}

/* Erase one region; discard regions fall back to zeroing the edges. */
static int erase_region(struct job *j, const struct wipe_region *g, bool plain)
{
	const struct wipe_target *t = j->t;
	struct wipe_disk_result *res = j->res;
	int r;

	if (g->kind == WIPE_DISCARD) {
		r = discard_all(j->fd, j->is_blk, t->size);
		if (r == 0) {
			res->discarded = true;
			return 0;
		}
		/* no discard after all: zero the edges like the non-discard plan */
		r = zero_range(j->fd, j->is_blk, 0, t->size < EDGE_ZERO ? t->size : EDGE_ZERO,
			       &res->bytes_zeroed);
		if (r == 0 && t->size > EDGE_ZERO)
			r = zero_range(
			    j->fd, j->is_blk, t->size > 2 * EDGE_ZERO ? t->size - EDGE_ZERO : EDGE_ZERO,
			    t->size > 2 * EDGE_ZERO ? EDGE_ZERO : t->size - EDGE_ZERO, &res->bytes_zeroed);
		return r;
	}
	if (plain)
		return write_zeros(j->fd, g->offset, g->length, &res->bytes_zeroed);
	return zero_range(j->fd, j->is_blk, g->offset, g->length, &res->bytes_zeroed);
}

/* Every region, discard first: BLKDISCARD (like BLKZEROOUT) drops the page
 * cache of its range, dirty pages included, so zeroes written before it would
 * be lost on a device that accepts a discard without clearing the data (QEMU's
 * default, many SSDs). plain: only written zeroes, no offload. */
static int erase_all(struct job *j, bool plain)
{
	const struct wipe_target *t = j->t;
	struct wipe_disk_result *res = j->res;
	int r = 0;

	/* pass 1: the discard; pass 0: everything else (a plain run has no pass 1) */
	for (int discard_pass = plain ? 0 : 1; discard_pass >= 0 && r == 0; discard_pass--) {
		for (size_t i = 0; i < t->n && r == 0; i++) {
			const struct wipe_region *g = &t->v[i];

			if ((g->kind == WIPE_DISCARD) != discard_pass)
				continue;
			r = erase_region(j, g, plain);
			if (r < 0)
				snprintf(res->msg, sizeof(res->msg),
					 "disk '%s': cannot erase %s at offset %llu: %s", t->path, g->type,
					 (unsigned long long)g->offset, strerror(-r));
			if (!plain)
				res->regions++;
		}
	}
	if (r == 0 && fsync(j->fd) != 0) {
		r = -errno;
		snprintf(res->msg, sizeof(res->msg), "disk '%s': fsync: %s", t->path, strerror(errno));
	}
	if (r == 0 && j->is_blk) {
		ioctl(j->fd, BLKFLSBUF, 0);
		/* wiped: nothing to add back (verify_clean's probe checks that) */
		reread_partitions(j->fd, t->size, false);
	}
	return r;
}

static void *wipe_worker(void *arg)
{
	struct job *j = arg;
	struct wipe_disk_result *res = j->res;
	double t0 = now();
	int r = erase_all(j, false);

	if (r == 0)
		r = verify_clean(j->fd, j->t, res->msg, sizeof(res->msg));
	/* a device may take a discard or a write-zeroes offload without clearing
	 * the data: write every region's zeroes for real and look again */
	if (r == -EIO && j->is_blk) {
		r = erase_all(j, true);
		if (r == 0)
			r = verify_clean(j->fd, j->t, res->msg, sizeof(res->msg));
	}
	res->rc = r;
	res->seconds = now() - t0;
	return NULL;
}

static void run_jobs(struct job *jobs, size_t n, void *(*fn)(void *))
{
	run_parallel(jobs, sizeof(*jobs), n, fn);
}

/* Since version 2: each disk carries its identity (disk_identity: serial/WWID,
 * or the file's dev+inode) and the index ends with the sha256 of all that came
 * before it, so --restore neither writes to another disk that now has the
 * recorded path nor trusts an index that was damaged or edited. Version 3:
 * region hashes are hash lists (struct region_hash). */
#define INDEX_MAGIC "appliance-wipe-backup 3"
#define INDEX_MAGIC_V2 "appliance-wipe-backup 2" /* regions hashed flat; still restored */
#define INDEX_MAX (1u << 24)

/* The identity of the disk path names now (an inventory of our own when inv
 * is NULL or does not list it). "" when it has none. */
static void identity_now(const char *path, const struct hw_inventory *inv, const char *root, const char *live,
			 char *out, size_t n)
{
	struct hw_inventory own = { 0 };
	struct hw_opts o = { .root = root, .live = live, .no_probe = true };
	const struct hw_disk *d = inv ? hw_find(inv, path) : NULL;
	struct stat st;

	out[0] = '\0';
	if (!d) {
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			o.files = &path;
			o.n_files = 1;
		}
		if (hw_inventory(&o, &own, NULL) == 0)
			d = hw_find(&own, path);
	}
	if (d)
		disk_identity(d, hw_root(&o), out, n);
	hw_inventory_free(&own);
}

static int write_index(const char *dir, struct job *jobs, size_t n, struct app_err *e)
{
	struct buf b = { 0 };
	char *p = xasprintf("%s/index", dir);
	int r;

	char sha[65];

	buf_printf(&b, "%s\n", INDEX_MAGIC);
	for (size_t i = 0; i < n; i++) {
		const char *f = strrchr(jobs[i].backup_file, '/');

		buf_printf(&b, "disk %llu %s %s\n", (unsigned long long)jobs[i].t->size,
			   f ? f + 1 : jobs[i].backup_file, jobs[i].t->path);
		buf_printf(&b, "id %s\n", jobs[i].id[0] ? jobs[i].id : "none");
		for (size_t k = 0; k < jobs[i].n_spans; k++)
			buf_printf(&b, "region %llu %llu %llu %s\n", (unsigned long long)jobs[i].spans[k].off,
				   (unsigned long long)jobs[i].spans[k].len,
				   (unsigned long long)jobs[i].spans[k].file_off, jobs[i].spans[k].sha);
	}
	sha256_hex(b.data, b.len, sha);
	buf_printf(&b, "sha256 %s\n", sha);
	r = write_file_atomic(p, b.data, b.len, 0600, e);
	free(p);
	buf_free(&b);
	return r;
}

int wipe_apply(const struct wipe_plan *p, const char *backup_dir, struct wipe_result *res, struct app_err *e)
{
	struct wipe_result out = { 0 };
	struct job *jobs = xcalloc(p->n ? p->n : 1, sizeof(*jobs));
	double t0 = now();
	int r = 0;

	out.v = xcalloc(p->n ? p->n : 1, sizeof(*out.v));
	out.n = p->n;
	if (backup_dir) {
		char *idx = xasprintf("%s/index", backup_dir);
		struct stat st;

		if (stat(idx, &st) == 0)
			r = app_err_set(e, -EEXIST,
					"backup directory '%s' already holds a backup; choose an empty one",
					backup_dir);
		free(idx);
		if (r == 0)
			r = mkdir_p(backup_dir, 0700, e);
		if (r < 0)
			goto out;
	}
	/* open every disk through the policy before touching any */
	for (size_t i = 0; i < p->n; i++) {
		const struct wipe_target *t = &p->v[i];
		struct disk_claim c = { .path = t->path,
					.role = DISK_ROLE_CEPH,
					.model = p->model,
					.node = p->node,
					.root = p->root,
					.live = p->live };
		struct app_err de = { 0 };
		struct stat st;

		jobs[i].t = t;
		jobs[i].res = &out.v[i];
		jobs[i].fd = -1;
		out.v[i].path = xstrdup(t->path);
		jobs[i].fd =
		    p->inv ? disk_open_write_inv(&c, p->inv, NULL, 0, &de) : disk_open_write(&c, 0, &de);
		if (jobs[i].fd < 0) {
			out.v[i].rc = jobs[i].fd;
			snprintf(out.v[i].msg, sizeof(out.v[i].msg), "%s", de.msg);
			continue;
		}
		jobs[i].is_blk = fstat(jobs[i].fd, &st) == 0 && S_ISBLK(st.st_mode);
		if (backup_dir) {
			jobs[i].backup_file = xasprintf("%s/disk%zu.img", backup_dir, i);
			identity_now(t->path, p->inv, p->root, p->live, jobs[i].id, sizeof(jobs[i].id));
		}
	}
	for (size_t i = 0; i < p->n; i++)
		if (out.v[i].rc < 0) {
			r = app_err_set(e, out.v[i].rc, "%s", out.v[i].msg);
			goto out;
		}
	if (backup_dir) {
		run_jobs(jobs, p->n, backup_worker);
		for (size_t i = 0; i < p->n; i++)
			if (out.v[i].rc < 0) {
				r = app_err_set(e, out.v[i].rc, "%s; nothing was erased", out.v[i].msg);
				goto out;
			}
		r = write_index(backup_dir, jobs, p->n, e);
		if (r < 0) {
			app_err_prefix(e, "nothing was erased");
			goto out;
		}
	}
	run_jobs(jobs, p->n, wipe_worker);
	for (size_t i = 0; i < p->n; i++)
		if (out.v[i].rc < 0 && r == 0)
			r = app_err_set(e, out.v[i].rc, "%s", out.v[i].msg);
out:
	for (size_t i = 0; i < p->n; i++) {
		if (jobs[i].fd >= 0)
			close(jobs[i].fd);
		free((char *)jobs[i].backup_file);
		free(jobs[i].spans);
	}
	free(jobs);
	out.seconds = now() - t0;
	*res = out;
	return r;
}

/* ---- restore ------------------------------------------------------------ */

static int restore_disk(const char *dir, const char *file, const char *path, const char *id, uint64_t size,
			struct span *v, size_t n, bool hash_list, const char *root, const char *live,
			struct wipe_disk_result *res)
{
	struct disk_claim c = { .path = path, .role = DISK_ROLE_ANY, .root = root, .live = live };
	struct app_err e = { 0 };
	char *fp = xasprintf("%s/%s", dir, file);
	unsigned char *buf = xmalloc(CHUNK), *cur = xmalloc(CHUNK);
	int in = -1, fd = -1, r = 0;
	uint64_t have = 0;
	struct stat st;
	double t0 = now();

	in = open(fp, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		r = -errno;
		snprintf(res->msg, sizeof(res->msg), "backup '%s': %s", fp, strerror(errno));
		goto out;
	}
	/* check every region's hash before writing anything */
	for (size_t i = 0; i < n && r == 0; i++) {
		struct region_hash h;
		char hex[65] = "";

		region_hash_init(&h, hash_list);
		for (uint64_t done = 0; done < v[i].len;) {
			size_t k = v[i].len - done > CHUNK ? CHUNK : (size_t)(v[i].len - done);

			r = pread_full(in, buf, k, v[i].file_off + done);
			if (r < 0)
				break;
			region_hash_block(&h, buf, k, hash_list && mem_all_zero(buf, k));
			done += k;
		}
		region_hash_final(&h, hex);
		if (r < 0 || strcmp(hex, v[i].sha) != 0) {
			snprintf(res->msg, sizeof(res->msg),
				 "backup '%s': region at offset %llu is damaged (sha256 %s, index says %s); "
				 "nothing restored to '%s'",
				 fp, (unsigned long long)v[i].off, r < 0 ? "unreadable" : hex, v[i].sha,
				 path);
			r = -EIO;
		}
	}
	if (r < 0)
		goto out;
	/* the disk that has the recorded path today must be the one backed up */
	{
		char now_id[256];

		identity_now(path, NULL, root, live, now_id, sizeof(now_id));
		if (strcmp(id, "none") == 0) {
			r = -ENODATA;
			snprintf(res->msg, sizeof(res->msg),
				 "backup of '%s' recorded no identity (the disk had no serial or WWID); "
				 "cannot tell it is the same disk, nothing restored",
				 path);
			goto out;
		}
		if (strcmp(id, now_id) != 0) {
			r = -ENXIO;
			snprintf(res->msg, sizeof(res->msg),
				 "disk '%s' is not the disk the backup was taken from (backup: %s; now: %s); "
				 "nothing restored",
				 path, id, now_id[0] ? now_id : "no identity");
			goto out;
		}
	}
	fd = disk_open_write(&c, 0, &e);
	if (fd < 0) {
		r = fd;
		snprintf(res->msg, sizeof(res->msg), "%s", e.msg);
		goto out;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		have = (uint64_t)st.st_size;
	else if (ioctl(fd, BLKGETSIZE64, &have) != 0)
		have = 0;
	if (have != size) {
		r = -EINVAL;
		snprintf(res->msg, sizeof(res->msg),
			 "disk '%s' is %llu bytes but the backup was taken from a %llu-byte disk; nothing "
			 "restored",
			 path, (unsigned long long)have, (unsigned long long)size);
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++)
		for (uint64_t done = 0; done < v[i].len && r == 0;) {
			size_t k = v[i].len - done > CHUNK ? CHUNK : (size_t)(v[i].len - done);

			r = pread_full(in, buf, k, v[i].file_off + done);
			/* write only what differs: after a wipe most of it reads zero already */
			if (r == 0 &&
			    (pread_full(fd, cur, k, v[i].off + done) != 0 || memcmp(cur, buf, k) != 0))
				r = pwrite_full(fd, buf, k, v[i].off + done);
			if (r < 0)
				snprintf(res->msg, sizeof(res->msg), "disk '%s': restoring offset %llu: %s",
					 path, (unsigned long long)(v[i].off + done), strerror(-r));
			done += k;
			res->bytes_zeroed += k;
		}
	if (r == 0 && fsync(fd) != 0) {
		r = -errno;
		snprintf(res->msg, sizeof(res->msg), "disk '%s': fsync: %s", path, strerror(errno));
	}
	if (r == 0 && S_ISBLK(st.st_mode)) {
		ioctl(fd, BLKFLSBUF, 0);
		reread_partitions(fd, size, true);
	}
	res->regions = n;
out:
	res->rc = r;
	res->seconds = now() - t0;
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	free(buf);
	free(cur);
	free(fp);
	return r;
}

/* The index's last line is "sha256 HEX" of every byte before it; cut it off
 * when it matches, refuse the index when it does not. */
static int index_check(const char *ip, struct buf *b, struct app_err *e)
{
	char want[65], have[65];
	size_t end = b->len;
	const char *last;

	if (end && b->data[end - 1] == '\n')
		end--;
	last = end ? memrchr(b->data, '\n', end) : NULL;
	last = last ? last + 1 : b->data;
	if (end - (size_t)(last - b->data) != 7 + 64 || strncmp(last, "sha256 ", 7) != 0)
		return app_err_set(e, -EBADMSG,
				   "backup index '%s' has no integrity line ('sha256 HEX' at its end); "
				   "refusing to restore from it",
				   ip);
	memcpy(want, last + 7, 64);
	want[64] = '\0';
	sha256_hex(b->data, (size_t)(last - b->data), have);
	if (strcmp(want, have) != 0)
		return app_err_set(
		    e, -EBADMSG,
		    "backup index '%s' fails its integrity check (sha256 %s, recorded %s): it was "
		    "damaged or edited; refusing to restore from it",
		    ip, have, want);
	b->len = (size_t)(last - b->data);
	b->data[b->len] = '\0';
	return 0;
}

int wipe_restore(const char *dir, const char *root, const char *live, struct wipe_result *res,
		 struct app_err *e)
{
	char *ip = xasprintf("%s/index", dir);
	struct buf b = { 0 };
	struct wipe_result out = { 0 };
	char *save = NULL, *line;
	char *file = NULL, *path = NULL;
	unsigned long long size = 0;
	struct span *v = NULL;
	size_t n = 0, lineno = 0;
	double t0 = now();
	char *id = NULL;
	bool hash_list;
	int r = read_file(ip, INDEX_MAX, &b, e);

	if (r < 0)
		goto out;
	r = index_check(ip, &b, e);
	if (r < 0)
		goto out;
	line = strtok_r(b.data, "\n", &save);
	if (!line || (strcmp(line, INDEX_MAGIC) != 0 && strcmp(line, INDEX_MAGIC_V2) != 0)) {
		r = app_err_set(e, -EINVAL, "%s:1: expected '%s' or '%s'", ip, INDEX_MAGIC_V2, INDEX_MAGIC);
		goto out;
	}
	hash_list = strcmp(line, INDEX_MAGIC) == 0;
	lineno = 1;
	for (;;) {
		unsigned long long off, len, foff;
		char sha[65], fname[256];
		int used = 0;

		line = strtok_r(NULL, "\n", &save);
		lineno++;
		if (!line || strncmp(line, "disk ", 5) == 0) {
			if (path) {
				out.v = xrealloc(out.v, sizeof(*out.v) * (out.n + 1));
				memset(&out.v[out.n], 0, sizeof(out.v[out.n]));
				out.v[out.n].path = xstrdup(path);
				if (restore_disk(dir, file, path, id ? id : "none", size, v, n, hash_list,
						 root, live, &out.v[out.n]) < 0 &&
				    r == 0)
					r = app_err_set(e, out.v[out.n].rc, "%s", out.v[out.n].msg);
				out.n++;
			}
			free(file);
			free(path);
			free(id);
			file = path = id = NULL;
			free(v);
			v = NULL;
			n = 0;
			if (!line)
				break;
			if (sscanf(line, "disk %llu %255s %n", &size, fname, &used) != 2 || !used ||
			    !line[used]) {
				r = app_err_set(e, -EINVAL, "%s:%zu: expected 'disk SIZE FILE PATH'", ip,
						lineno);
				goto out;
			}
			if (strchr(fname, '/')) {
				r = app_err_set(e, -EINVAL, "%s:%zu: backup file '%s' must be a plain name",
						ip, lineno, fname);
				goto out;
			}
			file = xstrdup(fname);
			path = xstrdup(line + used);
		} else if (strncmp(line, "id ", 3) == 0 && path && !id && !n) {
			id = xstrdup(line + 3);
		} else if (sscanf(line, "region %llu %llu %llu %64s", &off, &len, &foff, sha) == 4 && path) {
			v = xrealloc(v, sizeof(*v) * (n + 1));
			v[n] = (struct span){ .off = off, .len = len, .file_off = foff };
			memcpy(v[n].sha, sha, sizeof(sha));
			n++;
		} else {
			r = app_err_set(e, -EINVAL,
					"%s:%zu: expected 'region OFFSET LENGTH FILE-OFFSET SHA256'", ip,
					lineno);
			goto out;
		}
	}
out:
	free(file);
	free(path);
	free(id);
	free(v);
	free(ip);
	buf_free(&b);
	out.seconds = now() - t0;
	*res = out;
	return r;
}
