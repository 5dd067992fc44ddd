#include "talos/talos_assets.h"

#include <stdbool.h>
#include <string.h>

#include "profile/model.h"
#include "base/util.h"

/* Image Factory file names under /image/<id>/<version>/:
 * "<stem>-<arch><ext>", the stem being the platform when NULL. */
static const struct {
	const char *name;
	bool file;
	const char *stem;
	const char *ext;
} assets[TALOS_ASSET_COUNT] = {
	[TALOS_ASSET_DISK] = { "disk", false, NULL, NULL },
	[TALOS_ASSET_RAW_ZST] = { "raw.zst", true, NULL, ".raw.zst" },
	[TALOS_ASSET_RAW_XZ] = { "raw.xz", true, NULL, ".raw.xz" },
	[TALOS_ASSET_ISO] = { "iso", true, NULL, ".iso" },
	[TALOS_ASSET_KERNEL] = { "kernel", true, "kernel", "" },
	[TALOS_ASSET_INITRAMFS] = { "initramfs", true, "initramfs", ".xz" },
	[TALOS_ASSET_IPXE] = { "ipxe", false, NULL, NULL },
	[TALOS_ASSET_INSTALLER] = { "installer", false, NULL, NULL },
};

const char *talos_asset_name(enum talos_asset a)
{
	return a < TALOS_ASSET_COUNT ? assets[a].name : "unknown";
}

static const char *or_default(const char *s, const char *def)
{
	return s && *s ? s : def;
}

char *talos_asset_url(const struct model *m, const char *id, enum talos_asset a)
{
	const struct talos_image *img = &m->talos.image;
	const char *platform = or_default(img->platform, "metal");
	const char *arch = or_default(img->arch, "amd64");
	const char *base = or_default(img->mirror, or_default(img->factory, "https://factory.talos.dev"));
	size_t blen = strlen(base);

	while (blen && base[blen - 1] == '/')
		blen--;
	switch (a) {
	case TALOS_ASSET_INSTALLER:
		return xasprintf("%s/%s:%s", or_default(img->installer, "factory.talos.dev/metal-installer"),
				 id, m->talos.version);
	case TALOS_ASSET_IPXE:
		return xasprintf("%.*s/pxe/%s/%s/%s-%s", (int)blen, base, id, m->talos.version, platform,
				 arch);
	case TALOS_ASSET_DISK:
		a = img->format && strcmp(img->format, "raw.xz") == 0 ? TALOS_ASSET_RAW_XZ
								      : TALOS_ASSET_RAW_ZST;
		break;
	default:
		break;
	}
	if (a >= TALOS_ASSET_COUNT || !assets[a].file)
		return NULL;
	return xasprintf("%.*s/image/%s/%s/%s-%s%s", (int)blen, base, id, m->talos.version,
			 assets[a].stem ? assets[a].stem : platform, arch, assets[a].ext);
}
