/* Read-only S3 access for the rebuild preflight: ListObjectsV2 over libcurl,
 * signed with libcurl's own AWS Signature V4 (CURLOPT_AWS_SIGV4), path-style
 * URLs (endpoint/bucket), and a Barman object-store scan on top: base
 * backups at <prefix>/<serverName>/base/<backupId>/backup.info, WAL files
 * under <prefix>/<serverName>/wals/. Nothing here writes to the store. */
#ifndef APPLIANCE_S3_H
#define APPLIANCE_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct app_err;
struct buf;

struct s3_target {
	const char *endpoint; /* http(s)://host[:port] */
	const char *region;   /* NULL: us-east-1 */
	const char *bucket;
	const char *access_key; /* secret material: never in messages */
	const char *secret_key;
	long timeout_ms; /* per request; 0: 30000 */
	/* s3_list bounds, so a server that never stops saying IsTruncated cannot
	 * hold the program or its memory; 0: the S3_LIST_* defaults below */
	size_t max_pages;      /* pages of one listing */
	uint64_t max_bytes;    /* bytes of listing XML, all pages together */
	long list_deadline_ms; /* the whole listing, every page */
};

#define S3_LIST_PAGES 2000		   /* 2 million keys at S3's 1000 a page */
#define S3_LIST_BYTES (128ull << 20)	   /* about 400000 Barman objects */
#define S3_LIST_DEADLINE_MS (300L * 1000L) /* five minutes for one listing */

struct s3_object {
	char *key;
	time_t mtime; /* LastModified */
	uint64_t size;
};

struct s3_objects {
	struct s3_object *v;
	size_t n;
};

void s3_objects_free(struct s3_objects *o);

/* Every object under prefix (all pages, at most max_keys objects; 0: 1000000).
 * Refused (-E2BIG, -ETIMEDOUT, -ELOOP) past the target's page, byte and time
 * bounds, or when the server hands out a continuation token twice. */
int s3_list(const struct s3_target *t, const char *prefix, size_t max_keys, struct s3_objects *ret,
	    struct app_err *e);

/* "s3://bucket/some/prefix/" -> bucket, prefix ("some/prefix/", "" for none;
 * a missing trailing slash is added). Caller frees both. */
int s3_url_split(const char *url, char **ret_bucket, char **ret_prefix, struct app_err *e);

/* What a Barman object store holds for one server name. */
struct s3_barman {
	size_t base_backups; /* backup.info files */
	char *newest_base;   /* backup id of the newest with status=DONE */
	time_t newest_base_time;
	size_t not_done;       /* newer backup.info files not DONE (FAILED, STARTED) */
	char *newest_not_done; /* the newest of those */
	char newest_not_done_status[32];
	size_t wals;	  /* objects under wals/ */
	char *newest_wal; /* file name of the newest */
	time_t newest_wal_time;
};

/* List <prefix><server>/ and summarise: the newest base backup whose
 * backup.info says status=DONE (read with GET, newest first) and the WALs.
 * Fails (-ENOENT) when there is no (completed) base backup or no WAL, naming
 * the s3:// location. */
int s3_barman_scan(const struct s3_target *t, const char *prefix, const char *server, struct s3_barman *ret,
		   struct app_err *e);
void s3_barman_free(struct s3_barman *b);

/* GET one object (at most max bytes) into out. */
int s3_get(const struct s3_target *t, const char *key, size_t max, struct buf *out, struct app_err *e);

/* "3d 4h", "2h 5m", "42s" into out. */
void s3_format_age(long long seconds, char *out, size_t n);

/* ---- exposed for tests ---------------------------------------------------- */

/* Parse a ListBucketResult page: append its <Contents> to *objs; set
 * *truncated and *next_token (caller frees; NULL when none). */
int s3_parse_list(const char *xml, size_t len, struct s3_objects *objs, bool *truncated, char **next_token,
		  struct app_err *e);
/* <Error><Code>..</Code><Message>..</Message>: into code/msg (empty when absent). */
void s3_parse_error(const char *xml, size_t len, char *code, size_t code_n, char *msg, size_t msg_n);
/* The status= line of a Barman backup.info into out; -1 when absent. */
int s3_barman_status(const char *info, size_t len, char *out, size_t n);
/* ISO 8601 "2024-06-07T23:00:01.000Z" -> time_t; -1 when malformed. */
time_t s3_parse_time(const char *s);

#endif
