/* talos_pki, talos_secrets, talos_schematic, talos_assets, talos_volume.
 * The RSA-4096 key makes a bundle slow to generate: one bundle is generated
 * in the group setup and shared by every test. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509.h>

#include "base/err.h"
#include "profile/model.h"
#include "talos/talos_assets.h"
#include "talos/talos_pki.h"
#include "talos/talos_schematic.h"
#include "talos/talos_secrets.h"
#include "talos/talos_volume.h"
#include "base/util.h"

static struct talos_bundle bundle;
static time_t bundle_time;
static char tmpdir[64];

static int group_setup(void **state)
{
	struct app_err e = { 0 };

	bundle_time = time(NULL);
	if (talos_secrets_generate(&bundle, bundle_time, &e) < 0) {
		fprintf(stderr, "generate: %s\n", e.msg);
		return -1;
	}
	strcpy(tmpdir, "/tmp/test_talos.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int r = system(cmd);

	free(cmd);
	talos_secrets_free(&bundle);
	return r == 0 ? 0 : -1;
}

/* ---- schematic ------------------------------------------------------------ */

static void expect_id(const char *const *args, size_t na, const char *const *ext, size_t ne, const char *text,
		      const char *id)
{
	struct app_err e = { 0 };
	struct buf b = { 0 };
	char hex[65];

	assert_int_equal(talos_schematic_canonical(args, na, ext, ne, &b, &e), 0);
	assert_string_equal(b.data, text);
	sha256_hex(b.data, b.len, hex);
	assert_string_equal(hex, id);
	buf_free(&b);
}

/* Image Factory's published vectors (pkg/schematic/schematic_test.go), and
 * the widely published qemu-guest-agent schematic. */
static void test_schematic_published_vectors(void **state)
{
	static const char *const args[] = { "noapic", "nolapic" };
	static const char *const qga[] = { "siderolabs/qemu-guest-agent" };

	expect_id(NULL, 0, NULL, 0, "customization: {}\n",
		  "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba");
	expect_id(args, 2, NULL, 0,
		  "customization:\n    extraKernelArgs:\n        - noapic\n        - nolapic\n",
		  "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c");
	expect_id(NULL, 0, qga, 1,
		  "customization:\n    systemExtensions:\n        officialExtensions:\n"
		  "            - siderolabs/qemu-guest-agent\n",
		  "ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515");
}

static void test_schematic_own_vectors(void **state)
{
	static const char *const args[] = { "console=ttyS0,115200", "net.ifnames=0",
					    "talos.config=metal-iso" };
	static const char *const ext[] = { "siderolabs/amd-ucode", "siderolabs/intel-ucode" };
	static const char *const i915[] = { "siderolabs/i915" };

	expect_id(
	    args, 3, ext, 2,
	    "customization:\n    extraKernelArgs:\n        - console=ttyS0,115200\n        - net.ifnames=0\n"
	    "        - talos.config=metal-iso\n    systemExtensions:\n        officialExtensions:\n"
	    "            - siderolabs/amd-ucode\n            - siderolabs/intel-ucode\n",
	    "de34683f9a832749e433a3344615df59a7d1e858989ed4a772237ed98c049f22");
	expect_id(NULL, 0, i915, 1,
		  "customization:\n    systemExtensions:\n        officialExtensions:\n            - "
		  "siderolabs/i915\n",
		  "dc8730aa8cc7bfa5ef7e2b3284248f2631135b2faf4ae11aa997a0c1987b0eee");
}

static void test_schematic_refuses(void **state)
{
	static const struct {
		const char *arg;
		const char *why;
	} rows[] = {
		{ "", "it is empty" },
		{ "1234", "it does not start with a letter, '_' or '/'" },
		{ "-x", "it does not start with a letter, '_' or '/'" },
		{ "yes", "YAML would read it as a boolean or null" },
		{ "Off", "YAML would read it as a boolean or null" },
		{ "a b", "it contains a character outside [A-Za-z0-9._/=,:+-]" },
		{ "quiet\"", "it contains a character outside [A-Za-z0-9._/=,:+-]" },
		{ "foo:", "it ends with ':'" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct app_err e = { 0 };
		struct buf b = { 0 };
		const char *args[] = { rows[i].arg };
		char *want =
		    xasprintf("schematic kernel argument '%s': cannot reproduce Image Factory's canonical "
			      "form exactly (%s); refusing to compute a schematic id",
			      rows[i].arg, rows[i].why);

		assert_int_equal(talos_schematic_canonical(args, 1, NULL, 0, &b, &e), -EINVAL);
		assert_string_equal(e.msg, want);
		assert_null(b.data);
		free(want);
	}
}

static void fill_model(struct model *m, char **args, size_t na, char **ext, size_t ne)
{
	memset(m, 0, sizeof(*m));
	m->talos.version = "v1.10.5";
	m->talos.schematic.kernel_args.v = args;
	m->talos.schematic.kernel_args.n = na;
	m->talos.schematic.extensions.v = ext;
	m->talos.schematic.extensions.n = ne;
	m->talos.config_delivery = "metal-iso";
	m->talos.image.factory = "https://factory.talos.dev";
	m->talos.image.platform = "metal";
	m->talos.image.arch = "amd64";
	m->talos.image.format = "raw.zst";
	m->talos.image.installer = "factory.talos.dev/metal-installer";
}

static void test_schematic_from_model(void **state)
{
	char *args[] = { "noapic", "nolapic" }, *args_iso[] = { "talos.config=metal-iso" };
	struct app_err e = { 0 };
	struct buf b = { 0 };
	struct model m;
	char hex[65];

	fill_model(&m, args, 2, NULL, 0);
	assert_int_equal(talos_schematic_render(&m, &b, &e), 0);
	assert_string_equal(b.data,
			    "customization:\n    extraKernelArgs:\n        - noapic\n        - nolapic\n"
			    "        - talos.config=metal-iso\n");
	buf_free(&b);
	/* no duplicate when the profile lists it already */
	fill_model(&m, args_iso, 1, NULL, 0);
	assert_int_equal(talos_schematic_render(&m, &b, &e), 0);
	assert_string_equal(b.data,
			    "customization:\n    extraKernelArgs:\n        - talos.config=metal-iso\n");
	buf_free(&b);
	/* no volume delivery, no customization: the empty schematic */
	fill_model(&m, NULL, 0, NULL, 0);
	m.talos.config_delivery = "none";
	assert_int_equal(talos_schematic_id(&m, hex, &e), 0);
	assert_string_equal(hex, "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba");
}

static void test_asset_urls(void **state)
{
	static const char *id = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";
	static const char *want[TALOS_ASSET_COUNT] = {
		[TALOS_ASSET_DISK] = "https://factory.talos.dev/image/%s/v1.10.5/metal-amd64.raw.zst",
		[TALOS_ASSET_RAW_ZST] = "https://factory.talos.dev/image/%s/v1.10.5/metal-amd64.raw.zst",
		[TALOS_ASSET_RAW_XZ] = "https://factory.talos.dev/image/%s/v1.10.5/metal-amd64.raw.xz",
		[TALOS_ASSET_ISO] = "https://factory.talos.dev/image/%s/v1.10.5/metal-amd64.iso",
		[TALOS_ASSET_KERNEL] = "https://factory.talos.dev/image/%s/v1.10.5/kernel-amd64",
		[TALOS_ASSET_INITRAMFS] = "https://factory.talos.dev/image/%s/v1.10.5/initramfs-amd64.xz",
		[TALOS_ASSET_IPXE] = "https://factory.talos.dev/pxe/%s/v1.10.5/metal-amd64",
		[TALOS_ASSET_INSTALLER] = "factory.talos.dev/metal-installer/%s:v1.10.5",
	};
	struct model m;
	char *url, *exp;

	fill_model(&m, NULL, 0, NULL, 0);
	for (int a = 0; a < TALOS_ASSET_COUNT; a++) {
		url = talos_asset_url(&m, id, (enum talos_asset)a);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		exp = xasprintf(want[a], id);
#pragma GCC diagnostic pop
		assert_string_equal(url, exp);
		free(url);
		free(exp);
	}
	/* a mirror serves the same paths; the format picks the disk image */
	m.talos.image.mirror = "http://127.0.0.1:8080/talos/";
	m.talos.image.format = "raw.xz";
	url = talos_asset_url(&m, "abc", TALOS_ASSET_DISK);
	assert_string_equal(url, "http://127.0.0.1:8080/talos/image/abc/v1.10.5/metal-amd64.raw.xz");
	free(url);
	url = talos_asset_url(&m, "abc", TALOS_ASSET_INSTALLER);
	assert_string_equal(url, "factory.talos.dev/metal-installer/abc:v1.10.5");
	free(url);
}

/* ---- pki and secrets ------------------------------------------------------- */

static void check_ca(const struct talos_cert_key *ck, enum talos_key_type type, const char *subject)
{
	struct app_err e = { 0 };
	X509 *c = talos_pki_cert_parse(ck->crt, strlen(ck->crt), "crt", &e);
	EVP_PKEY *k = talos_pki_key_parse(ck->key, strlen(ck->key), "key", &e);
	char name[128];
	int days = 0, secs = 0;

	assert_non_null(c);
	assert_non_null(k);
	assert_int_equal(talos_pki_key_type(k), type);
	X509_NAME_oneline(X509_get_subject_name(c), name, sizeof(name));
	assert_string_equal(name, subject);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(c), X509_get0_notAfter(c)), 1);
	assert_int_equal(days, 3650);
	assert_int_equal(secs, 0);
	assert_int_equal(talos_pki_verify(c, c, 0, "ca", &e), 0);
	EVP_PKEY_free(k);
	X509_free(c);
}

static void test_bundle_key_types_and_lifetimes(void **state)
{
	struct app_err e = { 0 };
	EVP_PKEY *sa;

	check_ca(&bundle.etcd, TALOS_KEY_EC_P256, "/O=etcd");
	check_ca(&bundle.k8s, TALOS_KEY_EC_P256, "/O=kubernetes");
	check_ca(&bundle.k8s_aggregator, TALOS_KEY_EC_P256, "/CN=front-proxy");
	check_ca(&bundle.os, TALOS_KEY_ED25519, "/O=talos");
	assert_non_null(strstr(bundle.os.key, "-----BEGIN ED25519 PRIVATE KEY-----"));
	assert_non_null(strstr(bundle.etcd.key, "-----BEGIN EC PRIVATE KEY-----"));
	assert_non_null(strstr(bundle.k8s_service_account_key, "-----BEGIN RSA PRIVATE KEY-----"));
	sa = talos_pki_key_parse(bundle.k8s_service_account_key, strlen(bundle.k8s_service_account_key), "sa",
				 &e);
	assert_int_equal(talos_pki_key_type(sa), TALOS_KEY_RSA4096);
	EVP_PKEY_free(sa);
	assert_int_equal(strlen(bundle.bootstrap_token), 23);
	assert_int_equal(bundle.bootstrap_token[6], '.');
	assert_int_equal(strlen(bundle.cluster_id), 44);
	assert_null(strchr(bundle.cluster_id, '+'));
	assert_null(strchr(bundle.cluster_id, '/'));
	assert_null(bundle.aescbc_secret);
}

static void test_client_cert(void **state)
{
	struct app_err e = { 0 };
	X509 *ca = talos_pki_cert_parse(bundle.os.crt, strlen(bundle.os.crt), "os", &e);
	EVP_PKEY *ca_key = talos_pki_key_parse(bundle.os.key, strlen(bundle.os.key), "os", &e);
	EVP_PKEY *k = talos_pki_keygen(TALOS_KEY_ED25519, &e),
		 *other = talos_pki_keygen(TALOS_KEY_ED25519, &e);
	X509 *c = talos_pki_client_new(ca, ca_key, k, "os:admin", bundle_time, TALOS_CLIENT_VALIDITY, &e);
	X509 *other_ca = talos_pki_ca_new(other, "talos", NULL, bundle_time, TALOS_CA_VALIDITY, &e);

	assert_non_null(c);
	assert_int_equal(talos_pki_verify(c, ca, 0, "admin", &e), 0);
	assert_int_equal(talos_pki_key_matches(c, k, "admin", &e), 0);
	assert_int_equal(talos_pki_key_matches(c, other, "admin", &e), -EINVAL);
	assert_string_equal(e.msg, "admin: private key does not belong to the certificate");
	assert_int_equal(talos_pki_verify(c, other_ca, 0, "admin", &e), -EINVAL);
	assert_string_equal(e.msg, "admin: certificate does not verify against its CA: unable to get local "
				   "issuer certificate");
	/* expired a year and a day later */
	assert_int_equal(talos_pki_verify(c, ca, bundle_time + TALOS_CLIENT_VALIDITY + 86400, "admin", &e),
			 -EINVAL);
	assert_string_equal(e.msg,
			    "admin: certificate does not verify against its CA: certificate has expired");
	X509_free(c);
	X509_free(other_ca);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	EVP_PKEY_free(ca_key);
}

static void test_bundle_roundtrip(void **state)
{
	struct app_err e = { 0 };
	struct buf y = { 0 }, y2 = { 0 };
	struct talos_bundle b2;

	assert_int_equal(talos_secrets_marshal(&bundle, &y, &e), 0);
	assert_non_null(strstr(y.data, "cluster:\n  id: "));
	assert_non_null(strstr(y.data, "\nsecrets:\n  bootstraptoken: "));
	assert_non_null(strstr(y.data, "\n  secretboxencryptionsecret: "));
	assert_non_null(strstr(y.data, "\ntrustdinfo:\n  token: "));
	assert_non_null(strstr(y.data, "\ncerts:\n  etcd:\n    crt: LS0tLS1CRUdJTi"));
	assert_non_null(strstr(y.data, "\n  k8sserviceaccount:\n    key: LS0tLS1CRUdJTi"));
	assert_int_equal(talos_secrets_parse(y.data, y.len, "b.yaml", &b2, &e), 0);
	assert_string_equal(b2.os.key, bundle.os.key);
	assert_string_equal(b2.trustd_token, bundle.trustd_token);
	assert_int_equal(talos_secrets_marshal(&b2, &y2, &e), 0);
	assert_string_equal(y.data, y2.data);
	talos_secrets_free(&b2);
	buf_free(&y);
	buf_free(&y2);
}

/* talosctl's own testdata layout (4-space indent) parses; field subset. */
static void test_bundle_parse_errors(void **state)
{
	struct app_err e = { 0 };
	struct talos_bundle b2;
	struct buf y = { 0 };
	char *bad;

	assert_int_equal(talos_secrets_marshal(&bundle, &y, &e), 0);

	assert_int_equal(talos_secrets_parse("", 0, "empty.yaml", &b2, &e), -EINVAL);
	assert_string_equal(e.msg, "empty.yaml: empty; expected a secrets bundle");

	static const struct {
		const char *in, *msg;
	} rows[] = {
		{ "cluster: [a]\n", "x.yaml:1: 'cluster': expected a string or a mapping" },
		{ "cluster:\n  id:\n    deep:\n      deeper: 1\n",
		  "x.yaml:4: 'cluster.id.deep': expected a string or a mapping" },
		{ "cluster: {id: \"open\n", "x.yaml:2: found unexpected end of stream" },
		{ "? [a]\n: b\n", "x.yaml:1: expected a key" },
		{ "certs:\n  etcd:\n    crt: not-base64!\n",
		  "x.yaml:3: 'certs.etcd.crt': expected base64 of a PEM block" },
		{ "cluster:\n  id: a\n  id: b\n", "x.yaml:3: 'cluster.id' is set twice" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(talos_secrets_parse(rows[i].in, strlen(rows[i].in), "x.yaml", &b2, &e),
				 -EINVAL);
		assert_string_equal(e.msg, rows[i].msg);
	}

	assert_int_equal(talos_secrets_parse("- a\n", 4, "list.yaml", &b2, &e), -EINVAL);
	assert_string_equal(e.msg, "list.yaml:1: expected one mapping (a secrets bundle)");

	bad = xasprintf("%sextra: 1\n", y.data);
	assert_int_equal(talos_secrets_parse(bad, strlen(bad), "x.yaml", &b2, &e), -EINVAL);
	assert_string_equal(e.msg, "x.yaml:24: unknown key 'extra' in a secrets bundle");
	free(bad);

	bad = xstrdup(y.data);
	*strstr(bad, "trustdinfo:") = 'X';
	assert_int_equal(talos_secrets_parse(bad, strlen(bad), "x.yaml", &b2, &e), -EINVAL);
	assert_string_equal(e.msg, "x.yaml:8: unknown key 'Xrustdinfo.token' in a secrets bundle");
	free(bad);

	bad = xasprintf("cluster:\n  id: a\n  secret: b\nsecrets:\n  bootstraptoken: abc\n");
	assert_int_equal(talos_secrets_parse(bad, strlen(bad), "x.yaml", &b2, &e), -EINVAL);
	assert_string_equal(e.msg, "x.yaml: 'trustdinfo.token' is missing");
	free(bad);
	buf_free(&y);
}

static void test_bundle_tampered(void **state)
{
	struct app_err e = { 0 };
	struct talos_bundle t = bundle;

	/* a key that is not the certificate's */
	t.k8s.key = bundle.etcd.key;
	assert_int_equal(talos_secrets_validate(&t, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "secrets bundle: certs.k8s: private key does not belong to the certificate");
	/* a CA of the wrong key type */
	t = bundle;
	t.os = bundle.etcd;
	assert_int_equal(talos_secrets_validate(&t, &e), -EINVAL);
	assert_string_equal(e.msg, "secrets bundle: certs.os: expected a Ed25519 key, found ECDSA P-256");
	t = bundle;
	t.bootstrap_token = "abc.def";
	assert_int_equal(talos_secrets_validate(&t, &e), -EINVAL);
	assert_string_equal(
	    e.msg, "secrets bundle: 'secrets.bootstraptoken' is not of the form [a-z0-9]{6}.[a-z0-9]{16}");
	t = bundle;
	t.cluster_secret = NULL;
	assert_int_equal(talos_secrets_validate(&t, &e), -EINVAL);
	assert_string_equal(e.msg, "secrets bundle: 'cluster.secret' is missing");
	t = bundle;
	t.aescbc_secret = "x";
	assert_int_equal(talos_secrets_validate(&t, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "secrets bundle: expected exactly one of 'secrets.secretboxencryptionsecret' and "
			    "'secrets.aescbcencryptionsecret'");
}

static void test_bundle_write(void **state)
{
	struct app_err e = { 0 };
	char *path = xasprintf("%s/sub/secrets.yaml", tmpdir), *old = NULL;
	struct talos_bundle b2;
	struct stat st;

	assert_int_equal(talos_secrets_write(path, &bundle, false, NULL, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(talos_secrets_write(path, &bundle, false, NULL, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "already exists; refusing to overwrite it (pass --rotate"));
	assert_int_equal(talos_secrets_write(path, &bundle, true, &old, &e), 0);
	assert_non_null(old);
	assert_int_equal(stat(old, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(talos_secrets_load(path, &b2, &e), 0);
	assert_string_equal(b2.cluster_secret, bundle.cluster_secret);
	talos_secrets_free(&b2);
	free(old);
	free(path);
}

/* ---- config volume --------------------------------------------------------- */

static void test_volume_roundtrip(void **state)
{
	static const char cfg[] = "version: v1alpha1\nmachine:\n  type: worker\n";
	struct app_err e = { 0 };
	char *path = xasprintf("%s/cfg.iso", tmpdir), label[33];
	struct buf back = { 0 };
	struct stat st;

	assert_int_equal(talos_volume_build(cfg, strlen(cfg), path, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(talos_volume_read(path, label, &back, &e), 0);
	assert_string_equal(label, "metal-iso");
	assert_int_equal(back.len, strlen(cfg));
	assert_memory_equal(back.data, cfg, back.len);
	buf_free(&back);
	assert_int_equal(talos_volume_read("/nonexistent/x.iso", label, &back, &e), -ENOENT);
	assert_string_equal(e.msg, "cannot open '/nonexistent/x.iso': No such file or directory");
	free(path);
	path = xasprintf("%s/notiso", tmpdir);
	assert_int_equal(write_file_atomic(path, cfg, strlen(cfg), 0600, &e), 0);
	assert_int_equal(talos_volume_read(path, label, &back, &e), -EINVAL);
	assert_string_equal(e.msg + strlen(tmpdir) + 1,
			    "/notiso' is not an iso9660 image (no primary volume descriptor)");
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schematic_published_vectors),
		cmocka_unit_test(test_schematic_own_vectors),
		cmocka_unit_test(test_schematic_refuses),
		cmocka_unit_test(test_schematic_from_model),
		cmocka_unit_test(test_asset_urls),
		cmocka_unit_test(test_bundle_key_types_and_lifetimes),
		cmocka_unit_test(test_client_cert),
		cmocka_unit_test(test_bundle_roundtrip),
		cmocka_unit_test(test_bundle_parse_errors),
		cmocka_unit_test(test_bundle_tampered),
		cmocka_unit_test(test_bundle_write),
		cmocka_unit_test(test_volume_roundtrip),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
