#ifndef HASP_TOOL_H
#define HASP_TOOL_H
/* hasp verify (tools/hasp/verify.c) */
int hasp_cmd_verify(int argc, char **argv);
/* hasp ciphers (tools/hasp/ciphers.c) */
int hasp_cmd_ciphers(int argc, char **argv);
#endif
