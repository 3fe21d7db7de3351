/* Unit tests for src/x509: parsing, names, host matching, stores, path
 * validation, thread safety, and the cost of a verification.
 * The chain below (RSA-2048, valid 2026-11-22 .. 2126) was made with the
 * openssl command:
 *   root  O=hasp, CN=hasp unit root          (CA, self-signed)
 *   int   O=hasp, CN=hasp unit intermediate  (CA, pathlen 0, EKU server+client)
 *   leaf  O=hasp, CN=leaf.example.test       (EKU serverAuth, KU digitalSignature +
 *         keyEncipherment; SAN DNS:leaf.example.test, DNS:*.wild.example.test,
 *         IP:192.0.2.7, IP:2001:db8::7, email:ops@example.test) */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "codec/der.h"
#include "codec/pem.h"
#include "crypto/crypto.h"
#include "crypto/x509_extra.h"
#include "test.h"
#include "x509/x509.h"

static const char ROOT_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIDIjCCAgqgAwIBAgIUCzhFtEr3IV2s478wtcz8x8fEfx0wDQYJKoZIhvcNAQEL\n"
                               "BQAwKDENMAsGA1UECgwEaGFzcDEXMBUGA1UEAwwOaGFzcCB1bml0IHJvb3QwIBcN\n"
                               "MjYxMTIyMTQ1NTE2WhgPMjEyNjEwMjkxNDU1MTZaMCgxDTALBgNVBAoMBGhhc3Ax\n"
                               "FzAVBgNVBAMMDmhhc3AgdW5pdCByb290MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n"
                               "MIIBCgKCAQEA2qju4WnhTN+oUPB2rV0qPRjDh0yHZhISDD67HZ3SOs0f1JuTfnF4\n"
                               "fwMvF9J1hHWb9tALfHQ5qwPoRNluXrJYvuFklSECnkVYLMQQBhwLj154CGcW1Wab\n"
                               "719SmByo6MVwcvCpXKM94JhMYaOuKIDefrUcdMgzJ/IRrpB2zF0Qvb2WMjrDZH7S\n"
                               "AVSHfPDFrkIdVpyj8zTg09LRyjzu0EgebMW1C9/HFEwXi8w1lbI5nLR0fEsy2SsL\n"
                               "PwrkKyAIvOhCHknm4p8OpdmpKh6xYq0IN+hMpwOZ7kZdvPBDf9BEImJVY+Kf9bHA\n"
                               "iL+KDvP9MWtKuu9S8SFFoz9M6RSyuwPx8wIDAQABo0IwQDAPBgNVHRMBAf8EBTAD\n"
                               "AQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUOHSAOWbXBewk/lDSAvjz5IcG\n"
                               "Og4wDQYJKoZIhvcNAQELBQADggEBAMIMQm7ClSexGnZQ81COzfrfoqEZPmU7V/Pc\n"
                               "stWMTSTvbJxCLP6SSgv5xRbb/fGW/lmUTKRh7iAxXoqaBF3SYl1NwWiWq58Cuyzy\n"
                               "86oPaF6haKYFzqKizchb7wT/H5GIS+V//G9MaNeHbN7FdzMissIqF/fdYK8wiazG\n"
                               "vdtdhh2MJb3Lf8PsD2F2vzl5MxKQzxAisqV4xaMgolhZfylRf759eawMgDERWQ7I\n"
                               "dkDOFTVin2tzzhmwopJDCPUHXP8r440GG3p3EXqCSPjNgRZ09WmtL6xztIx3ezYa\n"
                               "gPOEY9SRZrqqj1LhEUMWzki2unlkX8zK6K/WjEbj+C/5SaEQjgw=\n"
                               "-----END CERTIFICATE-----\n";
static const char INT_pem[] = "-----BEGIN CERTIFICATE-----\n"
                              "MIIDXTCCAkWgAwIBAgICEAEwDQYJKoZIhvcNAQELBQAwKDENMAsGA1UECgwEaGFz\n"
                              "cDEXMBUGA1UEAwwOaGFzcCB1bml0IHJvb3QwIBcNMjYxMTIyMTQ1NTE2WhgPMjEy\n"
                              "NjEwMjkxNDU1MTZaMDAxDTALBgNVBAoMBGhhc3AxHzAdBgNVBAMMFmhhc3AgdW5p\n"
                              "dCBpbnRlcm1lZGlhdGUwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCe\n"
                              "Gbjdaiocijex0sM/p2jytqYY//9FfWIgf2cB2K3affGMQ8XkipB9qFUXqbZ4razC\n"
                              "4pgLID1PeSohy5IVgjjaTtsWzmI1aB6fkAzsAreghZP9OTcK5HFg0GRE+IV/TjVx\n"
                              "5hP9XWVQbWZBTmsxzwNG0/RsanbUE7pmymIgR6BNYAbB8uUgyxTYB+0swLmFDJR7\n"
                              "BO6S6bklQbD2Ap9n+qqKgEsEE/3LbG093IOJxUiRJBy3B76cIcikv7vkUEB6/RIV\n"
                              "OKFzD9M0d2ZFrdEW6PMHqkoMvb+tRfgkufQ8wChqnuyhTJ8eDzFjJqF0y/izB7QY\n"
                              "4FInyQWHTPj0bm2EwAF9AgMBAAGjgYYwgYMwEgYDVR0TAQH/BAgwBgEB/wIBADAO\n"
                              "BgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFJ3p7fl7rqIOiwvjD9ap8evHCRPIMB8G\n"
                              "A1UdIwQYMBaAFDh0gDlm1wXsJP5Q0gL48+SHBjoOMB0GA1UdJQQWMBQGCCsGAQUF\n"
                              "BwMBBggrBgEFBQcDAjANBgkqhkiG9w0BAQsFAAOCAQEAuS/lD6UjFbdflLTrAbS4\n"
                              "7TYav+c0SMQeJlyjOIvZ4Y5Ud4FzxKUAF12KtA4NtCGsbe05jA3TFZxL3kVsZNpy\n"
                              "dpl5MfegbPdl2uuVVjeV/vUK2kxlKsS9lLZich3VpRQEVjNthXSDnyP/z8A7Sn58\n"
                              "HXVN6pSim5qG+YYo8W6ce7BxhAwVGl8fYd/5P1WMbgY8s3K5giZhhoHWH48HmfIt\n"
                              "MqvnK65ou7BZAbANZbraamLfDXGcdgmA63Tzvrqanobw7G70X/m20cCNmtZ95FAM\n"
                              "BwsPzPpwoJsjeOMOT4s7mecSjXZdy9+DMOvh8B0fGc3+md2qo+qovoX/CRIB3NZR\n"
                              "QA==\n"
                              "-----END CERTIFICATE-----\n";
static const char LEAF_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIDrTCCApWgAwIBAgICIAIwDQYJKoZIhvcNAQELBQAwMDENMAsGA1UECgwEaGFz\n"
                               "cDEfMB0GA1UEAwwWaGFzcCB1bml0IGludGVybWVkaWF0ZTAgFw0yNjExMjIxNDU1\n"
                               "MTZaGA8yMTI2MTAyOTE0NTUxNlowKzENMAsGA1UECgwEaGFzcDEaMBgGA1UEAwwR\n"
                               "bGVhZi5leGFtcGxlLnRlc3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIB\n"
                               "AQCyCCBlCqdkXtDOSGjBboxtFGE4j5CyVPpEJ36kQwf1k8pLhvMweQfRSFkDXx8F\n"
                               "UNW/qgdkUEz0bce2ruS9A5c/ytVpsaSEMaTKDFzRTXwMzzBJGxnXQk6cEQ54zuBC\n"
                               "3WOA2QqxduYplDxIjCmQNLWmFmyeJyHKLPsXZeNn4KHB1EwXv+U2VF9h7Gz45YIT\n"
                               "kdlSb4wzK/Oqn3C0PmJYDRW2fzTlQqTv63ogZuce6OvHqszNvY7mDjdvQ6dvbOxr\n"
                               "Qj+riM5dJTO9EJW/tMLFFZpJf1QNfwl9zcooyblIreOHFxNBAYFVZI6gqXe63DXU\n"
                               "7cugQBa20aLE/aH0oyZgCZPzAgMBAAGjgdMwgdAwDAYDVR0TAQH/BAIwADAOBgNV\n"
                               "HQ8BAf8EBAMCBaAwHQYDVR0OBBYEFKHTo11wYzcnW6m4s3GrSi7x0ECwMB8GA1Ud\n"
                               "IwQYMBaAFJ3p7fl7rqIOiwvjD9ap8evHCRPIMBMGA1UdJQQMMAoGCCsGAQUFBwMB\n"
                               "MFsGA1UdEQRUMFKCEWxlYWYuZXhhbXBsZS50ZXN0ghMqLndpbGQuZXhhbXBsZS50\n"
                               "ZXN0hwTAAAIHhxAgAQ24AAAAAAAAAAAAAAAHgRBvcHNAZXhhbXBsZS50ZXN0MA0G\n"
                               "CSqGSIb3DQEBCwUAA4IBAQA4I560I8l8adVIUhJZvtEGqK8fu9mbsCCi90JdIB43\n"
                               "uYVY5Dg+MCqr64DXqHB7NACihce+//8QMZ3z+/s4tVT+mjO5ngo3F4kU91gMBk8i\n"
                               "qFu03V9o7/zAkgOXxnamfyAn/aVkFYd+7GMb8ZtROZAMeViKbCsAs9J5bNoqVu1S\n"
                               "vGv3wHdNdKvws+j/Usgb3ybNKh1a/nmQ03UQ69nWhVi4mwnezK+EpJEiJibYmOCD\n"
                               "Z3dcsyCVCnt+p45rYFoongfZ3GIDa8it9SjyJNkm0wk9bIEZWWaUOumD6P23ieWp\n"
                               "SZwhszusyrv33O/IOOXL0sUnWPZGxuWgSO/mB+aElAno\n"
                               "-----END CERTIFICATE-----\n";
static const char LEAF_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCyCCBlCqdkXtDO\n"
    "SGjBboxtFGE4j5CyVPpEJ36kQwf1k8pLhvMweQfRSFkDXx8FUNW/qgdkUEz0bce2\n"
    "ruS9A5c/ytVpsaSEMaTKDFzRTXwMzzBJGxnXQk6cEQ54zuBC3WOA2QqxduYplDxI\n"
    "jCmQNLWmFmyeJyHKLPsXZeNn4KHB1EwXv+U2VF9h7Gz45YITkdlSb4wzK/Oqn3C0\n"
    "PmJYDRW2fzTlQqTv63ogZuce6OvHqszNvY7mDjdvQ6dvbOxrQj+riM5dJTO9EJW/\n"
    "tMLFFZpJf1QNfwl9zcooyblIreOHFxNBAYFVZI6gqXe63DXU7cugQBa20aLE/aH0\n"
    "oyZgCZPzAgMBAAECggEAQ4pft9WN4b8y2j+QNmoZLjzAEXQtweoJNBgDrI+dkmYq\n"
    "JfMhia8w7w3SbzwECcE8BkWcHkt0lnqbfMvnDWoyVEpAIqP5NQmcaea8w87wk+96\n"
    "cxGsAQUvy3eRFPXvEI7q8/PjYaYo9Xc+U4uRLRtCGquBM5LG9+uOqrbFyh/nXh/n\n"
    "se4uSY6JtTcCmO+Cv/51Q2uyVJ5ZEJqC+a5mn/1PUulFC+whh0pqVmm33WLYmrKk\n"
    "dNYjEqyIlWwU3FVHTM9mcppB4SbhQ4JC4f6tEMSE03npwSZhUr81Arv7weApCYXi\n"
    "EMRihFeBDRv0scJhnbVTl07zbHkaKH5ubmNb9TWOsQKBgQD3HTS1X/7+jwz1wl6+\n"
    "2A+RoHEn6BDqdJDjJn9nE9gDZkWJoYEcY1OFWUE8dgH3e2wtawWFVwHQvjzCx7tK\n"
    "UFaGbslYv5DYN85y2lOXdiDAF+ueFV5I99ppjVp13BTTlCLFpbvrR/4DwK2qDsBz\n"
    "FC3ppifiswq50qtKbGe5owbhSQKBgQC4bvy7zJrthuNhWAzrAJnV68m3w2RJuqNR\n"
    "7NRidqZxNpdjMrFnkL5dm4qMU0+bdGXsJpzQhL7q+v1VzvkqkBD5MDhdic11Cpd1\n"
    "cJd+E6njY29aDWtoE13a7eYUPLXHqT43Ej4L1gFtc6UBrrZwqJridE65uuS7cMa5\n"
    "IkIs93qHWwKBgQCmGVB7dXn9ewPYEP0ERFA6r2A/1aHBJfbZZ+AM1e7FYjHtb8xL\n"
    "24uhPzw1OpDZ23D8GkqMtM34lFZdCkmeit+N3tuhtqnSW7h9xLiZPwKGe82Y5X4J\n"
    "h+ecOTILtJGfIZw5w8vLOwnHVfSlMOM0tuShf1ih7XyRKMSP8svJoIYYWQKBgC7P\n"
    "rMIVynTjOa8pZA35lxIeyJIlu7yi7HUMwVNEfjZZ/s6kvTZmHIsxwVaghqIURxJL\n"
    "Mp4SM0r87XPsFn3hFw3IWWYUZduBFrQuIaVUZFhckpSut0YxNC8vFqioSBMnN61O\n"
    "qgTjCnW3Vng42gF6KeW0U478irWwiB/RPC6hma3lAoGALO9buQxl1cJTds8nBOOr\n"
    "tJM3dGuNi3CZTBQpyIypbN4kYYYt9wme3YI7JeVoaA6dFltDH+M1MSqi8p6lMwQt\n"
    "jcZfjmeaobqvalrPAuralu0uyGz3l6n0Ha5qN/kuZeSxxVU9K7VHB0p/HT2GzijR\n"
    "jgNDH9QoY0lFC62pIH/29Gg=\n"
    "-----END PRIVATE KEY-----\n";

#define T2030 1893456000 /* 2030-01-01 00:00:00 UTC */

static uint8_t *der_of(const char *pem, size_t *len)
{
    const uint8_t *p = (const uint8_t *)pem;
    char label[32];
    uint8_t *der = NULL;
    if (hasp_pem_next(&p, p + strlen(pem), label, sizeof(label), &der, len) != 1) return NULL;
    return der;
}

static uint8_t *root_der, *int_der, *leaf_der;
static size_t root_len, int_len, leaf_len;
static hasp_x509_store *anchors;

static int verify3(const hasp_x509_params *p, hasp_x509_result *res)
{
    const uint8_t *chain[2] = {leaf_der, int_der};
    size_t lens[2] = {leaf_len, int_len};
    return hasp_x509_verify(anchors, p, chain, lens, 2, res);
}

static void test_parse(void)
{
    hasp_x509_cert c;
    CHECK(hasp_x509_parse(leaf_der, leaf_len, &c) == 0, "parse the leaf");
    char s[256];
    hasp_x509_subject_str(&c, s, sizeof(s));
    CHECK(strcmp(s, "CN=leaf.example.test, O=hasp") == 0, "subject reads '%s'", s);
    hasp_x509_name_str(c.issuer, s, sizeof(s));
    CHECK(strcmp(s, "CN=hasp unit intermediate, O=hasp") == 0, "issuer reads '%s'", s);
    CHECK(c.version == 3 && c.serial.len == 2 && c.serial.p[0] == 0x20, "version 3, serial 0x2002");
    CHECK(c.sig_alg == HASP_SIG_RSA_PKCS1 && c.sig_hash == HASP_HASH_SHA256,
          "signature sha256WithRSAEncryption");
    CHECK(c.key_type == HASP_X509_KEY_RSA && c.key_bits == 2048, "RSA-2048 key (%s)", c.key_desc);
    CHECK(c.has_bc && !c.ca && c.bc_critical, "basicConstraints CA:FALSE, critical");
    CHECK(c.has_ku && c.ku == (HASP_KU_DIGITAL_SIGNATURE | HASP_KU_KEY_ENCIPHERMENT),
          "keyUsage digitalSignature+keyEncipherment");
    CHECK(c.has_eku && c.eku_server && !c.eku_client, "EKU serverAuth only");
    CHECK(c.has_san && c.aki_has_keyid && c.has_ski, "SAN, AKI, SKI present");
    CHECK(c.defect_code == 0, "no defect (%s)", c.defect);
    CHECK(c.not_after - c.not_before == 36500LL * 86400, "validity is 36500 days");
    CHECK(c.spki.p > leaf_der && c.spki.p + c.spki.len <= leaf_der + leaf_len,
          "SPKI is a view into the DER");

    hasp_x509_cert r;
    CHECK(hasp_x509_parse(root_der, root_len, &r) == 0 && r.self_issued && r.ca && !r.has_aki,
          "root: self-issued CA without AKI");
    hasp_x509_cert i;
    CHECK(hasp_x509_parse(int_der, int_len, &i) == 0 && i.pathlen == 0, "intermediate pathlen 0");
    CHECK(hasp_x509_name_eq(c.issuer, i.subject) && c.issuer_hash == i.subject_hash,
          "leaf issuer equals intermediate subject");

    /* Truncation and trailing bytes are refused. */
    CHECK(hasp_x509_parse(leaf_der, leaf_len - 1, &c) == HASP_ERR_CERT_BAD, "truncated: bad");
    uint8_t *longer = malloc(leaf_len + 1);
    memcpy(longer, leaf_der, leaf_len);
    longer[leaf_len] = 0;
    CHECK(hasp_x509_parse(longer, leaf_len + 1, &c) == HASP_ERR_CERT_BAD, "trailing byte: bad");
    free(longer);
    const uint8_t *spki;
    size_t spki_len;
    CHECK(hasp_x509_spki(leaf_der, leaf_len, &spki, &spki_len) == 0 && spki[0] == 0x30,
          "hasp_x509_spki");
    hasp_pkey *k = hasp_pkey_from_spki(spki, spki_len);
    CHECK(k && hasp_pkey_bits(k) == 2048, "the SPKI loads as an RSA-2048 key");
    hasp_pkey_free(k);
}

/* Name DER: SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, <tag> value } } } */
static size_t make_name(uint8_t *out, uint8_t tag, const char *v)
{
    size_t n = strlen(v);
    uint8_t *p = out;
    *p++ = 0x30;
    *p++ = (uint8_t)(n + 11);
    *p++ = 0x31;
    *p++ = (uint8_t)(n + 9);
    *p++ = 0x30;
    *p++ = (uint8_t)(n + 7);
    *p++ = 0x06;
    *p++ = 0x03;
    *p++ = 0x55;
    *p++ = 0x04;
    *p++ = 0x03;
    *p++ = tag;
    *p++ = (uint8_t)n;
    memcpy(p, v, n);
    return n + 13;
}

static void test_names(void)
{
    uint8_t a[64], b[64];
    size_t la = make_name(a, 0x0c, "Hasp  Root"), lb = make_name(b, 0x13, " hasp root ");
    hasp_rd ra = hasp_rd_init(a, la), rb = hasp_rd_init(b, lb);
    CHECK(hasp_x509_name_eq(ra, rb), "names equal after case and space folding");
    CHECK(hasp_x509_name_hash(ra) == hasp_x509_name_hash(rb), "folded names hash alike");
    lb = make_name(b, 0x0c, "hasp rooT2");
    rb = hasp_rd_init(b, lb);
    CHECK(!hasp_x509_name_eq(ra, rb), "different names differ");
    lb = make_name(b, 0x04, "hasp root"); /* OCTET STRING: compared as bytes */
    rb = hasp_rd_init(b, lb);
    CHECK(!hasp_x509_name_eq(ra, rb), "non-string values are compared byte for byte");
    char s[64];
    hasp_x509_name_str(ra, s, sizeof(s));
    CHECK(strcmp(s, "CN=Hasp  Root") == 0, "name prints as '%s'", s);
}

static void test_hosts(void)
{
    static const struct {
        const char *pattern, *host;
        int want;
    } cases[] = {
        {"example.com", "example.com", 1},
        {"example.com", "EXAMPLE.com.", 1},
        {"example.com", "www.example.com", 0},
        {"*.example.com", "www.example.com", 1},
        {"*.example.com", "WWW.Example.Com", 1},
        {"*.example.com", "example.com", 0},
        {"*.example.com", "a.b.example.com", 0},
        {"*.com", "example.com", 0},
        {"*.co.uk", "example.co.uk", 0},
        {"*.s3.amazonaws.com", "bucket.s3.amazonaws.com", 0},
        {"*", "com", 0},
        {"w*.example.com", "www.example.com", 0},
        {"www.*.com", "www.example.com", 0},
        {"foo_bar.example.com", "foo_bar.example.com", 0},
        {"example.com", "", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(hasp_x509_dns_match(cases[i].pattern, strlen(cases[i].pattern), cases[i].host) ==
                  cases[i].want,
              "dns_match('%s', '%s') == %d", cases[i].pattern, cases[i].host, cases[i].want);
    uint8_t ip[16];
    CHECK(hasp_x509_parse_ip("192.0.2.7", ip) == 4 && ip[3] == 7, "parse IPv4");
    CHECK(hasp_x509_parse_ip("[2001:db8::7]", ip) == 16 && ip[15] == 7, "parse bracketed IPv6");
    CHECK(hasp_x509_parse_ip("192.0.2.07x", ip) == 0, "not an IP");
    CHECK(hasp_x509_is_public_suffix("co.uk", 5) && !hasp_x509_is_public_suffix("example.com", 11),
          "public suffixes");

    CHECK(hasp_x509_matches_host(leaf_der, leaf_len, "leaf.example.test") == 1, "SAN DNS match");
    CHECK(hasp_x509_matches_host(leaf_der, leaf_len, "x.wild.example.test") == 1, "SAN wildcard");
    CHECK(hasp_x509_matches_host(leaf_der, leaf_len, "192.0.2.7") == 1, "SAN IPv4");
    CHECK(hasp_x509_matches_host(leaf_der, leaf_len, "2001:db8::7") == 1, "SAN IPv6");
    CHECK(hasp_x509_matches_host(leaf_der, leaf_len, "2001:db8::8") == 0, "other IPv6");
    CHECK(hasp_x509_matches_host(leaf_der, leaf_len, "other.example.test") == 0, "other name");
    CHECK(hasp_x509_matches_host(root_der, root_len, "hasp unit root") == 0,
          "no SAN: the CN is not used");
}

static void test_store(void)
{
    hasp_x509_store *s = hasp_x509_store_new();
    char both[8192];
    snprintf(both, sizeof(both), "junk before\n%s%s", ROOT_pem, ROOT_pem);
    CHECK(hasp_x509_store_add_pem(s, (const uint8_t *)both, strlen(both)) == 1,
          "store: a duplicate is added once");
    CHECK(hasp_x509_store_count(s) == 1, "store holds one certificate");
    CHECK(hasp_x509_store_add_pem(s, (const uint8_t *)"no pem", 6) < 0,
          "store: no PEM is an error");
    CHECK(hasp_x509_store_add_file(s, "/nonexistent/roots.pem") == HASP_ERR_CONFIG,
          "store: a missing file is an error");
    hasp_x509_store_free(s);

    s = hasp_x509_store_new();
    int rc = hasp_x509_store_load_system(s);
    if (rc == HASP_ERR_CONFIG) {
        printf("# no system trust store on this machine\n");
    } else {
        CHECK(rc > 0 && hasp_x509_store_count(s) > 50, "system store loaded (%zu anchors)",
              hasp_x509_store_count(s));
    }
    hasp_x509_store_free(s);
}

static void test_verify(void)
{
    hasp_x509_params p = {0};
    hasp_x509_result res;
    p.time = T2030;
    p.host = "leaf.example.test";
    p.purpose = HASP_X509_PURPOSE_SERVER;
    p.key_usage = HASP_KU_DIGITAL_SIGNATURE;
    int rc = verify3(&p, &res);
    CHECK(rc == 0 && res.code == 0, "valid chain (%s)", res.reason);
    CHECK(res.path_len == 3 && res.path_source[0] == HASP_X509_SRC_PEER &&
              res.path_source[1] == HASP_X509_SRC_PEER && res.path_source[2] == HASP_X509_SRC_STORE,
          "path leaf, intermediate, anchor");
    CHECK(strcmp(res.path[2], "CN=hasp unit root, O=hasp") == 0, "anchor named '%s'", res.path[2]);

    p.host = "nope.example.test";
    rc = verify3(&p, &res);
    CHECK(rc == HASP_ERR_CERT_NAME && strstr(res.reason, "DNS:leaf.example.test"),
          "host mismatch lists the names (%s)", res.reason);
    p.host = "192.0.2.7";
    CHECK(verify3(&p, &res) == 0, "IP host");
    p.host = NULL;

    p.purpose = HASP_X509_PURPOSE_CLIENT;
    rc = verify3(&p, &res);
    CHECK(rc == HASP_ERR_CERT_USAGE, "serverAuth leaf refused as a client (%s)", res.reason);
    p.purpose = HASP_X509_PURPOSE_SERVER;

    p.time = 1700000000; /* 2023: before notBefore */
    rc = verify3(&p, &res);
    CHECK(rc == HASP_ERR_CERT_EXPIRED && strstr(res.reason, "not valid before"),
          "not yet valid (%s)", res.reason);
    p.time = 4900000000LL; /* 2125 is fine, 2125+ */
    rc = verify3(&p, &res);
    CHECK(rc == 0, "valid in 2125");
    p.time = 4950000000LL;
    rc = verify3(&p, &res);
    CHECK(rc == HASP_ERR_CERT_EXPIRED && strstr(res.reason, "expired on"), "expired (%s)",
          res.reason);
    p.time = T2030;

    p.max_depth = 1;
    CHECK(verify3(&p, &res) == HASP_ERR_CERT_PATH_LEN, "max_depth 1 (%s)", res.reason);
    p.max_depth = 2;
    CHECK(verify3(&p, &res) == 0, "max_depth 2");
    p.max_depth = 0;

    /* Only the leaf: unknown issuer, named. */
    const uint8_t *one[1] = {leaf_der};
    size_t one_len[1] = {leaf_len};
    rc = hasp_x509_verify(anchors, &p, one, one_len, 1, &res);
    CHECK(rc == HASP_ERR_CERT_UNKNOWN_CA &&
              strstr(res.reason, "unknown issuer 'CN=hasp unit intermediate, O=hasp'") &&
              strstr(res.reason, "no intermediates"),
          "unknown issuer (%s)", res.reason);

    /* The intermediate from the config instead. */
    hasp_x509_store *extra = hasp_x509_store_new();
    hasp_x509_store_add_der(extra, int_der, int_len);
    p.extra_intermediates = extra;
    rc = hasp_x509_verify(anchors, &p, one, one_len, 1, &res);
    CHECK(rc == 0 && res.path_source[1] == HASP_X509_SRC_CONFIG, "intermediate from the config");
    p.extra_intermediates = NULL;
    hasp_x509_store_free(extra);

    /* Extras, duplicates, any order. */
    const uint8_t *messy[5] = {leaf_der, root_der, int_der, leaf_der, int_der};
    size_t messy_len[5] = {leaf_len, root_len, int_len, leaf_len, int_len};
    CHECK(hasp_x509_verify(anchors, &p, messy, messy_len, 5, &res) == 0 && res.path_len == 3,
          "extras, duplicates and any order");

    /* A flipped bit in the leaf's signature. */
    uint8_t *bad = malloc(leaf_len);
    memcpy(bad, leaf_der, leaf_len);
    bad[leaf_len - 3] ^= 0x40;
    const uint8_t *badc[2] = {bad, int_der};
    size_t badl[2] = {leaf_len, int_len};
    rc = hasp_x509_verify(anchors, &p, badc, badl, 2, &res);
    CHECK(rc == HASP_ERR_CERT_SIGNATURE, "bad signature (%s)", res.reason);
    free(bad);

    /* An empty chain, an empty store. */
    CHECK(hasp_x509_verify(anchors, &p, one, one_len, 0, &res) == HASP_ERR_CERT_NOT_FOUND,
          "no certificate");
    hasp_x509_store *empty = hasp_x509_store_new();
    CHECK(hasp_x509_verify(empty, &p, one, one_len, 1, &res) == HASP_ERR_CERT_UNKNOWN_CA,
          "empty trust store");
    hasp_x509_store_free(empty);
    CHECK(hasp_err_alert(HASP_ERR_CERT_EXPIRED) == HASP_ALERT_CERTIFICATE_EXPIRED,
          "expired maps to certificate_expired");
}

static void *thread_main(void *arg)
{
    int *bad = arg;
    hasp_x509_params p = {0};
    hasp_x509_result res;
    p.time = T2030;
    p.host = "leaf.example.test";
    for (int i = 0; i < 50; i++)
        if (verify3(&p, &res) != 0) (*bad)++;
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, thread_main, &bad[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(bad[0] + bad[1] + bad[2] + bad[3] == 0, "4 threads share one store");
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void test_perf(void)
{
    hasp_x509_params p = {0};
    hasp_x509_result res;
    p.time = T2030;
    p.host = "leaf.example.test";
    const int N = 300;
    verify3(&p, &res);
    double t0 = now_us();
    for (int i = 0; i < N; i++)
        verify3(&p, &res);
    double verify = (now_us() - t0) / N;

    hasp_pkey *priv =
        hasp_pkey_from_private_pem((const uint8_t *)LEAF_KEY_PEM, strlen(LEAF_KEY_PEM));
    uint8_t sig[512];
    size_t sl = 0;
    t0 = now_us();
    for (int i = 0; i < 50; i++)
        hasp_pkey_sign(priv, HASP_SIG_RSA_PKCS1, HASP_HASH_SHA256, (const uint8_t *)"x", 1, sig,
                       sizeof(sig), &sl);
    double sign = (now_us() - t0) / 50;

    hasp_x509_pubkey *ik = hasp_x509_pubkey_new(hasp_x509_store_get(anchors, 0)->spki.p,
                                                hasp_x509_store_get(anchors, 0)->spki.len);
    hasp_x509_cert ic;
    hasp_x509_parse(int_der, int_len, &ic);
    t0 = now_us();
    for (int i = 0; i < N; i++)
        hasp_x509_pubkey_verify(ik, ic.sig_alg, ic.sig_hash, ic.tbs.p, ic.tbs.len, ic.sig.p,
                                ic.sig.len);
    double one_verify = (now_us() - t0) / N;
    hasp_x509_pubkey_free(ik);
    hasp_pkey_free(priv);
    printf("# perf: 3-certificate RSA-2048 chain verify %.1f us (2 RSA signature checks %.1f us, "
           "everything else %.1f us); one RSA-2048 signature %.1f us\n",
           verify, 2 * one_verify, verify - 2 * one_verify, sign);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    printf("# perf comparison skipped under sanitizers\n");
    return;
#endif
    CHECK(verify < sign,
          "chain validation (%.0f us) costs less than one RSA-2048 signature "
          "(%.0f us)",
          verify, sign);
}

int main(void)
{
    root_der = der_of(ROOT_pem, &root_len);
    int_der = der_of(INT_pem, &int_len);
    leaf_der = der_of(LEAF_pem, &leaf_len);
    CHECK(root_der && int_der && leaf_der, "test certificates decode");
    anchors = hasp_x509_store_new();
    CHECK(hasp_x509_store_add_pem(anchors, (const uint8_t *)ROOT_pem, strlen(ROOT_pem)) == 1,
          "anchor loaded");
    test_parse();
    test_names();
    test_hosts();
    test_store();
    test_verify();
    test_threads();
    test_perf();
    hasp_x509_store_free(anchors);
    free(root_der);
    free(int_der);
    free(leaf_der);
    TEST_DONE();
}
