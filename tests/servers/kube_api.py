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

Usage: kube_api.py --ca CA --cert CRT --key KEY --port-file F --state DIR
"""
import argparse
import http.server
import json
import os
import ssl
import sys

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


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, code, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        cn = dict(x[0] for x in self.connection.getpeercert().get("subject", ()))
        with open(os.path.join(self.server.state, "requests"), "a") as f:
            f.write("GET %s %s\n" % (self.path, cn.get("commonName", "")))
        path = self.path.split("?")[0]
        if path not in KINDS:
            return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))
        fname, kind, api = KINDS[path]
        full = os.path.join(self.server.state, fname)
        if not os.path.exists(full):
            return self.send(404, status(404, "NotFound", "the server could not find the requested resource"))
        items = json.load(open(full))
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
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.state = a.state
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
