#!/usr/bin/python3
"""A stand-in for a Talos node's apid: machine.MachineService/Bootstrap and
/Kubeconfig (plus storage.StorageService/BlockDeviceWipe) over real gRPC with
mutual TLS on 127.0.0.1. No generated code: generic handlers with raw-bytes
(de)serialisers and protobuf encoded by hand, as in the Talos .proto files.

Day 2 (appliance apply / upgrade / status): Version, ServiceList,
EtcdMemberList, ApplyConfiguration (with dry run), Upgrade, Reboot, Read and
time.TimeService/Time, driven by DIR/node.json (see Day2 below). A reboot
closes the port, waits, and listens again on the same port, like a node.

Usage: talos_api.py --ca CA --cert CRT --key KEY --port-file F [--delay S]
       [--state DIR] [--mode ok|already|worker|unsync:N|notyet:N|unavailable:N]
       [--chunks N] [--kube-error] [--kubeconfig FILE] [--etcd FILE]
       [--volume DEV=VOLUME]... [--readonly DEV]... [--devices DEV,...]
The port is written to --port-file before listening (after --delay seconds
the server starts listening on it). Every call is appended to DIR/calls,
with the request's fields by name.

How each answer follows Talos (siderolabs/talos v1.10.5, 55fc6233):
- Bootstrap, internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go:
  FAILED_PRECONDITION "bootstrap is not available yet" while
  Runtime().IsBootstrapAllowed() is false (until the CRI is up,
  internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_runtime.go) -> notyet:N;
  FAILED_PRECONDITION "bootstrap can only be performed on a control plane
  node" -> worker; "time is not in sync yet" -> unsync:N; ALREADY_EXISTS
  "etcd data directory is not empty" on a second call. UNAVAILABLE is what
  grpc-go's apid proxy answers while machined restarts -> unavailable:N.
- BlockDeviceWipe, internal/app/storaged/server.go validateDeviceForWipe:
  NOT_FOUND 'blockdevice "x" not found'; FAILED_PRECONDITION
  'blockdevice "x" is read-only'; without skip_volume_check,
  FAILED_PRECONDITION 'blockdevice "x" is in use by volume "V"' for a
  device that backs a volume (--volume DEV=V). All devices are validated
  before any is wiped. Request: api/storage/storage.proto
  BlockDeviceWipeDescriptor {device = 1; method = 2 (FAST 0, ZEROES 1);
  skip_volume_check = 3; drop_partition = 4}.
"""
import argparse
import gzip
import io
import os
import socket
import sys
import tarfile
import threading
import time
from concurrent import futures

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def metadata(hostname):
    return field_bytes(1, hostname.encode())


def parse(msg):
    """protobuf -> list of (num, wire, value)"""
    i, out = 0, []
    while i < len(msg):
        tag, shift = 0, 0
        while True:
            b = msg[i]; i += 1
            tag |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80:
                break
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            v, shift = 0, 0
            while True:
                b = msg[i]; i += 1
                v |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            out.append((num, wire, v))
        elif wire == 2:
            ln, shift = 0, 0
            while True:
                b = msg[i]; i += 1
                ln |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            out.append((num, wire, msg[i:i + ln])); i += ln
        else:
            raise ValueError("unexpected wire type %d" % wire)
    return out


class Node:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.unsync = self.notyet = self.unavailable = 0
        if a.mode.startswith("unsync:"):
            self.unsync = int(a.mode.split(":")[1])
        if a.mode.startswith("notyet:"):
            self.notyet = int(a.mode.split(":")[1])
        if a.mode.startswith("unavailable:"):
            self.unavailable = int(a.mode.split(":")[1])
        self.volumes = dict(v.split("=", 1) for v in a.volume)
        self.devices = set(a.devices.split(","))
        self.wiped = set()
        os.makedirs(a.state, exist_ok=True)
        if a.mode == "already":
            open(os.path.join(a.state, "bootstrapped"), "w").close()

    def log(self, line):
        with self.lock, open(os.path.join(self.a.state, "calls"), "a") as f:
            f.write(line + "\n")

    def bootstrap(self, req, ctx):
        fields = parse(req)
        self.log("Bootstrap " + " ".join("%d=%r" % (n, v) for n, _, v in fields))
        if self.a.mode == "worker":
            ctx.abort(grpc.StatusCode.FAILED_PRECONDITION,
                      "bootstrap can only be performed on a control plane node")
        with self.lock:
            if self.unavailable > 0:
                self.unavailable -= 1
                ctx.abort(grpc.StatusCode.UNAVAILABLE, "connection error: machined is restarting")
            if self.notyet > 0:
                self.notyet -= 1
                ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "bootstrap is not available yet")
            if self.unsync > 0:
                self.unsync -= 1
                ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "time is not in sync yet")
            flag = os.path.join(self.a.state, "bootstrapped")
            if os.path.exists(flag):
                ctx.abort(grpc.StatusCode.ALREADY_EXISTS, "etcd data directory is not empty")
            open(flag, "w").close()
        # BootstrapResponse { repeated Bootstrap messages = 1 } Bootstrap { Metadata metadata = 1 }
        return field_bytes(1, field_bytes(1, metadata("cp1")))

    def kubeconfig(self, req, ctx):
        self.log("Kubeconfig %d" % len(req))
        body = open(self.a.kubeconfig, "rb").read()
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w:gz") as tf:
            ti = tarfile.TarInfo("kubeconfig")
            ti.size = len(body)
            ti.mode = 0o600
            ti.mtime = int(time.time())
            tf.addfile(ti, io.BytesIO(body))
        data = raw.getvalue()
        n = max(1, self.a.chunks)
        step = (len(data) + n - 1) // n
        sent = 0
        for off in range(0, len(data), step):
            # common.Data { Metadata metadata = 1; bytes bytes = 2; }
            yield field_bytes(1, metadata("cp1")) + field_bytes(2, data[off:off + step])
            sent += 1
            if self.a.kube_error and sent == 1:
                # a message went out: the status can only travel in the trailers
                ctx.abort(grpc.StatusCode.INTERNAL, "failed to generate kubeconfig: disk full")

    def wipe(self, req, ctx):
        devs = [dict((n, v) for n, _, v in parse(d)) for num, _, d in parse(req) if num == 1]
        methods = {0: "FAST", 1: "ZEROES"}
        self.log("BlockDeviceWipe " + " ".join(
            "device=%s method=%s skip_volume_check=%s drop_partition=%s" % (
                d.get(1, b"").decode(), methods.get(d.get(2, 0), d.get(2)),
                str(bool(d.get(3, 0))).lower(), str(bool(d.get(4, 0))).lower())
            for d in devs))
        # validate every device first, as validateDeviceForWipe does
        for d in devs:
            dev = d.get(1, b"").decode()
            if dev not in self.devices or dev in self.wiped:
                ctx.abort(grpc.StatusCode.NOT_FOUND, 'blockdevice "%s" not found' % dev)
            if dev in self.a.readonly:
                ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, 'blockdevice "%s" is read-only' % dev)
            if not d.get(3, 0) and dev in self.volumes:
                ctx.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          'blockdevice "%s" is in use by volume "%s"' % (dev, self.volumes[dev]))
        for d in devs:
            if d.get(4, 0):  # drop_partition: the partition is gone afterwards
                self.wiped.add(d.get(1, b"").decode())
        return field_bytes(1, field_bytes(1, metadata("cp1")))


# ---- day 2 ---------------------------------------------------------------------
# Behaviour from siderolabs/talos v1.10.5:
#   internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go
#     ApplyConfiguration: config that does not load or validate -> InvalidArgument;
#       no v1alpha1 document -> InvalidArgument "the applied machine configuration doesn't
#       contain v1alpha1 config, ..."; NO_REBOOT of a change that needs a reboot ->
#       InvalidArgument (CanApplyImmediate); AUTO resolves to REBOOT or NO_REBOOT, and
#       a real (not dry-run) AUTO apply that reboots answers mode_details "Applied
#       configuration with a reboot: this config change can't be applied in immediate
#       mode\ndiff:\n<diff>" (modeErr);
#       dry_run answers mode_details "Dry run summary:\n<mode details> (skipped in
#       dry-run).\nConfig diff:\n\n<unified diff a/b>" ("No changes." when equal,
#       pkg/machinery/config/configdiff/configdiff.go); REBOOT reboots after answering.
#       The dry run and CanApplyImmediate compare with the running (active) config;
#       Read returns the persisted one. TRY (4) is checked as NO_REBOOT, sets only the
#       active config (SetConfig) and rolls it back after try_mode_timeout (field 6,
#       default constants.ConfigTryTimeout 1m; v1alpha1_runtime.go
#       RollbackToConfigAfter), answering "...\nThe config is applied in 'try' mode and
#       will be automatically reverted back in 1m0s"; any other call cancels the
#       rollback (CancelConfigRollbackTimeout, first thing in the handler: a dry run
#       or a refused config in another mode cancels it too). STAGED persists only (SetPersistedConfig):
#       the node runs the old config until it reboots. Nothing here refuses an apply
#       while an upgrade runs: NO_REBOOT/STAGED/TRY just apply, REBOOT takes the
#       sequence lock over (WithTakeover) and so cancels the upgrade.
#     Upgrade: on a control plane (not --force) etcd must have no member that is not
#       started ("etcd member %016x is not started, all members must be running to perform
#       an upgrade") and not exactly 2 members (internal/pkg/etcd/etcd.go
#       ValidateForUpgrade); answers ack "Upgrade request received", then the upgrade
#       sequence installs and reboots. Before the checks a control plane takes etcd's
#       upgrade mutex (tryLockUpgradeMutex): held elsewhere -> UNKNOWN "failed to acquire
#       upgrade mutex: error trying to lock etcd upgrade mutex: mutex: Locked by another
#       session"; force skips the mutex and the checks. A second Upgrade while the
#       upgrade sequence runs is acknowledged and does nothing (sequence lock). The
#       upgrade leaves the machine config alone (machine.install.image keeps its tag).
#     Read: a regular file streamed as common.Data; missing -> NotFound.
#   pkg/machinery/constants/constants.go: the config lives at /system/state/config.yaml.
#   api/time/time.proto: Time { server, localtime, remotetime }.
# DIR/node.json (re-read on every call, so a test can change it between runs):
#   hostname, type (controlplane|worker), version ("v1.10.5"),
#   services: [[id, state, healthy]...] (healthy true/false/null = unknown; default:
#     v1.10.5's 11 (control plane) or 9 (worker) services, see DEFAULT_SERVICES),
#   health_message (what a failing health check says),
#   time_offset_ms, reboot_seconds (how long the node is away, default 1),
#   settle_seconds (kubelet and etcd Waiting after boot, default 0.5),
#   upgrade_seconds (an upgrade's drain and install before its reboot, default 0.3),
#   precheck_seconds (how long Upgrade holds etcd's upgrade mutex, default 0),
#   after_upgrade: "ok" | "down" (never answers again) | "rollback" (comes back on the
#     old version, as Talos does when the new one fails to boot) | "no-etcd" (comes back
#     but does not rejoin etcd); after_reboot: the same for other reboots,
#   refuse_apply: a validation error to answer ApplyConfiguration with.
# --etcd FILE: the cluster's etcd members, shared by the nodes: [{"id": N,
#   "hostname": "cp1", "learner": false}...]; a hostname "" is a member not started,
#   "healthy": false one that does not answer; FILE.upgrade-mutex: etcd's upgrade mutex.

import difflib
import json

import yaml

# The services a v1.10.5 node runs, as ServiceList lists them (sorted by id,
# internal/app/machined/pkg/system/system.go List): machined and apid
# (internal/app/machined/main.go), udevd, auditd, syslogd, containerd, dashboard
# (v1alpha1_sequencer.go: earlyServices, then dashboard unless
# talos.dashboard.disabled=1), cri and kubelet, and trustd + etcd on a control plane
# only (v1alpha1_sequencer_tasks.go StartAllServices): 11 on a control plane, 9 on a
# worker. Every one has a health check (internal/app/machined/pkg/system/services/*.go
# HealthFunc; auditd's and syslogd's always pass) except dashboard.go, whose health
# stays what health.State.Init sets: unknown, last_message "Unknown" (health/status.go).
# health: True healthy, False failing, None unknown (no check, or none run yet).
DEFAULT_SERVICES = {
    "controlplane": ["apid", "auditd", "containerd", "cri", "dashboard", "etcd", "kubelet", "machined",
                     "syslogd", "trustd", "udevd"],
    "worker": ["apid", "auditd", "containerd", "cri", "dashboard", "kubelet", "machined", "syslogd",
               "udevd"],
}
NO_HEALTH_CHECK = ("dashboard",)
CONFIG_PATH = "/system/state/config.yaml"


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def go_duration(seconds):
    """Go's time.Duration.String() of whole seconds: 30s, 1m0s, 1h2m3s."""
    s = int(seconds)
    h, m, s = s // 3600, s % 3600 // 60, s % 60
    if h:
        return "%dh%dm%ds" % (h, m, s)
    return "%dm%ds" % (m, s) if m else "%ds" % s


def timestamp(t):
    return field_varint(1, int(t)) + field_varint(2, int((t - int(t)) * 1e9))


class NoAliases(yaml.SafeDumper):
    """Go's yaml.Marshal writes shared values out; PyYAML would alias them."""
    def ignore_aliases(self, data):
        return True


class Day2:
    def __init__(self, node, a, runner):
        self.node, self.a, self.runner = node, a, runner
        self.booted = time.time()

    def st(self):
        path = os.path.join(self.a.state, "node.json")
        d = json.load(open(path)) if os.path.exists(path) else {}
        d.setdefault("hostname", "cp1")
        d.setdefault("type", "controlplane")
        d.setdefault("version", "v1.10.5")
        return d

    def save(self, d):
        path = os.path.join(self.a.state, "node.json")
        with open(path + ".tmp", "w") as f:
            json.dump(d, f, indent=1)
        os.rename(path + ".tmp", path)

    def cfg_path(self):
        """The persisted config, what Read /system/state/config.yaml returns."""
        return os.path.join(self.a.state, "config.yaml")

    def active_path(self):
        """The config the node runs when it differs from the persisted one: after a
        'try' apply (SetConfig only) or a staged one (SetPersistedConfig only), until
        the rollback or the next boot (v1alpha1_runtime.go SetConfig/SetPersistedConfig)."""
        return os.path.join(self.a.state, "active.yaml")

    def active(self):
        for path in (self.active_path(), self.cfg_path()):
            if os.path.exists(path):
                return open(path).read()
        return ""

    def write(self, path, data):
        with open(path + ".tmp", "w") as fh:
            fh.write(data)
        os.rename(path + ".tmp", path)

    def set_active(self, data):
        persisted = open(self.cfg_path()).read() if os.path.exists(self.cfg_path()) else ""
        if data == persisted:
            if os.path.exists(self.active_path()):
                os.unlink(self.active_path())
        else:
            self.write(self.active_path(), data)

    def cancel_rollback(self):
        """CancelConfigRollbackTimeout: every apply but a 'try' one confirms the config."""
        with self.node.lock:
            self.rollback_gen = getattr(self, "rollback_gen", 0) + 1

    def rollback_after(self, seconds, previous):
        """RollbackToConfigAfter: the config active before the 'try' comes back."""
        self.cancel_rollback()
        gen = self.rollback_gen

        def go():
            time.sleep(seconds)
            with self.node.lock:
                if gen != self.rollback_gen:
                    return
            self.set_active(previous)
            self.node.log("rolling back the configuration")
        threading.Thread(target=go, daemon=True).start()

    def etcd(self):
        if not self.a.etcd or not os.path.exists(self.a.etcd):
            return []
        return json.load(open(self.a.etcd))

    def etcd_save(self, members):
        with open(self.a.etcd + ".tmp", "w") as f:
            json.dump(members, f, indent=1)
        os.rename(self.a.etcd + ".tmp", self.a.etcd)

    def reply(self, body):
        d = self.st()
        return field_bytes(1, field_bytes(1, metadata(d["hostname"])) + body)

    def version(self, req, ctx):
        self.node.log("Version")
        d = self.st()
        info = field_bytes(1, d["version"].encode()) + field_bytes(5, b"linux") + field_bytes(6, b"amd64")
        return self.reply(field_bytes(2, info))

    def settling(self, d):
        return time.time() - self.booted < float(d.get("settle_seconds", 0.5))

    def service_states(self, d):
        """[(id, state, healthy)] as ServiceList reports them now."""
        svcs = d.get("services") or [[s, "Running", None if s in NO_HEALTH_CHECK else True]
                                     for s in DEFAULT_SERVICES[d["type"]]]
        out = []
        for sid, state, healthy in svcs:
            if self.settling(d) and sid in ("kubelet", "etcd"):
                # waiting for its conditions (time sync, network): not started, so
                # no health check has run yet
                state, healthy = "Waiting", None
            out.append((sid, state, healthy))
        return out

    def services(self, req, ctx):
        self.node.log("ServiceList")
        d = self.st()
        body = b""
        for sid, state, healthy in self.service_states(d):
            # ServiceHealth { bool unknown = 1; bool healthy = 2; string last_message = 3;
            #   Timestamp last_change = 4 } (api/machine/machine.proto), proto3: no zero values
            if healthy is None:
                health = field_varint(1, 1) + field_bytes(3, b"Unknown")
            elif healthy:
                health = field_varint(2, 1)
            else:
                health = field_bytes(3, (d.get("health_message") or
                                         "waiting for service to become ready").encode())
            health += field_bytes(4, timestamp(self.booted))
            body += field_bytes(2, field_bytes(1, sid.encode()) + field_bytes(2, state.encode()) +
                                field_bytes(4, health))
        return self.reply(body)

    def etcd_members(self, req, ctx):
        self.node.log("EtcdMemberList")
        if self.st()["type"] != "controlplane":  # checkControlplane("member list")
            ctx.abort(grpc.StatusCode.UNIMPLEMENTED, "member list is only available on control plane nodes")
        body = b""
        for m in self.etcd():
            body += field_bytes(3, field_varint(2, m["id"]) + field_bytes(3, m["hostname"].encode()) +
                                (field_varint(6, 1) if m.get("learner") else b""))
        return self.reply(body)

    def time(self, req, ctx):
        # internal/app/machined/internal/server/v1alpha1/v1alpha1_time.go Time: asks the
        # first of machine.time.servers (default constants.DefaultNTPServer
        # "time.cloudflare.com") from the node; a failed query is a plain error (UNKNOWN)
        # 'error querying NTP server "<server>": <why>'. node.json ntp_error: that why.
        self.node.log("Time")
        d = self.st()
        try:
            cfg = next(yaml.safe_load_all(self.active())) or {}
        except Exception:
            cfg = {}
        servers = (((cfg.get("machine") or {}).get("time") or {}).get("servers") or ["time.cloudflare.com"])
        if d.get("ntp_error"):
            ctx.abort(grpc.StatusCode.UNKNOWN, 'error querying NTP server "%s": %s' % (servers[0], d["ntp_error"]))
        now = time.time()
        remote = now + float(d.get("time_offset_ms", 0)) / 1000.0
        return self.reply(field_bytes(2, servers[0].encode()) + field_bytes(3, timestamp(now)) +
                          field_bytes(4, timestamp(remote)))

    def read(self, req, ctx):
        path = dict((n, v) for n, _, v in parse(req)).get(1, b"").decode()
        self.node.log("Read " + path)
        if path != CONFIG_PATH or not os.path.exists(self.cfg_path()):
            ctx.abort(grpc.StatusCode.NOT_FOUND, "stat %s: no such file or directory" % path)
        data = open(self.cfg_path(), "rb").read()
        for off in range(0, len(data), 4096):
            yield field_bytes(1, metadata(self.st()["hostname"])) + field_bytes(2, data[off:off + 4096])

    # internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_runtime.go CanApplyImmediate:
    # changes to these may be applied without a reboot; any other change needs one
    IMMEDIATE = {
        None: ("debug", "cluster"),
        "machine": ("ca", "acceptedCAs", "time", "certSANs", "install", "network", "sysfs", "sysctls",
                    "logging", "controlplane", "kubelet", "kernel", "registries", "pods",
                    "seccompProfiles", "nodeAnnotations", "nodeLabels", "nodeTaints"),
        "features": ("kubernetesTalosAPIAccess", "kubePrism", "hostDNS", "imageCache",
                     "nodeAddressSortAlgorithm"),
    }

    @classmethod
    def needs_reboot(cls, old, new):
        """The diff of what may not change live ("" when nothing)."""
        def strip(text):
            try:
                doc = next(yaml.safe_load_all(text)) or {}
            except Exception:
                return {}
            for k in cls.IMMEDIATE[None]:
                doc.pop(k, None)
            m = doc.get("machine") or {}
            for k in cls.IMMEDIATE["machine"]:
                m.pop(k, None)
            for k in cls.IMMEDIATE["features"]:
                (m.get("features") or {}).pop(k, None)
            return doc
        a, b = strip(old), strip(new)
        if a == b:
            return ""
        return "".join(difflib.unified_diff(yaml.safe_dump(a).splitlines(True),
                                            yaml.safe_dump(b).splitlines(True), "a", "b"))

    def apply(self, req, ctx):
        f = dict((n, v) for n, _, v in parse(req))
        data, mode, dry = f.get(1, b"").decode(), f.get(4, 0), bool(f.get(5, 0))
        try_s = None
        if 6 in f:  # try_mode_timeout: google.protobuf.Duration { int64 seconds = 1; int32 nanos = 2; }
            dur = dict((n, v) for n, _, v in parse(f[6]))
            try_s = dur.get(1, 0) + dur.get(2, 0) / 1e9
        self.node.log("ApplyConfiguration mode=%d dry_run=%d bytes=%d" % (mode, dry, len(data)) +
                      (" try_mode_timeout=%gs" % try_s if try_s is not None else ""))
        d = self.st()
        # the first thing ApplyConfiguration does, before the config is even loaded and
        # for dry runs too: any call not in TRY mode confirms a pending try
        # (CancelConfigRollbackTimeout)
        if mode != 4:
            self.cancel_rollback()
        try:
            first = next(yaml.safe_load_all(data)) or {}
        except Exception as ex:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "failed to load config: %s" % ex)
        if first.get("version") != "v1alpha1":
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      "the applied machine configuration doesn't contain v1alpha1 config, "
                      "did you mean to patch the machine config instead?")
        if d.get("refuse_apply"):
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, d["refuse_apply"])
        old = self.active()  # the dry run and CanApplyImmediate compare with the running config
        reboot = self.needs_reboot(old, data)
        details, mode_err = "Applied configuration with a reboot", ""
        if mode in (2, 4):  # NO_REBOOT, TRY
            if reboot:
                ctx.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "this config change can't be applied in immediate mode\ndiff:\n" + reboot)
            details = "Applied configuration without a reboot"
        elif mode == 3:  # STAGED
            details = "Staged configuration to be applied after the next reboot"
        elif mode == 1:  # AUTO
            mode = 0 if reboot else 2
            details = ("Applied configuration with a reboot" if reboot
                       else "Applied configuration without a reboot")
            if reboot:  # modeErr: only in the answer of a real apply, not of a dry run
                mode_err = ": this config change can't be applied in immediate mode\ndiff:\n" + reboot
        if dry:
            diff = "".join(difflib.unified_diff(old.splitlines(True), data.splitlines(True), "a", "b"))
            diff = diff or "No changes."
            text = "Dry run summary:\n%s (skipped in dry-run).\nConfig diff:\n\n%s" % (details, diff)
            return self.reply(field_varint(3, mode) + field_bytes(4, text.encode()))
        if mode != 3:  # what the node runs now (staged: nothing until it reboots)
            for change in self.image_changes(old, data):
                self.order("ApplyConfiguration %s" % change)
        if mode == 4:  # TRY: SetConfig only, rolled back after try_mode_timeout (default 1m)
            timeout = 60.0 if try_s is None else try_s  # constants.ConfigTryTimeout
            details += ("\nThe config is applied in 'try' mode and will be automatically reverted "
                        "back in %s" % go_duration(timeout))
            self.rollback_after(timeout, old)
            self.set_active(data)
        elif mode == 3:  # STAGED: SetPersistedConfig only; the node runs the old one until it reboots
            self.write(self.active_path(), old)
            self.write(self.cfg_path(), data)
        else:  # NO_REBOOT: both; REBOOT: persisted, then the reboot loads it
            self.write(self.cfg_path(), data)
            if mode == 2:
                self.set_active(data)
        if mode == 0:
            # SequenceReboot with WithTakeover(): it cancels a running upgrade sequence
            self.runner.reboot(None)
        return self.reply(field_varint(3, mode) + field_bytes(4, (details + mode_err).encode()))

    def mutex_path(self):
        return self.a.etcd + ".upgrade-mutex" if self.a.etcd else None

    def upgrade(self, req, ctx):
        f = dict((n, v) for n, _, v in parse(req))
        image = f.get(1, b"").decode()
        self.node.log("Upgrade image=%s stage=%d force=%d" % (image, f.get(3, 0), f.get(4, 0)))
        d = self.st()
        if ":" not in image.rsplit("/", 1)[-1]:
            ctx.abort(grpc.StatusCode.UNKNOWN, 'error validating installer image "%s": '
                      "failed to resolve reference" % image)  # Go's %q
        if d["type"] == "controlplane" and not f.get(4, 0):
            # tryLockUpgradeMutex (v1alpha1_server.go): an etcd concurrency.Mutex on
            # constants.EtcdTalosEtcdUpgradeMutex in a session with a 60 s lease
            # (MinimumEtcdUpgradeLeaseLockSeconds), held only while this call runs the
            # pre-upgrade checks, then unlocked. TryLock of a mutex another session holds
            # (another node's checks, or a caller that died within its lease) fails with
            # etcd client/v3/concurrency/mutex.go ErrLocked; a plain error from the
            # handler reaches the client as UNKNOWN. DIR/../etcd.json.upgrade-mutex:
            # {"holder": "cp2", "expires": <unix time>} is such a session.
            mp = self.mutex_path()
            with self.node.lock:
                held = json.load(open(mp)) if mp and os.path.exists(mp) else None
                if held and held.get("expires", 0) > time.time():
                    ctx.abort(grpc.StatusCode.UNKNOWN, "failed to acquire upgrade mutex: error trying to "
                              "lock etcd upgrade mutex: mutex: Locked by another session")
                if mp:
                    self.write(mp, json.dumps({"holder": d["hostname"], "expires": time.time() + 60}))
            try:
                time.sleep(float(d.get("precheck_seconds", 0)))
                members = self.etcd()
                # internal/pkg/etcd/etcd.go ValidateForUpgrade
                if len(members) == 2:
                    ctx.abort(grpc.StatusCode.UNKNOWN, "error validating etcd for upgrade: etcd member "
                              "count(2) is insufficient to maintain quorum if upgrade commences")
                for m in members:
                    if not m["hostname"]:
                        ctx.abort(grpc.StatusCode.UNKNOWN, "error validating etcd for upgrade: etcd member "
                                  "%016x is not started, all members must be running to perform an "
                                  "upgrade" % m["id"])
                    if m.get("healthy") is False:
                        ctx.abort(grpc.StatusCode.UNKNOWN, "error validating etcd for upgrade: etcd member "
                                  "%016x is not healthy; all members must be healthy to perform an "
                                  "upgrade: context deadline exceeded" % m["id"])
            finally:
                if mp and os.path.exists(mp):
                    os.unlink(mp)
        ack = (field_bytes(2, b"Upgrade request received") +
               field_bytes(3, b"d3f1c0de-0000-4000-8000-000000000001"))
        # the sequence runs after the answer (go s.Controller.Run(SequenceUpgrade)); while
        # one runs, the priority lock refuses another (runtime/sequencer.go CanTakeOver:
        # upgrade does not take over upgrade; v1alpha1_priority_lock.go ErrLocked
        # "locked"): this call is still acknowledged, the second sequence never starts
        # (machined logs "upgrade failed: locked", the events stream carries a
        # SequenceEvent with error code LOCKED "sequence not started: locked")
        if self.runner.busy():
            self.node.log("upgrade failed: locked")
            return self.reply(ack)
        self.runner.reboot(image.rsplit(":", 1)[1], float(d.get("upgrade_seconds", 0.3)))
        return self.reply(ack)

    def reboot(self, req, ctx):
        self.node.log("Reboot")
        self.runner.reboot(None)
        return self.reply(field_bytes(2, b"d3f1c0de-0000-4000-8000-000000000002"))

    def after_boot(self, new_version):
        """The node is back: on its new version (or not), rejoined etcd (or not)."""
        d = self.st()
        outcome = d.get("after_upgrade" if new_version else "after_reboot", "ok")
        if new_version and outcome in ("ok", "no-etcd"):
            # the machine config is left as it was: the upgrade sequence hands it to the
            # installer read-only (v1alpha1_sequencer_tasks.go Upgrade ->
            # internal/pkg/install/install.go RunInstallerContainer) and nothing writes
            # machine.install.image, which keeps the image of the install
            d["version"] = new_version
            self.save(d)
        # a boot runs the persisted config: a 'try' or staged config ends here
        self.cancel_rollback()
        if os.path.exists(self.active_path()):
            os.unlink(self.active_path())
        if d["type"] == "controlplane" and self.a.etcd:
            members = [m for m in self.etcd() if m["hostname"] != d["hostname"]]
            if outcome != "no-etcd":
                members.append({"id": abs(hash(d["hostname"])) % (1 << 63), "hostname": d["hostname"]})
            self.etcd_save(sorted(members, key=lambda m: m["hostname"]))
        self.booted = time.time()
        return outcome != "down"


    # ---- Kubernetes upgrade (appliance upgrade --kubernetes; D19K) -------------------------
    # ImagePull, siderolabs/talos v1.10.5 api/machine/machine.proto: ImagePullRequest
    #   { common.ContainerdNamespace namespace = 1; string reference = 2; } (NS_SYSTEM 1,
    #   NS_CRI 2, api/common/common.proto); ImagePullResponse { repeated ImagePull messages = 1 }
    #   ImagePull { Metadata metadata = 1 }. Server: internal/app/machined/internal/server/
    #   v1alpha1/v1alpha1_images.go: NS_UNKNOWN -> InvalidArgument "invalid namespace NS_UNKNOWN";
    #   an image the registry does not have -> NotFound "error pulling image: " + the error of
    #   internal/pkg/containers/image/image.go Pull ("failed to pull image %q: ..." around
    #   containerd's resolver "failed to resolve reference %q: %s: not found").
    # node.json: pull_missing: [refs the registry does not have]; image_pull_unimplemented:
    #   true -> UNIMPLEMENTED (a Talos without the call; talos_managed.go prePullImages skips it).
    NAMESPACES = {1: "NS_SYSTEM", 2: "NS_CRI"}

    def order(self, line):
        if self.a.order_log:
            with self.node.lock, open(self.a.order_log, "a") as f:
                f.write("%s %s\n" % (self.st()["hostname"], line))

    def image_pull(self, req, ctx):
        f = dict((n, v) for n, _, v in parse(req))
        ns, ref = f.get(1, 0), f.get(2, b"").decode()
        ns_name = self.NAMESPACES.get(ns, "NS_UNKNOWN")
        self.node.log("ImagePull namespace=%s reference=%s" % (ns_name, ref))
        d = self.st()
        if d.get("image_pull_unimplemented"):
            ctx.abort(grpc.StatusCode.UNIMPLEMENTED, "unknown method ImagePull for service machine.MachineService")
        if ns not in self.NAMESPACES:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid namespace %s" % ns_name)
        if ref in d.get("pull_missing", []):
            ctx.abort(grpc.StatusCode.NOT_FOUND,
                      'error pulling image: failed to pull image "%s": failed to resolve reference "%s": '
                      "%s: not found" % (ref, ref, ref))
        self.order("ImagePull %s %s" % (ns_name, ref))
        return self.reply(b"")

    # --- COSI State/List of the bootstrap manifests -----------------------------
    # cosi-project/runtime v0.10.2 (what Talos v1.10.5 uses): api/v1alpha1
    # state.pb.go ListRequest { namespace = 1; type = 2 } -> stream ListResponse
    # { Resource resource = 1 }; resource.pb.go Resource { Metadata = 1; Spec = 2 },
    # Metadata { namespace 1, type 2, id 3, version 4, owner 5, phase 6 },
    # Spec { proto_spec 1; yaml_spec 2 }; pkg/state/protobuf/server List sends
    # each item of the state (sorted by id) through protobuf.FromResource, which
    # fills yaml_spec (yaml.Marshal of the spec: ManifestSpec.MarshalYAML is the
    # list of objects, pkg/machinery/resources/k8s/manifest.go). proto_spec (a
    # google.protobuf.Struct per object) is left out here. The objects follow
    # the running config the way controllers/k8s/manifest.go renders them (ids
    # "01-csr-node-bootstrap", "10-kube-proxy" unless cluster.proxy.disabled,
    # "11-core-dns" unless cluster.coreDNS.disabled; CoreDNS image default
    # constants.go CoreDNSImage:DefaultCoreDNSVersion), reduced to the fields
    # the sync compares. A worker has none (the controller runs on control planes).
    MANIFEST_TYPE = "Manifests.kubernetes.talos.dev"

    def manifests(self):
        try:
            cfg = next(yaml.safe_load_all(self.active())) or {}
        except Exception:
            return []
        cl = cfg.get("cluster") or {}
        out = [("01-csr-node-bootstrap", [{
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "system-bootstrap-node-bootstrapper"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:node-bootstrapper"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                          "name": "system:bootstrappers"}]}])]
        proxy = cl.get("proxy") or {}
        if not proxy.get("disabled"):
            labels = {"tier": "node", "k8s-app": "kube-proxy"}
            out.append(("10-kube-proxy", [
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": "kube-proxy", "namespace": "kube-system"}},
                {"apiVersion": "apps/v1", "kind": "DaemonSet",
                 "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": labels},
                 "spec": {"selector": {"matchLabels": labels},
                          "template": {"metadata": {"labels": labels},
                                       "spec": {"containers": [{"name": "kube-proxy",
                                                                "image": proxy.get("image", "")}]}}}}]))
        dns = cl.get("coreDNS") or {}
        if not dns.get("disabled"):
            labels = {"k8s-app": "kube-dns"}
            out.append(("11-core-dns", [
                {"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
                 "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                          "template": {"metadata": {"labels": labels},
                                       "spec": {"containers": [{"name": "coredns", "image": dns.get(
                                           "image", "registry.k8s.io/coredns/coredns:v1.12.1")}]}}}}]))
        return out

    # --- COSI MachineStatus: what talosctl upgrade/reboot wait for --------------
    # siderolabs/talos v1.10.5 pkg/machinery/resources/runtime/machine_status.go:
    # namespace "runtime", type MachineStatuses.runtime.talos.dev, id "machine", spec
    # { stage; status { ready; unmetConditions [{name, reason}] } }; machinestage.go
    # (enumer -text): the stage marshals as its word: unknown, booting, installing,
    # maintenance, running, rebooting, shutting down, resetting, upgrading. Written by
    # controllers/runtime/machine_status.go: the stage follows the sequences (Boot start ->
    # booting, its stop -> running, Upgrade -> upgrading, Reboot -> rebooting, Reset ->
    # resetting, Shutdown -> shutting down); readiness is checked only while booting or
    # running (getReadinessChecks: time, network, services, staticPods, nodeReady; in any
    # other stage the node is "ready" with nothing unmet); services: "<id> not healthy" for
    # a running service whose health is known and bad, then "<id> not running" for each of
    # apid, machined, kubelet (+ etcd, trustd on a control plane) that is not running.
    # Here: upgrading while the upgrade sequence runs, rebooting while a reboot's answer
    # goes out, booting while kubelet and etcd settle, else running.
    # node.json unmet: [[name, reason]...] adds conditions the stand-in does not
    # model (e.g. ["staticPods", "kube-system/kube-apiserver-cp1 not ready"]);
    # stage: a sequence something else started (talosctl upgrade or reset from another
    # machine) -> that stage; machine_status_unimplemented: true -> every COSI call
    # answers UNIMPLEMENTED "unknown service cosi.resource.State" (an apid without the
    # resource API).
    MACHINE_STATUS_TYPE = "MachineStatuses.runtime.talos.dev"
    REQUIRED = ("apid", "machined", "kubelet")

    def machine_status(self):
        d = self.st()
        stage = d.get("stage") or self.runner.stage() or ("booting" if self.settling(d) else "running")
        if stage not in ("booting", "running"):
            return {"stage": stage, "status": {"ready": True, "unmetConditions": []}}
        svcs = self.service_states(d)
        problems = ["%s not healthy" % sid for sid, state, healthy in svcs
                    if state == "Running" and healthy is False]
        running = set(sid for sid, state, _ in svcs if state == "Running")
        required = self.REQUIRED + (("etcd", "trustd") if d["type"] == "controlplane" else ())
        problems += ["%s not running" % sid for sid in required if sid not in running]
        unmet = ([{"name": "services", "reason": ", ".join(problems)}] if problems else [])
        unmet += [{"name": n, "reason": r} for n, r in d.get("unmet", [])]
        return {"stage": stage, "status": {"ready": not unmet, "unmetConditions": unmet}}

    def cosi_list(self, req, ctx):
        f = dict((n, v) for n, _, v in parse(req))
        ns, typ = f.get(1, b"").decode(), f.get(2, b"").decode()
        self.node.log("COSI List %s %s" % (ns, typ))
        if self.st().get("machine_status_unimplemented"):
            ctx.abort(grpc.StatusCode.UNIMPLEMENTED, "unknown service cosi.resource.State")
        if typ == self.MACHINE_STATUS_TYPE:
            if ns != "runtime":
                return
            md = (field_bytes(1, ns.encode()) + field_bytes(2, typ.encode()) + field_bytes(3, b"machine")
                  + field_bytes(4, b"1") + field_bytes(6, b"running"))
            spec = field_bytes(2, yaml.dump(self.machine_status(), Dumper=NoAliases, sort_keys=False).encode())
            yield field_bytes(1, field_bytes(1, md) + field_bytes(2, spec))
            return
        if typ == "MachineConfigs.config.talos.dev":
            # pkg/machinery/resources/config/machine_config.go: ActiveID "v1alpha1" (what
            # the node runs), PersistentID "persistent" (what Read /system/state/config.yaml
            # returns: ahead after a staged apply, behind after a try one); yaml_spec is the
            # config itself (MarshalYAMLBytes); sorted by id
            if ns != "config":
                return
            persisted = open(self.cfg_path()).read() if os.path.exists(self.cfg_path()) else ""
            for rid, text in (("persistent", persisted), ("v1alpha1", self.active())):
                md = (field_bytes(1, ns.encode()) + field_bytes(2, typ.encode()) + field_bytes(3, rid.encode())
                      + field_bytes(4, b"1") + field_bytes(6, b"running"))
                yield field_bytes(1, field_bytes(1, md) + field_bytes(2, field_bytes(2, text.encode())))
            return
        if typ != self.MANIFEST_TYPE:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "resource %s is not registered" % typ)
        if ns != "controlplane" or self.st()["type"] != "controlplane":
            return
        for rid, items in self.manifests():
            md = (field_bytes(1, ns.encode()) + field_bytes(2, typ.encode()) + field_bytes(3, rid.encode())
                  + field_bytes(4, b"1") + field_bytes(6, b"running"))
            spec = field_bytes(2, yaml.dump(items, Dumper=NoAliases, sort_keys=False).encode())
            yield field_bytes(1, field_bytes(1, md) + field_bytes(2, spec))

    IMAGE_PATHS = (("cluster", "apiServer"), ("cluster", "controllerManager"), ("cluster", "scheduler"),
                   ("cluster", "proxy"), ("machine", "kubelet"))

    def image_changes(self, old, new):
        """The component images an applied config changed (for the order log)."""
        def images(text):
            try:
                doc = next(yaml.safe_load_all(text)) or {}
            except Exception:
                return {}
            return dict(("%s.%s.image" % p, ((doc.get(p[0]) or {}).get(p[1]) or {}).get("image"))
                        for p in self.IMAGE_PATHS)
        a, b = images(old), images(new)
        return ["%s=%s" % (k, b[k]) for k in sorted(b) if a.get(k) != b[k]]


class Runner:
    """Serves the handlers on one port; a reboot stops listening (connections are
    refused, as on a node that is down), waits, and listens again on the same port."""

    def __init__(self, a, port, handlers):
        self.a, self.port, self.handlers = a, port, handlers
        self.lock = threading.Lock()
        self.server = None
        self.day2 = None
        self.done = threading.Event()
        self.gen = 0
        self.upgrading = False
        self.rebooting = False

    def start(self):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=self.handlers)
        creds = grpc.ssl_server_credentials(
            [(open(self.a.key, "rb").read(), open(self.a.cert, "rb").read())],
            root_certificates=open(self.a.ca, "rb").read(), require_client_auth=True)
        server.add_secure_port("127.0.0.1:%d" % self.port, creds)
        server.start()
        with self.lock:
            self.server = server

    def busy(self):
        """An upgrade sequence runs (cordon, drain, install: before the reboot)."""
        with self.lock:
            return self.upgrading

    def stage(self):
        """The stage of a sequence this runner runs (None: none)."""
        with self.lock:
            return "upgrading" if self.upgrading else "rebooting" if self.rebooting else None

    def reboot(self, new_version, before=0.3):
        """new_version: an upgrade, which runs `before` seconds before the reboot."""
        with self.lock:
            self.gen += 1
            gen = self.gen
            self.upgrading = bool(new_version)
            self.rebooting = not new_version

        def go():
            time.sleep(before)  # the reply goes out first; an upgrade drains the node
            with self.lock:
                if gen != self.gen:  # taken over (an apply in REBOOT mode), as WithTakeover
                    return
                self.upgrading = self.rebooting = False
                server = self.server
            server.stop(0).wait()
            self.day2.node.log("reboot: down")
            time.sleep(float(self.day2.st().get("reboot_seconds", 1)))
            if self.day2.after_boot(new_version):
                self.start()
                self.day2.node.log("reboot: up")
            else:
                self.day2.node.log("reboot: never came back")
        threading.Thread(target=go, daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--mode", default="ok")
    p.add_argument("--chunks", type=int, default=1)
    p.add_argument("--kube-error", action="store_true")
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--etcd", default=None)
    p.add_argument("--order-log", default=None,
                   help="FILE shared by the nodes: image pulls and component image changes, in order")
    p.add_argument("--volume", action="append", default=[],
                   help="DEV=VOLUME: DEV backs that volume (refused without skip_volume_check)")
    p.add_argument("--readonly", action="append", default=[])
    p.add_argument("--devices", default="sda,sda1,sda2,sda3,sda4,sda5,sda6,nvme0n1,nvme0n1p1,"
                   "nvme0n1p2,nvme0n1p3,nvme0n1p4,nvme0n1p5,nvme0n1p6")
    a = p.parse_args()

    node = Node(a)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    raw = dict(request_deserializer=None, response_serializer=None)
    runner = Runner(a, port, [])
    d2 = Day2(node, a, runner)
    runner.day2 = d2
    machine = grpc.method_handlers_generic_handler("machine.MachineService", {
        "Bootstrap": grpc.unary_unary_rpc_method_handler(node.bootstrap, **raw),
        "Kubeconfig": grpc.unary_stream_rpc_method_handler(node.kubeconfig, **raw),
        "Version": grpc.unary_unary_rpc_method_handler(d2.version, **raw),
        "ServiceList": grpc.unary_unary_rpc_method_handler(d2.services, **raw),
        "EtcdMemberList": grpc.unary_unary_rpc_method_handler(d2.etcd_members, **raw),
        "ApplyConfiguration": grpc.unary_unary_rpc_method_handler(d2.apply, **raw),
        "Upgrade": grpc.unary_unary_rpc_method_handler(d2.upgrade, **raw),
        "Reboot": grpc.unary_unary_rpc_method_handler(d2.reboot, **raw),
        "Read": grpc.unary_stream_rpc_method_handler(d2.read, **raw),
        "ImagePull": grpc.unary_unary_rpc_method_handler(d2.image_pull, **raw),
    })
    storage = grpc.method_handlers_generic_handler("storage.StorageService", {
        "BlockDeviceWipe": grpc.unary_unary_rpc_method_handler(node.wipe, **raw),
    })
    timesvc = grpc.method_handlers_generic_handler("time.TimeService", {
        "Time": grpc.unary_unary_rpc_method_handler(d2.time, **raw),
    })
    cosi = grpc.method_handlers_generic_handler("cosi.resource.State", {
        "List": grpc.unary_stream_rpc_method_handler(d2.cosi_list, **raw),
    })
    runner.handlers = [machine, storage, timesvc, cosi]
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, a.port_file)
    if a.delay:
        time.sleep(a.delay)
    runner.start()
    open(os.path.join(a.state, "listening"), "w").close()
    runner.done.wait()


if __name__ == "__main__":
    sys.exit(main())
