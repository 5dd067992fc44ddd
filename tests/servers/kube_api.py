#!/usr/bin/python3
"""A stand-in Kubernetes API server for `appliance status`: HTTPS on
127.0.0.1 that requires a client certificate signed by the cluster CA (as
kube-apiserver does with --client-ca-file; the admin kubeconfig Talos hands
out authenticates that way), answering the list endpoints status reads:

  GET /api/v1/nodes                                          (NodeList)
  GET /apis/kustomize.toolkit.fluxcd.io/v1/kustomizations    (KustomizationList)
  GET /apis/helm.toolkit.fluxcd.io/v2/helmreleases           (HelmReleaseList)

from DIR/nodes.json, DIR/kustomizations.json, DIR/helmreleases.json (lists of
items, re-read on every request so a test can change them). Anything else:
404 with a metav1.Status body, as the API server answers
(k8s.io/apimachinery/pkg/api/errors NewNotFound). A list file that is missing
is a resource type not installed: 404 "the server could not find the requested
resource" (what the API server says for an unknown group/version, e.g. Flux
not installed yet). The Ready condition shape (type, status "True"/"False"/
"Unknown", reason, message) is fluxcd/pkg/apis/meta conditions and
k8s.io/api/core/v1 NodeCondition.

For `appliance upgrade --kubernetes` (--talos-nodes DIR: the stand-in Talos
nodes' state folders, DIR/NAME/{config.yaml,node.json}), what the kubelet of
each node makes of its machine config:
  - each Node gets status.nodeInfo.kubeletVersion, the tag of its config's
    machine.kubelet.image (k8s.io/api/core/v1 NodeSystemInfo; what Talos'
    kubelet.go checkNodeKubeletVersion compares);
  - GET /api/v1/namespaces/kube-system/pods[?labelSelector=k8s-app%3DNAME]
    lists the static pods of every control plane (kube-apiserver,
    kube-controller-manager, kube-scheduler: name NAME-NODE, label k8s-app,
    spec.nodeName, the container's image from cluster.<component>.image,
    Ready; Talos renders them from the config: controllers/k8s/
    control_plane_static_pod.go; talos_managed.go checkPodStatus watches them
    by that label).
  Awkward answers: node.json "kube_stuck": ["kube-scheduler", "kubelet"]: that
  component keeps reporting the image it last reported (a static pod that
  never comes up on the new image, a kubelet that stays old), remembered in
  DIR/NAME/kube_seen.json.

The bootstrap manifests sync (siderolabs/go-kubernetes v0.2.23
kubernetes/manifests/sync.go, rollout.go; the answers are the API server's:
k8s.io/apiserver registry/rest update.go and create.go, apimachinery
api/errors): single objects under /api/v1/... and /apis/GROUP/VERSION/...,
kept in DIR/objects.json ({path: object}, a test may seed it):
  GET  PATH            the object (status of a DaemonSet/Deployment filled in,
                       see below) or 404 NotFound '<plural>.<group> "<name>" not found';
  POST COLLECTION      create: 409 AlreadyExists when it exists;
  PUT  PATH[?dryRun=All] update: 404 when absent, 409 Conflict when
                       metadata.resourceVersion is not the stored one ("the object
                       has been modified; please apply your changes to the latest
                       version and try again"); a dry run answers what would be
                       stored and stores nothing; status is kept from the stored
                       object (workload strategies ignore it on update);
                       generation grows when spec changes; resourceVersion grows.
  DIR/conflict_once (a JSON list of names): another writer updates that object
  just before the next real PUT of it (once), which then gets the 409.
  Both: 422 Invalid when a container has no image ("spec.template.spec.
  containers[0].image: Required value", apps validation).
Every POST/PUT is logged in DIR/requests as "METHOD PATH image=IMAGES".
Rollout status (the DaemonSet and Deployment controllers' work): after a
create or a spec change one more pod is up to date at each GET of the object
(DIR/rollout.json counts them), so a waiting client sees it progress; then
observedGeneration = generation and every count = desired (DaemonSet: the
number of nodes.json items; Deployment: spec.replicas). DIR/rollout_stuck (a
JSON list of names) names one that never moves: no pod is up to date.

Usage: kube_api.py --ca CA --cert CRT --key KEY --port-file F --state DIR [--talos-nodes DIR]
"""
import argparse
import http.server
import json
import os
import re
import ssl
import sys
import threading
import urllib.parse

import yaml

STATIC_PODS = (("kube-apiserver", "apiServer"), ("kube-controller-manager", "controllerManager"),
               ("kube-scheduler", "scheduler"))


def talos_nodes(d):
    """What each stand-in Talos node's kubelet runs: {hostname: (type, {component: image})}."""
    out = {}
    for name in sorted(os.listdir(d)) if d else ():
        sd = os.path.join(d, name)
        try:
            st = json.load(open(os.path.join(sd, "node.json")))
            cfg = next(yaml.safe_load_all(open(os.path.join(sd, "config.yaml")))) or {}
        except (OSError, ValueError, StopIteration, yaml.YAMLError):
            continue
        want = {"kubelet": ((cfg.get("machine") or {}).get("kubelet") or {}).get("image", "")}
        for comp, key in STATIC_PODS:
            want[comp] = ((cfg.get("cluster") or {}).get(key) or {}).get("image", "")
        seen_path = os.path.join(sd, "kube_seen.json")
        seen = json.load(open(seen_path)) if os.path.exists(seen_path) else {}
        for comp, img in want.items():
            if comp not in st.get("kube_stuck", []) or comp not in seen:
                seen[comp] = img
        with open(seen_path + ".tmp", "w") as f:
            json.dump(seen, f)
        os.rename(seen_path + ".tmp", seen_path)
        out[st.get("hostname", name)] = (st.get("type", "controlplane"), seen)
    return out


def static_pods(d, selector):
    items = []
    for host, (typ, seen) in sorted(talos_nodes(d).items()):
        if typ != "controlplane":
            continue
        for comp, _ in STATIC_PODS:
            if selector and selector != "k8s-app=" + comp:
                continue
            items.append({"metadata": {"namespace": "kube-system", "name": "%s-%s" % (comp, host),
                                       "labels": {"k8s-app": comp, "tier": "control-plane"}},
                          "spec": {"nodeName": host, "containers": [{"name": comp, "image": seen[comp]}]},
                          "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    return items

KINDS = {
    "/api/v1/nodes": ("nodes.json", "NodeList", "v1"),
    "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations":
        ("kustomizations.json", "KustomizationList", "kustomize.toolkit.fluxcd.io/v1"),
    "/apis/helm.toolkit.fluxcd.io/v2/helmreleases":
        ("helmreleases.json", "HelmReleaseList", "helm.toolkit.fluxcd.io/v2"),
}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


OBJ_RE = re.compile(r"^/(api/v1|apis/[^/]+/[^/]+)(/namespaces/([^/]+))?/([^/]+)(/([^/]+))?$")


def rollout_progress(state, path, step=None):
    """Pods updated since the last change of path (None: all); step: 0 restarts, 1 advances."""
    f = os.path.join(state, "rollout.json")
    prog = json.load(open(f)) if os.path.exists(f) else {}
    if step == 0:
        prog[path] = 0
    elif step and path in prog:
        prog[path] += 1
    if step is not None:
        with open(f + ".tmp", "w") as fh:
            json.dump(prog, fh)
        os.rename(f + ".tmp", f)
    return prog.get(path)


def rollout_status(state, obj, done=None):
    kind, name = obj.get("kind"), obj["metadata"]["name"]
    if kind not in ("DaemonSet", "Deployment"):
        return obj.get("status")
    try:
        stuck = json.load(open(os.path.join(state, "rollout_stuck")))
    except (OSError, ValueError):
        stuck = []
    gen = obj["metadata"].get("generation", 1)
    if kind == "DaemonSet":
        try:
            want = len(json.load(open(os.path.join(state, "nodes.json"))))
        except (OSError, ValueError):
            want = 1
        upd = 0 if name in stuck else want if done is None else min(want, done)
        return {"observedGeneration": gen, "desiredNumberScheduled": want, "currentNumberScheduled": want,
                "updatedNumberScheduled": upd, "numberAvailable": want, "numberReady": want}
    want = obj.get("spec", {}).get("replicas", 1)
    upd = 0 if name in stuck else want if done is None else min(want, done)
    return {"observedGeneration": gen, "replicas": want, "updatedReplicas": upd,
            "readyReplicas": want, "availableReplicas": want}


def images(obj):
    cs = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("image", "") for c in cs) or "-"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, code, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def objects(self):
        path = os.path.join(self.server.state, "objects.json")
        return json.load(open(path)) if os.path.exists(path) else {}

    def save_objects(self, objs):
        path = os.path.join(self.server.state, "objects.json")
        with open(path + ".tmp", "w") as f:
            json.dump(objs, f, indent=1)
        os.rename(path + ".tmp", path)

    def not_found(self, m):
        res = m.group(4) + ("." + m.group(1).split("/")[1] if m.group(1).startswith("apis/") else "")
        return self.send(404, status(404, "NotFound", '%s "%s" not found' % (res, m.group(6))))

    def invalid(self, obj):
        cs = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
        for i, c in enumerate(cs or []):
            if not c.get("image"):
                kind = obj.get("kind", "")
                grp = obj.get("apiVersion", "").split("/")[0] if "/" in obj.get("apiVersion", "") else ""
                return "%s%s \"%s\" is invalid: spec.template.spec.containers[%d].image: Required value" % (
                    kind, "." + grp if grp else "", obj["metadata"]["name"], i)
        return None

    def write(self, method):
        with self.server.lock:
            path, _, query = self.path.partition("?")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            dry = "dryRun=All" in query
            with open(os.path.join(self.server.state, "requests"), "a") as f:
                f.write("%s %s%s image=%s\n" % (method, path, " dryRun" if dry else "", images(body)))
            objs = self.objects()
            if method == "POST":
                path = path + "/" + body.get("metadata", {}).get("name", "")
            m = OBJ_RE.match(path)
            if not m or not m.group(6):
                return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))
            old = objs.get(path)
            bad = self.invalid(body)
            if bad:
                return self.send(422, status(422, "Invalid", bad))
            if method == "POST":
                if old:
                    return self.send(409, status(409, "AlreadyExists", '%s "%s" already exists' % (
                        m.group(4), m.group(6))))
                new = body
                new["metadata"].update({"uid": "uid-%d" % (len(objs) + 1), "resourceVersion": "1",
                                        "generation": 1, "creationTimestamp": "2026-12-04T00:00:00Z"})
            else:
                if not old:
                    return self.not_found(m)
                racing = os.path.join(self.server.state, "conflict_once")
                race = json.load(open(racing)) if os.path.exists(racing) and not dry else []
                if m.group(6) in race:  # another writer got there first (once)
                    race.remove(m.group(6))
                    json.dump(race, open(racing, "w"))
                    old["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
                    objs[path] = old
                    self.save_objects(objs)
                if body.get("metadata", {}).get("resourceVersion") != old["metadata"]["resourceVersion"]:
                    return self.send(409, status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": '
                                                 "the object has been modified; please apply your changes to "
                                                 "the latest version and try again" % (m.group(4), m.group(6))))
                new = body
                keep = dict((k, old["metadata"][k]) for k in ("uid", "creationTimestamp", "generation")
                            if k in old["metadata"])
                new["metadata"].update(keep)
                if new.get("spec") != old.get("spec"):
                    new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
                new["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
                if "status" in old or old.get("kind") in ("DaemonSet", "Deployment"):
                    new["status"] = old.get("status") or rollout_status(
                        self.server.state, old, rollout_progress(self.server.state, path))
            if not dry:
                stored = dict(new)
                stored.pop("status", None)
                objs[path] = stored
                self.save_objects(objs)
                if new.get("kind") in ("DaemonSet", "Deployment") and (
                        not old or new["metadata"]["generation"] != old["metadata"].get("generation")):
                    rollout_progress(self.server.state, path, 0)
            self.send(201 if method == "POST" else 200, new)

    def do_PUT(self):
        self.write("PUT")

    def do_POST(self):
        self.write("POST")

    def do_GET(self):
        cn = dict(x[0] for x in self.connection.getpeercert().get("subject", ()))
        with open(os.path.join(self.server.state, "requests"), "a") as f:
            f.write("GET %s %s\n" % (self.path, cn.get("commonName", "")))
        path, _, query = self.path.partition("?")
        if self.server.talos_nodes and path == "/api/v1/namespaces/kube-system/pods":
            sel = urllib.parse.parse_qs(query).get("labelSelector", [""])[0].replace(" ", "")
            return self.send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                                   "items": static_pods(self.server.talos_nodes, sel)})
        m = OBJ_RE.match(path)
        if path not in KINDS and m and m.group(6):
            obj = self.objects().get(path)
            if not obj:
                return self.not_found(m)
            with self.server.lock:
                st = rollout_status(self.server.state, obj, rollout_progress(self.server.state, path, 1))
            if st is not None:
                obj["status"] = st
            return self.send(200, obj)
        if path not in KINDS:
            return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))
        fname, kind, api = KINDS[path]
        full = os.path.join(self.server.state, fname)
        if not os.path.exists(full):
            return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))
        items = json.load(open(full))
        if self.server.talos_nodes and fname == "nodes.json":
            kubelets = talos_nodes(self.server.talos_nodes)
            for it in items:
                k = kubelets.get(it["metadata"]["name"])
                if k and ":" in k[1]["kubelet"]:
                    it["status"].setdefault("nodeInfo", {})["kubeletVersion"] = k[1]["kubelet"].rsplit(":", 1)[1]
        self.send(200, {"kind": kind, "apiVersion": api, "metadata": {"resourceVersion": "1"}, "items": items})

    def log_message(self, fmt, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--talos-nodes", default=None)
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.state = a.state
    srv.lock = threading.Lock()
    srv.talos_nodes = a.talos_nodes
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
