/* Base64 decoding with the exact acceptance rules of Go's encoding/base64,
 * which GOST uses for Proxy-Authorization (StdEncoding) and for the GOST v2
 * Gost-Target header (RawURLEncoding).  Pure: no allocation, bounded output. */
#ifndef RELAYD_BASE_BASE64_H
#define RELAYD_BASE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decoded size upper bound for n input characters. */
#define BASE64_DECODED_MAX(n) (((n) / 4) * 3 + 3)

/* RFC 4648 §4 alphabet, '=' padding required (Go's StdEncoding, not Strict:
 * unused trailing bits are ignored).  '\r' and '\n' anywhere are skipped, as
 * Go does.  Returns the decoded length, or -1 for corrupt input or when the
 * result does not fit in cap bytes. */
int base64_decode_std(const char *in, size_t len, uint8_t *out, size_t cap);

/* RFC 4648 §5 URL-safe alphabet without padding (Go's RawURLEncoding). */
int base64_decode_rawurl(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
