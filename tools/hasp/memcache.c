/* hasp server --session-cache memcached://HOST:PORT[,HOST:PORT...]: the
 * TLS 1.2 session cache (by session ID) in memcached, shared by every server
 * of a fleet, through the library's session callbacks (the library itself
 * has no dependency on libmemcached; this file is built when
 * libmemcached-dev is there).
 *
 *   key    "hasp-s:" + the session ID in hex (the ID travels in clear on
 *          the wire anyway)
 *   value  key name(16) || nonce(12) || AES-256-GCM(session bytes) || tag(16),
 *          the key name and the memcached key as associated data
 *   expiry the session lifetime
 *
 * The AES key is HKDF-SHA256 of each --ticket-keys key (salt "hasp session
 * cache", info its name): the first seals, every one opens, so a reader of
 * memcached learns no master secret and the cache rotates with the ticket
 * keys. Servers are picked by consistent hashing (ketama) with short
 * timeouts; when memcached does not answer, the handshake is a full one and
 * the log gets one warning per outage (and one line when it answers again).
 * An entry that does not open (corrupted, foreign, from a dropped key) is a
 * miss. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hasp.h>

#include "crypto/crypto.h"
#include "tool.h"

#ifdef HASP_HAVE_MEMCACHED
#include <libmemcached/memcached.h>

#define MC_KEYS 16
#define NAME_LEN 16
#define LIFETIME_S 7200 /* the library's default session lifetime */
#define MAX_SESSION 8192

typedef struct mc_key {
    uint8_t name[NAME_LEN];
    uint8_t key[32];
} mc_key;

static struct {
    memcached_st *mc;
    char url[256];
    mc_key keys[MC_KEYS];
    size_t nkeys;
    int down;               /* in an outage: warned once */
    unsigned long fellback; /* lookups and stores that failed in this outage */
    time_t probed;          /* in an outage: when memcached was last tried afresh */
    int quiet;
} M;

/* The keys of the --ticket-keys files, as the library reads them (80-byte
 * keys when a file's size is a multiple of 80, else 48-byte ones). */
static int derive_keys(const char *const *paths, size_t n, char *err, size_t cap)
{
    mc_key keys[MC_KEYS];
    size_t nk = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t buf[MC_KEYS * 80 + 1];
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
        if (fd >= 0) close(fd);
        size_t klen = len > 0 && len % 80 == 0 ? 80 : 48;
        if (len <= 0 || len > MC_KEYS * 80 || len % (ssize_t)klen) {
            snprintf(err, cap, "cannot read the ticket keys in '%s'", paths[i]);
            rc = -1;
        }
        for (ssize_t off = 0; rc == 0 && off < len; off += (ssize_t)klen) {
            if (nk == MC_KEYS) {
                snprintf(err, cap, "more than %d ticket keys", MC_KEYS);
                rc = -1;
                break;
            }
            static const char salt[] = "hasp session cache";
            uint8_t prk[32];
            memcpy(keys[nk].name, buf + off, NAME_LEN);
            if (hasp_hkdf_extract(HASP_HASH_SHA256, (const uint8_t *)salt, sizeof(salt) - 1,
                                  buf + off + NAME_LEN, klen - NAME_LEN, prk) < 0 ||
                hasp_hkdf_expand(HASP_HASH_SHA256, prk, sizeof(prk), keys[nk].name, NAME_LEN,
                                 keys[nk].key, sizeof(keys[nk].key)) < 0) {
                snprintf(err, cap, "could not derive the session cache key");
                rc = -1;
            }
            explicit_bzero(prk, sizeof(prk));
            nk++;
        }
        explicit_bzero(buf, sizeof(buf));
    }
    if (rc == 0 && nk == 0) {
        snprintf(err, cap, "no ticket key");
        rc = -1;
    }
    if (rc == 0) {
        explicit_bzero(M.keys, sizeof(M.keys));
        memcpy(M.keys, keys, nk * sizeof(keys[0]));
        M.nkeys = nk;
    }
    explicit_bzero(keys, sizeof(keys));
    return rc;
}

static size_t mc_keyname(const uint8_t *id, size_t id_len, char out[80])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = (size_t)snprintf(out, 80, "hasp-s:");
    for (size_t i = 0; i < id_len && n + 2 < 80; i++) {
        out[n++] = hex[id[i] >> 4];
        out[n++] = hex[id[i] & 15];
    }
    out[n] = 0;
    return n;
}

/* A connection broken since the last use (memcached restarted) shows only
 * when it is used: such an operation is tried once more on new connections
 * (memcached_quit drops the old ones and the failure they left). */
static int broken_rc(memcached_return_t rc)
{
    return rc == MEMCACHED_CONNECTION_FAILURE || rc == MEMCACHED_WRITE_FAILURE ||
           rc == MEMCACHED_READ_FAILURE || rc == MEMCACHED_UNKNOWN_READ_FAILURE ||
           rc == MEMCACHED_ERRNO || rc == MEMCACHED_SERVER_ERROR ||
           rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED || rc == MEMCACHED_SERVER_MARKED_DEAD;
}

/* In an outage, try memcached afresh at most once a second (new
 * connections, the failure state libmemcached keeps forgotten). */
static void probe(void)
{
    time_t now = time(NULL);
    if (M.down && now != M.probed) {
        M.probed = now;
        memcached_quit(M.mc);
    }
}

static int broken(memcached_return_t rc)
{
    if (!broken_rc(rc) || M.down) return 0;
    memcached_quit(M.mc);
    return 1;
}

/* One result from memcached: an outage starts (warn once) or ends. */
static void note(memcached_return_t rc)
{
    int fine = rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_STORED ||
               rc == MEMCACHED_DELETED || rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS;
    if (!fine) {
        if (!M.down)
            fprintf(stderr,
                    "hasp: warning: session cache %s does not answer (%s): TLS 1.2 session IDs "
                    "fall back to full handshakes until it does\n",
                    M.url, memcached_strerror(M.mc, rc));
        M.down = 1;
        M.fellback++;
    } else if (M.down) {
        fprintf(stderr,
                "hasp: session cache %s answers again (%lu operations fell back meanwhile)\n",
                M.url, M.fellback);
        M.down = 0;
        M.fellback = 0;
    }
}

static int mc_new(void *arg, const uint8_t *id, size_t id_len, const uint8_t *sess, size_t len)
{
    (void)arg;
    if (!M.nkeys || len > MAX_SESSION) return 0;
    char k[80];
    size_t klen = mc_keyname(id, id_len, k);
    size_t vlen = NAME_LEN + 12 + len + HASP_AEAD_TAG_LEN;
    uint8_t *v = malloc(vlen);
    if (!v) return 0;
    memcpy(v, M.keys[0].name, NAME_LEN);
    int ok = hasp_random(v + NAME_LEN, 12) == 0;
    uint8_t aad[NAME_LEN + 80];
    memcpy(aad, M.keys[0].name, NAME_LEN);
    memcpy(aad + NAME_LEN, k, klen);
    if (ok) {
        hasp_aead_ctx *a = hasp_aead_new(HASP_AEAD_AES256GCM, 1, M.keys[0].key);
        ok = a && hasp_aead_seal(a, v + NAME_LEN, aad, NAME_LEN + klen, sess, len,
                                 v + NAME_LEN + 12) == 0;
        hasp_aead_free(a);
    }
    if (ok) {
        probe();
        memcached_return_t rc = memcached_set(M.mc, k, klen, (const char *)v, vlen, LIFETIME_S, 0);
        if (broken(rc)) rc = memcached_set(M.mc, k, klen, (const char *)v, vlen, LIFETIME_S, 0);
        note(rc);
    }
    free(v);
    return 0;
}

static int mc_get(void *arg, const uint8_t *id, size_t id_len, uint8_t *out, size_t cap,
                  size_t *len)
{
    (void)arg;
    char k[80];
    size_t klen = mc_keyname(id, id_len, k), vlen = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    probe();
    char *v = memcached_get(M.mc, k, klen, &vlen, &flags, &rc);
    if (!v && broken(rc)) v = memcached_get(M.mc, k, klen, &vlen, &flags, &rc);
    note(rc);
    if (!v) return 0;
    int found = 0;
    const mc_key *key = NULL;
    if (vlen >= NAME_LEN + 12 + HASP_AEAD_TAG_LEN)
        for (size_t i = 0; i < M.nkeys && !key; i++)
            if (!memcmp(v, M.keys[i].name, NAME_LEN)) key = &M.keys[i];
    size_t plen = key ? vlen - NAME_LEN - 12 - HASP_AEAD_TAG_LEN : 0;
    if (key && plen <= cap) {
        uint8_t aad[NAME_LEN + 80];
        memcpy(aad, key->name, NAME_LEN);
        memcpy(aad + NAME_LEN, k, klen);
        hasp_aead_ctx *a = hasp_aead_new(HASP_AEAD_AES256GCM, 0, key->key);
        found = a && hasp_aead_open(a, (const uint8_t *)v + NAME_LEN, aad, NAME_LEN + klen,
                                    (const uint8_t *)v + NAME_LEN + 12, plen + HASP_AEAD_TAG_LEN,
                                    out) == 0;
        hasp_aead_free(a);
        if (found) *len = plen;
    }
    if (!found && !M.quiet)
        fprintf(stderr,
                "hasp: session cache: the entry for a session ID did not open (%s); "
                "a full handshake instead\n",
                key ? "corrupted or forged" : "sealed with a key this server does not have");
    free(v);
    return found;
}

static void mc_remove(void *arg, const uint8_t *id, size_t id_len)
{
    (void)arg;
    char k[80];
    size_t klen = mc_keyname(id, id_len, k);
    probe();
    memcached_return_t rc = memcached_delete(M.mc, k, klen, 0);
    if (broken(rc)) rc = memcached_delete(M.mc, k, klen, 0);
    note(rc);
}

int hasp_memcache_attach(hasp_config *cfg, const char *url, const char *const *key_files,
                         size_t nkey_files, int quiet)
{
    char err[256];
    if (strncmp(url, "memcached://", 12) != 0 || !url[12]) {
        fprintf(stderr,
                "hasp server: --session-cache takes memcached://HOST:PORT[,HOST:PORT...], "
                "not '%s'\n",
                url);
        return -1;
    }
    if (!nkey_files) {
        fprintf(stderr, "hasp server: --session-cache needs --ticket-keys FILE: the entries are "
                        "encrypted with keys derived from them, which every server shares\n");
        return -1;
    }
    if (derive_keys(key_files, nkey_files, err, sizeof(err)) < 0) {
        fprintf(stderr, "hasp server: --session-cache: %s\n", err);
        return -1;
    }
    snprintf(M.url, sizeof(M.url), "%s", url);
    M.quiet = quiet;
    M.mc = memcached_create(NULL);
    if (!M.mc) return -1;
    memcached_behavior_set(M.mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT);
    memcached_behavior_set(M.mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 200); /* ms */
    memcached_behavior_set(M.mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 200);    /* ms */
    memcached_behavior_set(M.mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);     /* s */
    memcached_behavior_set(M.mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    char list[256];
    snprintf(list, sizeof(list), "%s", url + 12);
    for (char *save = NULL, *hp = strtok_r(list, ",", &save); hp; hp = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(hp, ':');
        long port = colon ? strtol(colon + 1, NULL, 10) : 11211;
        if (colon) *colon = 0;
        if (!*hp || port <= 0 || port > 65535 ||
            memcached_server_add(M.mc, hp, (in_port_t)port) != MEMCACHED_SUCCESS) {
            fprintf(stderr, "hasp server: --session-cache: bad server '%s' in %s\n", hp, url);
            memcached_free(M.mc);
            M.mc = NULL;
            return -1;
        }
    }
    hasp_config_set_session_cache(cfg, 0, 0); /* memcached is the one cache */
    hasp_config_set_session_callbacks(cfg, mc_new, mc_get, mc_remove, NULL);
    return 0;
}

void hasp_memcache_rekey(const char *const *key_files, size_t n)
{
    char err[256];
    if (M.mc && derive_keys(key_files, n, err, sizeof(err)) < 0)
        fprintf(stderr, "hasp: SIGHUP: the session cache keeps its keys: %s\n", err);
}

#else /* built without libmemcached */

int hasp_memcache_attach(hasp_config *cfg, const char *url, const char *const *key_files,
                         size_t nkey_files, int quiet)
{
    (void)cfg;
    (void)key_files;
    (void)nkey_files;
    (void)quiet;
    fprintf(stderr,
            "hasp server: --session-cache %s: this hasp was built without libmemcached "
            "(install libmemcached-dev and build again)\n",
            url);
    return -1;
}

void hasp_memcache_rekey(const char *const *key_files, size_t n)
{
    (void)key_files;
    (void)n;
}
#endif
