#!/usr/bin/env python3
"""Writes tests/conformance/tlsfuzzer.json (every script that applies to hasp
as a TLS 1.2/1.3 server) and ci.json (the CI subset). Edit the tables here,
then run: python3 tests/conformance/gen.py. @DIR@ = generated certificates,
@TF@ = the tlsfuzzer folder (filled in by tests/conformance/run.sh)."""
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
www = server(4433, "--www", "--allow-renegotiation", "--alpn", "http/1.1",
             *RSA, *EC)
entries.append({"server_command": www, "server_port": 4433, "common_arguments": ["-p", "4433"], "tests": [
    t("test-aes-gcm-nonces.py"),
    t("test-alpn-negotiation.py"),
    t("test-bleichenbacher-workaround.py"),
    t("test-ccs.py"),
    t("test-chacha20.py"),
    t("test-client-compatibility.py"),
    t("test-clienthello-md5.py"),
    t("test-connection-abort.py"),
    t("test-conversation.py"),
    t("test-cve-2004-0079.py"),
    t("test-cve-2016-6309.py"),
    t("test-cve-2016-7054.py"),
    t("test-dhe-key-share-random.py"),
    t("test-dhe-no-shared-secret-padding.py"),
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
    t("test-export-ciphers-rejected.py"),
    t("test-extended-master-secret-extension.py"),
    t("test-fallback-scsv.py"),
    t("test-ffdhe-expected-params.py"),
    t("test-ffdhe-negotiation.py"),
    t("test-fuzzed-MAC.py", *SAMPLE),
    t("test-fuzzed-ciphertext.py", *SAMPLE),
    t("test-fuzzed-finished.py"),
    t("test-fuzzed-padding.py", *SAMPLE),
    t("test-fuzzed-plaintext.py", *SAMPLE),
    t("test-heartbeat.py"),
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
    t("test-lengths.py", *SAMPLE),
    t("test-message-duplication.py"),
    t("test-message-skipping.py"),
    t("test-no-mlkem-in-old-tls.py"),
    t("test-ocsp-stapling.py", "--no-status"),
    t("test-openssl-3712.py"),
    t("test-point-extension.py"),
    t("test-record-layer-fragmentation.py"),
    t("test-renegotiation-changed-clienthello.py"),
    t("test-resumption-with-wrong-ciphers.py"),
    t("test-sessionID-resumption.py"),
    t("test-sig-algs.py"),
    t("test-sig-algs-renegotiation-resumption.py"),
    t("test-signature-algorithms.py"),
    t("test-ssl-death-alert.py"),
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
    t("test-SSLv3-padding.py"),
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
    t("test-tls13-keyupdate-from-server.py"),
    t("test-tls13-large-number-of-extensions.py"),
    t("test-tls13-lengths.py", *SAMPLE),
    t("test-tls13-mlkem.py"),
    t("test-tls13-multiple-ccs-messages.py"),
    t("test-tls13-no-unknown-groups.py"),
    t("test-tls13-nociphers.py"),
    t("test-tls13-pkcs-signature.py"),
    t("test-tls13-record-layer-limits.py"),
    t("test-tls13-record-padding.py"),
    t("test-tls13-rsa-signatures.py"),
    t("test-tls13-session-resumption.py"),
    t("test-tls13-signature-algorithms.py"),
    t("test-tls13-symetric-ciphers.py"),
    t("test-tls13-unencrypted-alert.py"),
    t("test-tls13-version-negotiation.py"),
    t("test-tls13-zero-content-type.py"),
    t("test-tls13-zero-length-data.py"),
]})

# 2. RSA-PSS certificate (id-RSASSA-PSS key) beside the RSA one.
entries.append({"server_command": server(4434, "--www", *RSA, *PSS), "server_port": 4434, "common_arguments": ["-p", "4434"],
                "tests": [t("test-tls13-rsapss-signatures.py")]})

# 3. Ed25519 certificate.
entries.append({"server_command": server(4435, "--www", *ED, *RSA), "server_port": 4435, "common_arguments": ["-p", "4435"],
                "tests": [t("test-tls13-eddsa.py")]})

# 4. Client certificates requested (optional).
opt = server(4436, "--www", "--verify-client", "optional", "--cafile", "@DIR@/client-cas.pem",
             *RSA, *EC)
entries.append({"server_command": opt, "server_port": 4436, "common_arguments": ["-p", "4436"], "tests": [
    t("test-certificate-request.py", *CLI_RSA),
    t("test-certificate-malformed.py", *CLI_RSA),
    t("test-certificate-verify.py", *CLI_RSA),
    t("test-certificate-verify-malformed.py", *CLI_RSA),
    t("test-certificate-verify-malformed-sig.py", *CLI_RSA),
    t("test-extended-master-secret-extension-with-client-cert.py", *CLI_RSA),
    t("test-rsa-sigs-on-certificate-verify.py", *CLI_RSA),
    t("test-rsa-pss-sigs-on-certificate-verify.py", *CLI_RSA),
    t("test-ecdsa-in-certificate-verify.py", *CLI_EC),
    t("test-eddsa-in-certificate-verify.py", *CLI_ED),
    t("test-tls13-certificate-request.py", *CLI_RSA),
    t("test-tls13-certificate-verify.py", *CLI_RSA),
    t("test-tls13-ecdsa-in-certificate-verify.py", *CLI_EC),
    t("test-tls13-eddsa-in-certificate-verify.py", *CLI_ED),
]})

# 5. Renegotiation refused (hasp's default).
entries.append({"server_command": server(4437, "--www", *RSA), "server_port": 4437, "common_arguments": ["-p", "4437"], "tests": [
    t("test-renegotiation-disabled.py"),
    t("test-renegotiation-disabled-client-cert.py", *CLI_RSA),
]})

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "tlsfuzzer.json"), "w") as f:
    json.dump(entries, f, indent=1)
    f.write("\n")
n = sum(len(e["tests"]) for e in entries)
print("tlsfuzzer.json: %d script runs in %d server entries" % (n, len(entries)))
