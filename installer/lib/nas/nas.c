/* NAS preflight and Immich layout over SMB with libsmbclient. See nas.h.
 *
 * One connection context per run (struct conn). A plain TCP connect() with a
 * deadline comes first, so a host that drops packets cannot hang us; after that
 * every libsmbclient call is bounded by smbc_setTimeout(). Transient failures
 * (refused, reset, timed out) are retried a bounded number of times. */
#include "nas/nas.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "nas/smbload.h"
#include "base/json.h"
#include "profile/model.h"
#include "profile/secret.h"
#include "base/util.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_RETRIES 100 /* as the profile schema allows */
#define PROBE_PREFIX ".appliance-probe-"
#define PROBE_SIZE 4096
#define PROBE_STALE_SECONDS 600 /* older probes are leftovers of interrupted runs */
#define READ_SAMPLE 64
#define MARKER ".immich"
#define PLURAL(n) ((n) == 1 ? "" : "s")

const char *const nas_immich_folders[] = { "library", "upload",	 "thumbs", "encoded-video",
					   "profile", "backups", NULL };

/* ---- small helpers ---------------------------------------------------------- */

const char *nas_status_name(enum nas_status s)
{
	static const char *const names[] = {
		[NAS_OK] = "ok", [NAS_WARN] = "warn", [NAS_FAIL] = "fail", [NAS_SKIP] = "skip"
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* strerror, lower-cased first letter, as the style wants. */
static const char *errtext(int err, char *buf, size_t n)
{
	snprintf(buf, n, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static void url_encode_into(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~' || c == '/') {
			buf_append(b, (const char *)p, 1);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_append(b, esc, 3);
		}
	}
}

char *nas_url(const char *host, long long port, const char *share, const char *path)
{
	struct buf b = { 0 };

	buf_puts(&b, "smb://");
	if (strchr(host, ':'))
		buf_printf(&b, "[%s]", host);
	else
		buf_puts(&b, host);
	if (port > 0)
		buf_printf(&b, ":%lld", port);
	buf_puts(&b, "/");
	url_encode_into(&b, share);
	if (path && *path) {
		while (*path == '/')
			path++;
		buf_puts(&b, "/");
		url_encode_into(&b, path);
		while (b.len > 1 && b.data[b.len - 1] == '/')
			b.data[--b.len] = '\0';
	}
	return b.data;
}

uint64_t nas_statvfs_bytes(unsigned long bsize, unsigned long frsize, uint64_t units)
{
	uint64_t unit = (uint64_t)bsize * (frsize ? (uint64_t)frsize : 1);

	if (unit && units > UINT64_MAX / unit)
		return UINT64_MAX;
	return units * unit;
}

/* Pause before retry number attempt (1, 2, ...): 200 ms more each time, at most 2 s. */
static void backoff(int attempt)
{
	util_sleep_ms(attempt < 10 ? 200L * attempt : 2000);
}

static bool transient(int err)
{
	return err == ETIMEDOUT || err == ECONNREFUSED || err == ECONNRESET || err == EHOSTUNREACH ||
	       err == ENETUNREACH || err == EAGAIN || err == EINTR;
}

/* ---- the connection --------------------------------------------------------- */

struct conn {
	const struct model *m;
	const struct model_nas *nas;
	SMBCCTX *ctx;
	long long timeout_ms;
	int retries;
	char hostport[300]; /* "127.0.0.1:4450" for messages */
	char *share_url;    /* smb://HOST:PORT/SHARE */
	struct secret user;
	struct secret pass;
	bool have_creds;
};

static void auth_fn(SMBCCTX *ctx, const char *srv, const char *shr, char *wg, int wglen, char *un, int unlen,
		    char *pw, int pwlen)
{
	struct conn *c = SMBC(smbc_getOptionUserData)(ctx);

	(void)srv;
	(void)shr;
	if (!c || !c->have_creds)
		return;
	snprintf(un, (size_t)unlen, "%s", c->user.data);
	snprintf(pw, (size_t)pwlen, "%s", c->pass.data);
	if (c->nas->domain && *c->nas->domain)
		snprintf(wg, (size_t)wglen, "%s", c->nas->domain);
}

static long long port_of(const struct model_nas *nas)
{
	return nas->port > 0 ? nas->port : 445;
}

static void conn_init(struct conn *c, const struct model *m, const struct nas_opts *o)
{
	const struct model_nas *nas = &m->nas;

	memset(c, 0, sizeof(*c));
	c->m = m;
	c->nas = nas;
	c->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms
			: nas->timeout_ms > 0  ? nas->timeout_ms
					       : DEFAULT_TIMEOUT_MS;
	c->retries = o && o->retries >= 0 ? o->retries : nas->retries > 0 ? (int)nas->retries : 0;
	if (c->retries > MAX_RETRIES)
		c->retries = MAX_RETRIES;
	snprintf(c->hostport, sizeof(c->hostport), "%s:%lld", nas->address ? nas->address : "", port_of(nas));
	c->share_url =
	    nas_url(nas->address ? nas->address : "", port_of(nas), nas->share ? nas->share : "", NULL);
}

static char *conn_url(const struct conn *c, const char *path)
{
	return nas_url(c->nas->address, port_of(c->nas), c->nas->share, path);
}

/* A libsmbclient context; min_proto is the client's minimum dialect. */
static SMBCCTX *new_ctx(struct conn *c, const char *min_proto)
{
	SMBCCTX *ctx = SMBC(smbc_new_context)();

	if (!ctx)
		return NULL;
	SMBC(smbc_setDebug)(ctx, 0);
	SMBC(smbc_setOptionDebugToStderr)(ctx, 1);
	SMBC(smbc_setOptionUserData)(ctx, c);
	SMBC(smbc_setFunctionAuthDataWithContext)(ctx, auth_fn);
	SMBC(smbc_setTimeout)(ctx, (int)c->timeout_ms);
	SMBC(smbc_setPort)(ctx, (uint16_t)port_of(c->nas));
	SMBC(smbc_setOptionNoAutoAnonymousLogin)(ctx, 1);
	SMBC(smbc_setOptionUseKerberos)(ctx, 0);
	SMBC(smbc_setOptionFallbackAfterKerberos)(ctx, 1);
	SMBC(smbc_setOptionUseCCache)(ctx, 0);
	if (!SMBC(smbc_setOptionProtocols)(ctx, min_proto, "SMB3") || !SMBC(smbc_init_context)(ctx)) {
		SMBC(smbc_free_context)(ctx, 1);
		return NULL;
	}
	return ctx;
}

static void conn_close(struct conn *c)
{
	if (c->ctx)
		SMBC(smbc_free_context)(c->ctx, 1);
	c->ctx = NULL;
	secret_free(&c->user);
	secret_free(&c->pass);
	c->have_creds = false;
	free(c->share_url);
	c->share_url = NULL;
}

static const char *min_proto(const struct conn *c)
{
	return c->nas->min_protocol && *c->nas->min_protocol ? c->nas->min_protocol : "SMB3";
}

/* connect() with a deadline; 0 or a positive errno. */
static int tcp_try(const struct conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	char port[32];
	int err = EHOSTUNREACH;

	snprintf(port, sizeof(port), "%lld", port_of(c->nas));
	if (getaddrinfo(c->nas->address, port, &hints, &res) != 0)
		return ENOENT; /* connect() never says ENOENT: it means "cannot resolve" here */
	for (ai = res; ai; ai = ai->ai_next) {
		int fd =
		    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		struct pollfd p;
		socklen_t len = sizeof(err);

		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			err = 0;
		} else if (errno != EINPROGRESS) {
			err = errno;
		} else {
			p.fd = fd;
			p.events = POLLOUT;
			p.revents = 0;
			int r = poll(&p, 1, (int)c->timeout_ms);
			if (r == 0)
				err = ETIMEDOUT;
			else if (r < 0)
				err = errno;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
		}
		close(fd);
		if (err == 0)
			break;
	}
	freeaddrinfo(res);
	return err;
}

/* ---- result rows ------------------------------------------------------------ */

enum check_id {
	C_TCP = 0,
	C_PROTOCOL,
	C_CREDENTIALS,
	C_SHARE,
	C_PHOTOS,
	C_LIBRARY,
	C_PHOTOS_READ,
	C_LIBRARY_READ,
	C_LIBRARY_WRITE,
	C_FREE_SPACE,
	C_CAPACITY,
	C_COUNT
};

static const struct {
	const char *id;
	const char *title;
} check_table[C_COUNT] = {
	[C_TCP] = { "tcp", "server answers on its SMB port" },
	[C_PROTOCOL] = { "protocol", "SMB dialect is the minimum or newer" },
	[C_CREDENTIALS] = { "credentials", "credentials authenticate" },
	[C_SHARE] = { "share", "share exists" },
	[C_PHOTOS] = { "photos", "photos folder exists and is a directory" },
	[C_LIBRARY] = { "library", "library folder exists and is a directory" },
	[C_PHOTOS_READ] = { "photos-read", "photos folder is readable (never written)" },
	[C_LIBRARY_READ] = { "library-read", "library folder is listable" },
	[C_LIBRARY_WRITE] = { "library-write", "library folder is writable" },
	[C_FREE_SPACE] = { "free-space", "free space on the share" },
	[C_CAPACITY] = { "capacity", "share size vs the declared capacity" },
};

static void set_row(struct nas_results *r, enum check_id id, enum nas_status st, const char *hint,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_row(struct nas_results *r, enum check_id id, enum nas_status st, const char *hint,
		    const char *fmt, ...)
{
	struct nas_result *row = &r->v[id];
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(row->detail);
	free(row->hint);
	row->status = st;
	row->detail = s ? s : xstrdup("");
	row->hint = hint ? xstrdup(hint) : NULL;
}

/* Mark every row still unset from `from` on as skipped because of `why`. */
static void skip_rest(struct nas_results *r, enum check_id from, const char *why)
{
	for (int i = from; i < C_COUNT; i++)
		if (!r->v[i].detail)
			set_row(r, (enum check_id)i, NAS_SKIP, NULL, "skipped: %s failed", why);
}

void nas_results_free(struct nas_results *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].detail);
		free(r->v[i].hint);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* ---- the checks ------------------------------------------------------------- */

static bool check_tcp(struct conn *c, struct nas_results *r)
{
	char eb[128];
	int err = 0, attempt, n;

	for (attempt = 0; attempt <= c->retries; attempt++) {
		if (attempt)
			backoff(attempt);
		err = tcp_try(c);
		if (err == 0 || !transient(err))
			break;
	}
	if (err == 0) {
		set_row(r, C_TCP, NAS_OK, NULL, "%s accepts connections", c->hostport);
		return true;
	}
	n = attempt > c->retries ? c->retries + 1 : attempt + 1;
	if (err == ENOENT)
		set_row(r, C_TCP, NAS_FAIL, "check nas.address and the name service",
			"cannot resolve the NAS address '%s'", c->nas->address);
	else if (err == ETIMEDOUT)
		set_row(r, C_TCP, NAS_FAIL,
			"check nas.address and nas.port, that the NAS is up and that no firewall drops SMB",
			"%s: no answer within %lld ms (%d attempt%s)", c->hostport, c->timeout_ms, n,
			PLURAL(n));
	else
		set_row(r, C_TCP, NAS_FAIL,
			"check nas.address and nas.port, and that SMB is enabled on the NAS",
			"cannot connect to %s: %s (%d attempt%s)", c->hostport, errtext(err, eb, sizeof(eb)),
			n, PLURAL(n));
	return false;
}

static int read_creds(struct conn *c, struct app_err *e)
{
	if (!c->nas->username_secret || !c->nas->password_secret)
		return app_err_set(
		    e, -EINVAL,
		    "no credentials: nas.username and nas.password must name entries of 'secrets:'");
	if (secret_read(c->m, c->nas->username_secret, 1, &c->user, e) < 0)
		return e ? e->code : -1;
	if (secret_read(c->m, c->nas->password_secret, 1, &c->pass, e) < 0) {
		secret_free(&c->user);
		return e ? e->code : -1;
	}
	c->have_creds = true;
	return 0;
}

/* Names the secrets (and where they are read from), never their values. */
static char *creds_hint(const struct conn *c)
{
	const char *ur = secret_ref(c->m, c->nas->username_secret),
		   *pr = secret_ref(c->m, c->nas->password_secret);

	return xasprintf("check the values of the secrets '%s' (%s) and '%s' (%s)", c->nas->username_secret,
			 ur ? ur : "?", c->nas->password_secret, pr ? pr : "?");
}

/* opendir+closedir of url; 0 or a positive errno. */
static int try_opendir(SMBCCTX *ctx, const char *url)
{
	SMBCFILE *d = SMBC(smbc_getFunctionOpendir)(ctx)(ctx, url);
	int err = errno;

	if (!d)
		return err ? err : EIO;
	SMBC(smbc_getFunctionClosedir)(ctx)(ctx, d);
	return 0;
}

/* Open the session to the share with retries on transient errors. */
static int open_share(struct conn *c, int *ret_attempts)
{
	int err = 0, attempt;

	for (attempt = 0; attempt <= c->retries; attempt++) {
		if (attempt) {
			backoff(attempt);
			/* a failed session may stay cached in the context: start afresh */
			SMBC(smbc_free_context)(c->ctx, 1);
			c->ctx = new_ctx(c, min_proto(c));
			if (!c->ctx)
				return ENOMEM;
		}
		err = try_opendir(c->ctx, c->share_url);
		if (err == 0 || !transient(err))
			break;
	}
	*ret_attempts = attempt > c->retries ? c->retries + 1 : attempt + 1;
	return err;
}

/* After a negotiation failure: would the server talk an older dialect? */
static bool speaks_older_dialect(struct conn *c)
{
	SMBCCTX *old = new_ctx(c, "NT1");
	int err;

	if (!old)
		return false;
	err = try_opendir(old, c->share_url);
	SMBC(smbc_free_context)(old, 1);
	return err == 0 || err == EACCES || err == EPERM || err == ENOENT || err == ENODEV;
}

/* Names of the server's disk shares, comma separated (for a hint), or NULL. */
static char *list_shares(struct conn *c)
{
	char *url = nas_url(c->nas->address, port_of(c->nas), "", NULL);
	SMBCFILE *d = SMBC(smbc_getFunctionOpendir)(c->ctx)(c->ctx, url);
	struct smbc_dirent *de;
	struct buf b = { 0 };

	free(url);
	if (!d)
		return NULL;
	while ((de = SMBC(smbc_getFunctionReaddir)(c->ctx)(c->ctx, d))) {
		if (de->smbc_type != SMBC_FILE_SHARE)
			continue;
		if (b.len)
			buf_puts(&b, ", ");
		buf_puts(&b, de->name);
	}
	SMBC(smbc_getFunctionClosedir)(c->ctx)(c->ctx, d);
	return b.data;
}

static bool check_session(struct conn *c, struct nas_results *r)
{
	struct app_err e = { 0 };
	char eb[128];
	int err, attempts = 1;

	if (read_creds(c, &e) < 0) {
		set_row(r, C_PROTOCOL, NAS_SKIP, NULL, "skipped: credentials are not available");
		set_row(r, C_CREDENTIALS, NAS_FAIL,
			"set the secrets the profile names under nas and 'secrets:'", "%s", e.msg);
		return false;
	}
	if (smbload(&e) < 0) {
		set_row(r, C_PROTOCOL, NAS_FAIL, "install Debian's libsmbclient package", "%s", e.msg);
		return false;
	}
	c->ctx = new_ctx(c, min_proto(c));
	if (!c->ctx) {
		set_row(r, C_PROTOCOL, NAS_FAIL, "nas.minProtocol must be SMB3, SMB3_00, SMB3_02 or SMB3_11",
			"cannot set up an SMB client with minimum protocol '%s'", min_proto(c));
		return false;
	}
	err = open_share(c, &attempts);
	if (err == ETIMEDOUT) {
		set_row(r, C_PROTOCOL, NAS_FAIL,
			"the port accepts connections but does not answer SMB: check nas.port, or raise "
			"nas.timeout",
			"%s: no SMB answer within %lld ms (%d attempt%s)", c->share_url, c->timeout_ms,
			attempts, PLURAL(attempts));
		return false;
	}
	if (err && err != EACCES && err != EPERM && err != ENOENT && err != ENODEV) {
		if (speaks_older_dialect(c))
			set_row(r, C_PROTOCOL, NAS_FAIL,
				"enable SMB3 on the NAS (Samba: server min protocol = SMB3); SMB1 is not "
				"accepted",
				"%s: the server does not offer %s or newer, only an older dialect",
				c->share_url, min_proto(c));
		else
			set_row(r, C_PROTOCOL, NAS_FAIL, "check that the port belongs to an SMB server",
				"%s: SMB negotiation failed: %s (%d attempt%s)", c->share_url,
				errtext(err, eb, sizeof(eb)), attempts, PLURAL(attempts));
		return false;
	}
	set_row(r, C_PROTOCOL, NAS_OK, NULL, "%s: negotiated %s or newer", c->hostport, min_proto(c));
	if (err == EACCES || err == EPERM) {
		/* wrong credentials, or a user the share refuses? ask the server itself */
		char *root = nas_url(c->nas->address, port_of(c->nas), "", NULL);
		int rerr = try_opendir(c->ctx, root);
		free(root);
		if (rerr == EACCES || rerr == EPERM) {
			char *hint = creds_hint(c);
			set_row(r, C_CREDENTIALS, NAS_FAIL, hint,
				"%s: the server refused the credentials: %s", c->share_url,
				errtext(err, eb, sizeof(eb)));
			free(hint);
			return false;
		}
		set_row(r, C_CREDENTIALS, NAS_OK, NULL, "%s accepted the credentials", c->hostport);
		set_row(r, C_SHARE, NAS_FAIL, "give the user access to the share on the NAS",
			"%s: the user may not access the share: %s", c->share_url,
			errtext(err, eb, sizeof(eb)));
		return false;
	}
	set_row(r, C_CREDENTIALS, NAS_OK, NULL, "%s accepted the credentials", c->hostport);
	if (err) {
		char *shares = list_shares(c);
		char *hint = xasprintf("check nas.share; the server offers: %s",
				       shares && *shares ? shares : "(none visible)");
		set_row(r, C_SHARE, NAS_FAIL, hint, "%s: no such share on %s", c->share_url, c->hostport);
		free(hint);
		free(shares);
		return false;
	}
	set_row(r, C_SHARE, NAS_OK, NULL, "%s exists", c->share_url);
	return true;
}

/* stat url; 0 or a positive errno. */
static int smb_stat(struct conn *c, const char *url, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (SMBC(smbc_getFunctionStat)(c->ctx)(c->ctx, url, st) < 0)
		return errno ? errno : EIO;
	return 0;
}

static bool check_dir(struct conn *c, struct nas_results *r, enum check_id id, const char *folder,
		      const char *key, const char *what)
{
	char *url = conn_url(c, folder);
	struct stat st;
	char eb[128];
	int err;
	bool ok = false;

	if (!folder || !*folder) {
		set_row(r, id, NAS_FAIL, NULL, "%s is not set (expected the %s folder on the share)", key,
			what);
		free(url);
		return false;
	}
	err = smb_stat(c, url, &st);
	if (err == ENOENT) {
		char *hint = xasprintf("create '%s' on share '%s', or fix %s", folder, c->nas->share, key);
		set_row(r, id, NAS_FAIL, hint, "%s: not found (expected the %s folder, %s)", url, what, key);
		free(hint);
	} else if (err) {
		set_row(r, id, NAS_FAIL, NULL, "%s: cannot stat: %s", url, errtext(err, eb, sizeof(eb)));
	} else if (!S_ISDIR(st.st_mode)) {
		set_row(r, id, NAS_FAIL, NULL, "%s: not a directory (expected the %s folder, %s)", url, what,
			key);
	} else {
		set_row(r, id, NAS_OK, NULL, "%s is a directory", url);
		ok = true;
	}
	free(url);
	return ok;
}

/* List a folder and count its entries; for the photos folder also read the
 * first bytes of one file. Opens files read-only and nothing else. */
static void check_folder_read(struct conn *c, struct nas_results *r, enum check_id id, const char *folder)
{
	const bool sample_file = id == C_PHOTOS_READ;
	char *url = conn_url(c, folder);
	SMBCFILE *d = SMBC(smbc_getFunctionOpendir)(c->ctx)(c->ctx, url);
	struct smbc_dirent *de;
	char *first = NULL, eb[128];
	size_t n = 0;
	int err = errno;

	if (!d) {
		set_row(r, id, NAS_FAIL,
			sample_file ? "give the user read access to the photos folder"
				    : "give the user read access to the library folder",
			"%s: cannot list: %s", url, errtext(err ? err : EIO, eb, sizeof(eb)));
		free(url);
		return;
	}
	while ((de = SMBC(smbc_getFunctionReaddir)(c->ctx)(c->ctx, d))) {
		if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0)
			continue;
		n++;
		if (de->smbc_type == SMBC_FILE && (!first || strcmp(de->name, first) < 0)) {
			free(first); /* the first by name: the same file every run */
			first = xstrdup(de->name);
		}
	}
	SMBC(smbc_getFunctionClosedir)(c->ctx)(c->ctx, d);
	r->v[id].entries = (long long)n;
	if (!sample_file) {
		set_row(r, id, NAS_OK, NULL, "%s: listed %zu entries", url, n);
		free(first);
		free(url);
		return;
	}
	if (!first) {
		set_row(r, id, NAS_WARN, "expected the existing photos here; check nas.photos",
			"%s: listed %zu entries, no file directly in it to read", url, n);
		free(url);
		return;
	}
	char *fpath = xasprintf("%s/%s", folder, first);
	char *furl = conn_url(c, fpath);
	char sample[READ_SAMPLE];
	SMBCFILE *f = SMBC(smbc_getFunctionOpen)(c->ctx)(c->ctx, furl, O_RDONLY, 0);
	ssize_t got = -1;

	if (f) {
		got = SMBC(smbc_getFunctionRead)(c->ctx)(c->ctx, f, sample, sizeof(sample));
		err = errno;
		SMBC(smbc_getFunctionClose)(c->ctx)(c->ctx, f);
	} else {
		err = errno;
	}
	if (got < 0)
		set_row(r, id, NAS_FAIL,
			sample_file ? "give the user read access to the photos folder"
				    : "give the user read access to the library folder",
			"%s: cannot read: %s", furl, errtext(err ? err : EIO, eb, sizeof(eb)));
	else
		set_row(r, id, NAS_OK, NULL, "%s: listed %zu entries, read %zd bytes of '%s'", url, n, got,
			first);
	free(fpath);
	free(furl);
	free(first);
	free(url);
}

/* Remove probe files of interrupted runs: ours are named PROBE_PREFIX* and
 * are stale when older (server clock) than PROBE_STALE_SECONDS before now. */
static int clean_probes(struct conn *c, const char *dir_url, time_t now)
{
	SMBCFILE *d = SMBC(smbc_getFunctionOpendir)(c->ctx)(c->ctx, dir_url);
	struct smbc_dirent *de;
	struct strlist old = { 0 };
	int removed = 0;

	if (!d)
		return 0;
	while ((de = SMBC(smbc_getFunctionReaddir)(c->ctx)(c->ctx, d))) {
		if (de->smbc_type != SMBC_FILE || strncmp(de->name, PROBE_PREFIX, strlen(PROBE_PREFIX)) != 0)
			continue;
		old.v = xrealloc(old.v, sizeof(*old.v) * (old.n + 1));
		old.v[old.n++] = xstrdup(de->name);
	}
	SMBC(smbc_getFunctionClosedir)(c->ctx)(c->ctx, d);
	for (size_t i = 0; i < old.n; i++) {
		char *p = xasprintf("%s/%s", c->nas->library, old.v[i]);
		char *u = conn_url(c, p);
		struct stat st;
		if (smb_stat(c, u, &st) == 0 && st.st_mtime + PROBE_STALE_SECONDS < now &&
		    SMBC(smbc_getFunctionUnlink)(c->ctx)(c->ctx, u) == 0)
			removed++;
		free(u);
		free(p);
		free(old.v[i]);
	}
	free(old.v);
	return removed;
}

/* Write a whole buffer to an open SMB file; 0 or a positive errno. */
static int write_all(struct conn *c, SMBCFILE *f, const char *data, size_t len)
{
	while (len) {
		ssize_t w = SMBC(smbc_getFunctionWrite)(c->ctx)(c->ctx, f, data, len);
		if (w < 0)
			return errno ? errno : EIO;
		if (w == 0)
			return EIO;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

static void check_library_write(struct conn *c, struct nas_results *r)
{
	const char *hint = "the user needs to create, write, rename and delete files in the library folder "
			   "(share not 'read only', directory writable)";
	char *dir_url = conn_url(c, c->nas->library);
	char probe[96], renamed[112], eb[128];
	char *p1, *p2, *u1 = NULL, *u2 = NULL;
	char data[PROBE_SIZE], back[PROBE_SIZE];
	SMBCFILE *f;
	struct stat st;
	int err = 0, removed;
	ssize_t got = 0;
	const char *step = "create a file";

	snprintf(probe, sizeof(probe), PROBE_PREFIX "%ld-%lx-%lx", (long)getpid(), (unsigned long)time(NULL),
		 (unsigned long)random());
	snprintf(renamed, sizeof(renamed), "%s-renamed", probe);
	p1 = xasprintf("%s/%s", c->nas->library, probe);
	p2 = xasprintf("%s/%s", c->nas->library, renamed);
	u1 = conn_url(c, p1);
	u2 = conn_url(c, p2);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)("appliance nas probe "[i % 20] ^ (i / 20 & 0x3f));

	f = SMBC(smbc_getFunctionOpen)(c->ctx)(c->ctx, u1, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (!f) {
		err = errno ? errno : EIO;
		goto fail;
	}
	step = "write a file";
	err = write_all(c, f, data, sizeof(data));
	if (SMBC(smbc_getFunctionClose)(c->ctx)(c->ctx, f) < 0 && !err)
		err = errno ? errno : EIO;
	if (err)
		goto fail;
	step = "read back a file";
	f = SMBC(smbc_getFunctionOpen)(c->ctx)(c->ctx, u1, O_RDONLY, 0);
	if (!f) {
		err = errno ? errno : EIO;
		goto fail;
	}
	for (size_t off = 0; off < sizeof(back);) {
		got = SMBC(smbc_getFunctionRead)(c->ctx)(c->ctx, f, back + off, sizeof(back) - off);
		if (got <= 0) {
			err = got < 0 ? (errno ? errno : EIO) : EIO;
			break;
		}
		off += (size_t)got;
	}
	SMBC(smbc_getFunctionClose)(c->ctx)(c->ctx, f);
	if (err)
		goto fail;
	if (memcmp(data, back, sizeof(data)) != 0) {
		set_row(r, C_LIBRARY_WRITE, NAS_FAIL,
			"the NAS returned other bytes than were written: check its disks",
			"%s: a file read back differs from what was written", dir_url);
		goto out;
	}
	step = "rename a file";
	if (SMBC(smbc_getFunctionRename)(c->ctx)(c->ctx, u1, c->ctx, u2) < 0) {
		err = errno ? errno : EIO;
		goto fail;
	}
	if (smb_stat(c, u2, &st) == 0)
		removed = clean_probes(c, dir_url, st.st_mtime);
	else
		removed = 0;
	step = "delete a file";
	if (SMBC(smbc_getFunctionUnlink)(c->ctx)(c->ctx, u2) < 0) {
		err = errno ? errno : EIO;
		goto fail;
	}
	if (removed)
		set_row(r, C_LIBRARY_WRITE, NAS_OK, NULL,
			"%s: created, wrote, read back, renamed and deleted a probe file; removed %d stale "
			"probe%s",
			dir_url, removed, removed == 1 ? "" : "s");
	else
		set_row(r, C_LIBRARY_WRITE, NAS_OK, NULL,
			"%s: created, wrote, read back, renamed and deleted a probe file", dir_url);
	goto out;
fail:
	set_row(r, C_LIBRARY_WRITE, NAS_FAIL, err == ENOSPC ? "free space on the NAS" : hint,
		"%s: cannot %s: %s", dir_url, step, errtext(err, eb, sizeof(eb)));
	SMBC(smbc_getFunctionUnlink)(c->ctx)(c->ctx, u1);
	SMBC(smbc_getFunctionUnlink)(c->ctx)(c->ctx, u2);
out:
	free(p1);
	free(p2);
	free(u1);
	free(u2);
	free(dir_url);
}

static void check_space(struct conn *c, struct nas_results *r)
{
	char *url = conn_url(c, c->nas->library);
	struct statvfs v;
	char eb[128], fb[32], tb[32], want[32];
	uint64_t avail, total;

	memset(&v, 0, sizeof(v));
	if (SMBC(smbc_getFunctionStatVFS)(c->ctx)(c->ctx, url, &v) < 0) {
		int err = errno ? errno : EIO;
		set_row(r, C_FREE_SPACE, NAS_FAIL, NULL, "%s: cannot read the free space: %s", url,
			errtext(err, eb, sizeof(eb)));
		set_row(r, C_CAPACITY, NAS_SKIP, NULL, "skipped: free-space failed");
		free(url);
		return;
	}
	avail = nas_statvfs_bytes(v.f_bsize, v.f_frsize, v.f_bavail);
	total = nas_statvfs_bytes(v.f_bsize, v.f_frsize, v.f_blocks);
	fmt_bytes_compact(avail, fb, sizeof(fb));
	fmt_bytes_compact(total, tb, sizeof(tb));
	if (c->nas->min_free.bytes && avail < c->nas->min_free.bytes)
		set_row(r, C_FREE_SPACE, NAS_FAIL, "free space on the NAS, or lower nas.minFree",
			"%s: %s free, below the minimum %s (nas.minFree)", url, fb,
			c->nas->min_free.text ? c->nas->min_free.text : "");
	else if (c->nas->min_free.bytes)
		set_row(r, C_FREE_SPACE, NAS_OK, NULL, "%s: %s free of %s (minimum %s)", url, fb, tb,
			c->nas->min_free.text ? c->nas->min_free.text : "");
	else
		set_row(r, C_FREE_SPACE, NAS_OK, NULL, "%s: %s free of %s (no minimum set)", url, fb, tb);

	if (!c->nas->capacity.bytes) {
		set_row(r, C_CAPACITY, NAS_OK, NULL, "no capacity declared (nas.capacity)");
	} else if (total < c->nas->capacity.bytes) {
		fmt_bytes_compact(c->nas->capacity.bytes, want, sizeof(want));
		set_row(
		    r, C_CAPACITY, NAS_WARN,
		    "the volumes may claim more than the NAS holds: lower nas.capacity or grow the share",
		    "%s: the share holds %s in total, less than the %s the volumes declare (nas.capacity)",
		    c->share_url, tb, c->nas->capacity.text ? c->nas->capacity.text : want);
	} else {
		set_row(r, C_CAPACITY, NAS_OK, NULL, "%s: the share holds %s, at least the %s declared",
			c->share_url, tb, c->nas->capacity.text ? c->nas->capacity.text : "");
	}
	free(url);
}

int nas_check(const struct model *m, const struct nas_opts *o, struct nas_results *ret, struct app_err *e)
{
	struct conn c;
	bool photos_ok, library_ok;

	ret->v = xcalloc(C_COUNT, sizeof(*ret->v));
	ret->n = C_COUNT;
	ret->pass = false;
	for (int i = 0; i < C_COUNT; i++) {
		ret->v[i].id = check_table[i].id;
		ret->v[i].title = check_table[i].title;
		ret->v[i].entries = -1;
	}
	conn_init(&c, m, o);
	if (!m->nas.address || !*m->nas.address || !m->nas.share || !*m->nas.share) {
		set_row(ret, C_TCP, NAS_FAIL, "set nas.address and nas.share in the profile",
			"no NAS configured (nas.address and nas.share are required)");
		skip_rest(ret, C_PROTOCOL, "tcp");
	} else if (!check_tcp(&c, ret)) {
		skip_rest(ret, C_PROTOCOL, "tcp");
	} else if (!check_session(&c, ret)) {
		skip_rest(ret, C_PROTOCOL,
			  ret->v[C_PROTOCOL].status == NAS_FAIL	     ? "protocol"
			  : ret->v[C_CREDENTIALS].status == NAS_FAIL ? "credentials"
								     : "share");
	} else {
		photos_ok = check_dir(&c, ret, C_PHOTOS, m->nas.photos, "nas.photos", "photos");
		library_ok = check_dir(&c, ret, C_LIBRARY, m->nas.library, "nas.library", "library");
		if (photos_ok)
			check_folder_read(&c, ret, C_PHOTOS_READ, m->nas.photos);
		else
			set_row(ret, C_PHOTOS_READ, NAS_SKIP, NULL, "skipped: photos failed");
		if (library_ok) {
			check_folder_read(&c, ret, C_LIBRARY_READ, m->nas.library);
			if (o && o->read_only)
				set_row(ret, C_LIBRARY_WRITE, NAS_SKIP, NULL,
					"skipped: read-only check (nothing is written to the NAS)");
			else
				check_library_write(&c, ret);
			check_space(&c, ret);
		}
		skip_rest(ret, C_LIBRARY_WRITE, "library");
	}
	conn_close(&c);

	ret->pass = true;
	for (size_t i = 0; i < ret->n; i++) {
		if (ret->v[i].status == NAS_FAIL && ret->pass) {
			ret->pass = false;
			app_err_set(e, -EIO, "nas check failed: %s", ret->v[i].detail);
		}
	}
	return ret->pass ? 0 : -EIO;
}

void nas_results_json(const struct model *m, const struct nas_results *r, struct buf *out)
{
	char *url = nas_url(m->nas.address ? m->nas.address : "", port_of(&m->nas),
			    m->nas.share ? m->nas.share : "", NULL);

	buf_puts(out, "{\"url\":");
	json_buf_str(out, url);
	buf_puts(out, ",\"server\":");
	json_buf_str(out, m->nas.address);
	buf_printf(out, ",\"port\":%lld,\"share\":", port_of(&m->nas));
	json_buf_str(out, m->nas.share);
	buf_printf(out, ",\"pass\":%s,\"checks\":[", r->pass ? "true" : "false");
	for (size_t i = 0; i < r->n; i++) {
		const struct nas_result *row = &r->v[i];
		buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
		json_buf_str(out, row->id);
		buf_puts(out, ",\"title\":");
		json_buf_str(out, row->title);
		buf_puts(out, ",\"status\":");
		json_buf_str(out, nas_status_name(row->status));
		buf_puts(out, ",\"detail\":");
		json_buf_str(out, row->detail);
		buf_puts(out, ",\"hint\":");
		json_buf_str(out, row->hint);
		buf_puts(out, "}");
	}
	buf_puts(out, "]}\n");
	free(url);
}

/* ---- prepare ---------------------------------------------------------------- */

static void add_step(struct nas_plan *p, enum nas_step_kind kind, enum nas_step_state st, char *url)
{
	p->v = xrealloc(p->v, sizeof(*p->v) * (p->n + 1));
	p->v[p->n++] = (struct nas_step){ .kind = kind, .state = st, .url = url };
	if (st != NAS_STEP_EXISTS)
		p->changes++;
}

void nas_plan_free(struct nas_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].url);
	free(p->v);
	p->v = NULL;
	p->n = p->changes = 0;
}

/* The part of a prepare step that directories and markers share. Returns the
 * step's state: NAS_STEP_EXISTS (url is there as the right kind of entry) and
 * NAS_STEP_WOULD (missing, dry run) are recorded with url taken over;
 * NAS_STEP_DONE (missing, apply) leaves creating and recording it to the
 * caller. Negative errno (url freed) on failure. missing: known to be absent,
 * not asked. */
static int prep_probe(struct conn *c, char *url, enum nas_step_kind kind, bool apply, bool missing,
		      struct nas_plan *p, struct app_err *e)
{
	bool dir = kind == NAS_STEP_MKDIR;
	struct stat st;
	char eb[128];
	int err = missing ? ENOENT : smb_stat(c, url, &st);

	if (err == 0) {
		if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
			err = dir ? ENOTDIR : EISDIR;
			app_err_set(e, -err, "%s: exists and is not a %s; not touching it", url,
				    dir ? "directory" : "file");
			free(url);
			return -err;
		}
		add_step(p, kind, NAS_STEP_EXISTS, url);
		return NAS_STEP_EXISTS;
	}
	if (err != ENOENT) {
		app_err_set(e, -err, "%s: cannot stat: %s", url, errtext(err, eb, sizeof(eb)));
		free(url);
		return -err;
	}
	if (!apply) {
		add_step(p, kind, NAS_STEP_WOULD, url);
		return NAS_STEP_WOULD;
	}
	return NAS_STEP_DONE;
}

/* A directory at path: exists / would create / create it. */
static int prep_dir(struct conn *c, const char *path, bool apply, bool parent_missing, struct nas_plan *p,
		    bool *ret_missing, struct app_err *e)
{
	char *url = conn_url(c, path);
	char eb[128];
	int err, r = prep_probe(c, url, NAS_STEP_MKDIR, apply, parent_missing, p, e);

	*ret_missing = r == NAS_STEP_WOULD;
	if (r != NAS_STEP_DONE)
		return r < 0 ? r : 0;
	if (SMBC(smbc_getFunctionMkdir)(c->ctx)(c->ctx, url, 0755) < 0) {
		err = errno ? errno : EIO;
		app_err_set(e, -err, "%s: cannot create the directory: %s", url,
			    errtext(err, eb, sizeof(eb)));
		free(url);
		return -err;
	}
	add_step(p, NAS_STEP_MKDIR, NAS_STEP_DONE, url);
	return 0;
}

/* The '.immich' marker in dir: created exclusively, never overwritten. */
static int prep_marker(struct conn *c, const char *dir, bool apply, bool dir_missing, struct nas_plan *p,
		       struct app_err *e)
{
	char *path = xasprintf("%s/%s", dir, MARKER);
	char *url = conn_url(c, path);
	struct timespec now;
	char eb[128], stamp[32];
	int err, r;
	SMBCFILE *f;

	free(path);
	r = prep_probe(c, url, NAS_STEP_MARKER, apply, dir_missing, p, e);
	if (r != NAS_STEP_DONE)
		return r < 0 ? r : 0;
	/* Immich writes Date.now(): milliseconds since the epoch */
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(stamp, sizeof(stamp), "%lld", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	f = SMBC(smbc_getFunctionOpen)(c->ctx)(c->ctx, url, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (!f) {
		err = errno ? errno : EIO;
		app_err_set(e, -err, "%s: cannot create: %s", url, errtext(err, eb, sizeof(eb)));
		free(url);
		return -err;
	}
	err = write_all(c, f, stamp, strlen(stamp));
	if (SMBC(smbc_getFunctionClose)(c->ctx)(c->ctx, f) < 0 && !err)
		err = errno ? errno : EIO;
	if (err) {
		app_err_set(e, -err, "%s: cannot write: %s", url, errtext(err, eb, sizeof(eb)));
		free(url);
		return -err;
	}
	add_step(p, NAS_STEP_MARKER, NAS_STEP_DONE, url);
	return 0;
}

/* TCP + session as in nas_check, as one error. */
static int conn_open(struct conn *c, struct app_err *e)
{
	struct nas_results r = { .v = xcalloc(C_COUNT, sizeof(*r.v)), .n = C_COUNT };
	int ret = 0;

	for (int i = 0; i < C_COUNT; i++)
		r.v[i].id = check_table[i].id;
	if (!check_tcp(c, &r) || !check_session(c, &r)) {
		for (int i = 0; i < C_COUNT; i++)
			if (r.v[i].status == NAS_FAIL && r.v[i].detail) {
				ret = app_err_set(e, -EIO, "%s", r.v[i].detail);
				break;
			}
		if (!ret)
			ret = app_err_set(e, -EIO, "%s: cannot connect", c->share_url);
	}
	nas_results_free(&r);
	return ret;
}

int nas_prepare(const struct model *m, const struct nas_opts *o, bool apply, struct nas_plan *ret,
		struct app_err *e)
{
	struct conn c;
	bool lib_missing = false, missing = false;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!m->nas.address || !*m->nas.address || !m->nas.share || !*m->nas.share || !m->nas.library ||
	    !*m->nas.library)
		return app_err_set(e, -EINVAL,
				   "no NAS configured (nas.address, nas.share and nas.library are required)");
	conn_init(&c, m, o);
	r = conn_open(&c, e);
	if (r < 0)
		goto out;
	r = prep_dir(&c, m->nas.library, apply, false, ret, &lib_missing, e);
	for (size_t i = 0; r == 0 && nas_immich_folders[i]; i++) {
		char *sub = xasprintf("%s/%s", m->nas.library, nas_immich_folders[i]);
		r = prep_dir(&c, sub, apply, lib_missing, ret, &missing, e);
		if (r == 0)
			r = prep_marker(&c, sub, apply, missing, ret, e);
		free(sub);
	}
out:
	conn_close(&c);
	return r;
}
