/* The talosconfig: the Talos API client configuration for the site, with an
 * admin client certificate (Ed25519, O=os:admin, 1 year) signed by the OS CA
 * of the secrets bundle. */
#ifndef APPLIANCE_TALOS_TALOSCONFIG_H
#define APPLIANCE_TALOS_TALOSCONFIG_H

#include <stddef.h>
#include <time.h>

struct model;
struct talos_bundle;
struct buf;
struct app_err;

/* A new talosconfig (context = site.cluster, endpoints = the control
 * planes' static addresses, else their hostnames, else the endpoint host),
 * its client certificate valid from now and verified against the OS CA
 * before it is returned. Appended to out; holds a private key. */
int talos_talosconfig_render(const struct model *m, const struct talos_bundle *b, time_t now, struct buf *out,
			     struct app_err *e);

/* 0 when text is a talosconfig whose ca is the bundle's OS CA and whose
 * client certificate and key belong together, verify against that CA and are
 * still valid at now + min_valid seconds; else a negative errno saying why.
 * Lets `talos gen` keep an existing talosconfig (identical re-runs). */
int talos_talosconfig_check(const char *text, size_t len, const struct talos_bundle *b, time_t now,
			    long min_valid, struct app_err *e);

#endif
