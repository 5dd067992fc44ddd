#!/usr/bin/env python3
"""A stand-in S3 server whose ListObjectsV2 never finishes, for the listing bounds tests.

Usage: s3_truncated.py PORTFILE   (binds 127.0.0.1 on a free port, writes it to PORTFILE)

Every GET /BUCKET?list-type=2[&continuation-token=T]&prefix=P answers HTTP 200 with a
ListBucketResult shaped the way S3 and s3rver shape it (s3rver@3, lib/controllers/bucket.js,
the `ListBucketResult` body: Name, Prefix, ContinuationToken, NextContinuationToken, KeyCount,
MaxKeys, IsTruncated, Contents{Key, LastModified, ETag, Size, StorageClass}), always with
IsTruncated=true. The bucket name picks the misbehaviour:

  repeat    NextContinuationToken is always the same token (a server stuck on one page)
  cycle     tokens go a -> b -> a: a loop of two pages
  endless   a new token on every page, each page with one small object (a listing that never
            ends: the page bound stops it)
  fat       a new token on every page, each page with 1000 objects of 900-character keys
            (about 1 MB of XML a page: the byte bound stops it)
  many      a new token on every page, each page with 1000 short keys (the key bound)
  slow      a new token on every page, each answered after 0.3 s (the time bound)

Any other path answers 404 NoSuchKey, like S3 for a missing object.
"""
import http.server
import socketserver
import sys
import time
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape


def page(bucket, prefix, token, nxt, keys):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
           f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"]
    if token:
        out.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
    out.append(f"<NextContinuationToken>{escape(nxt)}</NextContinuationToken>")
    out.append(f"<KeyCount>{len(keys)}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>")
    for k in keys:
        out.append(f"<Contents><Key>{escape(k)}</Key><LastModified>2026-11-22T23:00:00.000Z</LastModified>"
                   '<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size>'
                   "<StorageClass>STANDARD</StorageClass></Contents>")
    out.append("</ListBucketResult>")
    return "".join(out).encode()


def number(token):
    return int(token[1:]) if token and token[0] == "n" and token[1:].isdigit() else 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one page, one segment train: no delayed-ACK stalls
    wbufsize = 1 << 16

    def log_message(self, *a):
        pass

    def send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlsplit(self.path)
        parts = u.path.strip("/").split("/", 1)
        q = parse_qs(u.query)
        bucket = parts[0]
        if len(parts) > 1 or q.get("list-type") != ["2"]:
            self.send(404, b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
                      b"<Message>The specified key does not exist.</Message></Error>")
            return
        prefix = q.get("prefix", [""])[0]
        token = q.get("continuation-token", [""])[0]
        n = number(token) + 1
        keys = []
        if bucket == "repeat":
            nxt = "stuck-token"
        elif bucket == "cycle":
            nxt = "b" if token == "a" else "a"
        elif bucket == "fat":
            nxt = f"n{n}"
            keys = [f"{prefix}{n:08d}-{i:04d}-" + "x" * 886 for i in range(1000)]
        elif bucket == "many":
            nxt = f"n{n}"
            keys = [f"{prefix}{n:06d}{i:04d}" for i in range(1000)]
        else:
            nxt = f"n{n}"
            keys = [f"{prefix}{n:08d}"]
            if bucket == "slow":
                time.sleep(0.3)
        self.send(200, page(bucket, prefix, token, nxt, keys))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client killed mid-request (the tests do that on purpose) is not news


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
