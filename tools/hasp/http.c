/* The HTTP side of `hasp server --www`, shared by the blocking loop
 * (main.c) and the event loop (serve_epoll.c): one request reader that
 * accepts CRLF and bare-LF line ends and requests up to HTTP_MAX_REQUEST
 * bytes, and the two responses (the page that describes the connection,
 * and 400 Bad Request). */
#define _GNU_SOURCE /* strcasestr */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "hasp.h"
#include "tool.h"

/* RFC 9110 5.6.2: tchar */
static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return 1;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* RFC 9112 3: request-line = method SP request-target SP HTTP-version */
static int request_line_ok(const char *p, size_t n, int *minor)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ') return 0;
    size_t t = ++i;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == t || i >= n || p[i] != ' ') return 0;
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/", 5) || p[i + 5] < '0' || p[i + 5] > '9' ||
        p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9')
        return 0;
    *minor = p[i + 5] == '1' ? p[i + 7] - '0' : 0;
    return 1;
}

int hasp_http_parse(const char *buf, size_t len, hasp_http_req *req)
{
    memset(req, 0, sizeof(*req));
    const char *lf = memchr(buf, '\n', len);
    if (!lf) {
        /* No line yet: a byte no request line holds is known bad now. */
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)buf[i];
            if ((ch < 0x20 && ch != '\r') || ch >= 0x7f) return HASP_HTTP_BAD;
        }
        return len >= HASP_HTTP_MAX_REQUEST ? HASP_HTTP_BAD : HASP_HTTP_MORE;
    }
    size_t n = (size_t)(lf - buf);
    if (n && buf[n - 1] == '\r') n--;
    int minor = 0;
    if (!request_line_ok(buf, n, &minor)) return HASP_HTTP_BAD;
    /* header lines up to the first empty one */
    size_t pos = (size_t)(lf - buf) + 1;
    int close_asked = 0, keep_asked = 0;
    for (;;) {
        const char *end = memchr(buf + pos, '\n', len - pos);
        if (!end) return len >= HASP_HTTP_MAX_REQUEST ? HASP_HTTP_BAD : HASP_HTTP_MORE;
        size_t l = (size_t)(end - (buf + pos));
        if (l && buf[pos + l - 1] == '\r') l--;
        if (l == 0) {
            req->used = (size_t)(end - buf) + 1;
            break;
        }
        if (l > 11 && !strncasecmp(buf + pos, "connection:", 11)) {
            char v[64];
            size_t vl = l - 11 < sizeof(v) - 1 ? l - 11 : sizeof(v) - 1;
            memcpy(v, buf + pos + 11, vl);
            v[vl] = 0;
            if (strcasestr(v, "close")) close_asked = 1;
            if (strcasestr(v, "keep-alive")) keep_asked = 1;
        }
        pos = (size_t)(end - buf) + 1;
    }
    if (req->used > HASP_HTTP_MAX_REQUEST) return HASP_HTTP_BAD;
    req->keep_alive = minor >= 1 ? !close_asked : keep_asked && !close_asked;
    req->minor = minor >= 1 ? 1 : 0;
    return HASP_HTTP_REQUEST;
}

int hasp_http_bad_request(char *out, size_t cap)
{
    static const char body[] = "400 Bad Request: hasp server --www serves HTTP/1.x requests\n";
    return snprintf(out, cap,
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: "
                    "%zu\r\nConnection: close\r\n\r\n%s",
                    sizeof(body) - 1, body);
}

int hasp_www_page(hasp_conn *c, char *out, size_t cap, int minor, int keep_alive)
{
    char page[2048], worker[48] = "";
    if (hasp_tool_worker > 0)
        snprintf(worker, sizeof(worker), "Worker: %d (pid %d)\n", hasp_tool_worker, (int)getpid());
    int len = snprintf(page, sizeof(page),
                       "<html><head><title>hasp</title></head><body><pre>\n"
                       "hasp %s server\n"
                       "Protocol: %s\n"
                       "Cipher: %s (%s)\n"
                       "Group: %s\n"
                       "Signature: %s\n"
                       "Server name: %s\n"
                       "ALPN: %s\n"
                       "Extended master secret: %s\n"
                       "Secure renegotiation: %s\n"
                       "Resumed: %s\n"
                       "%s"
                       "</pre></body></html>\n",
                       HASP_VERSION_STRING, hasp_conn_version_name(c), hasp_conn_cipher_name(c),
                       hasp_conn_cipher_openssl_name(c),
                       hasp_conn_group_name(c) ? hasp_conn_group_name(c) : "none",
                       hasp_conn_sigalg_name(c) ? hasp_conn_sigalg_name(c) : "none",
                       hasp_conn_servername(c) ? hasp_conn_servername(c) : "none",
                       hasp_conn_alpn(c) ? hasp_conn_alpn(c) : "none",
                       hasp_conn_version(c) == HASP_TLS1_3 ? "n/a (TLS 1.3)"
                       : hasp_conn_ems(c)                  ? "yes"
                                                           : "no",
                       hasp_conn_version(c) == HASP_TLS1_3 ? "n/a (TLS 1.3)"
                       : hasp_conn_secure_renegotiation(c) ? "yes"
                                                           : "no",
                       hasp_conn_resumed_how(c), worker);
    return snprintf(out, cap,
                    "HTTP/1.%d 200 ok\r\nContent-Type: text/html\r\nContent-Length: %d\r\n%s\r\n%s",
                    minor, len, keep_alive ? "" : "Connection: close\r\n", page);
}
