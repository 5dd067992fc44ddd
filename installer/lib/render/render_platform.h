/* The platform component table, shared by render_platform.c (the table, the
 * Flux wiring of each component, the chart-only components) and
 * render_network.c (Cilium LB IPAM, cert-manager issuers, gateways). Internal
 * to the render module. */
#ifndef APPLIANCE_RENDER_PLATFORM_H
#define APPLIANCE_RENDER_PLATFORM_H

#include <stddef.h>

struct render_ctx;
struct model;
struct model_component;
struct yval;

struct comp;
typedef void (*comp_fn)(struct render_ctx *c, const struct comp *d, const struct model_component *mc);

/* One Flux Kustomization of the platform. */
struct comp {
	size_t ks_off; /* char * in struct model_platform: the Flux Kustomization name
			  (what apps.immich.dependsOn names) */
	size_t off;    /* struct model_component in struct model_platform */
	const char *key;
	int deps[4];	    /* rows this one waits for (when they are enabled); -1 ends */
	comp_fn fn;	    /* fills app/ */
	const char *crds;   /* "group/Kind|..." whose CRDs it installs */
	const char *waits;  /* what its Ready means */
	const char *health; /* healthCheckExprs to add ("CephCluster"), or NULL */
};

const char *comp_ks(const struct model *m, const struct comp *d);
/* HelmRelease <ks> in the component namespace with the component's chart. */
struct yval *platform_helmrelease(struct render_ctx *c, const struct comp *d,
				  const struct model_component *mc);
/* A OnePasswordItem name in ns syncing item into a Secret of the same name. */
void platform_op_item(struct render_ctx *c, const char *ns, const char *name, const char *item,
		      const char *key);

void comp_cilium_lb(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
void comp_issuers(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
void comp_gateways(struct render_ctx *c, const struct comp *d, const struct model_component *mc);

#endif
