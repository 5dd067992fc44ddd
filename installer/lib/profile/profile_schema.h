/* The profile's schema: one table per model struct, one row per key.
 * profile.c walks these to validate, bind and free; docs/profile.md
 * documents the same keys. Internal to the profile module. */
#ifndef APPLIANCE_PROFILE_SCHEMA_H
#define APPLIANCE_PROFILE_SCHEMA_H

#include <stddef.h>

enum ftype {
	T_STR = 0, /* any string */
	T_NAME,	   /* Kubernetes object name (DNS-1123 subdomain) */
	T_HOST,	   /* hostname (RFC 1123) */
	T_ADDR,	   /* hostname or IP address */
	T_IP,
	T_CIDR,
	T_MAC,
	T_URL,
	T_CRON,
	T_DURATION,  /* Go duration: 30m, 1h30m, 10s */
	T_RETENTION, /* CNPG retention: 30d, 4w, 3m */
	T_VERSION,   /* v1.2.3 or 1.2.3 */
	T_SECRET,    /* name of a `secrets:` entry */
	T_SECREF,    /* env:NAME or file:PATH */
	T_ENUM,
	T_MODE,	    /* octal file mode string "0777" */
	T_QTY,	    /* Kubernetes quantity kept as text: 25m, 1000M */
	T_VARNAME,  /* an environment-style variable name: COMMON_S3_ACCESS_KEY */
	T_PATHSEG,  /* one folder name (no '/') */
	T_HEX64,    /* 64 hex digits */
	T_SIZE,	    /* struct model_size */
	T_INT,	    /* long long */
	T_BOOL,	    /* bool */
	T_LIST_STR, /* struct strlist of .elem */
	T_KV,	    /* struct kvlist: keys are T_VARNAME unless .elem_key is set, values .elem */
	T_TREE,	    /* a free mapping kept as written: const struct ynode * into the model's tree */
	T_STRUCT,   /* nested table, fields relative to this struct's base + off */
	T_LIST,	    /* array of .sub->size elements: pointer at off, size_t count after it */
};

#define F_REQUIRED 1u
#define F_K8S 2u /* T_SIZE that Kubernetes reads: must also be a Kubernetes quantity */

struct table;

struct field {
	const char *key;
	enum ftype type;
	size_t off;
	unsigned flags;
	enum ftype elem;		/* T_LIST_STR / T_KV element (value) type */
	const struct table *sub;	/* T_STRUCT / T_LIST */
	const char *const *choices;	/* T_ENUM: NULL-terminated */
	long long min, max;		/* T_INT range (when min < max) */
	const char *def;		/* default as text (lists: comma-separated) */
	const char *const *url_schemes; /* T_URL: allowed schemes, NULL = http/https */
	const char *desc;		/* one line for `validate --keys` */
};

struct table {
	const char *name;
	size_t size; /* element size for T_LIST */
	const struct field *fields;
};

extern const struct table profile_root_table;

#endif
