/* Errors: the per-thread last error (code, file, line, sentence), and the
 * one table that maps each HASP_ERR_* code to its TLS alert, with the RFC
 * clause per row (err_rows). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local hasp_errinfo last_err;

hasp_errinfo *hasp_err_last(void)
{
    return &last_err;
}

void hasp_err_clear(void)
{
    last_err.code = 0;
    last_err.file = NULL;
    last_err.line = 0;
    last_err.msg[0] = 0;
}

int hasp_err_set(int code, const char *file, int line, const char *fmt, ...)
{
    last_err.code = code;
    last_err.file = file;
    last_err.line = line;
    if (fmt) {
        /* through a copy: the arguments may quote the previous message */
        char tmp[sizeof(last_err.msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        memcpy(last_err.msg, tmp, sizeof(tmp));
    } else {
        snprintf(last_err.msg, sizeof(last_err.msg), "%s", hasp_err_default_msg(code));
    }
    return code;
}

void hasp_wipe(void *p, size_t n)
{
    /* memset speed, and the compiler may not drop it (glibc >= 2.25) */
    if (p && n) explicit_bzero(p, n);
}

int hasp_ct_memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d != 0;
}

struct err_row {
    int code;
    const char *name;
    int cls;
    int alert;
    const char *msg;
    const char *rfc; /* where the alert is assigned; NULL when no alert is sent */
};

static const struct err_row err_rows[] = {
    {HASP_OK, "HASP_OK", HASP_CLASS_NONE, -1, "success", NULL},
    {HASP_WANT_POLLIN, "HASP_WANT_POLLIN", HASP_CLASS_BLOCKED, -1,
     "the transport has no data yet: wait until it is readable and call again", NULL},
    {HASP_WANT_POLLOUT, "HASP_WANT_POLLOUT", HASP_CLASS_BLOCKED, -1,
     "the transport cannot take more data yet: wait until it is writable and call again", NULL},
    {HASP_ERR_USAGE, "HASP_ERR_USAGE", HASP_CLASS_USAGE, -1,
     "invalid argument, or a call that does not fit the connection's state", NULL},
    {HASP_ERR_NOMEM, "HASP_ERR_NOMEM", HASP_CLASS_INTERNAL, HASP_ALERT_INTERNAL_ERROR,
     "out of memory", "RFC 8446 6.2: a failure unrelated to the peer"},
    {HASP_ERR_INTERNAL, "HASP_ERR_INTERNAL", HASP_CLASS_INTERNAL, HASP_ALERT_INTERNAL_ERROR,
     "internal error", "RFC 8446 6.2: a failure unrelated to the peer"},
    {HASP_ERR_CRYPTO, "HASP_ERR_CRYPTO", HASP_CLASS_INTERNAL, HASP_ALERT_INTERNAL_ERROR,
     "the crypto library failed", "RFC 8446 6.2: a failure unrelated to the peer"},
    {HASP_ERR_IO, "HASP_ERR_IO", HASP_CLASS_IO, -1, "the transport failed", NULL},
    {HASP_ERR_CLOSED, "HASP_ERR_CLOSED", HASP_CLASS_CLOSED, -1, "the connection is closed", NULL},
    {HASP_ERR_TRUNCATED, "HASP_ERR_TRUNCATED", HASP_CLASS_CLOSED, -1,
     "the peer closed the connection without close_notify: the data may be truncated", NULL},
    {HASP_ERR_PEER_ALERT, "HASP_ERR_PEER_ALERT", HASP_CLASS_PEER_ALERT, -1,
     "the peer sent a fatal alert", NULL},
    {HASP_ERR_DECODE, "HASP_ERR_DECODE", HASP_CLASS_PROTOCOL, HASP_ALERT_DECODE_ERROR,
     "the peer sent a malformed message",
     "RFC 8446 6.2: a field out of its specified range or a wrong length; 4: a message longer than "
     "its type allows"},
    {HASP_ERR_UNEXPECTED, "HASP_ERR_UNEXPECTED", HASP_CLASS_PROTOCOL, HASP_ALERT_UNEXPECTED_MESSAGE,
     "the peer sent a message out of order",
     "RFC 8446 5, 5.1, 6.2: a message out of order, a zero-length handshake or alert record, a "
     "record inside a fragmented handshake message, a KeyUpdate not ending its record, a malformed "
     "ChangeCipherSpec"},
    {HASP_ERR_BAD_MAC, "HASP_ERR_BAD_MAC", HASP_CLASS_PROTOCOL, HASP_ALERT_BAD_RECORD_MAC,
     "a record failed authentication: it was corrupted or tampered with",
     "RFC 8446 5.2, RFC 5246 6.2.3: a record that does not deprotect"},
    {HASP_ERR_OVERFLOW, "HASP_ERR_OVERFLOW", HASP_CLASS_PROTOCOL, HASP_ALERT_RECORD_OVERFLOW,
     "the peer sent a record larger than TLS allows",
     "RFC 8446 5.1, 5.2, RFC 5246 6.2: a record over the length limit"},
    {HASP_ERR_HANDSHAKE, "HASP_ERR_HANDSHAKE", HASP_CLASS_PROTOCOL, HASP_ALERT_HANDSHAKE_FAILURE,
     "no parameters acceptable to both sides",
     "RFC 8446 6.2, RFC 9155 2: no acceptable set of parameters (a TLS 1.2 signing suite without "
     "signature_algorithms)"},
    {HASP_ERR_VERSION, "HASP_ERR_VERSION", HASP_CLASS_PROTOCOL, HASP_ALERT_PROTOCOL_VERSION,
     "no protocol version acceptable to both sides",
     "RFC 8446 4.2.1, D.5, RFC 8996, RFC 7568: no version in common; legacy_version 0x0300 or "
     "less"},
    {HASP_ERR_ILLEGAL_PARAM, "HASP_ERR_ILLEGAL_PARAM", HASP_CLASS_PROTOCOL,
     HASP_ALERT_ILLEGAL_PARAMETER, "the peer sent a field with an illegal value",
     "RFC 8446 4.1.2, 4.2.8, 6.2: a field right in syntax but wrong in value (a bad key share, TLS "
     "1.3 compression other than {0})"},
    {HASP_ERR_DECRYPT, "HASP_ERR_DECRYPT", HASP_CLASS_PROTOCOL, HASP_ALERT_DECRYPT_ERROR,
     "a signature or Finished check failed",
     "RFC 8446 4.4.3, 4.4.4, 6.2: a signature or Finished that does not verify"},
    {HASP_ERR_NOT_TLS, "HASP_ERR_NOT_TLS", HASP_CLASS_PROTOCOL, -1, "the peer is not speaking TLS",
     NULL},
    {HASP_ERR_UNSUPPORTED_EXT, "HASP_ERR_UNSUPPORTED_EXT", HASP_CLASS_PROTOCOL,
     HASP_ALERT_UNSUPPORTED_EXTENSION, "the peer sent an extension that was not offered",
     "RFC 8446 4.2: an extension in a response that the request did not offer"},
    {HASP_ERR_NO_APP_PROTO, "HASP_ERR_NO_APP_PROTO", HASP_CLASS_PROTOCOL,
     HASP_ALERT_NO_APPLICATION_PROTOCOL, "no application protocol (ALPN) in common",
     "RFC 7301 3.2: no protocol in common"},
    {HASP_ERR_INSUFFICIENT_SECURITY, "HASP_ERR_INSUFFICIENT_SECURITY", HASP_CLASS_PROTOCOL,
     HASP_ALERT_INSUFFICIENT_SECURITY, "the peer's parameters are too weak",
     "RFC 7919 4, RFC 8446 6.2: only parameters weaker than the server accepts"},
    {HASP_ERR_UNRECOGNIZED_NAME, "HASP_ERR_UNRECOGNIZED_NAME", HASP_CLASS_PROTOCOL,
     HASP_ALERT_UNRECOGNIZED_NAME, "the server does not know the requested name",
     "RFC 6066 3: a server name the server does not have"},
    {HASP_ERR_NO_RENEGOTIATION, "HASP_ERR_NO_RENEGOTIATION", HASP_CLASS_PROTOCOL, -1,
     "renegotiation refused",
     "RFC 5746 4.5, RFC 5246 7.2.2: sent as a warning, the connection goes on"},
    {HASP_ERR_LIMIT, "HASP_ERR_LIMIT", HASP_CLASS_PROTOCOL, HASP_ALERT_HANDSHAKE_FAILURE,
     "a configured limit was exceeded",
     "RFC 8446 6.2: a bound of this implementation (hasp_config_set_limits)"},
    {HASP_ERR_CONFIG, "HASP_ERR_CONFIG", HASP_CLASS_USAGE, -1, "invalid configuration", NULL},
    {HASP_ERR_MISSING_EXT, "HASP_ERR_MISSING_EXT", HASP_CLASS_PROTOCOL,
     HASP_ALERT_MISSING_EXTENSION, "the peer left out a required extension",
     "RFC 8446 9.2: a mandatory extension left out"},
    {HASP_ERR_CERT_REQUIRED, "HASP_ERR_CERT_REQUIRED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_CERTIFICATE_REQUIRED, "a certificate is required but none was sent",
     "RFC 8446 4.4.2.4: a required client certificate missing (TLS 1.3)"},
    {HASP_ERR_INAPPROPRIATE_FALLBACK, "HASP_ERR_INAPPROPRIATE_FALLBACK", HASP_CLASS_PROTOCOL,
     HASP_ALERT_INAPPROPRIATE_FALLBACK, "inappropriate version fallback",
     "RFC 7507 3: TLS_FALLBACK_SCSV below the highest version"},
    {HASP_ERR_CERT_BAD, "HASP_ERR_CERT_BAD", HASP_CLASS_CERTIFICATE, HASP_ALERT_BAD_CERTIFICATE,
     "the certificate is malformed or unusable", "RFC 8446 6.2: a corrupt certificate"},
    {HASP_ERR_CERT_UNSUPPORTED, "HASP_ERR_CERT_UNSUPPORTED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_UNSUPPORTED_CERTIFICATE, "the certificate uses an unsupported algorithm",
     "RFC 8446 6.2: a certificate of an unsupported type"},
    {HASP_ERR_CERT_EXPIRED, "HASP_ERR_CERT_EXPIRED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_CERTIFICATE_EXPIRED, "the certificate is expired or not yet valid",
     "RFC 8446 6.2: a certificate outside its validity"},
    {HASP_ERR_CERT_UNKNOWN_CA, "HASP_ERR_CERT_UNKNOWN_CA", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_UNKNOWN_CA, "the certificate chain has no path to a trusted root",
     "RFC 8446 6.2: no path to a trusted anchor"},
    {HASP_ERR_CERT_SIGNATURE, "HASP_ERR_CERT_SIGNATURE", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_BAD_CERTIFICATE, "a signature in the certificate chain is invalid",
     "RFC 8446 6.2: a chain signature that does not verify"},
    {HASP_ERR_CERT_NAME, "HASP_ERR_CERT_NAME", HASP_CLASS_CERTIFICATE, HASP_ALERT_BAD_CERTIFICATE,
     "the certificate does not match the host name",
     "RFC 8446 6.2, RFC 6125: a certificate for another name"},
    {HASP_ERR_CERT_PATH_LEN, "HASP_ERR_CERT_PATH_LEN", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_BAD_CERTIFICATE, "the certificate path is too long",
     "RFC 5280 6.1.4: a path longer than allowed"},
    {HASP_ERR_CERT_USAGE, "HASP_ERR_CERT_USAGE", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_UNSUPPORTED_CERTIFICATE, "the certificate is not allowed for this purpose",
     "RFC 5280 4.2.1.3, 4.2.1.12: a key usage or EKU that does not allow this use"},
    {HASP_ERR_CERT_CONSTRAINTS, "HASP_ERR_CERT_CONSTRAINTS", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_BAD_CERTIFICATE, "the certificate path violates a CA or name constraint",
     "RFC 5280 6.1: a CA or name constraint violated"},
    {HASP_ERR_CERT_SELF_SIGNED, "HASP_ERR_CERT_SELF_SIGNED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_UNKNOWN_CA, "the certificate is self-signed and not trusted",
     "RFC 8446 6.2: a self-signed certificate not trusted"},
    {HASP_ERR_CERT_NOT_FOUND, "HASP_ERR_CERT_NOT_FOUND", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_HANDSHAKE_FAILURE, "no certificate was presented",
     "RFC 5246 7.4.6: a required TLS 1.2 client certificate missing"},
    {HASP_ERR_CERT_REVOKED, "HASP_ERR_CERT_REVOKED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_CERTIFICATE_REVOKED, "the certificate was revoked by its issuer",
     "RFC 5280 6.3.3: the certificate's serial is on a CRL of its issuer"},
    {HASP_ERR_CERT_CRL, "HASP_ERR_CERT_CRL", HASP_CLASS_CERTIFICATE, HASP_ALERT_CERTIFICATE_UNKNOWN,
     "the certificate's revocation status is unknown: no usable CRL",
     "RFC 5280 6.3.3: no usable CRL covers the certificate"},
};

static const struct err_row *err_find(int code)
{
    for (size_t i = 0; i < sizeof(err_rows) / sizeof(err_rows[0]); i++)
        if (err_rows[i].code == code) return &err_rows[i];
    return NULL;
}

const char *hasp_err_name(int code)
{
    const struct err_row *r = err_find(code);
    return r ? r->name : "HASP_ERR_UNKNOWN";
}

int hasp_err_class(int code)
{
    const struct err_row *r = err_find(code);
    return r ? r->cls : HASP_CLASS_INTERNAL;
}

int hasp_err_alert(int code)
{
    const struct err_row *r = err_find(code);
    return r ? r->alert : HASP_ALERT_INTERNAL_ERROR;
}

const char *hasp_err_default_msg(int code)
{
    const struct err_row *r = err_find(code);
    return r ? r->msg : "unknown error";
}

const char *hasp_alert_name(int alert)
{
    switch (alert) {
    case 0:
        return "close_notify(0)";
    case 10:
        return "unexpected_message(10)";
    case 20:
        return "bad_record_mac(20)";
    case 21:
        return "decryption_failed(21)";
    case 22:
        return "record_overflow(22)";
    case 30:
        return "decompression_failure(30)";
    case 40:
        return "handshake_failure(40)";
    case 41:
        return "no_certificate(41)";
    case 42:
        return "bad_certificate(42)";
    case 43:
        return "unsupported_certificate(43)";
    case 44:
        return "certificate_revoked(44)";
    case 45:
        return "certificate_expired(45)";
    case 46:
        return "certificate_unknown(46)";
    case 47:
        return "illegal_parameter(47)";
    case 48:
        return "unknown_ca(48)";
    case 49:
        return "access_denied(49)";
    case 50:
        return "decode_error(50)";
    case 51:
        return "decrypt_error(51)";
    case 60:
        return "export_restriction(60)";
    case 70:
        return "protocol_version(70)";
    case 71:
        return "insufficient_security(71)";
    case 80:
        return "internal_error(80)";
    case 86:
        return "inappropriate_fallback(86)";
    case 90:
        return "user_canceled(90)";
    case 100:
        return "no_renegotiation(100)";
    case 109:
        return "missing_extension(109)";
    case 110:
        return "unsupported_extension(110)";
    case 111:
        return "certificate_unobtainable(111)";
    case 112:
        return "unrecognized_name(112)";
    case 113:
        return "bad_certificate_status_response(113)";
    case 114:
        return "bad_certificate_hash_value(114)";
    case 115:
        return "unknown_psk_identity(115)";
    case 116:
        return "certificate_required(116)";
    case 120:
        return "no_application_protocol(120)";
    default:
        return "unknown_alert";
    }
}
