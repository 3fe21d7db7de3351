#!/usr/bin/env python3
"""A TLS server that misbehaves on purpose, for testing hasp's client role.

    bad_server.py PORT CASE

Listens on 127.0.0.1:PORT, reads one ClientHello, answers as CASE says
(a ServerHello or HelloRetryRequest that breaks one rule, all in the
clear), then reports what the client sent back on stdout: "ALERT LEVEL
DESCRIPTION" for a plaintext alert, "CLOSED" when the client closed without
one, "TIMEOUT" when it did neither within 10 s. No cryptography: every case
fails before the first encrypted byte. The cases are listed in CASES."""
import os
import socket
import struct
import sys

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
DOWNGRADE12 = b"DOWNGRD\x01"


def u16(v):
    return struct.pack(">H", v)


def u24(v):
    return struct.pack(">I", v)[1:]


def ext(t, data=b""):
    return u16(t) + u16(len(data)) + data


def record(ctype, payload, version=0x0303):
    return bytes([ctype]) + u16(version) + u16(len(payload)) + payload


def hs(mtype, body):
    return bytes([mtype]) + u24(len(body)) + body


class Peer:
    def __init__(self, conn):
        self.c = conn
        self.buf = b""
        self.hbuf = b""

    def read_record(self):
        while len(self.buf) < 5 or len(self.buf) < 5 + struct.unpack(">H", self.buf[3:5])[0]:
            d = self.c.recv(65536)
            if not d:
                return None
            self.buf += d
        n = struct.unpack(">H", self.buf[3:5])[0]
        rec, self.buf = self.buf[:5 + n], self.buf[5 + n:]
        return rec[0], rec[5:]

    def read_handshake(self):
        """The next handshake message (skipping ChangeCipherSpec records)."""
        while True:
            if len(self.hbuf) >= 4:
                n = int.from_bytes(self.hbuf[1:4], "big")
                if len(self.hbuf) >= 4 + n:
                    m, self.hbuf = self.hbuf[:4 + n], self.hbuf[4 + n:]
                    return m
            r = self.read_record()
            if r is None:
                return None
            if r[0] == 20:
                continue
            if r[0] != 22:
                raise SystemExit("EXPECTED-HANDSHAKE got record type %d" % r[0])
            self.hbuf += r[1]

    def send(self, data):
        self.c.sendall(data)


def parse_ch(m):
    assert m[0] == 1, "not a ClientHello"
    b = m[4:]
    p = 2 + 32
    sid = b[p + 1:p + 1 + b[p]]
    p += 1 + b[p]
    ns = struct.unpack(">H", b[p:p + 2])[0]
    suites = [struct.unpack(">H", b[p + 2 + i:p + 4 + i])[0] for i in range(0, ns, 2)]
    p += 2 + ns
    p += 1 + b[p]
    exts = {}
    if p < len(b):
        end = p + 2 + struct.unpack(">H", b[p:p + 2])[0]
        p += 2
        while p < end:
            t, n = struct.unpack(">HH", b[p:p + 4])
            exts[t] = b[p + 4:p + 4 + n]
            p += 4 + n
    shares = []
    if 51 in exts:
        d = exts[51]
        q = 2
        while q < len(d):
            g, n = struct.unpack(">HH", d[q:q + 4])
            shares.append(g)
            q += 4 + n
    return {"sid": sid, "suites": suites, "exts": exts, "shares": shares}


def server_hello(ch, suite, exts, random=None, version=0x0303):
    random = random if random is not None else os.urandom(32)
    body = u16(version) + random + bytes([len(ch["sid"])]) + ch["sid"] + u16(suite) + b"\x00"
    e = b"".join(exts)
    body += u16(len(e)) + e
    return record(22, hs(2, body))


def sv13():
    return ext(43, u16(0x0304))


def share(group, n=32):
    return ext(51, u16(group) + u16(n) + os.urandom(n))


def hrr(ch, group):
    return server_hello(ch, 0x1301, [sv13(), ext(51, u16(group))], random=HRR_RANDOM)


def not_shared_group(ch):
    """A group the client supports but sent no share for."""
    sg = ch["exts"].get(10, b"")
    groups = [struct.unpack(">H", sg[i:i + 2])[0] for i in range(2, len(sg), 2)]
    for g in groups:
        if g not in ch["shares"] and g < 0x0100:
            return g
    raise SystemExit("SETUP: the client sent a share for every group it supports")


def cert_msg(der_list):
    body = b"".join(u24(len(d)) + d for d in der_list)
    return hs(11, u24(len(body)) + body)


def tls12_sh(ch, suite, random=None, extra=()):
    exts = [ext(0xff01, b"\x00")] if 0xff01 in ch["exts"] or 0x00ff in ch["suites"] else []
    if 23 in ch["exts"]:
        exts.append(ext(23))
    return server_hello(ch, suite, exts + list(extra), random=random)


def run(case, peer):
    ch = parse_ch(peer.read_handshake())
    first = ch["shares"][0] if ch["shares"] else 0x001d
    if case == "tls13-version-not-offered":
        peer.send(server_hello(ch, 0x1301, [ext(43, u16(0x7f1c)), share(first)]))
    elif case == "tls13-suite-not-offered":
        peer.send(server_hello(ch, 0x1305, [sv13(), share(first)]))
    elif case == "tls13-group-not-offered":
        peer.send(server_hello(ch, 0x1301, [sv13(), share(0x0104, 1024)]))
    elif case == "tls13-share-not-sent":
        g = not_shared_group(ch)
        peer.send(server_hello(ch, 0x1301, [sv13(), share(g, 65 if g != 0x001d else 32)]))
    elif case == "tls13-extension-not-offered":
        peer.send(server_hello(ch, 0x1301, [sv13(), share(first), ext(0x1234, b"x")]))
    elif case == "hrr-no-change":
        peer.send(hrr(ch, first))
    elif case == "hrr-group-not-offered":
        peer.send(hrr(ch, 0x0104))
    elif case == "hrr-twice":
        g = not_shared_group(ch)
        peer.send(hrr(ch, g))
        ch2 = peer.read_handshake()
        if ch2 is None:
            return
        peer.send(hrr(parse_ch(ch2), g))
    elif case == "downgrade-sentinel":
        peer.send(tls12_sh(ch, 0xc02f, random=os.urandom(24) + DOWNGRADE12))
    elif case == "version-tls11":
        peer.send(server_hello(ch, 0xc013, [], version=0x0302))
    elif case == "tls12-alpn-not-offered":
        peer.send(tls12_sh(ch, 0xc02f, extra=[ext(16, u16(3) + b"\x02h2")]))
    elif case == "tls12-empty-certificate":
        peer.send(tls12_sh(ch, 0xc02f) + record(22, cert_msg([])))
    elif case == "tls12-oversized-certificate":
        # a header announcing 16 MiB - 1, then the first bytes of it
        peer.send(tls12_sh(ch, 0xc02f) + record(22, b"\x0b\xff\xff\xff" + b"\x00" * 1000))
    elif case == "tls12-ske-scheme-not-offered":
        der = open(os.environ["BAD_SERVER_CERT_DER"], "rb").read()
        params = b"\x03" + u16(0x001d) + b"\x20" + os.urandom(32)
        ske = hs(12, params + u16(0x0201) + u16(256) + os.urandom(256))  # rsa_pkcs1_sha1
        peer.send(tls12_sh(ch, 0xc02f) + record(22, cert_msg([der]) + ske + hs(14, b"")))
    else:
        raise SystemExit("unknown case " + case)


CASES = ["tls13-version-not-offered", "tls13-suite-not-offered", "tls13-group-not-offered",
         "tls13-share-not-sent", "tls13-extension-not-offered", "hrr-no-change",
         "hrr-group-not-offered", "hrr-twice", "downgrade-sentinel", "version-tls11",
         "tls12-alpn-not-offered", "tls12-empty-certificate", "tls12-oversized-certificate",
         "tls12-ske-scheme-not-offered"]


def main():
    port, case = int(sys.argv[1]), sys.argv[2]
    assert case in CASES, case
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    print("LISTENING", flush=True)
    ls.settimeout(15)
    conn, _ = ls.accept()
    conn.settimeout(10)
    peer = Peer(conn)
    try:
        run(case, peer)
        while True:
            r = peer.read_record()
            if r is None:
                print("CLOSED")
                return
            if r[0] == 21 and len(r[1]) == 2:
                print("ALERT %d %d" % (r[1][0], r[1][1]))
                return
    except socket.timeout:
        print("TIMEOUT")
    except (ConnectionResetError, BrokenPipeError):
        print("CLOSED")


if __name__ == "__main__":
    main()
