/* mux.* metadata → smux configuration (see smux_md.h).  Zero or absent values
 * keep smux's defaults, as GOST's mux.go does. */
#include "proxy/smux_md.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "net/smux_session.h"

static int get_u32(const struct cfg_md *md, const char *key, uint32_t *v, char *err,
		   size_t errlen)
{
	long n;

	if (cfg_md_int(md, key, 0, &n, err, errlen))
		return -EINVAL;
	if (n < 0 || n > INT32_MAX) {
		snprintf(err, errlen, "%s: %ld is out of range", key, n);
		return -EINVAL;
	}
	if (n)
		*v = (uint32_t)n;
	return 0;
}

static int get_ms(const struct cfg_md *md, const char *key, uint32_t *v, char *err,
		  size_t errlen)
{
	long ms;

	if (cfg_md_duration_ms(md, key, 0, &ms, err, errlen))
		return -EINVAL;
	if (ms > INT32_MAX) {
		snprintf(err, errlen, "%s: too long", key);
		return -EINVAL;
	}
	if (ms > 0)
		*v = (uint32_t)ms;
	return 0;
}

int smux_config_from_md(const struct cfg_md *md, struct smux_config *c, char *err,
			size_t errlen)
{
	uint32_t version = 0;

	smux_config_default(c);
	if (get_u32(md, "mux.version", &version, err, errlen) ||
	    cfg_md_bool(md, "mux.keepaliveDisabled", false, &c->keepalive_disabled, err, errlen) ||
	    get_ms(md, "mux.keepaliveInterval", &c->keepalive_interval_ms, err, errlen) ||
	    get_ms(md, "mux.keepaliveTimeout", &c->keepalive_timeout_ms, err, errlen) ||
	    get_u32(md, "mux.maxFrameSize", &c->max_frame_size, err, errlen) ||
	    get_u32(md, "mux.maxReceiveBuffer", &c->max_receive_buffer, err, errlen) ||
	    get_u32(md, "mux.maxStreamBuffer", &c->max_stream_buffer, err, errlen))
		return -EINVAL;
	if (version > 255) {
		snprintf(err, errlen, "mux.version: unsupported protocol version %u", version);
		return -EINVAL;
	}
	if (version)
		c->version = (uint8_t)version;
	return smux_config_verify(c, err, errlen);
}
