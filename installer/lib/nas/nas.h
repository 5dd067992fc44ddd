/* The site's NAS over SMB (libsmbclient): the preflight checks `appliance nas
 * check` and `install` run, and the Immich upload-location layout `nas prepare`
 * creates under the library folder.
 *
 * Everything here reads struct model_nas (address, port, share, photos,
 * library, credentials by secret name, min protocol, thresholds, timeout,
 * retries). The photos folder is only ever read. Nothing is deleted or
 * overwritten except this module's own probe files ('.appliance-probe-*').
 * Every message names the server, share and path as smb://HOST:PORT/SHARE/PATH. */
#ifndef APPLIANCE_NAS_H
#define APPLIANCE_NAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct model;
struct app_err;

enum nas_status {
	NAS_OK = 0,
	NAS_WARN, /* worth a look, does not fail the check */
	NAS_FAIL, /* a required check failed */
	NAS_SKIP, /* not run because a check it depends on failed */
};

/* One row of `nas check`. id and title are static strings. */
struct nas_result {
	const char *id;	   /* "tcp", "protocol", "credentials", "share", "photos", "library",
			      "photos-read", "library-read", "library-write", "free-space", "capacity" */
	const char *title; /* "server answers on its SMB port" */
	enum nas_status status;
	char *detail;	   /* what was found (ok) or what went wrong (fail): names the smb:// path */
	char *hint;	   /* what to do about it, or NULL */
	long long entries; /* photos-read, library-read: entries listed; -1 otherwise */
};

struct nas_results {
	struct nas_result *v;
	size_t n;
	bool pass; /* no row is NAS_FAIL */
};

/* Overrides of the profile's values; zero/NULL means "take it from the model". */
struct nas_opts {
	long long timeout_ms; /* per network operation; model nas.timeout, else 10000 */
	int retries;	      /* extra attempts on transient errors; < 0: model nas.retries */
	bool read_only;	      /* never write (rebuild): the library-write probe is skipped */
};

#define NAS_OPTS_INIT                                              \
	{                                                          \
		.timeout_ms = 0, .retries = -1, .read_only = false \
	}

/* Run every check in order; later checks that depend on a failed one are
 * NAS_SKIP. Fills *ret (always, also on failure; free with nas_results_free).
 * Returns 0 when every required check passed (warnings allowed), else the
 * negative errno of the first failed check with e set to
 * "nas check failed: <its detail>". */
int nas_check(const struct model *m, const struct nas_opts *o, struct nas_results *ret, struct app_err *e);

void nas_results_free(struct nas_results *r);

const char *nas_status_name(enum nas_status s); /* "ok", "warn", "fail", "skip" */

/* ---- prepare: the Immich upload-location layout ---------------------------- */

/* Folders Immich v1.135 keeps under its upload location (server/src/enum.ts
 * StorageFolder); at start-up it requires a readable, writable '.immich' file
 * in each (server/src/services/storage.service.ts). NULL-terminated. */
extern const char *const nas_immich_folders[];

enum nas_step_kind { NAS_STEP_MKDIR = 0, NAS_STEP_MARKER };
enum nas_step_state {
	NAS_STEP_EXISTS = 0, /* already there: left alone */
	NAS_STEP_WOULD,	     /* dry run: would be created */
	NAS_STEP_DONE,	     /* created by this run */
};

struct nas_step {
	enum nas_step_kind kind;
	enum nas_step_state state;
	char *url; /* smb://HOST:PORT/SHARE/LIBRARY/... */
};

struct nas_plan {
	struct nas_step *v;
	size_t n;
	size_t changes; /* steps in state WOULD (dry run) or DONE (apply) */
};

/* Compute (and with apply, carry out) the layout under nas.library: the
 * library folder itself, each folder of nas_immich_folders, and its '.immich'
 * marker (content: the creation time in milliseconds, as Immich writes it).
 * Never deletes or overwrites: markers are created exclusively, a path that
 * exists with the wrong type is an error. Fills *ret (also on error, with the
 * steps done so far). */
int nas_prepare(const struct model *m, const struct nas_opts *o, bool apply, struct nas_plan *ret,
		struct app_err *e);

void nas_plan_free(struct nas_plan *p);

/* ---- helpers (exposed for tests) ------------------------------------------- */

/* "smb://HOST:PORT/SHARE[/PATH]" with each path component percent-encoded
 * (RFC 3986 unreserved characters kept). path may be NULL. Caller frees. */
char *nas_url(const char *host, long long port, const char *share, const char *path);

/* Bytes of a struct statvfs-like answer from libsmbclient, which puts bytes
 * per sector in f_bsize and sectors per allocation unit in f_frsize. */
uint64_t nas_statvfs_bytes(unsigned long bsize, unsigned long frsize, uint64_t units);

/* Write the results as one JSON object (server, share, pass, checks[]). */
struct buf;
void nas_results_json(const struct model *m, const struct nas_results *r, struct buf *out);

#endif
