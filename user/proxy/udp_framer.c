/* Length-framed datagrams on a stream (see udp_framer.h). */
#include "proxy/udp_framer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/stream.h"
#include "proxy/relay_proto.h"

int udp_framer_init(struct udp_framer *f, struct stream *s, const uint8_t *preload, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->s = s;
	f->in_cap = len > UDP_FRAMER_IN_CAP ? len : UDP_FRAMER_IN_CAP;
	f->in = malloc(f->in_cap);
	f->out = malloc(UDP_FRAMER_OUT_CAP);
	if (!f->in || !f->out) {
		udp_framer_fini(f);
		return -ENOMEM;
	}
	if (len)
		memcpy(f->in, preload, len);
	f->in_len = len;
	return 0;
}

void udp_framer_fini(struct udp_framer *f)
{
	free(f->in);
	free(f->out);
	f->in = f->out = NULL;
}

/* A whole frame at in_off: its datagram. */
static bool take_frame(struct udp_framer *f, const uint8_t **dg, size_t *len)
{
	size_t have = f->in_len - f->in_off, n;
	const uint8_t *p = f->in + f->in_off;

	if (have < RELAY_UDP_HDR)
		return false;
	n = (size_t)p[0] << 8 | p[1];
	if (have < RELAY_UDP_HDR + n)
		return false;
	*dg = p + RELAY_UDP_HDR;
	*len = n;
	f->in_off += RELAY_UDP_HDR + n;
	return true;
}

int udp_framer_next(struct udp_framer *f, const uint8_t **dg, size_t *len)
{
	for (;;) {
		ssize_t r;

		if (take_frame(f, dg, len))
			return 1;
		if (f->eof)
			return f->in_len > f->in_off ? UDP_FRAMER_TRUNC : UDP_FRAMER_EOF;
		/* keep the partial frame, move it to the front, read behind it */
		if (f->in_off) {
			memmove(f->in, f->in + f->in_off, f->in_len - f->in_off);
			f->in_len -= f->in_off;
			f->in_off = 0;
		}
		r = stream_read(f->s, f->in + f->in_len, f->in_cap - f->in_len);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return (int)r;
		if (r == 0)
			f->eof = true;
		f->in_len += (size_t)r;
	}
}

bool udp_framer_has_frame(const struct udp_framer *f)
{
	size_t have = f->in_len - f->in_off;
	const uint8_t *p = f->in + f->in_off;

	return have >= RELAY_UDP_HDR && have >= RELAY_UDP_HDR + ((size_t)p[0] << 8 | p[1]);
}

bool udp_framer_room(const struct udp_framer *f, size_t len)
{
	return f->out_len - f->out_off + RELAY_UDP_HDR + len <= UDP_FRAMER_OUT_CAP;
}

int udp_framer_put(struct udp_framer *f, const void *dg, size_t len)
{
	if (len > UDP_MAX_DGRAM)
		return -EMSGSIZE;
	if (!udp_framer_room(f, len))
		return -ENOBUFS;
	if (f->out_off && f->out_len + RELAY_UDP_HDR + len > UDP_FRAMER_OUT_CAP) {
		memmove(f->out, f->out + f->out_off, f->out_len - f->out_off);
		f->out_len -= f->out_off;
		f->out_off = 0;
	}
	relay_udp_frame_hdr(f->out + f->out_len, len);
	if (len)
		memcpy(f->out + f->out_len + RELAY_UDP_HDR, dg, len);
	f->out_len += RELAY_UDP_HDR + len;
	return 0;
}

int udp_framer_flush(struct udp_framer *f)
{
	while (f->out_off < f->out_len) {
		ssize_t w = stream_write(f->s, f->out + f->out_off, f->out_len - f->out_off);

		if (w < 0)
			return (int)w;
		f->out_off += (size_t)w;
	}
	f->out_off = f->out_len = 0;
	return 0;
}
