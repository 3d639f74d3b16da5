/* The commands the control socket answers and the daemon state they read.
 * JSON field names here are the stable output of `relayctl -j`. */
#ifndef RELAYD_CONTROL_CTL_CMDS_H
#define RELAYD_CONTROL_CTL_CMDS_H

#include <stddef.h>
#include <stdint.h>

struct service;
struct ctl_cmd;
struct loop;

struct daemon_state {
	uint64_t start_mono_ms;
	uint64_t start_wall_ms;
	struct service **services;      /* the current set (replaced by a reload) */
	size_t n_services;
	int workers;
	struct loop **loops;            /* every loop that owns connections */
	size_t n_loops;
	uint64_t reloads, reload_failures;
	char last_reload_error[256];
	/* reload the configuration (what = "config" or "users"); 0, or -1 with err */
	int (*reload)(void *ud, const char *what, char *err, size_t errlen);
	void *reload_ud;
	const char *pin_dir;
};

/* The command table; state must outlive the control server. */
const struct ctl_cmd *ctl_cmds(struct daemon_state *state, size_t *n);

#endif
