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
};

static const struct err_row err_rows[] = {
    {HASP_OK, "HASP_OK", HASP_CLASS_NONE, -1, "success"},
    {HASP_WANT_POLLIN, "HASP_WANT_POLLIN", HASP_CLASS_BLOCKED, -1,
     "the transport has no data yet: wait until it is readable and call again"},
    {HASP_WANT_POLLOUT, "HASP_WANT_POLLOUT", HASP_CLASS_BLOCKED, -1,
     "the transport cannot take more data yet: wait until it is writable and call again"},
    {HASP_ERR_USAGE, "HASP_ERR_USAGE", HASP_CLASS_USAGE, -1,
     "invalid argument, or a call that does not fit the connection's state"},
    {HASP_ERR_NOMEM, "HASP_ERR_NOMEM", HASP_CLASS_INTERNAL, HASP_ALERT_INTERNAL_ERROR,
     "out of memory"},
    {HASP_ERR_INTERNAL, "HASP_ERR_INTERNAL", HASP_CLASS_INTERNAL, HASP_ALERT_INTERNAL_ERROR,
     "internal error"},
    {HASP_ERR_CRYPTO, "HASP_ERR_CRYPTO", HASP_CLASS_INTERNAL, HASP_ALERT_INTERNAL_ERROR,
     "the crypto library failed"},
    {HASP_ERR_IO, "HASP_ERR_IO", HASP_CLASS_IO, -1, "the transport failed"},
    {HASP_ERR_CLOSED, "HASP_ERR_CLOSED", HASP_CLASS_CLOSED, -1, "the connection is closed"},
    {HASP_ERR_TRUNCATED, "HASP_ERR_TRUNCATED", HASP_CLASS_CLOSED, -1,
     "the peer closed the connection without close_notify: the data may be truncated"},
    {HASP_ERR_PEER_ALERT, "HASP_ERR_PEER_ALERT", HASP_CLASS_PEER_ALERT, -1,
     "the peer sent a fatal alert"},
    {HASP_ERR_DECODE, "HASP_ERR_DECODE", HASP_CLASS_PROTOCOL, HASP_ALERT_DECODE_ERROR,
     "the peer sent a malformed message"},
    {HASP_ERR_UNEXPECTED, "HASP_ERR_UNEXPECTED", HASP_CLASS_PROTOCOL, HASP_ALERT_UNEXPECTED_MESSAGE,
     "the peer sent a message out of order"},
    {HASP_ERR_BAD_MAC, "HASP_ERR_BAD_MAC", HASP_CLASS_PROTOCOL, HASP_ALERT_BAD_RECORD_MAC,
     "a record failed authentication: it was corrupted or tampered with"},
    {HASP_ERR_OVERFLOW, "HASP_ERR_OVERFLOW", HASP_CLASS_PROTOCOL, HASP_ALERT_RECORD_OVERFLOW,
     "the peer sent a record larger than TLS allows"},
    {HASP_ERR_HANDSHAKE, "HASP_ERR_HANDSHAKE", HASP_CLASS_PROTOCOL, HASP_ALERT_HANDSHAKE_FAILURE,
     "no parameters acceptable to both sides"},
    {HASP_ERR_VERSION, "HASP_ERR_VERSION", HASP_CLASS_PROTOCOL, HASP_ALERT_PROTOCOL_VERSION,
     "no protocol version acceptable to both sides"},
    {HASP_ERR_ILLEGAL_PARAM, "HASP_ERR_ILLEGAL_PARAM", HASP_CLASS_PROTOCOL,
     HASP_ALERT_ILLEGAL_PARAMETER, "the peer sent a field with an illegal value"},
    {HASP_ERR_DECRYPT, "HASP_ERR_DECRYPT", HASP_CLASS_PROTOCOL, HASP_ALERT_DECRYPT_ERROR,
     "a signature or Finished check failed"},
    {HASP_ERR_NOT_TLS, "HASP_ERR_NOT_TLS", HASP_CLASS_PROTOCOL, -1, "the peer is not speaking TLS"},
    {HASP_ERR_UNSUPPORTED_EXT, "HASP_ERR_UNSUPPORTED_EXT", HASP_CLASS_PROTOCOL,
     HASP_ALERT_UNSUPPORTED_EXTENSION, "the peer sent an extension that was not offered"},
    {HASP_ERR_NO_APP_PROTO, "HASP_ERR_NO_APP_PROTO", HASP_CLASS_PROTOCOL,
     HASP_ALERT_NO_APPLICATION_PROTOCOL, "no application protocol (ALPN) in common"},
    {HASP_ERR_INSUFFICIENT_SECURITY, "HASP_ERR_INSUFFICIENT_SECURITY", HASP_CLASS_PROTOCOL,
     HASP_ALERT_INSUFFICIENT_SECURITY, "the peer's parameters are too weak"},
    {HASP_ERR_UNRECOGNIZED_NAME, "HASP_ERR_UNRECOGNIZED_NAME", HASP_CLASS_PROTOCOL,
     HASP_ALERT_UNRECOGNIZED_NAME, "the server does not know the requested name"},
    {HASP_ERR_NO_RENEGOTIATION, "HASP_ERR_NO_RENEGOTIATION", HASP_CLASS_PROTOCOL, -1,
     "renegotiation refused"},
    {HASP_ERR_LIMIT, "HASP_ERR_LIMIT", HASP_CLASS_PROTOCOL, HASP_ALERT_HANDSHAKE_FAILURE,
     "a configured limit was exceeded"},
    {HASP_ERR_CONFIG, "HASP_ERR_CONFIG", HASP_CLASS_USAGE, -1, "invalid configuration"},
    {HASP_ERR_MISSING_EXT, "HASP_ERR_MISSING_EXT", HASP_CLASS_PROTOCOL,
     HASP_ALERT_MISSING_EXTENSION, "the peer left out a required extension"},
    {HASP_ERR_CERT_REQUIRED, "HASP_ERR_CERT_REQUIRED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_CERTIFICATE_REQUIRED, "a certificate is required but none was sent"},
    {HASP_ERR_INAPPROPRIATE_FALLBACK, "HASP_ERR_INAPPROPRIATE_FALLBACK", HASP_CLASS_PROTOCOL,
     HASP_ALERT_INAPPROPRIATE_FALLBACK, "inappropriate version fallback"},
    {HASP_ERR_CERT_BAD, "HASP_ERR_CERT_BAD", HASP_CLASS_CERTIFICATE, HASP_ALERT_BAD_CERTIFICATE,
     "the certificate is malformed or unusable"},
    {HASP_ERR_CERT_UNSUPPORTED, "HASP_ERR_CERT_UNSUPPORTED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_UNSUPPORTED_CERTIFICATE, "the certificate uses an unsupported algorithm"},
    {HASP_ERR_CERT_EXPIRED, "HASP_ERR_CERT_EXPIRED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_CERTIFICATE_EXPIRED, "the certificate is expired or not yet valid"},
    {HASP_ERR_CERT_UNKNOWN_CA, "HASP_ERR_CERT_UNKNOWN_CA", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_UNKNOWN_CA, "the certificate chain has no path to a trusted root"},
    {HASP_ERR_CERT_SIGNATURE, "HASP_ERR_CERT_SIGNATURE", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_BAD_CERTIFICATE, "a signature in the certificate chain is invalid"},
    {HASP_ERR_CERT_NAME, "HASP_ERR_CERT_NAME", HASP_CLASS_CERTIFICATE, HASP_ALERT_BAD_CERTIFICATE,
     "the certificate does not match the host name"},
    {HASP_ERR_CERT_PATH_LEN, "HASP_ERR_CERT_PATH_LEN", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_BAD_CERTIFICATE, "the certificate path is too long"},
    {HASP_ERR_CERT_USAGE, "HASP_ERR_CERT_USAGE", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_UNSUPPORTED_CERTIFICATE, "the certificate is not allowed for this purpose"},
    {HASP_ERR_CERT_CONSTRAINTS, "HASP_ERR_CERT_CONSTRAINTS", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_BAD_CERTIFICATE, "the certificate path violates a CA or name constraint"},
    {HASP_ERR_CERT_SELF_SIGNED, "HASP_ERR_CERT_SELF_SIGNED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_UNKNOWN_CA, "the certificate is self-signed and not trusted"},
    {HASP_ERR_CERT_NOT_FOUND, "HASP_ERR_CERT_NOT_FOUND", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_HANDSHAKE_FAILURE, "no certificate was presented"},
    {HASP_ERR_CERT_REVOKED, "HASP_ERR_CERT_REVOKED", HASP_CLASS_CERTIFICATE,
     HASP_ALERT_CERTIFICATE_REVOKED, "the certificate was revoked by its issuer"},
    {HASP_ERR_CERT_CRL, "HASP_ERR_CERT_CRL", HASP_CLASS_CERTIFICATE, HASP_ALERT_CERTIFICATE_UNKNOWN,
     "the certificate's revocation status is unknown: no usable CRL"},
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
