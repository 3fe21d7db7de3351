/* Unit tests for src/record: round trips for every protection kind,
 * tampering, truncation, reordering, limits, the header parser, and the
 * RFC 8448 record as a known answer. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "record/record.h"
#include "test.h"

/* RFC 8448 section 3: the server's first protected handshake record and its payload. */
static const char rfc8448_payload[] =
    "080000240022000a00140012001d00170018001901000101010201030104001c00024001000000000b0001b9000001"
    "b5"
    "0001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303"
    "72"
    "7361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a06035504031303"
    "72"
    "736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c698"
    "8c"
    "0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0"
    "cc"
    "b0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab"
    "9a"
    "8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205"
    "a0"
    "300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a5"
    "94"
    "365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6be"
    "c1"
    "fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187"
    "b4"
    "2b4de100000f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7a"
    "bc"
    "90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac0276"
    "71"
    "459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f31400"
    "00"
    "209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718";
static const char rfc8448_record[] = "17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af"
                                     "35edf7869fcf40aa40aa2b8ea73f848a7ca"
                                     "07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f5"
                                     "26134aadc7fc78c4b729df828b5ecf7b13b"
                                     "d9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a"
                                     "6b9d7477609aee6e122a4cf51427325250c"
                                     "7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812c"
                                     "bb360987255cc744110c453baa4fcd61092"
                                     "8d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead68"
                                     "6945ba246ab66e5edd8044b4c6de3fcf2a8"
                                     "9441ac66272fd8fb330ef8190579b3684596c960bd596eea520a56a8d650f"
                                     "563aad27409960dca63d3e688611ea5e22f"
                                     "4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6"
                                     "d26f59ecaba9acbbb317b66d902f4f292a3"
                                     "6ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb13"
                                     "8647e92ea330faeea6dfa31c7a84dc3bd7e"
                                     "1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf3024"
                                     "4da8c87c843f5e56eb4c5e8280a2b48052c"
                                     "f93b16499a66db7cca71e4599426f7d461e66f99882bd89fc50800becca62"
                                     "d6c74116dbd2972fda1fa80f85df881edbe"
                                     "5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513a"
                                     "fbb992f2b992f67f8afe67f76913fa388cb"
                                     "5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515"
                                     "614636c0b9b68c19ed2e31c0b3b66763038"
                                     "ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5"
                                     "b845e275592c12335ee340bbc4fddd50278"
                                     "4016e4b3be7ef04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a"
                                     "631ede42c1719bfdabf0253fe5175be898e"
                                     "750edc53370d2b";

static uint8_t big[2 * 16384 + 4096];

static const char *kind_name(int kind)
{
    switch (kind) {
    case HASP_REC_NULL:
        return "null";
    case HASP_REC_AEAD12:
        return "aead12";
    case HASP_REC_AEAD13:
        return "aead13";
    default:
        return "cbc";
    }
}

/* A named pair of sending / receiving protections with the same keys. */
typedef struct cfg {
    char name[64];
    int kind, alg, mac_hash, etm;
} cfg;

static int setup(const cfg *c, hasp_rec_prot *tx, hasp_rec_prot *rx)
{
    uint8_t key[32], iv[12], mk[48];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i + 1);
    for (int i = 0; i < 12; i++)
        iv[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 48; i++)
        mk[i] = (uint8_t)(0x55 ^ i);
    memset(tx, 0, sizeof(*tx));
    memset(rx, 0, sizeof(*rx));
    size_t ivl = c->alg == HASP_AEAD_CHACHA20POLY1305 ? 12 : 4;
    switch (c->kind) {
    case HASP_REC_AEAD12:
        return hasp_rec_prot_aead12(tx, c->alg, key, iv, ivl, 1) |
               hasp_rec_prot_aead12(rx, c->alg, key, iv, ivl, 0);
    case HASP_REC_AEAD13:
        return hasp_rec_prot_aead13(tx, c->alg, key, iv, 1) |
               hasp_rec_prot_aead13(rx, c->alg, key, iv, 0);
    case HASP_REC_CBC: {
        size_t ml = hasp_hash_len(c->mac_hash);
        return hasp_rec_prot_cbc(tx, c->alg, key, c->mac_hash, mk, ml, c->etm, 1) |
               hasp_rec_prot_cbc(rx, c->alg, key, c->mac_hash, mk, ml, c->etm, 0);
    }
    default:
        return 0;
    }
}

static size_t n_cfgs;
static cfg cfgs[64];

static void add_cfg(const char *name, int kind, int alg, int mac_hash, int etm)
{
    cfg *c = &cfgs[n_cfgs++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->kind = kind;
    c->alg = alg;
    c->mac_hash = mac_hash;
    c->etm = etm;
}

static void make_cfgs(void)
{
    add_cfg("null", HASP_REC_NULL, 0, 0, 0);
    add_cfg("TLS1.2 AES-128-GCM", HASP_REC_AEAD12, HASP_AEAD_AES128GCM, 0, 0);
    add_cfg("TLS1.2 AES-256-GCM", HASP_REC_AEAD12, HASP_AEAD_AES256GCM, 0, 0);
    add_cfg("TLS1.2 ChaCha20-Poly1305", HASP_REC_AEAD12, HASP_AEAD_CHACHA20POLY1305, 0, 0);
    add_cfg("TLS1.3 AES-128-GCM", HASP_REC_AEAD13, HASP_AEAD_AES128GCM, 0, 0);
    add_cfg("TLS1.3 AES-256-GCM", HASP_REC_AEAD13, HASP_AEAD_AES256GCM, 0, 0);
    add_cfg("TLS1.3 ChaCha20-Poly1305", HASP_REC_AEAD13, HASP_AEAD_CHACHA20POLY1305, 0, 0);
    add_cfg("TLS1.2 AES-128-CCM", HASP_REC_AEAD12, HASP_AEAD_AES128CCM, 0, 0);
    add_cfg("TLS1.2 AES-256-CCM", HASP_REC_AEAD12, HASP_AEAD_AES256CCM, 0, 0);
    add_cfg("TLS1.3 AES-128-CCM", HASP_REC_AEAD13, HASP_AEAD_AES128CCM, 0, 0);
    add_cfg("TLS1.2 AES-128-CCM_8", HASP_REC_AEAD12, HASP_AEAD_AES128CCM8, 0, 0);
    add_cfg("TLS1.2 AES-256-CCM_8", HASP_REC_AEAD12, HASP_AEAD_AES256CCM8, 0, 0);
    add_cfg("TLS1.3 AES-128-CCM_8", HASP_REC_AEAD13, HASP_AEAD_AES128CCM8, 0, 0);
    static const struct {
        int alg;
        const char *n;
    } ciphers[] = {
        {HASP_CBC_AES128, "AES128"}, {HASP_CBC_AES256, "AES256"}, {HASP_CBC_3DES, "3DES"}};
    static const struct {
        int h;
        const char *n;
    } macs[] = {
        {HASP_HASH_SHA1, "SHA1"}, {HASP_HASH_SHA256, "SHA256"}, {HASP_HASH_SHA384, "SHA384"}};
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                char name[64];
                snprintf(name, sizeof(name), "CBC %s-%s %s", ciphers[i].n, macs[j].n,
                         e ? "EtM" : "MtE");
                add_cfg(name, HASP_REC_CBC, ciphers[i].alg, macs[j].h, e);
            }
}

static void test_round_trips(void)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 31, 100, 1000, 16383, 16384};
    for (size_t i = 0; i < 2 * 16384; i++)
        big[i] = (uint8_t)(i * 31 + 7);
    for (size_t ci = 0; ci < n_cfgs; ci++) {
        const cfg *c = &cfgs[ci];
        hasp_rec_prot tx, rx;
        int rc = setup(c, &tx, &rx);
        CHECK(rc == 0, "%s: set up", c->name);
        hasp_wr w = hasp_wr_dyn();
        int ok = 1, sizes_ok = 1;
        for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
            size_t len = lens[li];
            for (int pad = 0; pad < (c->kind == HASP_REC_AEAD13 ? 2 : 1); pad++) {
                size_t padn = pad && len + 100 <= 16384 ? 100 : 0;
                w.len = 0;
                uint8_t ty = (uint8_t)(HASP_CT_HANDSHAKE + (li & 1));
                rc = hasp_rec_seal_padded(&tx, ty, 0x0303, big, len, padn, &w);
                if (rc != 0) {
                    ok = 0;
                    continue;
                }
                if (padn == 0 && w.len > len + hasp_rec_overhead(&tx, len)) sizes_ok = 0;
                uint8_t rt;
                uint16_t rv;
                size_t rl;
                rc = hasp_rec_parse_header(w.p, &rt, &rv, &rl);
                if (rc != 0 || rl + 5 != w.len || rv != 0x0303 ||
                    rt != (c->kind == HASP_REC_AEAD13 ? 23 : ty))
                    ok = 0;
                uint8_t t, *pt;
                size_t pl;
                rc = hasp_rec_open(&rx, w.p, w.len, &t, &pt, &pl);
                if (rc != 0 || t != ty || pl != len || memcmp(pt, big, len) != 0) ok = 0;
            }
        }
        CHECK(ok, "%s: round trips of 0..16384 bytes%s", c->name,
              c->kind == HASP_REC_AEAD13 ? " (with and without padding)" : "");
        CHECK(sizes_ok, "%s: records are no larger than hasp_rec_overhead says", c->name);
        CHECK(tx.seq == rx.seq && (c->kind == HASP_REC_NULL || tx.seq >= 10),
              "%s: sequence numbers advance together (%llu)", c->name, (unsigned long long)tx.seq);
        hasp_wr_free(&w);
        hasp_rec_prot_clear(&tx);
        hasp_rec_prot_clear(&rx);
        CHECK(tx.kind == HASP_REC_NULL && tx.seq == 0 && tx.aead == NULL && tx.cbc == NULL,
              "%s: clear returns to null", c->name);
    }
}

static void test_failures(void)
{
    const uint8_t msg[] = "attack at dawn, bring coffee; this is the application data";
    for (size_t ci = 1; ci < n_cfgs; ci++) {
        const cfg *c = &cfgs[ci];
        hasp_rec_prot tx, rx;
        setup(c, &tx, &rx);
        uint8_t r1[400], r2[400], tmp[400], t, *pt;
        size_t l1, l2, pl;
        hasp_wr w = hasp_wr_fixed(r1, sizeof(r1));
        hasp_rec_seal(&tx, HASP_CT_APPLICATION_DATA, 0x0303, msg, sizeof(msg), &w);
        l1 = w.len;
        w = hasp_wr_fixed(r2, sizeof(r2));
        hasp_rec_seal(&tx, HASP_CT_APPLICATION_DATA, 0x0303, msg, sizeof(msg), &w);
        l2 = w.len;

        /* Flip each byte of the body in turn: every one must fail. */
        int all_bad = 1;
        for (size_t i = 5; i < l1; i++) {
            memcpy(tmp, r1, l1);
            tmp[i] ^= 0x01;
            if (hasp_rec_open(&rx, tmp, l1, &t, &pt, &pl) != HASP_ERR_BAD_MAC) all_bad = 0;
        }
        CHECK(all_bad && rx.seq == 0, "%s: any flipped body bit -> HASP_ERR_BAD_MAC", c->name);
        /* Header fields are authenticated too (type / version). */
        memcpy(tmp, r1, l1);
        tmp[0] = c->kind == HASP_REC_AEAD13 ? 23 : HASP_CT_HANDSHAKE;
        tmp[2] ^= c->kind == HASP_REC_AEAD13 ? 0x01 : 0x00;
        CHECK(hasp_rec_open(&rx, tmp, l1, &t, &pt, &pl) == HASP_ERR_BAD_MAC,
              "%s: changed header -> HASP_ERR_BAD_MAC", c->name);
        /* Truncated: drop the last 16 bytes (a whole AES block / two 3DES
         * blocks) and fix the length. */
        memcpy(tmp, r1, l1);
        size_t tl = l1 - 16;
        tmp[3] = (uint8_t)((tl - 5) >> 8);
        tmp[4] = (uint8_t)(tl - 5);
        CHECK(hasp_rec_open(&rx, tmp, tl, &t, &pt, &pl) == HASP_ERR_BAD_MAC,
              "%s: truncated record -> HASP_ERR_BAD_MAC", c->name);
        /* Reordered: the second record first. */
        memcpy(tmp, r2, l2);
        CHECK(hasp_rec_open(&rx, tmp, l2, &t, &pt, &pl) == HASP_ERR_BAD_MAC,
              "%s: record out of order (wrong sequence number) -> HASP_ERR_BAD_MAC", c->name);
        /* In order they open. */
        int rc = hasp_rec_open(&rx, r1, l1, &t, &pt, &pl);
        rc |= hasp_rec_open(&rx, r2, l2, &t, &pt, &pl);
        CHECK(rc == 0 && pl == sizeof(msg) && memcmp(pt, msg, pl) == 0 && rx.seq == 2,
              "%s: after the failures, the records open in order", c->name);
        /* Replayed. */
        memcpy(tmp, r1, l1);
        CHECK(hasp_rec_open(&rx, r1, l1, &t, &pt, &pl) == HASP_ERR_BAD_MAC,
              "%s: replayed record -> HASP_ERR_BAD_MAC", c->name);
        /* Too short for the protection. */
        uint8_t tiny[5 + 8] = {23, 3, 3, 0, 8};
        CHECK(hasp_rec_open(&rx, tiny, sizeof(tiny), &t, &pt, &pl) == HASP_ERR_BAD_MAC,
              "%s: 8-byte body -> HASP_ERR_BAD_MAC", c->name);
        /* Oversize plaintext. */
        hasp_wr dw = hasp_wr_dyn();
        CHECK(hasp_rec_seal(&tx, 23, 0x0303, big, 16385, &dw) == HASP_ERR_OVERFLOW,
              "%s: sealing 16385 bytes -> HASP_ERR_OVERFLOW", c->name);
        /* A fixed writer that is too small fails cleanly. */
        uint8_t small[40];
        hasp_wr sw = hasp_wr_fixed(small, sizeof(small));
        CHECK(hasp_rec_seal(&tx, 23, 0x0303, msg, sizeof(msg), &sw) < 0 && sw.len == 0,
              "%s: a full output buffer is an error", c->name);
        hasp_wr_free(&dw);
        hasp_rec_prot_clear(&tx);
        hasp_rec_prot_clear(&rx);
    }
}

/* The receiver must reject a peer's record whose plaintext exceeds 2^14,
 * even when it authenticates. Build one with a sealer that allows it: the
 * crypto layer directly. */
static void test_overflow_open(void)
{
    hasp_rec_prot rx;
    memset(&rx, 0, sizeof(rx));
    uint8_t t, *pt;
    size_t pl;
    /* null protection: body of 16385 */
    big[0] = 22;
    big[1] = 3;
    big[2] = 3;
    big[3] = (uint8_t)(16385 >> 8);
    big[4] = (uint8_t)16385;
    CHECK(hasp_rec_open(&rx, big, 5 + 16385, &t, &pt, &pl) == HASP_ERR_OVERFLOW,
          "plaintext record of 16385 bytes -> HASP_ERR_OVERFLOW");
    /* TLS 1.3: inner plaintext of 2^14 + 2 bytes (sealed by hand). */
    uint8_t key[16] = {1}, iv[12] = {2};
    hasp_rec_prot_aead13(&rx, HASP_AEAD_AES128GCM, key, iv, 0);
    hasp_aead_ctx *a = hasp_aead_new(HASP_AEAD_AES128GCM, 1, key);
    size_t inner = 16384 + 2, body = inner + 16;
    big[0] = 23;
    big[3] = (uint8_t)(body >> 8);
    big[4] = (uint8_t)body;
    memset(big + 5, 0x41, inner);
    hasp_aead_seal(a, iv, big, 5, big + 5, inner, big + 5);
    CHECK(hasp_rec_open(&rx, big, 5 + body, &t, &pt, &pl) == HASP_ERR_OVERFLOW,
          "TLS 1.3 inner plaintext over 2^14+1 -> HASP_ERR_OVERFLOW");
    big[3] = (uint8_t)((16384 + 257) >> 8);
    big[4] = (uint8_t)(16384 + 257);
    CHECK(hasp_rec_open(&rx, big, 5 + 16384 + 257, &t, &pt, &pl) == HASP_ERR_OVERFLOW,
          "TLS 1.3 record over 2^14+256 -> HASP_ERR_OVERFLOW");
    hasp_aead_free(a);
    hasp_rec_prot_clear(&rx);
}

static void test_aead13_specifics(void)
{
    /* the RFC 8448 AES-128 key; the ChaCha20 cases below take all 32 bytes */
    uint8_t key[32] = {0}, iv[12], rec[700];
    test_unhex("3fce516009c21727d0f2e4e86ee403bc", key, 16);
    test_unhex("5d313eb2671276ee13000b30", iv, 12);
    uint8_t payload[700], want[700];
    size_t pn = test_unhex(rfc8448_payload, payload, sizeof(payload));
    size_t rn = test_unhex(rfc8448_record, want, sizeof(want));
    hasp_rec_prot tx, rx;
    memset(&tx, 0, sizeof(tx));
    memset(&rx, 0, sizeof(rx));
    hasp_rec_prot_aead13(&tx, HASP_AEAD_AES128GCM, key, iv, 1);
    hasp_rec_prot_aead13(&rx, HASP_AEAD_AES128GCM, key, iv, 0);
    hasp_wr w = hasp_wr_fixed(rec, sizeof(rec));
    int rc = hasp_rec_seal(&tx, HASP_CT_HANDSHAKE, 0x0303, payload, pn, &w);
    CHECK(rc == 0 && w.len == rn && memcmp(rec, want, rn) == 0,
          "TLS 1.3 seal: RFC 8448 server handshake record, byte for byte");
    uint8_t t, *pt;
    size_t pl;
    rc = hasp_rec_open(&rx, want, rn, &t, &pt, &pl);
    CHECK(rc == 0 && t == HASP_CT_HANDSHAKE && pl == pn && memcmp(pt, payload, pn) == 0,
          "TLS 1.3 open: RFC 8448 server handshake record");

    /* An inner plaintext that is all zeros has no content type. */
    w = hasp_wr_fixed(rec, sizeof(rec));
    hasp_rec_seal_padded(&tx, 0, 0x0303, NULL, 0, 20, &w);
    CHECK(hasp_rec_open(&rx, rec, w.len, &t, &pt, &pl) == HASP_ERR_UNEXPECTED,
          "TLS 1.3 record with no content type -> HASP_ERR_UNEXPECTED");
    /* Outer type other than application_data. */
    w = hasp_wr_fixed(rec, sizeof(rec));
    hasp_rec_seal(&tx, HASP_CT_ALERT, 0x0303, (const uint8_t *)"\x01\x00", 2, &w);
    rec[0] = HASP_CT_HANDSHAKE;
    CHECK(hasp_rec_open(&rx, rec, w.len, &t, &pt, &pl) == HASP_ERR_UNEXPECTED,
          "TLS 1.3 protected record with outer type 22 -> HASP_ERR_UNEXPECTED");
    /* Padding is stripped, zeros inside the content are kept. */
    uint8_t data[4] = {0, 7, 0, 0};
    hasp_rec_prot_clear(&tx);
    hasp_rec_prot_clear(&rx);
    hasp_rec_prot_aead13(&tx, HASP_AEAD_CHACHA20POLY1305, key, iv, 1);
    hasp_rec_prot_aead13(&rx, HASP_AEAD_CHACHA20POLY1305, key, iv, 0);
    w = hasp_wr_fixed(rec, sizeof(rec));
    hasp_rec_seal_padded(&tx, HASP_CT_APPLICATION_DATA, 0x0303, data, 4, 50, &w);
    rc = hasp_rec_open(&rx, rec, w.len, &t, &pt, &pl);
    CHECK(rc == 0 && w.len == 5 + 4 + 1 + 50 + 16 && t == 23 && pl == 4 && memcmp(pt, data, 4) == 0,
          "TLS 1.3 padding stripped, trailing zeros of the content kept");
    CHECK(hasp_rec_seal_padded(&tx, 23, 0x0303, big, 16300, 100, &w) == HASP_ERR_OVERFLOW,
          "TLS 1.3 content plus padding over 2^14 refused");
    hasp_rec_prot_clear(&tx);
    hasp_rec_prot_clear(&rx);
}

/* MAC-then-encrypt records built by hand (from the crypto layer, not the
 * sealer): long valid paddings open; every kind of bad padding, and a
 * bad MAC, give the same HASP_ERR_BAD_MAC. */
static int hand_cbc(uint8_t *rec, int alg, int hash, const uint8_t *key, const uint8_t *mk,
                    uint64_t seq, const uint8_t *data, size_t len, size_t padv, int damage)
{
    const size_t B = hasp_cbc_block_len(alg), m = hasp_hash_len(hash);
    uint8_t *iv = rec + 5, *ct = rec + 5 + B;
    memset(iv, 0x33, B);
    memcpy(ct, data, len);
    uint8_t ad[13 + 16384];
    for (int i = 0; i < 8; i++)
        ad[i] = (uint8_t)(seq >> (56 - 8 * i));
    ad[8] = 23;
    ad[9] = 3;
    ad[10] = 3;
    ad[11] = (uint8_t)(len >> 8);
    ad[12] = (uint8_t)len;
    memcpy(ad + 13, data, len);
    hasp_hmac(hash, mk, m, ad, 13 + len, ct + len);
    size_t n = len + m;
    memset(ct + n, (int)padv, padv + 1);
    n += padv + 1;
    if (damage == 1) ct[n - 2] ^= 1;               /* a padding byte differs */
    if (damage == 2) ct[len] ^= 1;                 /* the MAC differs */
    if (damage == 3) ct[n - 1] = (uint8_t)(n - 1); /* padding longer than data + MAC */
    hasp_cbc_ctx *c = hasp_cbc_new(alg, 1, key);
    hasp_cbc_run(c, iv, ct, n, ct);
    hasp_cbc_free(c);
    size_t body = B + n;
    rec[0] = 23;
    rec[1] = 3;
    rec[2] = 3;
    rec[3] = (uint8_t)(body >> 8);
    rec[4] = (uint8_t)body;
    return (int)(5 + body);
}

static void test_cbc_padding(void)
{
    uint8_t key[32], mk[48];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i + 1);
    for (int i = 0; i < 48; i++)
        mk[i] = (uint8_t)(0x55 ^ i);
    static const int algs[] = {HASP_CBC_AES128, HASP_CBC_3DES};
    static const int hashes[] = {HASP_HASH_SHA1, HASP_HASH_SHA256, HASP_HASH_SHA384};
    static uint8_t rec[5 + 16 + 16384 + 48 + 256];
    for (int ai = 0; ai < 2; ai++)
        for (int hi = 0; hi < 3; hi++) {
            const int alg = algs[ai], hash = hashes[hi];
            const size_t B = hasp_cbc_block_len(alg), m = hasp_hash_len(hash);
            hasp_rec_prot rx;
            memset(&rx, 0, sizeof(rx));
            hasp_rec_prot_cbc(&rx, alg, key, hash, mk, m, 0, 0);
            int ok_good = 1, ok_bad = 1;
            uint8_t t, *pt;
            size_t pl;
            /* data lengths around block and hash-block edges, all valid paddings */
            for (size_t len = 0; len < 300; len += 23) {
                for (size_t padv = 0; padv < 256; padv++) {
                    if ((len + m + padv + 1) % B) continue;
                    int n = hand_cbc(rec, alg, hash, key, mk, rx.seq, big, len, padv, 0);
                    if (hasp_rec_open(&rx, rec, (size_t)n, &t, &pt, &pl) != 0 || pl != len ||
                        memcmp(pt, big, len) != 0)
                        ok_good = 0;
                    for (int dmg = 1; dmg <= 3; dmg++) {
                        if (dmg == 1 && padv == 0) continue;
                        n = hand_cbc(rec, alg, hash, key, mk, rx.seq, big, len, padv, dmg);
                        if (hasp_rec_open(&rx, rec, (size_t)n, &t, &pt, &pl) != HASP_ERR_BAD_MAC)
                            ok_bad = 0;
                    }
                }
            }
            /* a full-size record with the longest padding */
            size_t len = 16384 - ((16384 + m + 1) % B == 0 ? 0 : 0);
            size_t padv = 255 - ((len + m + 256) % B);
            int n = hand_cbc(rec, alg, hash, key, mk, rx.seq, big, len, padv, 0);
            int big_ok = hasp_rec_open(&rx, rec, (size_t)n, &t, &pt, &pl) == 0 && pl == len &&
                         memcmp(pt, big, len) == 0;
            CHECK(ok_good && big_ok, "CBC MtE %s-%s: every valid padding length opens",
                  alg == HASP_CBC_3DES ? "3DES" : "AES128", hasp_hash_name(hash));
            CHECK(ok_bad,
                  "CBC MtE %s-%s: bad padding byte, bad MAC, overlong padding -> "
                  "HASP_ERR_BAD_MAC",
                  alg == HASP_CBC_3DES ? "3DES" : "AES128", hasp_hash_name(hash));
            hasp_rec_prot_clear(&rx);
        }
}

static void test_header(void)
{
    uint8_t t;
    uint16_t v;
    size_t n;
    const uint8_t ok[5] = {22, 3, 1, 0x01, 0x00};
    CHECK(hasp_rec_parse_header(ok, &t, &v, &n) == 0 && t == 22 && v == 0x0301 && n == 256,
          "header: a ClientHello record");
    int rc = hasp_rec_parse_header((const uint8_t *)"GET / HTTP/1.1", &t, &v, &n);
    CHECK(rc == HASP_ERR_NOT_TLS && strstr(hasp_err_last()->msg, "HTTP request"),
          "header: \"GET \" -> HASP_ERR_NOT_TLS: %s", hasp_err_last()->msg);
    rc = hasp_rec_parse_header((const uint8_t *)"POST /x", &t, &v, &n);
    CHECK(rc == HASP_ERR_NOT_TLS && strstr(hasp_err_last()->msg, "HTTP request"),
          "header: \"POST\" -> HASP_ERR_NOT_TLS");
    rc = hasp_rec_parse_header((const uint8_t *)"HEAD /", &t, &v, &n);
    CHECK(rc == HASP_ERR_NOT_TLS, "header: \"HEAD\" -> HASP_ERR_NOT_TLS");
    rc = hasp_rec_parse_header((const uint8_t *)"PUT /a", &t, &v, &n);
    CHECK(rc == HASP_ERR_NOT_TLS, "header: \"PUT \" -> HASP_ERR_NOT_TLS");
    rc = hasp_rec_parse_header((const uint8_t *)"HTTP/1.1 400", &t, &v, &n);
    CHECK(rc == HASP_ERR_NOT_TLS && strstr(hasp_err_last()->msg, "HTTP response"),
          "header: an HTTP response -> HASP_ERR_NOT_TLS");
    rc = hasp_rec_parse_header((const uint8_t *)"220 smtp.example.com", &t, &v, &n);
    CHECK(rc == HASP_ERR_NOT_TLS, "header: an SMTP banner -> HASP_ERR_NOT_TLS: %s",
          hasp_err_last()->msg);
    const uint8_t v2[5] = {0x80, 0x2e, 0x01, 0x03, 0x01};
    rc = hasp_rec_parse_header(v2, &t, &v, &n);
    CHECK(rc == HASP_ERR_VERSION && strstr(hasp_err_last()->msg, "SSL 2.0"),
          "header: SSLv2-format hello -> HASP_ERR_VERSION (protocol_version): %s",
          hasp_err_last()->msg);
    const uint8_t hb[5] = {24, 3, 3, 0, 3};
    CHECK(hasp_rec_parse_header(hb, &t, &v, &n) == HASP_ERR_NOT_TLS,
          "header: content type 24 (heartbeat) refused");
    const uint8_t t19[5] = {19, 3, 3, 0, 3};
    CHECK(hasp_rec_parse_header(t19, &t, &v, &n) == HASP_ERR_NOT_TLS,
          "header: content type 19 refused");
    const uint8_t v2maj[5] = {22, 2, 0, 0, 3};
    CHECK(hasp_rec_parse_header(v2maj, &t, &v, &n) == HASP_ERR_NOT_TLS,
          "header: major version 2 refused");
    const uint8_t over[5] = {23, 3, 3, (uint8_t)((18432 + 1) >> 8), (uint8_t)(18432 + 1)};
    CHECK(hasp_rec_parse_header(over, &t, &v, &n) == HASP_ERR_OVERFLOW,
          "header: length 18433 -> HASP_ERR_OVERFLOW");
    const uint8_t max[5] = {23, 3, 3, (uint8_t)(18432 >> 8), (uint8_t)18432};
    CHECK(hasp_rec_parse_header(max, &t, &v, &n) == 0 && n == 18432,
          "header: length 2^14+2048 accepted");
    /* open checks the buffer length against the header */
    hasp_rec_prot rx;
    memset(&rx, 0, sizeof(rx));
    uint8_t rec[10] = {23, 3, 3, 0, 5, 1, 2, 3, 4, 5}, *pt;
    size_t pl;
    CHECK(hasp_rec_open(&rx, rec, 9, &t, &pt, &pl) < 0, "open: buffer shorter than the record");
    CHECK(hasp_rec_open(&rx, rec, 10, &t, &pt, &pl) == 0 && pl == 5 && pt == rec + 5,
          "open: null protection passes the body through");
}

static void test_setup_errors(void)
{
    hasp_rec_prot p;
    memset(&p, 0, sizeof(p));
    uint8_t key[32] = {0}, iv[12] = {0};
    CHECK(hasp_rec_prot_aead12(&p, HASP_AEAD_AES128GCM, key, iv, 12, 1) == HASP_ERR_USAGE,
          "TLS 1.2 GCM wants a 4-byte fixed IV");
    CHECK(hasp_rec_prot_aead12(&p, HASP_AEAD_CHACHA20POLY1305, key, iv, 4, 1) == HASP_ERR_USAGE,
          "TLS 1.2 ChaCha20 wants a 12-byte IV");
    CHECK(hasp_rec_prot_cbc(&p, HASP_CBC_AES128, key, HASP_HASH_MD5, key, 16, 0, 1) ==
              HASP_ERR_USAGE,
          "CBC with an MD5 MAC refused");
    CHECK(hasp_rec_prot_aead13(&p, 77, key, iv, 1) < 0 && p.kind == HASP_REC_NULL,
          "unknown AEAD refused, protection stays null");
    /* Re-initialising over live state frees the old contexts (valgrind). */
    hasp_rec_prot_aead13(&p, HASP_AEAD_AES128GCM, key, iv, 1);
    hasp_rec_prot_cbc(&p, HASP_CBC_AES256, key, HASP_HASH_SHA256, key, 32, 1, 1);
    CHECK(p.kind == HASP_REC_CBC && p.aead == NULL, "re-initialising replaces the old state");
    hasp_rec_prot_clear(&p);
    CHECK(strcmp(kind_name(p.kind), "null") == 0, "cleared");
}

int main(void)
{
    make_cfgs();
    test_round_trips();
    test_failures();
    test_overflow_open();
    test_aead13_specifics();
    test_cbc_padding();
    test_header();
    test_setup_errors();
    TEST_DONE();
}
