#!/usr/bin/env python3
"""Writes tests/conformance/tlsfuzzer.json (every script that applies to hasp
as a TLS 1.2/1.3 server) and ci.json (the CI subset). Edit the tables here,
then run: python3 tests/conformance/gen.py. @DIR@ = generated certificates,
@TF@ = the tlsfuzzer folder (filled in by tests/conformance/run.sh)."""
import collections
import json
import os

K = "@TF@/tests"
CLI_RSA = ["-k", K + "/clientX509Key.pem", "-c", "@DIR@/client-rsa.pem"]
CLI_PSS = ["-k", K + "/clientRSAPSSKey.pem", "-c", "@DIR@/client-pss.pem"]
CLI_EC = ["-k", K + "/serverECKey.pem", "-c", "@DIR@/client-ec.pem"]
CLI_ED = ["-k", K + "/serverEd25519Key.pem", "-c", "@DIR@/client-ed25519.pem"]

RSA = ["--cert", "@DIR@/server-rsa.pem", "--key", K + "/serverX509Key.pem"]
PSS = ["--cert", "@DIR@/server-pss.pem", "--key", K + "/serverRSAPSSKey.pem"]
EC = ["--cert", "@DIR@/server-ec.pem", "--key", K + "/serverECKey.pem"]
ED = ["--cert", "@DIR@/server-ed25519.pem", "--key", K + "/serverEd25519Key.pem"]
EC384 = ["--cert", "@DIR@/server-p384.pem", "--key", K + "/serverP384ECKey.pem"]
EC521 = ["--cert", "@DIR@/server-p521.pem", "--key", K + "/serverP521ECKey.pem"]
# Every group hasp has: the defaults and the large FFDHE groups, which are
# enabled by naming them.
CLASSIC = "x25519:secp256r1:secp384r1:x448:secp521r1:ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192"
GROUPS = "X25519MLKEM768:SecP256r1MLKEM768:SecP384r1MLKEM1024:" + CLASSIC
BASE = ["--ciphers", "ALL"]


def server(port, *extra):
    return ["{command}", "server", "--accept", "127.0.0.1:%d" % port] + BASE + list(extra)


def t(name, *args):
    return {"name": name, "arguments": list(args)}


# Long scripts: a sample of N cases per run (tlsfuzzer's -n), never skipped.
SAMPLE = ["-n", "100"]

entries = []

# 1. The web server: RSA and ECDSA certificates, every suite, ALPN,
#    renegotiation allowed (a client may renegotiate; hasp never starts one).
www = server(4433, "--www", "--allow-renegotiation", "--alpn", "http/1.1,http/2,h2",
             "--groups", GROUPS, *RSA, *PSS, *EC, *EC384, *EC521)
entries.append({"server_command": www, "server_port": 4433, "common_arguments": ["-p", "4433"], "tests": [
    t("test-aes-gcm-nonces.py"),
    t("test-aesccm.py"),
    t("test-aesccm.py", "-d"),
    t("test-alpn-negotiation.py"),
    t("test-bleichenbacher-workaround.py", "--no-sni"),
    t("test-ccs.py"),
    t("test-chacha20.py", "--extra-exts"),
    t("test-client-compatibility.py"),
    t("test-clienthello-md5.py"),
    t("test-connection-abort.py"),
    t("test-conversation.py"),
    t("test-cve-2004-0079.py"),
    t("test-cve-2016-6309.py"),
    t("test-cve-2016-7054.py"),
    t("test-dhe-no-shared-secret-padding.py", "--extra-exts"),
    t("test-dhe-rsa-key-exchange.py"),
    t("test-dhe-rsa-key-exchange-signatures.py"),
    t("test-dhe-rsa-key-exchange-with-bad-messages.py"),
    t("test-downgrade-protection.py", "--server-max-protocol", "TLSv1.3"),
    t("test-early-application-data.py"),
    t("test-ecdhe-padded-shared-secret.py"),
    t("test-ecdhe-rsa-key-exchange.py"),
    t("test-ecdhe-rsa-key-exchange-with-bad-messages.py"),
    t("test-ecdhe-rsa-key-share-random.py"),
    t("test-ecdsa-sig-flexibility.py"),
    t("test-encrypt-then-mac.py"),
    t("test-encrypt-then-mac-renegotiation.py"),
    t("test-export-ciphers-rejected.py", "--min-ver", "TLSv1.2"),
    t("test-extended-master-secret-extension.py"),
    t("test-fallback-scsv.py", "--tls-1.3", "--min-support", "TLSv1.2"),
    t("test-ffdhe-expected-params.py"),
    t("test-ffdhe-negotiation.py"),
    t("test-fuzzed-MAC.py", *SAMPLE),
    t("test-fuzzed-ciphertext.py", *SAMPLE),
    t("test-fuzzed-finished.py"),
    t("test-fuzzed-padding.py", *SAMPLE),
    t("test-fuzzed-plaintext.py", *SAMPLE),
    t("test-hello-request-by-client.py"),
    t("test-interleaved-CKE-with-CCS.py"),
    t("test-interleaved-application-data-and-fragmented-handshakes-in-renegotiation.py"),
    t("test-interleaved-application-data-in-renegotiation.py"),
    t("test-invalid-cipher-suites.py"),
    t("test-invalid-client-hello.py"),
    t("test-invalid-client-hello-w-record-overflow.py"),
    t("test-invalid-compression-methods.py"),
    t("test-invalid-content-type.py"),
    t("test-invalid-rsa-key-exchange-messages.py"),
    t("test-invalid-server-name-extension-resumption.py"),
    t("test-invalid-session-id.py"),
    t("test-invalid-version.py"),
    t("test-large-number-of-extensions.py"),
    t("test-legacy-renegotiation.py"),
    t("test-message-duplication.py"),
    t("test-message-skipping.py"),
    t("test-no-mlkem-in-old-tls.py"),
    t("test-ocsp-stapling.py", "--no-status"),
    t("test-point-extension.py"),
    t("test-record-layer-fragmentation.py"),
    t("test-renegotiation-changed-clienthello.py"),
    t("test-resumption-with-wrong-ciphers.py", "--swap-ciphers"),
    t("test-sessionID-resumption.py"),
    t("test-sig-algs.py"),
    t("test-sig-algs-renegotiation-resumption.py", "--sig-algs-drop-ok"),
    t("test-signature-algorithms.py"),
    t("test-ssl-death-alert.py", "--alerts", "16"),
    t("test-sslv2-connection.py"),
    t("test-sslv2-force-cipher.py"),
    t("test-sslv2-force-cipher-3des.py"),
    t("test-sslv2-force-cipher-non3des.py"),
    t("test-sslv2-force-export-cipher.py"),
    t("test-sslv2hello-protocol.py", "--no-ssl2"),
    t("test-truncating-of-finished.py"),
    t("test-truncating-of-kRSA-client-key-exchange.py"),
    t("test-version-numbers.py"),
    t("test-x25519.py"),
    t("test-zero-length-data.py"),
    # TLS 1.3
    t("test-tls13-ccs.py"),
    t("test-tls13-connection-abort.py"),
    t("test-tls13-conversation.py"),
    t("test-tls13-crfg-curves.py"),
    t("test-tls13-dhe-shared-secret-padding.py"),
    t("test-tls13-ecdhe-curves.py"),
    t("test-tls13-ecdsa-support.py"),
    t("test-tls13-empty-alert.py"),
    t("test-tls13-ffdhe-groups.py"),
    t("test-tls13-ffdhe-sanity.py"),
    t("test-tls13-finished.py", *SAMPLE),
    t("test-tls13-finished-plaintext.py"),
    t("test-tls13-hrr.py"),
    t("test-tls13-invalid-ciphers.py"),
    t("test-tls13-keyshare-omitted.py"),
    t("test-tls13-keyupdate.py"),
    t("test-tls13-large-number-of-extensions.py"),
    t("test-tls13-multiple-ccs-messages.py"),
    t("test-tls13-nociphers.py"),
    t("test-tls13-pkcs-signature.py"),
    t("test-tls13-record-layer-limits.py"),
    t("test-tls13-record-padding.py"),
    t("test-tls13-session-resumption.py"),
    t("test-tls13-signature-algorithms.py"),
    t("test-tls13-symetric-ciphers.py"),
    t("test-tls13-unencrypted-alert.py"),
    t("test-tls13-version-negotiation.py"),
    t("test-tls13-zero-content-type.py"),
    t("test-tls13-zero-length-data.py"),
]})

# 2. An RSA-PSS certificate (id-RSASSA-PSS key) alone: both versions sign
#    with rsa_pss_pss_* only.
entries.append({"server_command": server(4434, "--www", *PSS), "server_port": 4434, "common_arguments": ["-p", "4434"],
                "tests": [t("test-tls13-rsapss-signatures.py")]})

# 3. Ed25519 certificate.
entries.append({"server_command": server(4435, "--www", *ED, *RSA), "server_port": 4435, "common_arguments": ["-p", "4435"],
                "tests": [t("test-tls13-eddsa.py")]})

# The signature schemes hasp's CertificateRequest lists (its defaults).
SIGS12 = ("ecdsa_secp256r1_sha256 ecdsa_secp384r1_sha384 ed25519 rsa_pss_rsae_sha256 "
          "rsa_pss_rsae_sha384 rsa_pss_rsae_sha512 rsa_pss_pss_sha256 rsa_pss_pss_sha384 "
          "rsa_pss_pss_sha512 rsa_pkcs1_sha256 rsa_pkcs1_sha384 rsa_pkcs1_sha512 "
          "ecdsa_secp521r1_sha512")
SIGS13 = " ".join(x for x in SIGS12.split() if not x.startswith("rsa_pkcs1"))

# 4. Client certificates requested (optional).
opt = server(4436, "--www", "--verify-client", "optional", "--cafile", "@DIR@/client-cas.pem",
             *RSA, *EC)
entries.append({"server_command": opt, "server_port": 4436, "common_arguments": ["-p", "4436"], "tests": [
    t("test-certificate-request.py", "-s", SIGS12, *CLI_RSA),
    t("test-certificate-malformed.py", *CLI_RSA),
    t("test-certificate-verify.py", *CLI_RSA),
    t("test-certificate-verify-malformed.py", *CLI_RSA),
    t("test-certificate-verify-malformed-sig.py", *CLI_RSA),
    t("test-extended-master-secret-extension-with-client-cert.py", *CLI_RSA),
    t("test-rsa-sigs-on-certificate-verify.py", *CLI_RSA),
    t("test-rsa-pss-sigs-on-certificate-verify.py", "--illegpar", *CLI_RSA),
    t("test-ecdsa-in-certificate-verify.py", *CLI_EC),
    t("test-eddsa-in-certificate-verify.py", *CLI_ED),
    t("test-tls13-certificate-request.py", "-s", SIGS13, *CLI_RSA),
    t("test-tls13-certificate-verify.py", "-s", SIGS13, *CLI_RSA),
    t("test-tls13-ecdsa-in-certificate-verify.py", "-s", SIGS13, *CLI_EC),
    t("test-tls13-eddsa-in-certificate-verify.py", "-s", SIGS13, *CLI_ED),
]})

# 5. Renegotiation refused (hasp's default).
entries.append({"server_command": server(4437, "--www", *RSA), "server_port": 4437, "common_arguments": ["-p", "4437"], "tests": [
    t("test-renegotiation-disabled.py"),
]})

# 6. Echo (no --www): scripts that check the size of what comes back.
entries.append({"server_command": server(4438, "--allow-renegotiation", *RSA, *EC),
                "server_port": 4438,
                "common_arguments": ["-p", "4438"], "tests": [
    t("test-lengths.py", *SAMPLE),
    t("test-tls13-lengths.py", *SAMPLE),
    t("test-openssl-3712.py"),  # sends "hello server!" during a renegotiation
]})

# 8. Only the classic groups: tlsfuzzer cannot make ML-KEM shares (no kyber-py
#    in Debian), and a server that prefers a hybrid answers its x25519 share
#    with a HelloRetryRequest. The script must know every group the server
#    has, first the one it picks when offered all.
entries.append({"server_command": server(4440, "--www", "--groups", CLASSIC, *RSA),
                "server_port": 4440, "common_arguments": ["-p", "4440"], "tests": [
    t("test-tls13-no-unknown-groups.py", "--groups", CLASSIC.replace(":", ",")),
    t("test-tls13-rsa-signatures.py"),  # an RSA certificate only: rsa_pss_pss_* must fail
]})

# Cases expected to fail, each for a design choice a current RFC backs:
# the script's case name, a substring of the failure the case must show
# (the alert hasp sends), and the reason (a key of REASONS).
REASONS = {
    "old-tls": "TLS 1.0, TLS 1.1 and SSL 3.0 are refused with protocol_version (RFC 8996, RFC 7568)",
    "sslv2": "SSL 2.0 records, including the SSLv2-compatible ClientHello, are refused with "
             "protocol_version (RFC 6176; RFC 8446 D.5 lets a server refuse them)",
    "sha1": "SHA-1 and MD5 signatures are refused in TLS 1.2 (RFC 9155 2; SHA-224 is not offered "
            "either: TLS 1.3 has no SHA-224 scheme and RFC 9155 moves TLS 1.2 to SHA-2 of 256 bits "
            "and more)",
    "no-sigalgs": "a TLS 1.2 ClientHello for a signing suite without signature_algorithms gets "
                  "handshake_failure (RFC 9155 2: the SHA-1 default is gone)",
    "psk_ke": "psk_ke (resumption without a fresh key exchange) is off by default: no forward "
              "secrecy (RFC 8446 2.2, E.1)",
    "legacy-reneg": "insecure (legacy) renegotiation is refused with no_renegotiation (RFC 5746 4.4)",
    "reneg-resume": "no resumption inside a renegotiation (RFC 5746 5 allows refusing; the new "
                    "handshake is a full one)",
    "no-psk-modes": "no NewSessionTicket to a client that sent no psk_key_exchange_modes: a ticket "
                    "it cannot use (RFC 8446 4.2.9: SHOULD NOT be sent)",
    "ems-reneg": "a renegotiation may not drop the extended master secret the connection has "
                 "(RFC 7627 5.3, applied to renegotiation as OpenSSL does; "
                 "test-renegotiation-changed-clienthello expects the same)",
    "server-order": "the server picks the suite by its own preference, ECDHE before DHE (RFC 5246 "
                    "7.4.1.3, RFC 8446 4.1.3: the server selects)",
    "3des": "3DES suites are not offered, but for TLS_RSA_WITH_3DES_EDE_CBC_SHA when named "
            "(RFC 9325 4.1: no suite under 128-bit security)",
}
# Cases excluded (-e) because they test what hasp does not implement; listed
# in docs/robustness.md, as the scripts that do not apply are.
EXCLUDE = None  # below, from expected.json
# tests/conformance/expected.json: {"xfail": {script: [[case, alert, reason]]},
# "exclude": {script: [[case, why]]}}, the cases read off a run of every
# script with -n 0 (all cases) and sorted by the reason hasp fails them.
EXPECTED = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected.json")))
XFAIL = EXPECTED["xfail"]
EXCLUDE = EXPECTED["exclude"]

# Scripts in .ci/run: the most rules per second (see docs/robustness.md).
CI = set("""
test-aes-gcm-nonces.py
test-alpn-negotiation.py
test-ccs.py
test-certificate-request.py
test-certificate-verify-malformed-sig.py
test-certificate-verify.py
test-chacha20.py
test-client-compatibility.py
test-clienthello-md5.py
test-connection-abort.py
test-conversation.py
test-cve-2004-0079.py
test-dhe-no-shared-secret-padding.py
test-dhe-rsa-key-exchange-signatures.py
test-dhe-rsa-key-exchange-with-bad-messages.py
test-dhe-rsa-key-exchange.py
test-downgrade-protection.py
test-early-application-data.py
test-ecdhe-padded-shared-secret.py
test-ecdhe-rsa-key-exchange-with-bad-messages.py
test-ecdhe-rsa-key-exchange.py
test-ecdsa-in-certificate-verify.py
test-ecdsa-sig-flexibility.py
test-encrypt-then-mac-renegotiation.py
test-encrypt-then-mac.py
test-export-ciphers-rejected.py
test-extended-master-secret-extension-with-client-cert.py
test-extended-master-secret-extension.py
test-fallback-scsv.py
test-ffdhe-expected-params.py
test-ffdhe-negotiation.py
test-fuzzed-MAC.py
test-fuzzed-ciphertext.py
test-fuzzed-finished.py
test-fuzzed-padding.py
test-fuzzed-plaintext.py
test-hello-request-by-client.py
test-interleaved-CKE-with-CCS.py
test-interleaved-application-data-and-fragmented-handshakes-in-renegotiation.py
test-interleaved-application-data-in-renegotiation.py
test-invalid-cipher-suites.py
test-invalid-client-hello-w-record-overflow.py
test-invalid-client-hello.py
test-invalid-compression-methods.py
test-invalid-content-type.py
test-invalid-rsa-key-exchange-messages.py
test-invalid-server-name-extension-resumption.py
test-invalid-session-id.py
test-invalid-version.py
test-large-number-of-extensions.py
test-legacy-renegotiation.py
test-message-duplication.py
test-message-skipping.py
test-no-mlkem-in-old-tls.py
test-ocsp-stapling.py
test-openssl-3712.py
test-point-extension.py
test-record-layer-fragmentation.py
test-renegotiation-changed-clienthello.py
test-renegotiation-disabled.py
test-resumption-with-wrong-ciphers.py
test-rsa-pss-sigs-on-certificate-verify.py
test-rsa-sigs-on-certificate-verify.py
test-sessionID-resumption.py
test-sig-algs-renegotiation-resumption.py
test-sig-algs.py
test-signature-algorithms.py
test-ssl-death-alert.py
test-sslv2-connection.py
test-sslv2-force-cipher-3des.py
test-sslv2-force-cipher-non3des.py
test-sslv2-force-cipher.py
test-sslv2-force-export-cipher.py
test-sslv2hello-protocol.py
test-tls13-ccs.py
test-tls13-certificate-request.py
test-tls13-connection-abort.py
test-tls13-conversation.py
test-tls13-crfg-curves.py
test-tls13-dhe-shared-secret-padding.py
test-tls13-ecdhe-curves.py
test-tls13-ecdsa-support.py
test-tls13-eddsa.py
test-tls13-empty-alert.py
test-tls13-ffdhe-groups.py
test-tls13-ffdhe-sanity.py
test-tls13-finished-plaintext.py
test-tls13-finished.py
test-tls13-hrr.py
test-tls13-invalid-ciphers.py
test-tls13-keyshare-omitted.py
test-tls13-keyupdate.py
test-tls13-large-number-of-extensions.py
test-tls13-multiple-ccs-messages.py
test-tls13-no-unknown-groups.py
test-tls13-nociphers.py
test-tls13-pkcs-signature.py
test-tls13-record-layer-limits.py
test-tls13-record-padding.py
test-tls13-rsa-signatures.py
test-tls13-rsapss-signatures.py
test-tls13-session-resumption.py
test-tls13-signature-algorithms.py
test-tls13-symetric-ciphers.py
test-tls13-unencrypted-alert.py
test-tls13-zero-content-type.py
test-tls13-zero-length-data.py
test-truncating-of-finished.py
test-truncating-of-kRSA-client-key-exchange.py
test-version-numbers.py
test-x25519.py
test-zero-length-data.py
""".split())

for e in entries:
    for test in e["tests"]:
        for case, sub, why in XFAIL.get(test["name"], []):
            assert why in REASONS, why
            test["arguments"] += ["-x", case] + (["-X", sub] if sub else [])
        for case, why in EXCLUDE.get(test["name"], []):
            test["arguments"] += ["-e", case]

here = os.path.dirname(os.path.abspath(__file__))


def write(name, ents):
    with open(os.path.join(here, name), "w") as f:
        json.dump(ents, f, indent=1)
        f.write("\n")
    n = sum(len(e["tests"]) for e in ents)
    print("%s: %d script runs in %d server entries" % (name, n, len(ents)))


write("tlsfuzzer.json", entries)
ci = []
for e in entries:
    tests = [t for t in e["tests"] if t["name"] in CI]
    if tests:
        ci.append(dict(e, tests=tests))
write("ci.json", ci)

# docs/robustness.md: the expected failures, between the markers.
doc = os.path.join(here, "..", "..", "docs", "robustness.md")
rows = ["| Script | Case | must fail with | Why |", "|---|---|---|---|"]
for script in sorted(XFAIL):
    for case, sub, why in XFAIL[script]:
        rows.append("| %s | %s | %s | %s |" % (script, case.replace("|", "\\|"),
                                              "`%s`" % sub if sub else "(the script's own check)", why))
rows += ["", "Why, by key:", ""] + ["* `%s`: %s." % (k, v) for k, v in REASONS.items()]
rows += ["", "Cases left out (`-e`), for what hasp does not implement:", "",
         "| Script | Cases | Why |", "|---|---|---|"]
for script in sorted(EXCLUDE):
    whys = collections.Counter(why for _, why in EXCLUDE[script])
    for why, n in whys.items():
        rows.append("| %s | %d | %s |" % (script, n, why))
text = open(doc).read()
b, e_ = "<!-- conformance-xfail:begin -->", "<!-- conformance-xfail:end -->"
if b in text:
    text = text[:text.index(b) + len(b)] + "\n" + "\n".join(rows) + "\n" + text[text.index(e_):]
    open(doc, "w").write(text)
