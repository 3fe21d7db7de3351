/* The fd layer: the engine's loop over a socket, blocking or not. Non-blocking
 * calls return HASP_WANT_POLLIN / HASP_WANT_POLLOUT: poll, call again. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../conn.h"

int hasp_set_fd(hasp_conn *c, int fd)
{
    ENSURE(c && fd >= 0, HASP_ERR_USAGE);
    c->fd = fd;
    return 0;
}

static int io_fail(hasp_conn *c, const char *what, int err)
{
    hasp_err_set(HASP_ERR_IO, __FILE__, __LINE__, "%s failed: %s", what, strerror(err));
    return conn_fail(c, HASP_ERR_IO);
}

/* Send everything the engine has queued. */
static int flush(hasp_conn *c)
{
    for (;;) {
        const uint8_t *p;
        size_t n = hasp_conn_output(c, &p);
        if (n == 0) return 0;
        ssize_t w = write(c->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return HASP_WANT_POLLOUT;
            int e = errno;
            /* The output is lost: drop it so an error path cannot loop on it. */
            hasp_conn_output_done(c, n);
            if (c->state == ST_ERROR) return c->err;
            if ((e == EPIPE || e == ECONNRESET) && c->peer_closed)
                return 0; /* the peer closed cleanly and left: our close_notify is moot */
            if (e == EPIPE || e == ECONNRESET) {
                /* The peer hung up: most often after a fatal alert it sent. Report that. */
                uint8_t *space;
                size_t room;
                if (hasp_conn_input_space(c, &space, &room) == 0 && room) {
                    ssize_t r = recv(c->fd, space, room, MSG_DONTWAIT);
                    if (r > 0) hasp_conn_input_commit(c, (size_t)r);
                    uint8_t none;
                    hasp_conn_read(c, &none, 0);
                    if (c->state == ST_ERROR) return c->err;
                }
            }
            return io_fail(c, "write", e);
        }
        hasp_conn_output_done(c, (size_t)w);
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what the socket has into the engine. */
static int fill(hasp_conn *c)
{
    if (c->hs_deadline_ms && c->state == ST_HANDSHAKE) {
        /* the handshake duration limit: wait for input no longer than what is left */
        int64_t left = c->hs_deadline_ms - mono_ms();
        struct pollfd pf = {c->fd, POLLIN, 0};
        int pr = left > 0 ? poll(&pf, 1, (int)left) : 0;
        if (pr == 0) {
            hasp_err_set(HASP_ERR_LIMIT, __FILE__, __LINE__,
                         "the handshake took longer than %u ms (the configured limit)",
                         c->cfg->handshake_timeout_ms);
            return conn_fail(c, HASP_ERR_LIMIT);
        }
    }
    for (;;) {
        /* straight into the engine's buffer: no copy */
        uint8_t *space;
        size_t room;
        int rc = hasp_conn_input_space(c, &space, &room);
        if (rc < 0) return conn_fail(c, rc);
        if (room == 0) return HASP_ERR_INTERNAL; /* the engine's buffer is full: cannot happen */
        ssize_t r = read(c->fd, space, room);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return HASP_WANT_POLLIN;
            if (errno == ECONNRESET) {
                hasp_conn_input_eof(c);
                return 0;
            }
            return io_fail(c, "read", errno);
        }
        if (r == 0) {
            hasp_conn_input_eof(c);
            return 0;
        }
        hasp_conn_input_commit(c, (size_t)r);
        return 0;
    }
}

int hasp_handshake(hasp_conn *c)
{
    ENSURE(c && c->fd >= 0, HASP_ERR_USAGE);
    if (c->cfg->handshake_timeout_ms && !c->hs_deadline_ms && c->state == ST_HANDSHAKE)
        c->hs_deadline_ms = mono_ms() + c->cfg->handshake_timeout_ms;
    for (;;) {
        int rc = hasp_conn_handshake(c);
        int frc = flush(c);
        if (frc == HASP_WANT_POLLOUT) return frc;
        if (rc != HASP_WANT_POLLIN) return rc;
        if (frc < 0) return frc;
        frc = fill(c);
        if (frc != 0) return frc;
    }
}

ssize_t hasp_read(hasp_conn *c, void *buf, size_t len)
{
    ENSURE(c && c->fd >= 0, HASP_ERR_USAGE);
    int frc = flush(c);
    if (frc < 0 && frc != HASP_WANT_POLLOUT) return frc;
    for (;;) {
        int rc = hasp_conn_read(c, buf, len);
        frc = flush(c);
        if (rc != HASP_WANT_POLLIN) return rc;
        if (frc == HASP_WANT_POLLOUT) return frc;
        if (frc < 0) return frc;
        frc = fill(c);
        if (frc == HASP_WANT_POLLIN)
            hasp_conn_release_buffers(c); /* idle: nothing buffered is needed */
        if (frc != 0) return frc;
    }
}

ssize_t hasp_write(hasp_conn *c, const void *buf, size_t len)
{
    ENSURE(c && c->fd >= 0, HASP_ERR_USAGE);
    if (c->state == ST_HANDSHAKE) {
        int rc = hasp_handshake(c);
        if (rc != 0) return rc;
    }
    int frc = flush(c);
    if (frc < 0) return frc; /* earlier data still queued: nothing new accepted */
    int rc;
    for (;;) {
        rc = hasp_conn_write(c, buf, len);
        frc = flush(c);
        if (rc != HASP_WANT_POLLIN) break;
        /* a renegotiation is completing first: its next message is needed */
        if (frc < 0) return frc;
        frc = fill(c);
        if (frc != 0) return frc;
    }
    if (rc < 0) return rc;
    if (frc < 0 && frc != HASP_WANT_POLLOUT) return frc;
    return rc;
}

int hasp_flush(hasp_conn *c)
{
    ENSURE(c && c->fd >= 0, HASP_ERR_USAGE);
    return flush(c);
}

int hasp_close(hasp_conn *c)
{
    ENSURE(c && c->fd >= 0, HASP_ERR_USAGE);
    hasp_conn_close(c);
    return flush(c);
}
