#include <stdio.h>

#include "hasp.h"
#include "tool.h"

int hasp_cmd_ciphers(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    hasp_suite_info info;
    printf("%-6s  %-48s %-32s %s\n", "id", "IANA name", "OpenSSL name", "enabled");
    for (size_t i = 0; hasp_suite_get(i, &info) == 0; i++)
        printf("0x%04x  %-48s %-32s %s\n", info.id, info.iana_name, info.openssl_name,
               info.in_default     ? "DEFAULT"
               : info.by_name_only ? "by name only"
                                   : "ALL");
    return 0;
}
