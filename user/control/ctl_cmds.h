/* The commands the control socket answers (status, conns, ...) and the
 * daemon state they read. */
#ifndef RELAYD_CONTROL_CTL_CMDS_H
#define RELAYD_CONTROL_CTL_CMDS_H

#include <stddef.h>
#include <stdint.h>

struct service;
struct ctl_cmd;

struct daemon_state {
	uint64_t start_mono_ms;
	uint64_t start_wall_ms;
	struct service *services;
	size_t n_services;
	int workers;
	const char *fastpath_mode;      /* "on" / "off" */
};

/* The command table; state must outlive the control server. */
const struct ctl_cmd *ctl_cmds(struct daemon_state *state, size_t *n);

#endif
