#!/usr/bin/python3
"""Run a command on a pseudo-terminal (it is the command's controlling terminal),
fetch a URL once the command prints that it listens, answer its question, and print
the HTTP status of the fetch. Used by tests/integration/pxe.sh for `--approve`.

usage: pty_answer.py ANSWER MAC_PATH LOG -- CMD...
  ANSWER    what to type when the command asks ("y" or "n")
  MAC_PATH  the path to GET on the server once it says "listening on ADDR:PORT"
  LOG       everything the command wrote on the terminal
Exits 0 after printing "status=NNN" (or "status=none" when nothing answered in 60 s).
"""
import os
import pty
import re
import select
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

answer, path, log = sys.argv[1], sys.argv[2], sys.argv[3]
cmd = sys.argv[sys.argv.index("--") + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cmd[0], cmd)

out = b""
status = []
asked = False
started = False


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            r.read()
            status.append(r.status)
    except urllib.error.HTTPError as e:
        status.append(e.code)
    except Exception as e:  # noqa: BLE001 - report any failure as a status
        status.append("error:" + type(e).__name__)


def read_some():
    """What the command wrote within 0.2 s (b"" when nothing); None once it is gone."""
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        return b""
    try:
        return os.read(fd, 4096) or None
    except OSError:
        return None


deadline = time.time() + 60
while time.time() < deadline and not status:
    chunk = read_some()
    if chunk is None:
        break
    out += chunk
    m = re.search(rb"payload server listening on ([0-9.]+):([0-9]+)", out)
    if m and not started and b"payload server ready" in out:
        started = True
        url = "http://%s:%s%s" % (m.group(1).decode(), m.group(2).decode(), path)
        threading.Thread(target=fetch, args=(url,), daemon=True).start()
    if started and not asked and b"Send it? [y/N]" in out:
        asked = True
        os.write(fd, (answer + "\n").encode())
# let the server print its log line
end = time.time() + 2
while time.time() < end:
    chunk = read_some()
    if chunk is None:
        break
    out += chunk
os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
with open(log, "wb") as f:
    f.write(out)
print("status=%s" % (status[0] if status else "none"))
