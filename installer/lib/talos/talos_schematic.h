/* The Image Factory schematic for a profile and its ID.
 *
 * Image Factory marshals its Schematic struct with gopkg.in/yaml.v3 (4-space
 * indent, sequences indented under their key, omitempty fields left out) and
 * the ID is the hex SHA-256 of that text (pkg/schematic/schematic.go). We
 * write the same text ourselves rather than through libyaml, because libyaml
 * lays out sequences differently; in exchange every string must be one we
 * can prove yaml.v3 writes as a plain scalar, and anything else is refused
 * rather than given a wrong ID. */
#ifndef APPLIANCE_TALOS_SCHEMATIC_H
#define APPLIANCE_TALOS_SCHEMATIC_H

#include <stddef.h>

struct model;
struct buf;
struct app_err;

/* The kernel argument the schematic carries when the config is delivered
 * on a volume (talos.configDelivery: metal-iso). */
#define TALOS_METAL_ISO_ARG "talos.config=metal-iso"

/* Canonical text of a schematic with these extra kernel args and official
 * extensions (either may be empty), appended to out. */
int talos_schematic_canonical(const char *const *kernel_args, size_t n_args, const char *const *extensions,
			      size_t n_ext, struct buf *out, struct app_err *e);

/* The profile's schematic: talos.schematic.kernelArgs (plus
 * talos.config=metal-iso when the config is delivered by volume) and
 * talos.schematic.extensions. */
int talos_schematic_render(const struct model *m, struct buf *out, struct app_err *e);

/* Hex SHA-256 of the canonical text into hex[65]. */
int talos_schematic_id(const struct model *m, char hex[65], struct app_err *e);

#endif
