/* hasp server --www --workers N: N processes, each with its own event loop
 * (serve_epoll.c) on its own listening socket bound to the same port with
 * SO_REUSEPORT, so the kernel spreads connections over them.
 *
 * What the workers share lives in one MAP_SHARED region made before the
 * fork, behind a process-shared robust mutex:
 *   - the TLS 1.2 session cache (by session ID), through the library's
 *     session callbacks; the workers keep no cache of their own, so a
 *     session removed by one (its connection ended with a fatal alert) is
 *     gone for all;
 *   - the ticket keys when the server makes its own (without --ticket-keys):
 *     the parent rotates them every 12 hours and each worker picks up the
 *     new list between connections. With --ticket-keys every worker reads
 *     the files (SIGHUP to the parent is passed on to the workers).
 * The parent restarts a worker that dies (and says why), gives up when one
 * keeps dying, and on SIGTERM or SIGINT asks every worker to drain: stop
 * accepting, answer the requests in flight, send close_notify, exit within
 * HASP_DRAIN_S seconds. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hasp.h>

#include "tool.h"

int hasp_tool_worker;
volatile sig_atomic_t hasp_tool_stopping;

#define SLOTS 4096 /* sessions */
#define WAYS 4     /* a session ID hashes to a bucket of 4 slots */
#define SLOT_DATA 3072
#define KEY_LEN 80
#define KEY_ROTATE_S (12 * 3600)

typedef struct slot {
    uint64_t stamp; /* 0: empty; else the order of writing (least recent goes first) */
    uint8_t id_len;
    uint8_t id[32];
    uint16_t len;
    uint8_t data[SLOT_DATA];
} slot;

typedef struct shared {
    pthread_mutex_t lock;
    uint64_t clock;
    uint64_t key_gen; /* changes when the parent rotates the keys */
    size_t nkeys;
    uint8_t keys[2][KEY_LEN];
    slot slots[SLOTS];
} shared;

static shared *sh;
static uint64_t key_gen_seen;

static void lock(void)
{
    int rc = pthread_mutex_lock(&sh->lock);
    if (rc == EOWNERDEAD) {
        /* a worker died holding the lock, perhaps halfway through a slot:
         * forget every session rather than trust a torn one */
        for (size_t i = 0; i < SLOTS; i++) {
            sh->slots[i].stamp = 0;
            explicit_bzero(sh->slots[i].data, sizeof(sh->slots[i].data));
        }
        pthread_mutex_consistent(&sh->lock);
    }
}

static void unlock(void)
{
    pthread_mutex_unlock(&sh->lock);
}

static size_t bucket(const uint8_t *id, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ id[i]) * 1099511628211ull;
    return (size_t)(h % (SLOTS / WAYS)) * WAYS;
}

static slot *find(const uint8_t *id, size_t len)
{
    slot *b = &sh->slots[bucket(id, len)];
    for (int i = 0; i < WAYS; i++)
        if (b[i].stamp && b[i].id_len == len && !memcmp(b[i].id, id, len)) return &b[i];
    return NULL;
}

static int cache_new(void *arg, const uint8_t *id, size_t id_len, const uint8_t *sess, size_t len)
{
    (void)arg;
    if (id_len == 0 || id_len > 32 || len > SLOT_DATA)
        return 0; /* not kept: a full handshake later */
    lock();
    slot *s = find(id, id_len);
    if (!s) {
        slot *b = &sh->slots[bucket(id, id_len)];
        s = &b[0];
        for (int i = 1; i < WAYS; i++)
            if (b[i].stamp < s->stamp) s = &b[i];
    }
    explicit_bzero(s->data, sizeof(s->data));
    s->stamp = ++sh->clock;
    s->id_len = (uint8_t)id_len;
    memcpy(s->id, id, id_len);
    s->len = (uint16_t)len;
    memcpy(s->data, sess, len);
    unlock();
    return 0;
}

static int cache_get(void *arg, const uint8_t *id, size_t id_len, uint8_t *out, size_t cap,
                     size_t *len)
{
    (void)arg;
    int found = 0;
    lock();
    slot *s = id_len <= 32 ? find(id, id_len) : NULL;
    if (s && s->len <= cap) {
        memcpy(out, s->data, s->len);
        *len = s->len;
        found = 1;
    }
    unlock();
    return found;
}

static void cache_remove(void *arg, const uint8_t *id, size_t id_len)
{
    (void)arg;
    lock();
    slot *s = id_len <= 32 ? find(id, id_len) : NULL;
    if (s) {
        s->stamp = 0;
        explicit_bzero(s->data, sizeof(s->data));
    }
    unlock();
}

/* Take the parent's ticket keys when they changed. */
static void take_keys(hasp_config *cfg)
{
    uint8_t keys[2 * KEY_LEN];
    size_t n = 0;
    lock();
    if (sh->key_gen != key_gen_seen && sh->nkeys) {
        key_gen_seen = sh->key_gen;
        n = sh->nkeys;
        memcpy(keys, sh->keys, n * KEY_LEN);
    }
    unlock();
    if (n && hasp_config_set_ticket_keys(cfg, keys, n, KEY_LEN) < 0)
        fprintf(stderr, "hasp: worker %d: could not take the new ticket keys: %s\n",
                hasp_tool_worker, hasp_config_errmsg(cfg));
    explicit_bzero(keys, sizeof(keys));
}

/* Workers, between connections: the parent's new ticket keys. */
void hasp_tool_worker_tick(hasp_config *cfg)
{
    if (sh && hasp_tool_worker > 0) take_keys(cfg);
}

/* The parent: a fresh key first, the one before it second. */
static int rotate_keys(void)
{
    uint8_t fresh[KEY_LEN];
    if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh)) return -1;
    lock();
    memcpy(sh->keys[1], sh->keys[0], KEY_LEN);
    memcpy(sh->keys[0], fresh, KEY_LEN);
    sh->nkeys = sh->key_gen ? 2 : 1;
    sh->key_gen++;
    unlock();
    explicit_bzero(fresh, sizeof(fresh));
    return 0;
}

static volatile sig_atomic_t got_term, got_hup;
static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
    hasp_tool_stopping = 1;
}
static void on_hup(int sig)
{
    (void)sig;
    got_hup = 1;
}

static pid_t start_worker(int idx, hasp_config *cfg, const hasp_workers_opts *o)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    /* the worker */
    hasp_tool_worker = idx;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = hasp_tool_on_sighup; /* read the --ticket-keys files again */
    sigaction(SIGHUP, &sa, NULL);
    int lfd = hasp_tool_listen(o->accept, 1, idx == 1 && !o->quiet);
    if (lfd < 0) _exit(3);
    int rc = hasp_serve_www_epoll(cfg, lfd, o->naccept, o->quiet);
    _exit(rc);
}

static void describe(char *buf, size_t cap, int status)
{
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
}

int hasp_serve_workers(hasp_config *cfg, const hasp_workers_opts *o)
{
    int n = o->workers;
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        fprintf(stderr, "hasp: error: cannot map %zu bytes for the workers' shared state: %s\n",
                sizeof(*sh), strerror(errno));
        return 1;
    }
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&sh->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    /* one session cache for all: the library's own per-process cache off
     * (memcached, when given, is attached already: each worker opens its
     * own connections to it, lazily) */
    if (!o->memcached) {
        hasp_config_set_session_cache(cfg, 0, 0);
        hasp_config_set_session_callbacks(cfg, cache_new, cache_get, cache_remove, NULL);
    }
    if (!o->own_ticket_keys) {
        if (rotate_keys() < 0) {
            fprintf(stderr, "hasp: error: no random bytes for the ticket keys\n");
            return 1;
        }
        take_keys(cfg); /* now, before the fork */
    }
    time_t rotated = time(NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);

    pid_t *pids = calloc((size_t)n + 1, sizeof(*pids));
    time_t *starts = calloc((size_t)n + 1, sizeof(*starts));
    int *quick_deaths = calloc((size_t)n + 1, sizeof(*quick_deaths));
    if (!pids || !starts || !quick_deaths) {
        fprintf(stderr, "hasp: error: out of memory\n");
        return 1;
    }
    for (int i = 1; i <= n; i++) {
        pids[i] = start_worker(i, cfg, o);
        starts[i] = time(NULL);
        if (pids[i] < 0) {
            fprintf(stderr, "hasp: error: fork: %s\n", strerror(errno));
            got_term = 1;
        }
    }
    if (!o->quiet) fprintf(stderr, "hasp: %d workers on %s\n", n, o->accept);
    int rc = 0, alive = n;
    time_t term_at = 0;
    while (alive > 0) {
        if (got_term && !term_at) {
            term_at = time(NULL);
            for (int i = 1; i <= n; i++)
                if (pids[i] > 0) kill(pids[i], SIGTERM);
        }
        if (term_at && time(NULL) - term_at > HASP_DRAIN_S + 2) {
            for (int i = 1; i <= n; i++)
                if (pids[i] > 0) kill(pids[i], SIGKILL);
        }
        if (got_hup) {
            got_hup = 0;
            for (int i = 1; i <= n; i++)
                if (pids[i] > 0) kill(pids[i], SIGHUP);
            if (!o->own_ticket_keys) {
                rotate_keys();
                rotated = time(NULL);
                fprintf(stderr, "hasp: SIGHUP: new ticket key for the workers (the previous one "
                                "still opens)\n");
            }
        }
        if (!o->own_ticket_keys && time(NULL) - rotated >= KEY_ROTATE_S) {
            rotate_keys();
            rotated = time(NULL);
        }
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            usleep(50 * 1000);
            continue;
        }
        int idx = 0;
        for (int i = 1; i <= n; i++)
            if (pids[i] == pid) idx = i;
        if (!idx) continue;
        pids[idx] = 0;
        alive--;
        char why[96];
        describe(why, sizeof(why), status);
        if (term_at || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) continue; /* done */
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
            /* could not listen: it said why; another start would fail the same way */
            rc = 1;
            got_term = 1;
            continue;
        }
        if (time(NULL) - starts[idx] < 10) {
            if (++quick_deaths[idx] >= 5) {
                fprintf(stderr,
                        "hasp: worker %d (pid %d) %s, the 5th time within 10 s of its start: "
                        "stopping the server\n",
                        idx, (int)pid, why);
                rc = 1;
                got_term = 1;
                continue;
            }
        } else {
            quick_deaths[idx] = 0;
        }
        pids[idx] = start_worker(idx, cfg, o);
        starts[idx] = time(NULL);
        if (pids[idx] > 0) {
            alive++;
            fprintf(stderr, "hasp: worker %d (pid %d) %s; started it again (pid %d)\n", idx,
                    (int)pid, why, (int)pids[idx]);
        } else {
            fprintf(stderr, "hasp: worker %d (pid %d) %s; could not start it again: %s\n", idx,
                    (int)pid, why, strerror(errno));
            pids[idx] = 0;
        }
    }
    if (term_at && !o->quiet) fprintf(stderr, "hasp: the workers stopped\n");
    free(pids);
    free(starts);
    free(quick_deaths);
    explicit_bzero(sh, sizeof(*sh));
    munmap(sh, sizeof(*sh));
    sh = NULL;
    return rc;
}
