/* Record layer: hasp_rec_parse_header + hasp_rec_open on arbitrary bytes,
 * under each protection (null, TLS 1.2 and 1.3 AEAD, CBC MAC-then-encrypt
 * and encrypt-then-MAC) with a fixed key.
 *
 * Input: byte 0 picks the mode (low 4 bits, modulo FZ_REC_MODES) and the
 * kind of run (bit 7):
 *   open (bit 7 clear): the rest is a stream of records, each opened in a
 *     buffer of exactly its size (so ASan sees any read past it);
 *   round trip (bit 7 set): the rest is [type][len16][bytes]... chunks;
 *     each is sealed, opened again and compared, and a copy with one
 *     byte flipped (chosen by the input) must fail to open.
 * The corpus (gen_corpus) holds records sealed with the fixed keys, so
 * the fuzzer starts past the MAC check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static void open_stream(hasp_rec_prot *rx, const uint8_t *p, size_t n)
{
    while (n >= HASP_REC_HEADER_LEN) {
        uint8_t type;
        uint16_t version;
        size_t len;
        if (hasp_rec_parse_header(p, &type, &version, &len) < 0) return;
        if (len > HASP_REC_MAX_CIPHERTEXT) {
            fprintf(stderr, "parse_header accepted a %zu-byte record\n", len);
            abort();
        }
        if (n < HASP_REC_HEADER_LEN + len) return;
        size_t rl = HASP_REC_HEADER_LEN + len;
        uint8_t *rec = malloc(rl);
        memcpy(rec, p, rl);
        uint8_t *pt = NULL;
        size_t pt_len = 0;
        uint8_t itype;
        int rc = hasp_rec_open(rx, rec, rl, &itype, &pt, &pt_len);
        if (rc == 0) {
            /* The plaintext lies inside the record and within the limit. */
            if (pt < rec || pt + pt_len > rec + rl || pt_len > HASP_REC_MAX_PLAINTEXT) {
                fprintf(stderr, "hasp_rec_open: plaintext outside the record or too long\n");
                abort();
            }
            volatile uint8_t sink = 0;
            for (size_t i = 0; i < pt_len; i++)
                sink ^= pt[i];
            (void)sink;
        }
        free(rec);
        p += rl;
        n -= rl;
    }
}

static void round_trip(hasp_rec_prot *tx, hasp_rec_prot *rx, const uint8_t *p, size_t n)
{
    hasp_wr w = hasp_wr_dyn();
    while (n >= 3) {
        uint8_t type = p[0];
        size_t len = ((size_t)p[1] << 8 | p[2]) % (HASP_REC_MAX_PLAINTEXT + 1);
        p += 3;
        n -= 3;
        if (len > n) len = n;
        type = (uint8_t)(HASP_CT_CHANGE_CIPHER_SPEC + type % 4);
        w.len = 0;
        if (hasp_rec_seal(tx, type, HASP_TLS1_2, p, len, &w) < 0) break;
        /* a tampered copy first: it must fail and leave rx usable */
        if (w.len > 0 && n > len) {
            uint8_t *bad = malloc(w.len);
            memcpy(bad, w.p, w.len);
            size_t at = HASP_REC_HEADER_LEN + p[len] % (w.len - HASP_REC_HEADER_LEN + 1);
            if (at < w.len && rx->kind != HASP_REC_NULL) {
                bad[at] ^= 0x01;
                uint8_t t2, *pt2;
                size_t l2;
                uint64_t seq = rx->seq;
                if (hasp_rec_open(rx, bad, w.len, &t2, &pt2, &l2) == 0) {
                    fprintf(stderr, "a record with byte %zu flipped opened\n", at);
                    abort();
                }
                if (rx->seq != seq) {
                    fprintf(stderr, "a failed open moved the sequence number\n");
                    abort();
                }
            }
            free(bad);
        }
        uint8_t *rec = malloc(w.len);
        memcpy(rec, w.p, w.len);
        uint8_t t, *pt;
        size_t pl;
        int rc = hasp_rec_open(rx, rec, w.len, &t, &pt, &pl);
        if (rc != 0 || t != type || pl != len || (len && memcmp(pt, p, len) != 0)) {
            fprintf(stderr, "round trip failed: rc=%d type %u/%u len %zu/%zu\n", rc, t, type, pl,
                    len);
            abort();
        }
        free(rec);
        p += len;
        n -= len;
    }
    hasp_wr_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = (data[0] & 0x0f) % FZ_REC_MODES;
    hasp_rec_prot tx, rx;
    if (fz_rec_setup(mode, &tx, &rx) < 0) {
        fprintf(stderr, "fz_rec_setup(%d) failed\n", mode);
        abort();
    }
    if (data[0] & 0x80)
        round_trip(&tx, &rx, data + 1, size - 1);
    else
        open_stream(&rx, data + 1, size - 1);
    hasp_rec_prot_clear(&tx);
    hasp_rec_prot_clear(&rx);
    return 0;
}
