#!/usr/bin/env python3
"""Writes the hand-made seed inputs of tests/fuzz/corpus/<target>/ (seed-*; the image seeds come
from make_image_seeds.cpp). Rerun after editing; inputs the fuzzers found are kept beside them
under their own names. Usage: tests/fuzz/make_seeds.py"""
import base64
import os
import shutil

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
corpus = os.path.join(here, "corpus")


def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


ONE = b"\x00"    # byte 0 < 128: the rest in one write
SPLIT = b"\x85"  # byte 0 >= 128: pieces of (0x85 & 63) + 1 = 6 bytes

# ---- http_session -----------------------------------------------------------------------
http = {
    "get": "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "pipelined": "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /q?a=1&b=x+y%20z HTTP/1.1\r\nHost: a\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
                 "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "chunked-trailers": "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n",
    "chunked-ext-long": "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + "a" * 600,
    "chunked-bad-size": "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
    "chunked-and-length": "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "expect-continue": "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody",
    "http10": "GET /q?a=%41 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    "head": "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n",
    "put-capture": "PUT /files/a%20b.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
    "later": "POST /later HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /readyz HTTP/1.1\r\nHost: a\r\n\r\n",
    "metrics": "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n",
    "body-limit": "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 9000\r\n\r\nxxxx",
    "method-405": "DELETE /echo HTTP/1.1\r\nHost: a\r\n\r\nGET /nothing HTTP/1.1\r\nHost: a\r\n\r\n",
    "garbage": "GARBAGE\r\n\r\n",
    "repeated-headers": "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Type: a\r\nContent-Type: b\r\nX: 1\r\nX: 2\r\nContent-Length: 0\r\n\r\n",
    "obs-fold": "GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n",
    "upgrade": "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "upgrade-not-ws": "GET /ws HTTP/1.1\r\nHost: a\r\n\r\n",
    "bare-lf": "GET / HTTP/1.1\nHost: a\n\n",
}
for name, req in http.items():
    put("http_session", name, ONE + req.encode())
    put("http_session", name + "-split", SPLIT + req.encode())


# ---- websocket (frames after the handshake the target sends) ------------------------------
def frame(opcode, payload, fin=True, mask=b"\x01\x02\x03\x04", masked=True):
    if isinstance(payload, str):
        payload = payload.encode()
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([m | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


ws = {
    "text": frame(1, "hello"),
    "two-texts": frame(1, "olá") + frame(1, "mundo"),
    "fragmented": frame(1, "hel", fin=False) + frame(9, "p") + frame(0, "lo"),
    "ping-close": frame(9, "ping") + frame(8, (1000).to_bytes(2, "big") + b"bye"),
    "close-bad-code": frame(8, (999).to_bytes(2, "big")),
    "binary": frame(2, b"\x00\x01\x02"),
    "unmasked": frame(1, "hello", masked=False),
    "bad-utf8": frame(1, b"\xc3\x28"),
    "big": frame(1, "x" * 3000),
    "over-limit-header": bytes([0x81, 0xFE, 0x10, 0x01]) + b"\x01\x02\x03\x04" + b"x" * 64,
    "server-close": frame(1, "close"),
    "reserved-bits": bytes([0xC1, 0x80, 1, 2, 3, 4]),
}
for name, data in ws.items():
    put("websocket", name, ONE + data)
    put("websocket", name + "-split", SPLIT + data)

# ---- query_string ------------------------------------------------------------------------
for i, q in enumerate(["/q?a=1&b=2", "/p%20ath?x=%zz&&=&a", "/mult?op1=3&op2=4", "/files/%2e%2e%2fetc?wait=5s",
                       "?", "/a+b?c+d=e+f%", "/?a&a=2&%61=3", "/%C3%A1?%C3%A1=%E2%82%AC", "/x?=v&k=", "/%00?%00=%00"]):
    put("query_string", str(i), q)

# ---- multipart ---------------------------------------------------------------------------
def form(boundary, parts, close=True):
    out = b""
    for headers, body in parts:
        out += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + body + b"\r\n"
    if close:
        out += b"--" + boundary + b"--\r\n"
    return out


upload = [(b'Content-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg',
           b"\xff\xd8\xff\xe0 not really"),
          (b'Content-Disposition: form-data; name="email"', b"someone@example.com")]
put("multipart", "upload", b"multipart/form-data; boundary=XyZ\n" + form(b"XyZ", upload))
put("multipart", "quoted-boundary", b'multipart/form-data; boundary="a b:c"\n' + form(b"a b:c", upload))
put("multipart", "no-close", b"multipart/form-data; boundary=XyZ\n" + form(b"XyZ", upload, close=False))
put("multipart", "preamble", b"multipart/form-data; charset=utf-8; boundary=B\npreamble\r\n" +
    form(b"B", [(b'Content-Disposition: form-data; name="notify"', b"@someone_here")]) + b"epilogue")
put("multipart", "names", b"multipart/form-data; boundary=B\n" + form(b"B", [
    (b'Content-Disposition: form-data; name="file"; filename="../../etc/passwd"', b"x"),
    (b'Content-Disposition: form-data; name="file"; filename="f\xc3\xa9rias 2.png"', b"x"),
    (b'Content-Disposition: form-data; name="file"; filename="photo.gray.jpg"', b"x"),
    (b'Content-Disposition: form-data; name=file; filename=-rf', b"x"),
    (b'content-disposition: form-data; name="a"\r\nX-Extra: 1', b"")]))
put("multipart", "no-boundary", b"multipart/form-data\n--x\r\n\r\n")
put("multipart", "lf-only", b"multipart/form-data; boundary=B\n--B\nContent-Disposition: form-data; name=\"a\"\n\nv\n--B--\n")

# ---- manifest ----------------------------------------------------------------------------
os.makedirs(os.path.join(corpus, "manifest"), exist_ok=True)
for f in sorted(os.listdir(os.path.join(root, "examples"))):
    if f.endswith(".yaml"):
        shutil.copy(os.path.join(root, "examples", f), os.path.join(corpus, "manifest", "seed-example-" + f))
put("manifest", "anchors", """\
apiVersion: pipewright.io/v1alpha1
kind: Pipeline
metadata: {name: p, namespace: demo}
spec:
  topics:
    - &t {name: in, partitions: 3, config: {retention.ms: "1000"}}
    - {<<: *t, name: out}
  storage: {size: 1Gi}
  steps:
    - &s {name: a, worker: rotate, inputs: [in], outputs: [out], replicas: 2, storage: true, config: {angle: 90}}
    - {<<: *s, name: b, config: {angle: 180}}
    - {name: up, worker: upload, outputs: [in], expose: {path: /up}, storage: true}
---
apiVersion: pipewright.io/v1alpha1
kind: WeightedService
metadata: {name: w, namespace: demo}
spec:
  worker: mult
  port: 8080
  backends: [&b {name: one, weight: 3}, {<<: *b, name: two, weight: 1}, {name: three, backup: true}]
  healthCheck: {maxFails: 1, failTimeout: 10s, connectTimeout: 1s}
  expose: {path: /mult}
""")

put("manifest", "tags-and-nulls", "--- !!map\nkind: !!str Pipeline\napiVersion: ~\nmetadata: {name: 'y', labels: {a: *undefined}}\n...\n")
put("manifest", "empty-docs", "---\n---\n# nothing\n---\n")

# ---- kubeconfig --------------------------------------------------------------------------
b64 = lambda s: base64.b64encode(s.encode()).decode()
put("kubeconfig", "token", f"""\
apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c
  cluster: {{server: "https://127.0.0.1:6443", certificate-authority-data: {b64("-----BEGIN CERTIFICATE-----")}}}
contexts:
- name: ctx
  context: {{cluster: c, user: u, namespace: demo}}
- name: other
  context: {{cluster: c}}
users:
- name: u
  user: {{token: abc, client-certificate-data: {b64("cert")}, client-key-data: {b64("key")}}}
""")
put("kubeconfig", "files", """\
current-context: x
clusters: [{name: c, cluster: {server: "https://h", certificate-authority: ca.crt, insecure-skip-tls-verify: true}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {tokenFile: /var/run/token}}]
""")
put("kubeconfig", "bad-base64", "current-context: x\nclusters: [{name: c, cluster: {server: s, certificate-authority-data: '!!!='}}]\ncontexts: [{name: x, context: {cluster: c}}]\n")

# ---- worker JSON bodies ------------------------------------------------------------------
orders = {
    "valid": '{"customer":"c-1","items":[{"sku":"a","quantity":2,"price":10.5}],"total":21}',
    "with-id-notify": '{"id":"o-1","customer":"c","items":[{"sku":"a","quantity":1,"price":1}],"total":1,'
                      '"notify":{"email":"a@b.co","telegram":"@someone"}}',
    "bad-types": '{"customer":1,"items":{},"total":"x"}',
    "many-items": '{"customer":"c","items":[' + ",".join(['{"sku":"s%d","quantity":%d,"price":0.01}' % (i, i + 1) for i in range(40)]) + '],"total":8.2}',
    "huge-numbers": '{"customer":"c","items":[{"sku":"a","quantity":9223372036854775807,"price":1e308}],"total":1e309}',
    "not-object": "[1,2,3]",
}
for name, body in orders.items():
    put("orders_body", name, body)
for name, body in {"full": '{"name":"x","payload":{"a":[1,2,{"b":null}]}}', "empty": "{}",
                   "bad-payload": '{"payload":1}', "unknown": '{"bad":1}', "array": "[]",
                   "unicode": '{"name":"ol\\u00e1 \\ud83d\\ude00","payload":{}}', "trailing": '{"name":"a"} x'}.items():
    put("events_body", name, body)
for name, body in {"text": "hello", "json": '{"a":1}', "broken": "[1,2", "unicode": "olá 😀", "number": "12"}.items():
    put("gateway_frame", name, body)
calc = {"mult-query": b"\x00op1=3&op2=4", "sum-double": b"\x01op1=-2.5&op2=1e3",
        "post-json": b"\x0c" + b'{"op1":3,"op2":"4"}', "post-form": b"\x05op1=9223372036854775807&op2=2",
        "div-zero": b"\x03op1=1&op2=0", "missing": b"\x02op1=1", "json-bad": b"\x0e" + b'{"op1":[1]}',
        "escapes": b"\x00op%31=%2D3&op2=+4"}
for name, body in calc.items():
    put("calc_http", name, body)

# ---- SMTP --------------------------------------------------------------------------------
for i, s in enumerate(["=?UTF-8?B?b2zDoQ==?=", "=?utf-8?Q?ol=C3=A1_mundo?=", "Re: =?UTF-8?B?YQ==?= and =?UTF-8?q?b?=",
                       "=?x?q?=?=", "plain subject", "=?UTF-8?B?====?=", "=?UTF-8?Q?=4?="]):
    put("smtp_mime", str(i), s)
mail = ("EHLO client\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:c@example.com\r\nDATA\r\n"
        "Subject: =?UTF-8?B?b2zDoQ==?=\r\nFrom: a\r\n\r\nbody line\r\n..dot-stuffed\r\n.\r\nQUIT\r\n")
smtp = {"mail": mail, "rset-noop": "HELO x\r\nRSET\r\nNOOP\r\nVRFY x\r\nQUIT\r\n",
        "data-first": "DATA\r\nQUIT\r\n", "no-final-dot": "HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n",
        "lf-only": "HELO x\nQUIT\n"}
for name, s in smtp.items():
    put("smtp_session", name, ONE + s.encode())
    put("smtp_session", name + "-split", SPLIT + s.encode())
