/* The day-2 Talos API calls (appliance apply / upgrade / status), built on
 * talosapi_call() and net/pb.h. Messages (siderolabs/talos v1.10.5,
 * api/machine/machine.proto, api/time/time.proto):
 *   Version(Empty) -> VersionResponse { repeated Version messages = 1 }
 *     Version { Metadata metadata = 1; VersionInfo version = 2; }  VersionInfo { string tag = 1; ... }
 *   ServiceList(Empty) -> { repeated ServiceList messages = 1 }
 *     ServiceList { Metadata = 1; repeated ServiceInfo services = 2 }
 *     ServiceInfo { string id = 1; string state = 2; ServiceEvents events = 3; ServiceHealth health = 4 }
 *     ServiceHealth { bool unknown = 1; bool healthy = 2; string last_message = 3; ... }
 *   EtcdMemberList(EtcdMemberListRequest { bool query_local = 1 }) -> { repeated EtcdMembers messages = 1 }
 *     EtcdMembers { Metadata = 1; repeated string legacy_members = 2; repeated EtcdMember members = 3 }
 *     EtcdMember { uint64 id = 2; string hostname = 3; ...; bool is_learner = 6 }
 *   ApplyConfiguration(ApplyConfigurationRequest { bytes data = 1; Mode mode = 4; bool dry_run = 5;
 *     google.protobuf.Duration try_mode_timeout = 6 })
 *     -> { repeated ApplyConfiguration messages = 1 }
 *     ApplyConfiguration { Metadata = 1; repeated string warnings = 2; Mode mode = 3; string mode_details = 4
 * } Mode: REBOOT = 0, AUTO = 1, NO_REBOOT = 2, STAGED = 3, TRY = 4 Upgrade(UpgradeRequest { string image = 1;
 * bool preserve = 2; bool stage = 3; bool force = 4 })
 *     -> { repeated Upgrade messages = 1 }  Upgrade { Metadata = 1; string ack = 2; string actor_id = 3 }
 *   Reboot(RebootRequest { Mode mode = 1 }) -> { repeated Reboot messages = 1 }
 *   Read(ReadRequest { string path = 1 }) -> stream common.Data
 *   time.TimeService/Time(Empty) -> { repeated Time messages = 1 }
 *     Time { Metadata = 1; string server = 2; Timestamp localtime = 3; Timestamp remotetime = 4 } */
#ifndef APPLIANCE_TALOSOPS_H
#define APPLIANCE_TALOSOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/talosapi.h"

struct app_err;
struct buf;

/* Where Talos keeps the machine config it runs (constants.go: StateMountPoint
 * "/system/state" + ConfigFilename "config.yaml"). */
#define TALOSOPS_CONFIG_PATH "/system/state/config.yaml"

/* VersionInfo.tag ("v1.10.5") into tag. */
int talosops_version(const struct talosapi_node *n, const struct talosapi_retry *r, char *tag, size_t n_tag,
		     struct app_err *e);

struct talosops_service {
	char id[64];
	char state[32]; /* "Running", "Waiting", "Finished", ... */
	bool health_unknown;
	bool healthy;
	char message[256]; /* health.last_message */
};

struct talosops_services {
	struct talosops_service *v;
	size_t n;
};

int talosops_services(const struct talosapi_node *n, const struct talosapi_retry *r,
		      struct talosops_services *ret, struct app_err *e);
void talosops_services_free(struct talosops_services *s);
/* The services judged the way Talos judges a node ready (siderolabs/talos
 * v1.10.5 internal/app/machined/pkg/controllers/runtime/machine_status.go
 * servicesCheck, what talosctl upgrade --wait and the dashboard wait for): a
 * running service is a problem only when its health is known and failing
 * (health unknown: no health check, like dashboard's, or none run yet); a
 * service that is not running is a problem only when Talos requires it
 * (apid, machined, kubelet; on a control plane also etcd and trustd).
 * Problems as "id (state: message)" joined by ", " into out. */
struct talosops_verdict {
	size_t problems;
	size_t healthy; /* running with a passing health check */
	size_t unknown; /* running, health unknown */
};
void talosops_services_judge(const struct talosops_services *s, bool controlplane, struct talosops_verdict *v,
			     struct buf *out);

struct talosops_member {
	uint64_t id;
	char hostname[256];
	bool learner;
};

struct talosops_members {
	struct talosops_member *v;
	size_t n;
};

int talosops_etcd_members(const struct talosapi_node *n, const struct talosapi_retry *r,
			  struct talosops_members *ret, struct app_err *e);
void talosops_members_free(struct talosops_members *m);

enum talosops_mode {
	TALOSOPS_MODE_REBOOT = 0,
	TALOSOPS_MODE_AUTO = 1,
	TALOSOPS_MODE_NO_REBOOT = 2,
	TALOSOPS_MODE_STAGED = 3,
	TALOSOPS_MODE_TRY = 4, /* applied live, not persisted, rolled back after a timeout */
};
/* "auto", "no-reboot", "reboot", "staged", "try" (talosctl's --mode words) <->
 * enum; -1 when unknown. */
int talosops_mode_parse(const char *s);
const char *talosops_mode_name(int mode);

struct talosops_applied {
	int mode;	/* the mode Talos chose (AUTO resolves to REBOOT or NO_REBOOT) */
	char *details;	/* mode_details: with dry_run, "Dry run summary: ... Config diff: ..." */
	char *warnings; /* warnings joined by "\n" ("" when none) */
};

/* ApplyConfiguration of config (a machine config; secret: never logged). A
 * refusal (INVALID_ARGUMENT: validation, or a NO_REBOOT change that needs a
 * reboot) fails with the node's words. */
int talosops_apply(const struct talosapi_node *n, const struct talosapi_retry *r, const void *config,
		   size_t len, int mode, bool dry_run, struct talosops_applied *ret, struct app_err *e);
/* The same in TRY mode: ApplyConfigurationRequest.try_mode_timeout = 6
 * (google.protobuf.Duration { int64 seconds = 1 }): Talos runs the config
 * without persisting it and goes back to the previous one after timeout_s
 * unless another (not TRY) apply comes first (v1alpha1_server.go
 * ApplyConfiguration, v1alpha1_runtime.go RollbackToConfigAfter; default
 * constants.ConfigTryTimeout, 1m). */
int talosops_apply_try(const struct talosapi_node *n, const struct talosapi_retry *r, const void *config,
		       size_t len, long timeout_s, bool dry_run, struct talosops_applied *ret,
		       struct app_err *e);
void talosops_applied_free(struct talosops_applied *a);

/* Upgrade to installer image; the ack ("Upgrade request received") into ack.
 * -EBUSY (Talos' words in e) when another upgrade holds etcd's upgrade lock.
 * A node whose own upgrade sequence runs acknowledges and ignores the call
 * (machined's sequence lock): only the version it comes back on tells. */
int talosops_upgrade(const struct talosapi_node *n, const struct talosapi_retry *r, const char *image,
		     bool stage, bool force, char *ack, size_t n_ack, struct app_err *e);

int talosops_reboot(const struct talosapi_node *n, const struct talosapi_retry *r, struct app_err *e);

/* common.ContainerdNamespace (api/common/common.proto): the CRI namespace
 * holds the pods' images (the static pods), the system one the kubelet's. */
enum talosops_ns { TALOSOPS_NS_SYSTEM = 1, TALOSOPS_NS_CRI = 2 };

/* MachineService/ImagePull (siderolabs/talos v1.10.5 api/machine/machine.proto
 * ImagePullRequest { ContainerdNamespace namespace = 1; string reference = 2; },
 * server v1alpha1_images.go): pull ref into the node's containerd, skipped
 * when already there. NOT_FOUND "error pulling image: ..." for an image the
 * registry does not have; a node without the call answers UNIMPLEMENTED:
 * -ENOSYS then (talos_managed.go prePullImages skips such a node). */
int talosops_image_pull(const struct talosapi_node *n, const struct talosapi_retry *r, enum talosops_ns ns,
			const char *ref, struct app_err *e);

/* A file of the node (at most max bytes) into out. */
int talosops_read(const struct talosapi_node *n, const struct talosapi_retry *r, const char *path, size_t max,
		  struct buf *out, struct app_err *e);

/* The node's clock against its time server: offset_ms = remote - local. */
int talosops_time(const struct talosapi_node *n, const struct talosapi_retry *r, char *server,
		  size_t n_server, long long *offset_ms, struct app_err *e);

/* COSI (cosi-project/runtime v0.10.2, the version Talos v1.10.5 uses:
 * api/v1alpha1 state.pb.go, resource.pb.go), which apid serves:
 *   cosi.resource.State/List(ListRequest { string namespace = 1; string type = 2 })
 *     -> stream ListResponse { Resource resource = 1 }
 *   Resource { Metadata metadata = 1; Spec spec = 2 }  Metadata { ...; string id = 3 }
 *   Spec { bytes proto_spec = 1; string yaml_spec = 2 }
 * The server fills both (pkg/state/protobuf/server List -> protobuf.FromResource
 * without WithoutYAML); this reads yaml_spec, the same spec as YAML. Sorted by
 * id, as the state lists them. An apid without the resource API answers
 * UNIMPLEMENTED: -ENOSYS then. */
struct talosops_resource {
	char *id;
	char *yaml;
};

struct talosops_resources {
	struct talosops_resource *v;
	size_t n;
};

int talosops_cosi_list(const struct talosapi_node *n, const struct talosapi_retry *r, const char *ns,
		       const char *type, struct talosops_resources *ret, struct app_err *e);
void talosops_resources_free(struct talosops_resources *s);

/* Talos' own verdict on a node, what talosctl upgrade and reboot wait for
 * (cmd/talosctl/pkg/talos/action/tracker.go MachineReadyEventFn: stage
 * running and ready): the MachineStatus resource, namespace "runtime", type
 * MachineStatuses.runtime.talos.dev, id "machine" (siderolabs/talos v1.10.5
 * pkg/machinery/resources/runtime/machine_status.go: spec { stage;
 * status { ready; unmetConditions [{ name, reason }] } }). Ready means time
 * synced, network up, every running service healthy and the required ones
 * running, static pods Ready and the Kubernetes Node Ready
 * (controllers/runtime/machine_status.go getReadinessChecks). stage: "running",
 * "booting", ...; unmet: "name: reason; ..." ("" when none). */
/* The config the node runs, as talosctl upgrade-k8s patches it (siderolabs/talos
 * v1.10.5 pkg/cluster/kubernetes/patch.go patchNodeConfig: the MachineConfig
 * resource config.ActiveID): COSI namespace "config", type
 * MachineConfigs.config.talos.dev, id "v1alpha1", whose yaml_spec is the config
 * itself (resources/config/machine_config.go MarshalYAMLBytes). Read
 * /system/state/config.yaml returns the persisted one ("persistent"), which is
 * ahead after a staged apply and behind after a try one. *differs: the
 * persisted config is not the active one. active is secret: wipe it. */
int talosops_machine_config(const struct talosapi_node *n, const struct talosapi_retry *r, struct buf *active,
			    bool *differs, struct app_err *e);

int talosops_machine_status(const struct talosapi_node *n, const struct talosapi_retry *r, char *stage,
			    size_t n_stage, bool *ready, struct buf *unmet, struct app_err *e);

#endif
