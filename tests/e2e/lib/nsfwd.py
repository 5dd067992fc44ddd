#!/usr/bin/python3
"""TCP forwarder from a network namespace the test made to servers on this host's
127.0.0.1: the listening sockets are opened inside the namespace (setns), every
connection to the servers is made from the host's own namespace. Lets guests on a
namespace's bridge reach the test's nginx and smbd, which listen on 127.0.0.1 only.

usage: nsfwd.py NETNS READYFILE ADDR:PORT=HOSTPORT...
Writes READYFILE once every socket listens; runs until killed.
"""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


ns, ready = sys.argv[1], sys.argv[2]
home = os.open("/proc/self/ns/net", os.O_RDONLY)
target = os.open("/var/run/netns/" + ns, os.O_RDONLY)
setns(target)
listeners = []
for spec in sys.argv[3:]:
    addr, host_port = spec.split("=")
    ip, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, int(port)))
    s.listen(16)
    listeners.append((s, int(host_port)))
setns(home)  # threads started from here on connect from the host's namespace


def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(listener, host_port):
    while True:
        c, _ = listener.accept()
        try:
            u = socket.create_connection(("127.0.0.1", host_port))
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()


for s, p in listeners:
    threading.Thread(target=serve, args=(s, p), daemon=True).start()
with open(ready, "w") as f:
    f.write("ready\n")
threading.Event().wait()
