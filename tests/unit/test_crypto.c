/* Unit tests for src/crypto: known answers (hashes, HMAC RFC 4231, the TLS
 * 1.2 PRF, HKDF RFC 5869, RFC 8448 key schedule values, AEAD, X25519 RFC
 * 7748) and round trips with keys made for these tests. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/internal.h"
#include "test.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>

/* OpenSSL 3.0: openssl kdf -keylen 48 -kdfopt digest:SHA384 ... TLS1-PRF */
#define PRF384_WANT                                                                                \
    "dd88775cd827187b67a3f7652b5c13f715791cc46e0274a6d3fb16651103defc544cd8afb68369a219bb918b8b21" \
    "ddb1"

static int eqhex(const uint8_t *got, size_t len, const char *hex)
{
    uint8_t want[1024];
    size_t n = test_unhex(hex, want, sizeof(want));
    return n == len && memcmp(got, want, len) == 0;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    return test_unhex(hex, out, cap);
}

/* RSA_PKCS1 (PKCS#1 PEM), made with the openssl command for these tests only */
static const char key_rsa_pem[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpQIBAAKCAQEA8pU38KNYpWNgXUlFo7SYrAadOhhUOyMuU3Kl2uPeK0e7FZ3+\n"
    "09O7Lo504fm5nRWMTxt/TSc8J+1xXDzyR0M78g5AY1H8BJWVuxSW+4KvvHAYUP5B\n"
    "VcVPLj5tHEWl+g8FARPKRWLRAGOIj0Gk6OpdLhic2gV73s+Dt6/mXX3oBq7jMhyb\n"
    "FXhcHGnZyhiof2tmvZKe6GOFSpp9bvTUsJdNbm/pFS4bJIMfg+SDOSWo6SKeInuj\n"
    "iE+VQF+ozxamp9BGoG1y/FUQ+cu0OR6f9c42BAkf65GcEMI+yIhB91agLzoUMXAd\n"
    "9D+J5HAX9r3nASYcG7+ZhLa3HslXqHDcujwtdQIDAQABAoIBAAk7GA2uTDrAPSlU\n"
    "7EijoCWiUMxQ+Fo8Z1Bh7fbA3LI9QLISDjba+TtMd3J75rjCr6ajpLn3sr3QNr6W\n"
    "9nSIwJi1kHSsaNB3LWNDkCU89AP8ff24Vx3KQXjrLjVjtGz/XPuNWGaV298jFSNi\n"
    "ZkHosn1aZBRAc4C8g8YdyZXS1d1J1RTlYZtYwARMJJ+chkRXPPzY68J92UDXNw7x\n"
    "Wuvt8tBRkDNi5vgtW/NuP6CnXE7dxAyDXXTfV91aD/AIeE4mhy6MS1OTrv9FvBrA\n"
    "Cf5zQ0GyOn1hJ8zvUcuaPNPx/AkN97XsvmLNJXbA/wtHvq9sp7QADRESo02yzyO+\n"
    "wbV4UCcCgYEA/jtAhMTmJFDqZw6ffLbfiVnyXyImGhjABBYGCjuz9ZV/ojp6OErw\n"
    "kCVEmSozDJ+TJEyEicURf8Wb3wrKwYcYdFQR9wbF+iNb6agLfD3Ab1aABxGkJ8Cm\n"
    "F/KbMSaHB8x3qIn7uiOz3ywdZq+7eoekEc8KoZwM6Uj0/7v1/5YG1/MCgYEA9EU4\n"
    "3kbil6JIhQwBtlhHBOtB4fm1mbqBVH7sYBQiNdvgd1iUREJ3qzoyTxRFD+LDRe7e\n"
    "Es8nWyk7PyzXVPBisBb/TCLT9j/wvIE3m5FTw6vB+2m2cq2mINJC6HRFbQ/moUAJ\n"
    "RgpjKPoCD+DOPsbOHDscKYdpn8/l8q9cT+bNZvcCgYEAuD0sZoti1VKmbIUWY4UL\n"
    "vjgnA3Z18leZX9yuB+B4bDMpSeHjDMSSTYQUkIMad711HsstCcJ9CgGlEiB6C4Hh\n"
    "4PvEAScxdjMFuvEDUchWmtku8vB/7CcatyQj/5ySIr60wLkuahjRk5weunoD/aoq\n"
    "5pUKeU/js3QhyOroPY716q0CgYEAkMayVPPYex0BNHIQVb3uodi53LB+1NV4r9bm\n"
    "TG/Ccv+WA8ZpYieu+7prdPlDkY3KRRm1X5qN7fb7GY9/NOWg6FNJDxwZWvs8uM0x\n"
    "Yy/4YKHdQCDAtSl8rDlS1KmNOH3TKMFmfa/MY84CCN0qAIUeRhc2stqCXOkAlh0f\n"
    "bnAST7MCgYEAlREsjvEOMsbwH3qAaxJAj8ExrLQEEh8jfleHeh4GY2tfTLPxgq8q\n"
    "6Xt9OZIyhTnSWc89hNLZgp4ne4Hcw1lQWEve/+/aln/hT+8es8mWrDunZqX/dC+h\n"
    "iSwmdVIVXeFf4akpsE3kQ+cdCnGbNukcZObCNGE2VqZ78NKrm0uew98=\n"
    "-----END RSA PRIVATE KEY-----\n";
static const char key_rsa_spki[] = "30820122300d06092a864886f70d01010105000382010f003082010a0282010"
                                   "100f29537f0a358a563605d4945a3b498"
                                   "ac069d3a18543b232e5372a5dae3de2b47bb159dfed3d3bb2e8e74e1f9b99d1"
                                   "58c4f1b7f4d273c27ed715c3cf247433b"
                                   "f20e406351fc049595bb1496fb82afbc701850fe4155c54f2e3e6d1c45a5fa0"
                                   "f050113ca4562d10063888f41a4e8ea5d"
                                   "2e189cda057bdecf83b7afe65d7de806aee3321c9b15785c1c69d9ca18a87f6"
                                   "b66bd929ee863854a9a7d6ef4d4b0974d"
                                   "6e6fe9152e1b24831f83e4833925a8e9229e227ba3884f95405fa8cf16a6a7d"
                                   "046a06d72fc5510f9cbb4391e9ff5ce36"
                                   "04091feb919c10c23ec88841f756a02f3a1431701df43f89e47017f6bde7012"
                                   "61c1bbf9984b6b71ec957a870dcba3c2d"
                                   "750203010001";
/* RSA-PSS (PKCS#8), made with the openssl command for these tests only */
static const char key_pss_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADALBgkqhkiG9w0BAQoEggSoMIIEpAIBAAKCAQEAvzcxk9GOaZCRnWCx\n"
    "dlaERtgmDIdN21GOAN0Ml5aKAOG13RBVovsNceGg1KbDKa3B03GWQll7I7n7tjXf\n"
    "zUt0k7MFnlk2XZkShwFDlUwNdqz6y11FcUZ5SwuYAHkLAeyqyIUeC70fs2fwkJ1J\n"
    "paC0kbtADFBCG0Y9vi5DGOxDDpmumS805gyAZ80wf5EskBqdZHS5eGkhNjbquBOS\n"
    "SddeqpFkG6HRp+iNscQo8lW/rL5PtfMqjpL8/+fO0OleBgYz/puiB5Oevrpo6emg\n"
    "SQhtChPdo2V7MytL+/4bfagXAUHhtF/NYaoiTwdqrKpsvyMeXxwMy/qrm95wwmR+\n"
    "/V4DOQIDAQABAoIBAAOwb7CJP4lBAG7AQLxEdWN7U0BW1Fqeq1x6tCAO3S72K92W\n"
    "ccqqKv+sDMhbaQwz+nND8bql6tlkgsf5sPyK+HIgIt1yv6fOk3r3qxvnmRmzfr7T\n"
    "pMIL1Jqo5G/5XVjnUyQSzJ5vschhxX8O6lloawv7SD/2s8fPiGyPe1ZCIPOcsgpC\n"
    "8AkCIY74cWFIfISxUmCq/GDlfOKHQWSSU7OfhJdFPIeValEq/jp2NVS7AtnLJyEz\n"
    "FmiO8KnhfSTNXV4EFwagQIyDHf86f6Fx+cgIT5KfuPI14X82+9m+GEXn1aBmR0PD\n"
    "PXlOxuKqD1R1w2OmPCJMh6PHmXxY0/p2WMsPADcCgYEA547jXu37RJ8cuIbf+vSb\n"
    "8vKRz+bgApyUZijg1QWAnowa7fXHdK0kl9GfPUgX+evqG46PfP7qDdL+5Js1cz90\n"
    "KCCCc6V8g89Eul3rRhB32NDI0OyxQEYanyqRC5zbWW+Xmw6wSSYlABzwi8nZipaA\n"
    "timznaPak9AUziC4d75QrDMCgYEA02YtmGr94MwOgkWBopXnzAWd8cBmIY8/QoED\n"
    "3Hn7C7UOLFbtb1wZux+YX2zP/pcWVHaFiOf9uJSkDyruGqssKmcDt/F3pp5LIe2P\n"
    "D2++eePSQo/dxiBfevrjSkEwxUTpJBeTjkx2bfEjFI4BgvqK2AWL5BjU3W/fraQD\n"
    "9ALjZuMCgYEAnsF0Wa1HzDBafJjcDy6NjO+J0MQ1aRT5GWGFZAc1u33LKMKNUQ00\n"
    "PXJWfqli5tI721DOR6Btz7SNVSakarNia/B9/9PBno0ITc3+dDbuNBRQ2gytKafm\n"
    "sKF6eD++k37SrlhPvJcOXxl4Qh7NqxqsfDfzEW05eoX6/aepUU+F98kCgYEAr8dA\n"
    "loIwhCFo1w2wk16OlWj+Qiy3P6R693OLoGKVStDL7jaBy50LkDrfWkmCUbGT0buT\n"
    "oZk1sat3F12dCvPWD5QE1Yik8xigZJ/B2xYRjgzPoqU5xSrZ+cpwAChgw0dfjLFF\n"
    "8obF2vktMEQ8IYrutF04SvwS0+XYWewNlXJpX/0CgYADE+kwSUTeM+MOFDSLHYey\n"
    "JRZ8sHN8FpmYvcJj3PZZ23z0tlBnU3dLgEdrStHpUtvcgyIwKxCn6y4iPD9OWA4D\n"
    "BreYyBsbHITM+nRcirVtGFOChpXHZrIoMSO2YMCMpEk2JsETHX4iZPq/8/zckzbJ\n"
    "MGsRQ4Vust+apc4g+Q6u0g==\n"
    "-----END PRIVATE KEY-----\n";
static const char key_pss_spki[] = "30820120300b06092a864886f70d01010a0382010f003082010a0282010100b"
                                   "f373193d18e6990919d60b176568446d8"
                                   "260c874ddb518e00dd0c97968a00e1b5dd1055a2fb0d71e1a0d4a6c329adc1d"
                                   "3719642597b23b9fbb635dfcd4b7493b3"
                                   "059e59365d9912870143954c0d76acfacb5d457146794b0b9800790b01ecaac"
                                   "8851e0bbd1fb367f0909d49a5a0b491bb"
                                   "400c50421b463dbe2e4318ec430e99ae992f34e60c8067cd307f912c901a9d6"
                                   "474b97869213636eab8139249d75eaa91"
                                   "641ba1d1a7e88db1c428f255bfacbe4fb5f32a8e92fcffe7ced0e95e060633f"
                                   "e9ba207939ebeba68e9e9a049086d0a13"
                                   "dda3657b332b4bfbfe1b7da8170141e1b45fcd61aa224f076aacaa6cbf231e5"
                                   "f1c0ccbfaab9bde70c2647efd5e033902"
                                   "03010001";
/* P-256 (SEC1 PEM), made with the openssl command for these tests only */
static const char key_p256_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIP9lPinb9ib3UNEHB2m2SGO+BYp2OZ/JTn1KhlQBxcczoAoGCCqGSM49\n"
    "AwEHoUQDQgAEKu550mT6+0Et40mW2GRMhGaC+MULPBppO4JqJjr2CGK5bxENKzJY\n"
    "J4AcXsc1WAf9RRPbdvhfG5v0qb0Ovokcqw==\n"
    "-----END EC PRIVATE KEY-----\n";
static const char key_p256_spki[] =
    "3059301306072a8648ce3d020106082a8648ce3d030107034200042aee79d264fafb412de34996d8644c846682f8c5"
    "0b"
    "3c1a693b826a263af60862b96f110d2b325827801c5ec7355807fd4513db76f85f1b9bf4a9bd0ebe891cab";
/* P-384 (PKCS#8), made with the openssl command for these tests only */
static const char key_p384_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDV6kDgKWXR4i/1Rfx/\n"
    "i1RnzZs/MJaJRTWX6ecmDzgMnknIo/bjZOlBBw8UeZPSwluhZANiAARXc4zSzAwD\n"
    "ivks9iL4ivYd95adUX8Vod15eadoIhd/xAZrO+D9rFmw2qqzLTaW3Yfdhslx+/sD\n"
    "4kkjyWmRtw6kvwC+evuLiTZwkc8iG0DlUwp09MXAcffuhyuFi1klFkQ=\n"
    "-----END PRIVATE KEY-----\n";
static const char key_p384_spki[] = "3076301006072a8648ce3d020106052b810400220362000457738cd2cc0c03"
                                    "8af92cf622f88af61df7969d517f15a1dd"
                                    "7979a76822177fc4066b3be0fdac59b0daaab32d3696dd87dd86c971fbfb03"
                                    "e24923c96991b70ea4bf00be7afb8b8936"
                                    "7091cf221b40e5530a74f4c5c071f7ee872b858b59251644";
/* P-521 (PKCS#8), made with the openssl command for these tests only */
static const char key_p521_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIAJdbnsZqTvBtyvsjE\n"
    "NZBJ+ghc6Qz4STkOZ108CWQI7TOqAFgN+obfusJglFwKrK6kPUJ89/18mEYO9+lx\n"
    "a5qgYTyhgYkDgYYABAAtp3Ma96Cr0jaLOfMkKURqCsMB7EcF6feQWyk9L3lzRlKT\n"
    "09xRRqZ5DJd87ozYq+wXrH1A0h0G5nQOD5fYVVe6RACDrETgrRtejrbUHQOYNFn6\n"
    "Vq25hJWl7Z7/AwDionPlqVE0loY9U/HyEerTtzgRiTZnuyXB7nywoxrt+T1C3BRE\n"
    "4A==\n"
    "-----END PRIVATE KEY-----\n";
static const char key_p521_spki[] = "30819b301006072a8648ce3d020106052b810400230381860004002da7731a"
                                    "f7a0abd2368b39f32429446a0ac301ec47"
                                    "05e9f7905b293d2f7973465293d3dc5146a6790c977cee8cd8abec17ac7d40"
                                    "d21d06e6740e0f97d85557ba440083ac44"
                                    "e0ad1b5e8eb6d41d03983459fa56adb98495a5ed9eff0300e2a273e5a95134"
                                    "96863d53f1f211ead3b73811893667bb25"
                                    "c1ee7cb0a31aedf93d42dc1444e0";
/* Ed25519 (PKCS#8), made with the openssl command for these tests only */
static const char key_ed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIOSoxVmVxTNPydcBLQojykPb4P5HaMzCqIxmy1oLxl11\n"
    "-----END PRIVATE KEY-----\n";
static const char key_ed_spki[] =
    "302a300506032b6570032100322880c7e96b71157b07854e653342c3df6b17570c8360dda31f4cb9e907a174";

static void test_hashes(void)
{
    static const struct {
        int alg;
        const char *hex;
    } kat[] = {
        {HASP_HASH_MD5, "900150983cd24fb0d6963f7d28e17f72"},
        {HASP_HASH_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {HASP_HASH_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
        {HASP_HASH_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {HASP_HASH_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072"
                           "ba1e7cc2358baeca134c825a7"},
        {HASP_HASH_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a219299"
                           "2a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
    };
    uint8_t out[64];
    for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
        int rc = hasp_hash(kat[i].alg, (const uint8_t *)"abc", 3, out);
        CHECK(rc == 0 && eqhex(out, hasp_hash_len(kat[i].alg), kat[i].hex), "hash %s(\"abc\")",
              hasp_hash_name(kat[i].alg));
    }
    CHECK(hasp_hash_len(HASP_HASH_SHA384) == 48 &&
              strcmp(hasp_hash_name(HASP_HASH_SHA256), "SHA256") == 0,
          "hash lengths and names");
    CHECK(hasp_hash(99, (const uint8_t *)"x", 1, out) == HASP_ERR_USAGE, "unknown hash refused");

    /* Incremental, peek (transcript) and dup. */
    hasp_hash_ctx *h = hasp_hash_new(HASP_HASH_SHA256);
    uint8_t a[32], b[32], c[32];
    hasp_hash_update(h, (const uint8_t *)"a", 1);
    hasp_hash_ctx *d = hasp_hash_dup(h);
    hasp_hash_update(h, (const uint8_t *)"bc", 2);
    hasp_hash_peek(h, a);
    hasp_hash_peek(h, b); /* peek does not end the context */
    hasp_hash_update(d, (const uint8_t *)"bc", 2);
    hasp_hash_peek(d, c);
    CHECK(eqhex(a, 32, kat[3].hex) && memcmp(a, b, 32) == 0 && memcmp(a, c, 32) == 0,
          "hash update/peek/dup");
    CHECK(hasp_hash_ctx_alg(d) == HASP_HASH_SHA256, "hash ctx alg");
    hasp_hash_update(h, (const uint8_t *)"d", 1);
    hasp_hash_peek(h, a);
    hasp_hash((const int)HASP_HASH_SHA256, (const uint8_t *)"abcd", 4, b);
    CHECK(memcmp(a, b, 32) == 0, "hash continues after peek");
    hasp_hash_free(h);
    hasp_hash_free(d);
}

static void test_hmac(void)
{
    uint8_t key[131], out[64];
    /* RFC 4231 test case 1 */
    memset(key, 0x0b, 20);
    hasp_hmac(HASP_HASH_SHA256, key, 20, (const uint8_t *)"Hi There", 8, out);
    CHECK(eqhex(out, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
          "HMAC-SHA256 RFC 4231 case 1");
    hasp_hmac(HASP_HASH_SHA384, key, 20, (const uint8_t *)"Hi There", 8, out);
    CHECK(eqhex(out, 48,
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9"
                "ea9076ede7f4af152e8b2fa9cb6"),
          "HMAC-SHA384 RFC 4231 case 1");
    hasp_hmac(HASP_HASH_SHA512, key, 20, (const uint8_t *)"Hi There", 8, out);
    CHECK(eqhex(out, 64,
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa83"
                "3b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
          "HMAC-SHA512 RFC 4231 case 1");
    /* case 2 */
    hasp_hmac(HASP_HASH_SHA256, (const uint8_t *)"Jefe", 4,
              (const uint8_t *)"what do ya want for nothing?", 28, out);
    CHECK(eqhex(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
          "HMAC-SHA256 RFC 4231 case 2");
    /* case 6: a key longer than the block */
    memset(key, 0xaa, 131);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    hasp_hmac(HASP_HASH_SHA256, key, 131, (const uint8_t *)m6, strlen(m6), out);
    CHECK(eqhex(out, 32, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
          "HMAC-SHA256 RFC 4231 case 6 (long key)");

    /* The prepared-key context and the constant-time variant agree with
     * plain HMAC for every length in the window. */
    uint8_t data[600], hdr[13], want[64], got[64], cat[700];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 1);
    memset(hdr, 0x42, sizeof(hdr));
    static const int algs[] = {HASP_HASH_SHA1, HASP_HASH_SHA256, HASP_HASH_SHA384};
    for (size_t a = 0; a < 3; a++) {
        hasp_hmac_ctx *h = hasp_hmac_new(algs[a], key, 32);
        size_t hl = hasp_hmac_len(h);
        int all_ok = 1;
        for (size_t min = 0; min < 340; min += 37) {
            size_t max = min + 255;
            for (size_t L = min; L <= max; L++) {
                memcpy(cat, hdr, 13);
                memcpy(cat + 13, data, L);
                hasp_hmac(algs[a], key, 32, cat, 13 + L, want);
                hasp_hmac_ct(h, hdr, 13, data, L, min, max, got);
                if (memcmp(want, got, hl) != 0) all_ok = 0;
            }
        }
        hasp_hmac_2(h, hdr, 13, data, 100, got);
        memcpy(cat, hdr, 13);
        memcpy(cat + 13, data, 100);
        hasp_hmac(algs[a], key, 32, cat, 113, want);
        CHECK(all_ok && memcmp(want, got, hl) == 0,
              "HMAC-%s: prepared key and constant-time MAC match plain HMAC",
              hasp_hash_name(algs[a]));
        hasp_hmac_free(h);
    }
}

static void test_prf(void)
{
    uint8_t secret[16], seed[16], out[100];
    unhex("9bbe436ba940f017b17652849a71db35", secret, sizeof(secret));
    unhex("a0ba9f936cda311827a6f796ffd5198c", seed, sizeof(seed));
    const char *want = "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791"
                       "e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b"
                       "97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66";
    int rc = hasp_prf12(HASP_HASH_SHA256, secret, 16, "test label", seed, 16, out, 100);
    CHECK(rc == 0 && eqhex(out, 100, want), "TLS 1.2 PRF SHA-256 known answer (100 bytes)");
    memset(out, 0, sizeof(out));
    rc = hasp_prf12_2(HASP_HASH_SHA256, secret, 16, "test label", seed, 5, seed + 5, 11, out, 100);
    CHECK(rc == 0 && eqhex(out, 100, want), "TLS 1.2 PRF with a two-part seed");
    uint8_t o2[37];
    hasp_prf12(HASP_HASH_SHA256, secret, 16, "test label", seed, 16, o2, 37);
    CHECK(memcmp(o2, out, 37) == 0, "TLS 1.2 PRF: a shorter output is a prefix");
    /* SHA-384 PRF, cross-checked with OpenSSL's TLS1-PRF KDF. */
    uint8_t o3[48];
    hasp_prf12(HASP_HASH_SHA384, secret, 16, "test label", seed, 16, o3, 48);
    CHECK(eqhex(o3, 48, PRF384_WANT), "TLS 1.2 PRF SHA-384 (checked against OpenSSL)");
}

static void test_hkdf(void)
{
    uint8_t ikm[80], salt[80], info[80], prk[32], okm[82];
    /* RFC 5869 A.1 */
    memset(ikm, 0x0b, 22);
    unhex("000102030405060708090a0b0c", salt, sizeof(salt));
    unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
    hasp_hkdf_extract(HASP_HASH_SHA256, salt, 13, ikm, 22, prk);
    CHECK(eqhex(prk, 32, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"),
          "HKDF RFC 5869 A.1 PRK");
    hasp_hkdf_expand(HASP_HASH_SHA256, prk, 32, info, 10, okm, 42);
    CHECK(eqhex(okm, 42,
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3400"
                "7208d5b887185865"),
          "HKDF RFC 5869 A.1 OKM");
    /* A.2 */
    for (int i = 0; i < 80; i++) {
        ikm[i] = (uint8_t)i;
        salt[i] = (uint8_t)(0x60 + i);
        info[i] = (uint8_t)(0xb0 + i);
    }
    hasp_hkdf_extract(HASP_HASH_SHA256, salt, 80, ikm, 80, prk);
    CHECK(eqhex(prk, 32, "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244"),
          "HKDF RFC 5869 A.2 PRK");
    hasp_hkdf_expand(HASP_HASH_SHA256, prk, 32, info, 80, okm, 82);
    CHECK(eqhex(okm, 82,
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c5904"
                "5a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179"
                "ec3e87c14c01d5c1f3434f1d87"),
          "HKDF RFC 5869 A.2 OKM");
    /* A.3: no salt, no info */
    memset(ikm, 0x0b, 22);
    hasp_hkdf_extract(HASP_HASH_SHA256, NULL, 0, ikm, 22, prk);
    CHECK(eqhex(prk, 32, "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04"),
          "HKDF RFC 5869 A.3 PRK");
    hasp_hkdf_expand(HASP_HASH_SHA256, prk, 32, NULL, 0, okm, 42);
    CHECK(eqhex(okm, 42,
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d20"
                "1395faa4b61a96c8"),
          "HKDF RFC 5869 A.3 OKM");
    CHECK(hasp_hkdf_expand(HASP_HASH_SHA256, prk, 32, NULL, 0, okm, 255 * 32 + 1) == HASP_ERR_USAGE,
          "HKDF-Expand refuses more than 255 blocks");

    /* RFC 8448 section 3: the client handshake traffic secret, then its
     * key and IV with HKDF-Expand-Label. */
    uint8_t hs[32], th[32], cts[32], key[16], iv[12];
    unhex("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac", hs, 32);
    unhex("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8", th, 32);
    hasp_hkdf_expand_label(HASP_HASH_SHA256, hs, 32, "c hs traffic", th, 32, cts, 32);
    CHECK(eqhex(cts, 32, "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"),
          "HKDF-Expand-Label: RFC 8448 client_handshake_traffic_secret");
    hasp_hkdf_expand_label(HASP_HASH_SHA256, cts, 32, "key", NULL, 0, key, 16);
    hasp_hkdf_expand_label(HASP_HASH_SHA256, cts, 32, "iv", NULL, 0, iv, 12);
    CHECK(eqhex(key, 16, "dbfaa693d1762c5b666af5d950258d01") &&
              eqhex(iv, 12, "5bd3c71b836e0b76bb73265f"),
          "HKDF-Expand-Label: RFC 8448 client handshake key and iv");
    /* Early secret and "derived" from RFC 8448. */
    uint8_t zeros[32] = {0}, early[32], empty_hash[32], derived[32];
    hasp_hkdf_extract(HASP_HASH_SHA256, NULL, 0, zeros, 32, early);
    hasp_hash(HASP_HASH_SHA256, NULL, 0, empty_hash);
    hasp_hkdf_expand_label(HASP_HASH_SHA256, early, 32, "derived", empty_hash, 32, derived, 32);
    CHECK(
        eqhex(early, 32, "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a") &&
            eqhex(derived, 32, "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"),
        "HKDF: RFC 8448 early secret and derived secret");
}

static void test_aead(void)
{
    uint8_t key[32] = {0}, nonce[12] = {0}, pt[256], ct[300], back[300];
    /* AES-128-GCM, McGrew & Viega test case 2 */
    memset(pt, 0, 16);
    hasp_aead_ctx *e = hasp_aead_new(HASP_AEAD_AES128GCM, 1, key);
    hasp_aead_ctx *d = hasp_aead_new(HASP_AEAD_AES128GCM, 0, key);
    int rc = hasp_aead_seal(e, nonce, NULL, 0, pt, 16, ct);
    CHECK(rc == 0 &&
              eqhex(ct, 32, "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"),
          "AES-128-GCM known answer");
    rc = hasp_aead_open(d, nonce, NULL, 0, ct, 32, back);
    CHECK(rc == 0 && memcmp(back, pt, 16) == 0, "AES-128-GCM open");
    ct[3] ^= 1;
    CHECK(hasp_aead_open(d, nonce, NULL, 0, ct, 32, back) == HASP_ERR_BAD_MAC,
          "AES-128-GCM tampered ciphertext -> HASP_ERR_BAD_MAC");
    CHECK(hasp_aead_open(d, nonce, NULL, 0, ct, 15, back) == HASP_ERR_BAD_MAC,
          "AEAD input shorter than a tag -> HASP_ERR_BAD_MAC");
    CHECK(hasp_aead_seal(d, nonce, NULL, 0, pt, 16, ct) == HASP_ERR_USAGE,
          "AEAD: sealing with an opening context is refused");
    hasp_aead_free(e);
    hasp_aead_free(d);

    /* ChaCha20-Poly1305, RFC 8439 2.8.2 */
    uint8_t aad[12];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x80 + i);
    unhex("070000004041424344454647", nonce, 12);
    unhex("50515253c0c1c2c3c4c5c6c7", aad, 12);
    const char *msg = "Ladies and Gentlemen of the class of '99: If I could offer you only one "
                      "tip for the future, sunscreen would be it.";
    size_t ml = strlen(msg);
    e = hasp_aead_new(HASP_AEAD_CHACHA20POLY1305, 1, key);
    d = hasp_aead_new(HASP_AEAD_CHACHA20POLY1305, 0, key);
    rc = hasp_aead_seal(e, nonce, aad, 12, (const uint8_t *)msg, ml, ct);
    CHECK(rc == 0 && eqhex(ct, 16, "d31a8d34648e60db7b86afbc53ef7ec2") &&
              eqhex(ct + ml, 16, "1ae10b594f09e26a7e902ecbd0600691"),
          "ChaCha20-Poly1305 RFC 8439 known answer");
    /* in place */
    memcpy(back, ct, ml + 16);
    rc = hasp_aead_open(d, nonce, aad, 12, back, ml + 16, back);
    CHECK(rc == 0 && memcmp(back, msg, ml) == 0, "ChaCha20-Poly1305 open in place");
    aad[0] ^= 1;
    CHECK(hasp_aead_open(d, nonce, aad, 12, ct, ml + 16, back) == HASP_ERR_BAD_MAC,
          "ChaCha20-Poly1305 tampered AAD -> HASP_ERR_BAD_MAC");
    hasp_aead_free(e);
    hasp_aead_free(d);

    /* AES-256-GCM round trips of many lengths, in place, context reused. */
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    e = hasp_aead_new(HASP_AEAD_AES256GCM, 1, key);
    d = hasp_aead_new(HASP_AEAD_AES256GCM, 0, key);
    int ok = 1;
    for (size_t len = 0; len <= 256; len += 17) {
        for (size_t i = 0; i < len; i++)
            pt[i] = (uint8_t)(i ^ len);
        nonce[11] = (uint8_t)len;
        memcpy(ct, pt, len);
        ok &= hasp_aead_seal(e, nonce, aad, 5, ct, len, ct) == 0;
        ok &= hasp_aead_open(d, nonce, aad, 5, ct, len + 16, back) == 0;
        ok &= memcmp(back, pt, len) == 0;
        nonce[0] ^= 1;
        ok &= hasp_aead_open(d, nonce, aad, 5, ct, len + 16, back) == HASP_ERR_BAD_MAC;
        nonce[0] ^= 1;
    }
    CHECK(ok, "AES-256-GCM round trips, wrong nonce fails");

    /* seal2 over two sources gives what seal gives over their concatenation. */
    ok = 1;
    for (int alg = HASP_AEAD_AES128GCM; alg <= HASP_AEAD_CHACHA20POLY1305; alg++) {
        hasp_aead_ctx *e2 = hasp_aead_new(alg, 1, key);
        uint8_t ct2[300];
        for (size_t len = 0; len <= 256; len += 37) {
            for (size_t i = 0; i < len; i++)
                pt[i] = (uint8_t)(3 * i + len);
            for (size_t cut = 0; cut <= len; cut += len / 3 + 1) {
                ok &= e2 && hasp_aead_seal(e2, nonce, aad, 5, pt, len, ct) == 0;
                /* the second part in place at its spot in the output */
                memcpy(ct2 + cut, pt + cut, len - cut);
                ok &= e2 &&
                      hasp_aead_seal2(e2, nonce, aad, 5, pt, cut, ct2 + cut, len - cut, ct2) == 0;
                ok &= memcmp(ct, ct2, len + 16) == 0;
            }
        }
        hasp_aead_free(e2);
    }
    CHECK(ok, "AEAD seal2 of two parts equals seal of the whole");
    CHECK(hasp_aead_key_len(HASP_AEAD_AES256GCM) == 32 &&
              hasp_aead_key_len(HASP_AEAD_AES128GCM) == 16,
          "AEAD key lengths");
    CHECK(hasp_aead_new(42, 1, key) == NULL, "unknown AEAD refused");
    hasp_aead_free(e);
    hasp_aead_free(d);
}

static void test_cbc(void)
{
    /* NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, first block */
    uint8_t key[32], iv[16], pt[64], ct[64], back[64];
    unhex("2b7e151628aed2a6abf7158809cf4f3c", key, 16);
    unhex("000102030405060708090a0b0c0d0e0f", iv, 16);
    unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51", pt, 32);
    hasp_cbc_ctx *e = hasp_cbc_new(HASP_CBC_AES128, 1, key);
    hasp_cbc_ctx *d = hasp_cbc_new(HASP_CBC_AES128, 0, key);
    int rc = hasp_cbc_run(e, iv, pt, 32, ct);
    CHECK(rc == 0 &&
              eqhex(ct, 32, "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"),
          "AES-128-CBC known answer (SP 800-38A)");
    memcpy(back, ct, 32);
    rc = hasp_cbc_run(d, iv, back, 32, back);
    CHECK(rc == 0 && memcmp(back, pt, 32) == 0, "AES-128-CBC decrypt in place");
    CHECK(hasp_cbc_run(e, iv, pt, 20, ct) == HASP_ERR_USAGE, "CBC refuses a partial block");
    hasp_cbc_free(e);
    hasp_cbc_free(d);
    for (int i = 0; i < 24; i++)
        key[i] = (uint8_t)(i * 3);
    e = hasp_cbc_new(HASP_CBC_3DES, 1, key);
    d = hasp_cbc_new(HASP_CBC_3DES, 0, key);
    rc = hasp_cbc_run(e, iv, pt, 24, ct) | hasp_cbc_run(d, iv, ct, 24, back);
    CHECK(e && d && rc == 0 && memcmp(back, pt, 24) == 0 &&
              hasp_cbc_block_len(HASP_CBC_3DES) == 8 && hasp_cbc_key_len(HASP_CBC_3DES) == 24,
          "3DES-EDE-CBC round trip, 8-byte blocks");
    hasp_cbc_free(e);
    hasp_cbc_free(d);
}

static int kex_pair_agree(uint16_t group, int padded)
{
    hasp_kex *a = hasp_kex_new(group), *b = hasp_kex_new(group);
    uint8_t pa[512], pb[512], sa[512], sb[512];
    size_t la, lb, ka = 0, kb = 0;
    int ok = a && b && hasp_kex_public(a, pa, sizeof(pa), &la) == 0 &&
             hasp_kex_public(b, pb, sizeof(pb), &lb) == 0;
    if (padded)
        ok = ok && hasp_kex_derive_padded(a, pb, lb, sa, sizeof(sa), &ka) == 0 &&
             hasp_kex_derive_padded(b, pa, la, sb, sizeof(sb), &kb) == 0;
    else
        ok = ok && hasp_kex_derive(a, pb, lb, sa, sizeof(sa), &ka) == 0 &&
             hasp_kex_derive(b, pa, la, sb, sizeof(sb), &kb) == 0;
    ok = ok && ka == kb && ka > 0 && memcmp(sa, sb, ka) == 0;
    hasp_kex_free(a);
    hasp_kex_free(b);
    return ok;
}

/* A hybrid exchange: the client's key pair, the server's answer to its
 * share, the client's derive from the server's share. */
static void test_hybrid(uint16_t g, size_t cl, size_t sl, size_t ss_len, int mlkem_first)
{
    const char *name = hasp_group_name(g);
    static uint8_t cs[HASP_KEX_MAX_PUB + 1], sv[HASP_KEX_MAX_PUB + 1];
    uint8_t s1[128], s2[128];
    size_t n1 = 0, n2 = 0, k1 = 0, k2 = 0;
    hasp_kex *c = hasp_kex_new(g), *s = hasp_kex_new_responder(g);
    CHECK(c && s && hasp_kex_public(s, sv, sizeof(sv), &n2) == HASP_ERR_INTERNAL,
          "%s: the responder has no share before it saw the client's", name);
    int ok = c && s && hasp_kex_public(c, cs, sizeof(cs), &n1) == 0 && n1 == cl &&
             hasp_kex_derive(s, cs, n1, s2, sizeof(s2), &k2) == 0 &&
             hasp_kex_public(s, sv, sizeof(sv), &n2) == 0 && n2 == sl &&
             hasp_kex_derive(c, sv, n2, s1, sizeof(s1), &k1) == 0;
    CHECK(ok && k1 == ss_len && k2 == ss_len && !memcmp(s1, s2, k1),
          "%s: shares of %zu and %zu bytes, both sides derive the same %zu-byte secret", name, cl,
          sl, ss_len);
    CHECK(hasp_group_share_len(g, 0) == cl && hasp_group_share_len(g, 1) == sl &&
              hasp_group_is_hybrid(g),
          "%s: hasp_group_share_len and hasp_group_is_hybrid", name);
    /* the ciphertext half changed: implicit rejection, a different secret */
    sv[mlkem_first ? 10 : sl - 10] ^= 1;
    CHECK(c && hasp_kex_derive(c, sv, n2, s1, sizeof(s1), &k1) == 0 && memcmp(s1, s2, ss_len),
          "%s: a changed ciphertext gives another secret (implicit rejection)", name);
    CHECK(c && hasp_kex_derive(c, sv, n2 - 1, s1, sizeof(s1), &k1) == HASP_ERR_ILLEGAL_PARAM &&
              hasp_kex_derive(c, sv, n2 + 1, s1, sizeof(s1), &k1) == HASP_ERR_ILLEGAL_PARAM,
          "%s: a server share of the wrong length is illegal_parameter: %s", name,
          hasp_err_last()->msg);
    hasp_kex *s3 = hasp_kex_new_responder(g);
    CHECK(s3 && hasp_kex_derive(s3, cs, n1 - 1, s2, sizeof(s2), &k2) == HASP_ERR_ILLEGAL_PARAM,
          "%s: a client share of the wrong length is illegal_parameter", name);
    hasp_kex_free(c);
    hasp_kex_free(s);
    hasp_kex_free(s3);
}

static void test_hybrids(void)
{
    test_hybrid(HASP_GROUP_X25519MLKEM768, 1216, 1120, 64, 1);
    test_hybrid(HASP_GROUP_SECP256R1MLKEM768, 1249, 1153, 64, 0);
    test_hybrid(HASP_GROUP_SECP384R1MLKEM1024, 1665, 1665, 80, 0);
    CHECK(hasp_group_by_name("x25519mlkem768") == HASP_GROUP_X25519MLKEM768 &&
              hasp_group_by_name("SecP256r1MLKEM768") == HASP_GROUP_SECP256R1MLKEM768 &&
              hasp_group_by_name("SecP384r1MLKEM1024") == HASP_GROUP_SECP384R1MLKEM1024 &&
              hasp_group_by_name("x448") == HASP_GROUP_X448 &&
              hasp_group_by_name("P-521") == HASP_GROUP_SECP521R1 &&
              hasp_group_by_name("secp521r1") == HASP_GROUP_SECP521R1,
          "the new group names");
    CHECK(hasp_kex_new_from_private(HASP_GROUP_X25519MLKEM768, (const uint8_t *)"x", 1) == NULL,
          "a hybrid refuses a fixed private key");
}

static void test_kex(void)
{
    CHECK(hasp_group_by_name("P-256") == HASP_GROUP_SECP256R1 &&
              hasp_group_by_name("prime256v1") == HASP_GROUP_SECP256R1 &&
              hasp_group_by_name("X25519") == HASP_GROUP_X25519 &&
              hasp_group_by_name("secp384r1") == HASP_GROUP_SECP384R1 &&
              hasp_group_by_name("ffdhe3072") == HASP_GROUP_FFDHE3072 &&
              hasp_group_by_name("foo") < 0,
          "group names");
    CHECK(strcmp(hasp_group_name(HASP_GROUP_X25519), "x25519") == 0 &&
              hasp_group_name(0x1234) == NULL && hasp_group_is_ffdhe(HASP_GROUP_FFDHE2048) &&
              !hasp_group_is_ffdhe(HASP_GROUP_X25519),
          "group ids");

    /* RFC 7748 6.1 */
    uint8_t priv[32], pub[32], out[512], peer[512];
    size_t n;
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", priv, 32);
    hasp_kex *k = hasp_kex_new_from_private(HASP_GROUP_X25519, priv, 32);
    CHECK(k && hasp_kex_public(k, pub, sizeof(pub), &n) == 0 && n == 32 &&
              eqhex(pub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
          "X25519 RFC 7748 public key");
    unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", peer, 32);
    CHECK(hasp_kex_derive(k, peer, 32, out, sizeof(out), &n) == 0 && n == 32 &&
              eqhex(out, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
          "X25519 RFC 7748 shared secret");
    memset(peer, 0, 32);
    CHECK(hasp_kex_derive(k, peer, 32, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "X25519 all-zero (small order) peer value rejected");
    CHECK(hasp_kex_derive(k, peer, 31, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "X25519 short peer value rejected");
    hasp_kex_free(k);
    /* RFC 8448 section 3 */
    unhex("49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005", priv, 32);
    unhex("c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f", peer, 32);
    k = hasp_kex_new_from_private(HASP_GROUP_X25519, priv, 32);
    CHECK(k && hasp_kex_derive(k, peer, 32, out, sizeof(out), &n) == 0 &&
              eqhex(out, 32, "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d"),
          "X25519 RFC 8448 shared secret");
    hasp_kex_free(k);

    CHECK(kex_pair_agree(HASP_GROUP_X25519, 0), "X25519 both sides agree");
    CHECK(kex_pair_agree(HASP_GROUP_SECP256R1, 0), "ECDH P-256 both sides agree");
    CHECK(kex_pair_agree(HASP_GROUP_SECP384R1, 1), "ECDH P-384 both sides agree");
    CHECK(kex_pair_agree(HASP_GROUP_X448, 0), "X448 both sides agree");
    CHECK(kex_pair_agree(HASP_GROUP_SECP521R1, 1), "ECDH P-521 both sides agree");
    test_hybrids();

    /* EC: bad points. */
    k = hasp_kex_new(HASP_GROUP_SECP256R1);
    hasp_kex *k2 = hasp_kex_new(HASP_GROUP_SECP256R1);
    hasp_kex_public(k2, peer, sizeof(peer), &n);
    CHECK(n == 65 && peer[0] == 4, "P-256 public value is an uncompressed point");
    peer[40] ^= 1;
    CHECK(hasp_kex_derive(k, peer, 65, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "P-256 point off the curve rejected");
    peer[40] ^= 1;
    peer[0] = 2;
    CHECK(hasp_kex_derive(k, peer, 33, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "P-256 compressed point rejected");
    memset(peer, 0, 65);
    peer[0] = 4;
    CHECK(hasp_kex_derive(k, peer, 65, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "P-256 point (0,0) rejected");
    peer[0] = 0;
    CHECK(hasp_kex_derive(k, peer, 1, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "P-256 point at infinity rejected");
    hasp_kex_free(k);
    hasp_kex_free(k2);

    /* P-256 from a fixed private key: RFC 5903 8.1 (ECDH with P-256). */
    unhex("c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433", priv, 32);
    k = hasp_kex_new_from_private(HASP_GROUP_SECP256R1, priv, 32);
    uint8_t pubec[65];
    CHECK(k && hasp_kex_public(k, pubec, sizeof(pubec), &n) == 0 &&
              eqhex(pubec, 65,
                    "04dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c37725811"
                    "805271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990b"
                    "b3"),
          "P-256 public key from a fixed private key");
    hasp_kex_free(k);

    /* FFDHE */
    CHECK(kex_pair_agree(HASP_GROUP_FFDHE2048, 0), "ffdhe2048 both sides agree (stripped)");
    CHECK(kex_pair_agree(HASP_GROUP_FFDHE2048, 1), "ffdhe2048 both sides agree (padded)");
    CHECK(kex_pair_agree(HASP_GROUP_FFDHE3072, 0), "ffdhe3072 both sides agree");
    const uint8_t *p, *g;
    size_t pl, gl;
    int rc = hasp_ffdhe_params(HASP_GROUP_FFDHE2048, &p, &pl, &g, &gl);
    CHECK(rc == 0 && pl == 256 && gl == 1 && g[0] == 2 && p[0] == 0xff && p[255] == 0xff &&
              p[8] == 0xad && p[9] == 0xf8,
          "ffdhe2048 parameters (RFC 7919 prime)");
    k = hasp_kex_new(HASP_GROUP_FFDHE2048);
    hasp_kex *dh = hasp_kex_new_dh(p, pl, g, gl); /* the client side of TLS 1.2 DHE */
    uint8_t ya[256], yb[256], za[256], zb[256], zp[256];
    size_t na, nb, nza, nzb, nzp;
    rc = hasp_kex_public(k, ya, sizeof(ya), &na) | hasp_kex_public(dh, yb, sizeof(yb), &nb);
    CHECK(rc == 0 && na == 256 && nb == 256, "DH public values are padded to the size of p");
    rc = hasp_kex_derive(k, yb, nb, za, sizeof(za), &nza) |
         hasp_kex_derive(dh, ya, na, zb, sizeof(zb), &nzb) |
         hasp_kex_derive_padded(dh, ya, na, zp, sizeof(zp), &nzp);
    CHECK(rc == 0 && nza == nzb && memcmp(za, zb, nza) == 0 && nzp == 256 &&
              memcmp(zp + 256 - nza, za, nza) == 0,
          "explicit-parameter DH agrees with the named group; padded form ends with the stripped "
          "one");
    uint8_t bad[256];
    memset(bad, 0, sizeof(bad));
    CHECK(hasp_kex_derive(k, bad, 256, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "DH Y = 0 rejected");
    bad[255] = 1;
    CHECK(hasp_kex_derive(k, bad, 256, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "DH Y = 1 rejected");
    memcpy(bad, p, 256);
    bad[255] -= 1;
    CHECK(hasp_kex_derive(k, bad, 256, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "DH Y = p-1 rejected");
    bad[255] += 1;
    CHECK(hasp_kex_derive(k, bad, 256, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "DH Y = p rejected");
    CHECK(hasp_kex_derive(k, bad, 257, out, sizeof(out), &n) == HASP_ERR_ILLEGAL_PARAM,
          "DH Y longer than p rejected");
    hasp_kex_free(k);
    hasp_kex_free(dh);
    /* A 1024-bit prime is refused. */
    CHECK(hasp_kex_new_dh(p, 128, g, gl) == NULL &&
              hasp_err_last()->code == HASP_ERR_INSUFFICIENT_SECURITY,
          "DH prime under 2048 bits refused: %s", hasp_err_last()->msg);
    uint8_t g1 = 1;
    CHECK(hasp_kex_new_dh(p, pl, &g1, 1) == NULL, "DH generator 1 refused");
}

static hasp_pkey *load_priv(const char *pem)
{
    return hasp_pkey_from_private_pem((const uint8_t *)pem, strlen(pem));
}

static hasp_pkey *load_pub(const char *hex)
{
    uint8_t der[1024];
    size_t n = unhex(hex, der, sizeof(der));
    return hasp_pkey_from_spki(der, n);
}

static void test_pkey(void)
{
    struct {
        const char *name, *pem, *spki;
        int type, bits;
    } keys[] = {
        {"RSA", key_rsa_pem, key_rsa_spki, HASP_PKEY_RSA, 2048},
        {"RSA-PSS", key_pss_pem, key_pss_spki, HASP_PKEY_RSA_PSS, 2048},
        {"P-256", key_p256_pem, key_p256_spki, HASP_PKEY_EC_P256, 256},
        {"P-384", key_p384_pem, key_p384_spki, HASP_PKEY_EC_P384, 384},
        {"P-521", key_p521_pem, key_p521_spki, HASP_PKEY_EC_P521, 521},
        {"Ed25519", key_ed_pem, key_ed_spki, HASP_PKEY_ED25519, 256},
    };
    enum { NK = sizeof(keys) / sizeof(keys[0]) };
    hasp_pkey *priv[NK], *pub[NK];
    for (int i = 0; i < NK; i++) {
        priv[i] = load_priv(keys[i].pem);
        pub[i] = load_pub(keys[i].spki);
        CHECK(priv[i] && pub[i] && hasp_pkey_type(priv[i]) == keys[i].type &&
                  hasp_pkey_type(pub[i]) == keys[i].type && hasp_pkey_bits(pub[i]) == keys[i].bits,
              "%s key loads from PEM and SPKI (type, bits)", keys[i].name);
        CHECK(hasp_pkey_matches(priv[i], pub[i]), "%s private key matches its public key",
              keys[i].name);
    }
    CHECK(!hasp_pkey_matches(priv[0], pub[2]) && !hasp_pkey_matches(priv[2], pub[3]),
          "mismatched keys do not match");
    CHECK(load_priv("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") == NULL,
          "garbage PEM refused: %s", hasp_err_last()->msg);
    uint8_t junk[3] = {0x30, 0x01, 0x00};
    CHECK(hasp_pkey_from_spki(junk, 3) == NULL, "garbage SPKI refused");

    /* Every scheme signs with the key it fits and verifies with the public key. */
    static const uint16_t ids[] = {
        HASP_SIG_RSA_PKCS1_SHA1,         HASP_SIG_ECDSA_SHA1,
        HASP_SIG_RSA_PKCS1_SHA256,       HASP_SIG_RSA_PKCS1_SHA384,
        HASP_SIG_RSA_PKCS1_SHA512,       HASP_SIG_ECDSA_SECP256R1_SHA256,
        HASP_SIG_ECDSA_SECP384R1_SHA384, HASP_SIG_ECDSA_SECP521R1_SHA512,
        HASP_SIG_RSA_PSS_RSAE_SHA256,    HASP_SIG_RSA_PSS_RSAE_SHA384,
        HASP_SIG_RSA_PSS_RSAE_SHA512,    HASP_SIG_ED25519_SCHEME,
        HASP_SIG_RSA_PSS_PSS_SHA256,     HASP_SIG_RSA_PSS_PSS_SHA384,
        HASP_SIG_RSA_PSS_PSS_SHA512,
    };
    const uint8_t msg[] = "the transcript hash goes here, with a 64-byte prefix in TLS 1.3";
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const hasp_sigscheme *s = hasp_sigscheme_find(ids[i]);
        CHECK(s != NULL && hasp_sigscheme_by_name(s->name) == s, "scheme 0x%04x is %s", ids[i],
              s ? s->name : "?");
        if (s == NULL) continue;
        int ki = -1;
        for (int j = 0; j < NK && ki < 0; j++)
            if (hasp_sigscheme_fits(s, priv[j], 0x0303)) ki = j;
        CHECK(ki >= 0, "%s fits some test key in TLS 1.2", s->name);
        if (ki < 0) continue;
        uint8_t sig[1024];
        size_t sl = 0;
        int rc = hasp_sign_scheme(priv[ki], s->id, msg, sizeof(msg), sig, sizeof(sig), &sl);
        CHECK(rc == 0 && sl > 0, "%s signs with the %s key", s->name, keys[ki].name);
        rc = hasp_verify_scheme(pub[ki], s->id, msg, sizeof(msg), sig, sl);
        CHECK(rc == 0, "%s verifies", s->name);
        sig[sl / 2] ^= 0x10;
        rc = hasp_verify_scheme(pub[ki], s->id, msg, sizeof(msg), sig, sl);
        CHECK(rc == HASP_ERR_DECRYPT, "%s: a damaged signature fails with HASP_ERR_DECRYPT",
              s->name);
        sig[sl / 2] ^= 0x10;
        rc = hasp_verify_scheme(pub[ki], s->id, msg, sizeof(msg) - 1, sig, sl);
        CHECK(rc == HASP_ERR_DECRYPT, "%s: other data fails", s->name);
    }
    CHECK(hasp_sigscheme_by_name("rsa_pss_rsae_sha256")->id == 0x0804 &&
              hasp_sigscheme_find(0x0808) == NULL && hasp_sigscheme_by_name("nope") == NULL,
          "scheme lookups");

    /* hasp_sigscheme_fits rules */
    const hasp_sigscheme *e256 = hasp_sigscheme_find(HASP_SIG_ECDSA_SECP256R1_SHA256);
    const hasp_sigscheme *pk1 = hasp_sigscheme_find(HASP_SIG_RSA_PKCS1_SHA256);
    const hasp_sigscheme *rsae = hasp_sigscheme_find(HASP_SIG_RSA_PSS_RSAE_SHA256);
    const hasp_sigscheme *psspss = hasp_sigscheme_find(HASP_SIG_RSA_PSS_PSS_SHA256);
    const hasp_sigscheme *ed = hasp_sigscheme_find(HASP_SIG_ED25519_SCHEME);
    const hasp_sigscheme *esha1 = hasp_sigscheme_find(HASP_SIG_ECDSA_SHA1);
    CHECK(hasp_sigscheme_fits(e256, priv[2], 0x0304) && !hasp_sigscheme_fits(e256, priv[3], 0x0304),
          "TLS 1.3: ECDSA scheme curve must match the key");
    CHECK(hasp_sigscheme_fits(e256, priv[3], 0x0303) && hasp_sigscheme_fits(e256, priv[4], 0x0303),
          "TLS 1.2: ECDSA schemes fit any EC key");
    CHECK(!hasp_sigscheme_fits(pk1, priv[0], 0x0304) && hasp_sigscheme_fits(pk1, priv[0], 0x0303),
          "PKCS#1 not in TLS 1.3, fine in TLS 1.2");
    CHECK(!hasp_sigscheme_fits(esha1, priv[2], 0x0304) &&
              hasp_sigscheme_fits(esha1, priv[2], 0x0303),
          "SHA-1 not in TLS 1.3");
    CHECK(hasp_sigscheme_fits(rsae, priv[0], 0x0304) &&
              !hasp_sigscheme_fits(rsae, priv[1], 0x0304) &&
              hasp_sigscheme_fits(psspss, priv[1], 0x0304) &&
              !hasp_sigscheme_fits(psspss, priv[0], 0x0304),
          "rsa_pss_rsae fits RSA keys, rsa_pss_pss fits RSA-PSS keys");
    CHECK(hasp_sigscheme_fits(ed, priv[5], 0x0304) && !hasp_sigscheme_fits(ed, priv[2], 0x0304) &&
              !hasp_sigscheme_fits(e256, priv[0], 0x0303),
          "Ed25519 and key-type mismatches");
    uint8_t sig[600];
    size_t sl;
    CHECK(hasp_pkey_sign(priv[0], HASP_SIG_ECDSA, HASP_HASH_SHA256, msg, 5, sig, sizeof(sig), &sl) <
              0,
          "ECDSA with an RSA key refused");
    CHECK(hasp_pkey_sign(pub[2], HASP_SIG_ECDSA, HASP_HASH_SHA256, msg, 5, sig, sizeof(sig), &sl) <
              0,
          "signing with a public key fails cleanly");
    CHECK(hasp_pkey_sign(priv[0], HASP_SIG_RSA_PSS, HASP_HASH_SHA256, msg, 5, sig, 100, &sl) < 0,
          "signature buffer too small refused");
    /* Family-level API (X.509 uses it). */
    int rc =
        hasp_pkey_sign(priv[3], HASP_SIG_ECDSA, HASP_HASH_SHA256, msg, 5, sig, sizeof(sig), &sl);
    CHECK(rc == 0 &&
              hasp_pkey_verify(pub[3], HASP_SIG_ECDSA, HASP_HASH_SHA256, msg, 5, sig, sl) == 0,
          "ECDSA P-384 with SHA-256 via the family API");

    /* RSA key transport: RFC 5246 7.4.7.1 */
    uint8_t pms[48], enc[256], got[48], got2[48];
    size_t el;
    hasp_random(pms, 48);
    pms[0] = 3;
    pms[1] = 3;
    rc = hasp_rsa_encrypt_pkcs1(pub[0], pms, 48, enc, sizeof(enc), &el);
    CHECK(rc == 0 && el == 256, "RSA PKCS#1 encryption of a pre-master secret");
    rc = hasp_rsa_decrypt_pms(priv[0], enc, el, 0x0303, got);
    CHECK(rc == 0 && memcmp(got, pms, 48) == 0, "RSA pre-master decrypt: good ciphertext");
    rc = hasp_rsa_decrypt_pms(priv[0], enc, el, 0x0302, got);
    CHECK(rc == 0 && memcmp(got, pms, 48) != 0,
          "RSA pre-master: wrong version -> random, no error");
    enc[10] ^= 0x40;
    rc = hasp_rsa_decrypt_pms(priv[0], enc, el, 0x0303, got);
    int rc2 = hasp_rsa_decrypt_pms(priv[0], enc, el, 0x0303, got2);
    CHECK(rc == 0 && rc2 == 0 && memcmp(got, pms, 48) != 0 && memcmp(got, got2, 48) != 0,
          "RSA pre-master: bad ciphertext -> fresh random value, no error");
    rc = hasp_rsa_decrypt_pms(priv[0], enc, 100, 0x0303, got);
    CHECK(rc == 0, "RSA pre-master: wrong ciphertext length -> no error");
    rc = hasp_rsa_encrypt_pkcs1(pub[0], pms, 47, enc, sizeof(enc), &el);
    rc |= hasp_rsa_decrypt_pms(priv[0], enc, el, 0x0303, got);
    CHECK(rc == 0 && memcmp(got, pms, 47) != 0, "RSA pre-master: 47-byte plaintext -> random");
    CHECK(hasp_rsa_decrypt_pms(priv[2], enc, el, 0x0303, got) < 0,
          "RSA pre-master with an EC key is a usage error");

    for (int i = 0; i < NK; i++) {
        hasp_pkey_free(priv[i]);
        hasp_pkey_free(pub[i]);
    }
}

/* spki.c: a key imported once per SPKI, bounded, shared by threads; a
 * cached key still checks every signature. */
static const uint8_t kc_msg[] = "the same bytes, verified again and again";

static void *kc_thread(void *arg)
{
    hasp_pkey **keys = arg;
    uint8_t sig[512];
    size_t sl = 0;
    long bad = 0;
    hasp_pkey *priv = keys[0];
    if (hasp_sign_scheme(priv, HASP_SIG_RSA_PSS_RSAE_SHA256, kc_msg, sizeof(kc_msg), sig,
                         sizeof(sig), &sl) != 0)
        return (void *)1L;
    for (int i = 0; i < 200; i++) {
        uint8_t der[1024];
        size_t n = unhex(key_rsa_spki, der, sizeof(der));
        hasp_pkey *pub = hasp_pkey_from_spki(der, n);
        if (pub == NULL || hasp_verify_scheme(pub, HASP_SIG_RSA_PSS_RSAE_SHA256, kc_msg,
                                              sizeof(kc_msg), sig, sl) != 0)
            bad++;
        if (i % 50 == 0) crypto_keycache_flush();
        hasp_pkey_free(pub);
    }
    return (void *)bad;
}

static void test_keycache(void)
{
    crypto_keycache_flush();
    CHECK(crypto_keycache_count() == 0, "key cache empty after a flush");
    hasp_pkey *priv = load_priv(key_rsa_pem);
    hasp_pkey *a = load_pub(key_rsa_spki), *b = load_pub(key_rsa_spki);
    CHECK(a && b && crypto_keycache_count() == 1, "the same SPKI twice is imported once (%zu held)",
          crypto_keycache_count());
    static const uint16_t rsa_ids[] = {HASP_SIG_RSA_PKCS1_SHA256, HASP_SIG_RSA_PSS_RSAE_SHA256,
                                       HASP_SIG_RSA_PSS_RSAE_SHA384};
    for (size_t i = 0; i < 3; i++) {
        uint8_t sig[600], alt[600];
        size_t sl = 0;
        int rc = hasp_sign_scheme(priv, rsa_ids[i], kc_msg, sizeof(kc_msg), sig, sizeof(sig), &sl);
        CHECK(rc == 0 && sl == 256, "0x%04x signs", rsa_ids[i]);
        CHECK(hasp_verify_scheme(a, rsa_ids[i], kc_msg, sizeof(kc_msg), sig, sl) == 0 &&
                  hasp_verify_scheme(b, rsa_ids[i], kc_msg, sizeof(kc_msg), sig, sl) == 0,
              "0x%04x verifies with the first and the cached key", rsa_ids[i]);
        sig[100] ^= 1;
        CHECK(hasp_verify_scheme(b, rsa_ids[i], kc_msg, sizeof(kc_msg), sig, sl) ==
                  HASP_ERR_DECRYPT,
              "0x%04x: the cached key refuses a damaged signature", rsa_ids[i]);
        sig[100] ^= 1;
        CHECK(hasp_verify_scheme(b, rsa_ids[i], kc_msg, sizeof(kc_msg), sig, sl - 1) ==
                  HASP_ERR_DECRYPT,
              "0x%04x: a signature one byte short is refused", rsa_ids[i]);
        alt[0] = 0;
        memcpy(alt + 1, sig, sl);
        CHECK(hasp_verify_scheme(b, rsa_ids[i], kc_msg, sizeof(kc_msg), alt, sl + 1) ==
                  HASP_ERR_DECRYPT,
              "0x%04x: a signature with a leading zero byte is refused", rsa_ids[i]);
        /* PSS with a salt other than the hash length (RFC 8446 4.2.3) */
        if (rsa_ids[i] == HASP_SIG_RSA_PSS_RSAE_SHA256) {
            EVP_PKEY *k = NULL;
            uint8_t der[1300], dg[32];
            hasp_hash(HASP_HASH_SHA256, kc_msg, sizeof(kc_msg), dg);
            BIO *bio = BIO_new_mem_buf(key_rsa_pem, (int)strlen(key_rsa_pem));
            k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
            BIO_free(bio);
            EVP_PKEY_CTX *c = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
            size_t n = sizeof(der);
            int ok = c && EVP_PKEY_sign_init(c) > 0 &&
                     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) > 0 &&
                     EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0 &&
                     EVP_PKEY_CTX_set_rsa_pss_saltlen(c, 20) > 0 &&
                     EVP_PKEY_sign(c, der, &n, dg, 32) > 0;
            CHECK(ok && hasp_verify_scheme(b, rsa_ids[i], kc_msg, sizeof(kc_msg), der, n) ==
                            HASP_ERR_DECRYPT,
                  "rsa_pss_rsae_sha256 with a 20-byte salt is refused");
            EVP_PKEY_CTX_free(c);
            EVP_PKEY_free(k);
        }
    }
    crypto_keycache_flush();
    uint8_t sig[600];
    size_t sl = 0;
    hasp_sign_scheme(priv, HASP_SIG_RSA_PKCS1_SHA256, kc_msg, sizeof(kc_msg), sig, sizeof(sig),
                     &sl);
    CHECK(hasp_verify_scheme(b, HASP_SIG_RSA_PKCS1_SHA256, kc_msg, sizeof(kc_msg), sig, sl) == 0,
          "a key in use outlives a flush of the cache");
    hasp_pkey_free(a);
    hasp_pkey_free(b);

    /* bounded: 70 different keys, at most 64 held, the newest found again */
    uint8_t last[200];
    size_t last_len = 0;
    int made = 0;
    for (int i = 0; i < 70; i++) {
        EC_KEY *e = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
        uint8_t *der = NULL;
        int n = e && EC_KEY_generate_key(e) == 1 ? i2d_EC_PUBKEY(e, &der) : -1;
        hasp_pkey *k = n > 0 ? hasp_pkey_from_spki(der, (size_t)n) : NULL;
        made += k != NULL;
        if (n > 0 && (size_t)n <= sizeof(last)) {
            memcpy(last, der, (size_t)n);
            last_len = (size_t)n;
        }
        hasp_pkey_free(k);
        OPENSSL_free(der);
        EC_KEY_free(e);
    }
    size_t held = crypto_keycache_count();
    hasp_pkey *again = hasp_pkey_from_spki(last, last_len);
    CHECK(made == 70 && held == 64 && crypto_keycache_count() == 64 && again &&
              hasp_pkey_type(again) == HASP_PKEY_EC_P256,
          "70 keys imported, %zu held (bound 64)", held);
    hasp_pkey_free(again);
    uint8_t junk[3] = {0x30, 0x01, 0x00};
    CHECK(hasp_pkey_from_spki(junk, 3) == NULL && crypto_keycache_count() == 64,
          "a key that does not import is not kept");

    /* threads: import, verify and flush at once */
    pthread_t th[4];
    hasp_pkey *arg[1] = {priv};
    long bad = 0;
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, kc_thread, arg);
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        bad += (long)r;
    }
    CHECK(bad == 0, "4 threads importing, verifying and flushing: %ld failures", bad);
    hasp_pkey_free(priv);
    crypto_keycache_flush();
}

static void test_random(void)
{
    uint8_t a[32], b[32];
    CHECK(hasp_random(a, 32) == 0 && hasp_random(b, 32) == 0 && memcmp(a, b, 32) != 0,
          "random bytes differ");

    /* The public pool: successive draws differ, across refills too. */
    int ok = 1;
    uint8_t prev[64] = {0}, cur[64];
    for (int i = 0; i < 40; i++) {
        size_t n = 1 + (size_t)(i * 7) % 64;
        ok &= hasp_random_public(cur, n) == 0 && (n < 8 || memcmp(cur, prev, n) != 0);
        memcpy(prev, cur, n);
    }
    CHECK(ok, "public random draws differ, over several pool refills");

    /* After fork() the child must not hand out the parent's pooled bytes. */
    int fd[2];
    ok = pipe(fd) == 0 && hasp_random_public(a, 8) == 0;
    pid_t pid = ok ? fork() : -1;
    if (pid == 0) {
        uint8_t c[32];
        ssize_t w = -1;
        if (hasp_random_public(c, 32) == 0) w = write(fd[1], c, 32);
        _exit(w == 32 ? 0 : 1);
    }
    uint8_t child[32] = {0};
    int st = -1;
    ok = ok && pid > 0 && hasp_random_public(a, 32) == 0 && read(fd[0], child, 32) == 32 &&
         waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
         memcmp(a, child, 32) != 0;
    if (fd[0] >= 0) close(fd[0]);
    if (fd[1] >= 0) close(fd[1]);
    CHECK(ok, "after fork, parent and child draw different public random bytes");
}

int main(void)
{
    test_hashes();
    test_hmac();
    test_prf();
    test_hkdf();
    test_aead();
    test_cbc();
    test_kex();
    test_pkey();
    test_keycache();
    test_random();
    TEST_DONE();
}
