/* Base64 decoders matching Go's encoding/base64 (StdEncoding and
 * RawURLEncoding, non-strict): what GOST accepts in Proxy-Authorization and
 * Gost-Target is exactly what these accept. */
#include "base/base64.h"

#include <stdbool.h>

enum { B64_BAD = 0xff };

static uint8_t b64_value(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return (uint8_t)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (uint8_t)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (uint8_t)(c - '0' + 52);
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return B64_BAD;
}

/* Next character that is not '\r' or '\n' at or after *i; -1 at the end. */
static int b64_next(const char *in, size_t len, size_t *i)
{
	while (*i < len && (in[*i] == '\r' || in[*i] == '\n'))
		(*i)++;
	if (*i >= len)
		return -1;
	return (unsigned char)in[(*i)++];
}

static int b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, bool url,
		      bool padded)
{
	size_t i = 0, n = 0;

	for (;;) {
		uint8_t q[4] = { 0, 0, 0, 0 };
		int j;

		for (j = 0; j < 4; j++) {
			int c = b64_next(in, len, &i);

			if (c < 0) {
				if (j == 0)
					return (int)n;
				/* a lone character, or a short quantum where '=' is required */
				if (j == 1 || padded)
					return -1;
				break;
			}
			if (padded && c == '=') {
				/* "xx==" or "xxx=", then nothing but line breaks */
				if (j < 2)
					return -1;
				if (j == 2 && b64_next(in, len, &i) != '=')
					return -1;
				if (b64_next(in, len, &i) >= 0)
					return -1;
				break;
			}
			q[j] = b64_value((char)c, url);
			if (q[j] == B64_BAD)
				return -1;
		}

		/* j data characters give j - 1 bytes (3 for a full quantum) */
		int bytes = j == 4 ? 3 : j - 1;
		uint32_t v = (uint32_t)q[0] << 18 | (uint32_t)q[1] << 12 | (uint32_t)q[2] << 6 | q[3];

		if (cap - n < (size_t)bytes)
			return -1;
		out[n++] = (uint8_t)(v >> 16);
		if (bytes > 1)
			out[n++] = (uint8_t)(v >> 8);
		if (bytes > 2)
			out[n++] = (uint8_t)v;
		if (j < 4)
			return (int)n;
	}
}

int base64_decode_std(const char *in, size_t len, uint8_t *out, size_t cap)
{
	return b64_decode(in, len, out, cap, false, true);
}

int base64_decode_rawurl(const char *in, size_t len, uint8_t *out, size_t cap)
{
	return b64_decode(in, len, out, cap, true, false);
}
