/* GOST's mux.* metadata (x: internal/util/mux) over smux's defaults: used by
 * the relay handler for BIND and by the relay connector for rtcp. */
#ifndef RELAYD_PROXY_SMUX_MD_H
#define RELAYD_PROXY_SMUX_MD_H

#include <stddef.h>

struct cfg_md;
struct smux_config;

/* 0, or -EINVAL with err naming the key. */
int smux_config_from_md(const struct cfg_md *md, struct smux_config *c, char *err,
			size_t errlen);

#endif
