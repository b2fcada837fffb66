#!/usr/bin/env python3
"""Dev-only stand-in for `kiln serve`'s node endpoints, for ci/dev/agent-smoke.sh.

  GET  /metadata            Authorization: Bearer TOKEN -> that node's metadata document
  POST /status              Authorization: Bearer TOKEN, JSON {step, detail, image, kernel}
  GET  /peers               Authorization: Bearer TOKEN -> [{"name": ..., "step": ...}, ...]
  PUT  /latest/api/token    IMDSv2 session token (needs X-aws-ec2-metadata-token-ttl-seconds)
  GET  /latest/user-data    IMDSv2 user data (needs X-aws-ec2-metadata-token)

The config file (re-read on every request, so a test can change it between boots):
  {"nodes": {"TOKEN": {...metadata...}, ...},
   "userData": {...metadata served as EC2 user data...},
   "peers": [{"name": "w9", "step": "ready"}]}      # extra peers, as if they had reported

Every status report is appended as one JSON line to --log and printed on stdout.
Prints "listening on PORT" once it accepts connections.
"""
import argparse
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
LAST = {}          # node name -> last step
IMDS_TOKENS = set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    def config():
        with open(args.config) as f:
            return json.load(f)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            sys.stderr.write("agent-server: %s %s\n" % (self.address_string(), fmt % a))

        def reply(self, code, body, ctype="application/json"):
            data = body if isinstance(body, bytes) else body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def node(self):
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                return None
            return config().get("nodes", {}).get(auth[len("Bearer "):])

        def do_GET(self):
            if self.path == "/metadata":
                meta = self.node()
                if meta is None:
                    return self.reply(401, '{"error": "unknown token"}')
                return self.reply(200, json.dumps(meta))
            if self.path == "/peers":
                if self.node() is None:
                    return self.reply(401, '{"error": "unknown token"}')
                with LOCK:
                    peers = [{"name": n, "step": s} for n, s in LAST.items()]
                known = {p["name"] for p in peers}
                peers += [p for p in config().get("peers", []) if p["name"] not in known]
                return self.reply(200, json.dumps(peers))
            if self.path == "/latest/user-data":
                if self.headers.get("X-aws-ec2-metadata-token") not in IMDS_TOKENS:
                    return self.reply(401, "", "text/plain")
                ud = config().get("userData")
                if ud is None:
                    return self.reply(404, "", "text/plain")
                return self.reply(200, json.dumps(ud), "application/octet-stream")
            self.reply(404, '{"error": "not found"}')

        def do_PUT(self):
            if self.path == "/latest/api/token":
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
                if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                    return self.reply(400, "", "text/plain")
                tok = secrets.token_urlsafe(24)
                IMDS_TOKENS.add(tok)
                return self.reply(200, tok, "text/plain")
            self.reply(404, '{"error": "not found"}')

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            if self.path != "/status":
                return self.reply(404, '{"error": "not found"}')
            meta = self.node()
            if meta is None:
                return self.reply(401, '{"error": "unknown token"}')
            try:
                st = json.loads(body)
            except ValueError:
                return self.reply(400, '{"error": "not JSON"}')
            rec = {"time": round(time.time(), 3), "node": meta.get("name"), **st}
            with LOCK:
                LAST[meta.get("name")] = st.get("step")
                with open(args.log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            print("status %s %s %s" % (meta.get("name"), st.get("step"), st.get("detail")), flush=True)
            self.reply(200, '{"ok": true}')

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening on %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
