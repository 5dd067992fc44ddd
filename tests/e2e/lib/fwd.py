# QEMU guestfwd helper: one process per guest connection (guestfwd=...-cmd:), joining
# the connection (stdin/stdout) to a server on 127.0.0.1:PORT. A plain
# "guestfwd=...-tcp:127.0.0.1:PORT" is a single chardev connection made when QEMU
# starts, so a guest's second connection (SMB reconnects, HTTP) would not get through.
import os
import selectors
import socket
import sys

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ, "guest")
sel.register(sock, selectors.EVENT_READ, "server")
guest_open = True
while True:
    for key, _ in sel.select():
        if key.data == "guest":
            data = os.read(0, 65536)
            if not data:
                sel.unregister(0)
                sock.shutdown(socket.SHUT_WR)
                guest_open = False
                continue
            sock.sendall(data)
        else:
            data = sock.recv(65536)
            if not data:
                sys.exit(0)
            view = memoryview(data)
            while view:
                n = os.write(1, view)
                view = view[n:]
