#!/usr/bin/python3
"""A stand-in for a Talos node's apid: machine.MachineService/Bootstrap and
/Kubeconfig (plus storage.StorageService/BlockDeviceWipe) over real gRPC with
mutual TLS on 127.0.0.1. No generated code: generic handlers with raw-bytes
(de)serialisers and protobuf encoded by hand, as in the Talos .proto files.

Usage: talos_api.py --ca CA --cert CRT --key KEY --port-file F [--delay S]
       [--state DIR] [--mode ok|already|worker|unsync:N] [--chunks N]
       [--kube-error] [--kubeconfig FILE]
The port is written to --port-file before listening (after --delay seconds
the server starts listening on it). Every call is appended to DIR/calls.
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
        self.unsync = 0
        if a.mode.startswith("unsync:"):
            self.unsync = int(a.mode.split(":")[1])
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
        self.log("BlockDeviceWipe " + ",".join(d.get(1, b"").decode() for d in devs))
        return field_bytes(1, field_bytes(1, metadata("cp1")))


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
    a = p.parse_args()

    node = Node(a)
    raw = dict(request_deserializer=None, response_serializer=None)
    machine = grpc.method_handlers_generic_handler("machine.MachineService", {
        "Bootstrap": grpc.unary_unary_rpc_method_handler(node.bootstrap, **raw),
        "Kubeconfig": grpc.unary_stream_rpc_method_handler(node.kubeconfig, **raw),
    })
    storage = grpc.method_handlers_generic_handler("storage.StorageService", {
        "BlockDeviceWipe": grpc.unary_unary_rpc_method_handler(node.wipe, **raw),
    })
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, a.port_file)
    if a.delay:
        time.sleep(a.delay)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[machine, storage])
    creds = grpc.ssl_server_credentials(
        [(open(a.key, "rb").read(), open(a.cert, "rb").read())],
        root_certificates=open(a.ca, "rb").read(), require_client_auth=True)
    server.add_secure_port("127.0.0.1:%d" % port, creds)
    server.start()
    open(os.path.join(a.state, "listening"), "w").close()
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
