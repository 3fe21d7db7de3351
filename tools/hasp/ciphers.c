#include <stdio.h>
#include <string.h>

#include "hasp.h"
#include "tool.h"

int hasp_cmd_ciphers(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: hasp ciphers\n\n"
                   "Lists the cipher suites hasp has: id, IANA and OpenSSL names, and whether\n"
                   "each is in DEFAULT, only in ALL, or used only when named.\n\n"
                   "  -h, --help   this help\n");
            return 0;
        }
        fprintf(stderr, "hasp ciphers: unknown option '%s'; see 'hasp ciphers --help'\n", argv[i]);
        return 2;
    }
    hasp_suite_info info;
    printf("%-6s  %-48s %-32s %s\n", "id", "IANA name", "OpenSSL name", "enabled");
    for (size_t i = 0; hasp_suite_get(i, &info) == 0; i++)
        printf("0x%04x  %-48s %-32s %s\n", info.id, info.iana_name, info.openssl_name,
               info.in_default     ? "DEFAULT"
               : info.by_name_only ? "by name only"
                                   : "ALL");
    return 0;
}

int hasp_cmd_groups(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    hasp_group_info g;
    printf("%-6s  %-20s %-12s %-13s %-13s %s\n", "id", "name", "kind", "client share",
           "server share", "versions");
    for (size_t i = 0; hasp_group_get(i, &g) == 0; i++)
        printf("0x%04x  %-20s %-12s %-13zu %-13zu %s\n", g.id, g.name, g.kind, g.client_share,
               g.server_share, g.tls13_only ? "TLSv1.3" : "TLSv1.3 TLSv1.2");
    printf("\ndefault: the client sends key shares for X25519MLKEM768 and x25519 and lists all\n"
           "of these in supported_groups; the server takes them in this order (a hybrid first,\n"
           "with a HelloRetryRequest when the client supports one but sent no share for it).\n");
    return 0;
}
