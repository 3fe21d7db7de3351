/* The certificate_authorities list of a TLS CertificateRequest: the
 * subject names of the trust anchors. */
#include "x509.h"

int hasp_x509_store_write_names(const hasp_x509_store *s, hasp_wr *w)
{
    size_t n = s ? hasp_x509_store_count(s) : 0;
    for (size_t i = 0; i < n; i++) {
        const hasp_x509_cert *c = hasp_x509_store_get(s, i);
        if (!c || c->subject.len == 0 || c->subject.len > 65535) continue;
        /* RFC 5246 7.4.4: the list is bounded by a 2-byte length; stop before it overflows. */
        if (w->len + c->subject.len + 2 > 60000) break;
        GUARD(wr_vec(w, 2, c->subject.p, c->subject.len));
    }
    return 0;
}
