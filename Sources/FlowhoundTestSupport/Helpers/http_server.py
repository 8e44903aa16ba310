#!/usr/bin/env python3
"""A small HTTP(S) receiver for the webhook tests, on 127.0.0.1 only.

Usage: http_server.py LOG [--tls CERT KEY] [--statuses 503,503,200] [--delay SECONDS]
Prints the port it listens on as the first line of standard output, then serves until killed (or for at
most 120 s). Each POST is answered with the next status of --statuses (the last one repeats; default 200)
and appended to LOG as one JSON object: method, path, status, content_type, body.
"""
import http.server
import json
import signal
import ssl
import sys
import threading
import time

# a parent test runner may have left signals blocked; be killable
signal.pthread_sigmask(signal.SIG_UNBLOCK, set(signal.Signals))
args = sys.argv[1:]
log_path = args.pop(0)
statuses = [200]
tls = None
delay = 0.0
while args:
    a = args.pop(0)
    if a == "--tls":
        tls = (args.pop(0), args.pop(0))
    elif a == "--statuses":
        statuses = [int(s) for s in args.pop(0).split(",")]
    elif a == "--delay":
        delay = float(args.pop(0))
    else:
        sys.exit("unknown argument " + a)
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if delay:
            time.sleep(delay)
        with lock:
            status = statuses[min(count[0], len(statuses) - 1)]
            count[0] += 1
            with open(log_path, "a") as f:
                f.write(json.dumps({"method": "POST", "path": self.path, "status": status,
                                    "content_type": self.headers.get("Content-Type"),
                                    "auth": self.headers.get("Authorization"),
                                    "body": body.decode("utf-8", "replace")}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[0], tls[1])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
threading.Timer(120, server.shutdown).start()
server.serve_forever()
