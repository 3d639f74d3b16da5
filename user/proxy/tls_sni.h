/* Server name (SNI) from a TLS ClientHello, for the auto handler's TLS
 * forwarding.  Pure: bytes in, name out. */
#ifndef RELAYD_PROXY_TLS_SNI_H
#define RELAYD_PROXY_TLS_SNI_H

#include <stddef.h>
#include <stdint.h>

/* > 0: the first record is complete (its length) and name holds the SNI, or
 * "" when the hello has none; 0: need more bytes; < 0: not a ClientHello. */
int tls_sni_parse(const uint8_t *buf, size_t len, char *name, size_t cap);

#endif
