/* The control socket: relayctl's way into a running daemon (see
 * include/relayd/ctl_proto.h).  Runs on the main thread's loop. */
#ifndef RELAYD_CONTROL_CTL_SERVER_H
#define RELAYD_CONTROL_CTL_SERVER_H

#include <stddef.h>
#include <jansson.h>

struct loop;

/* A command: fills reply (an object with "ok" already true) or returns an
 * error message (static or in errbuf). */
typedef const char *(*ctl_cmd_fn)(const json_t *req, json_t *reply, void *ud, char *errbuf,
				   size_t errlen);

struct ctl_cmd {
	const char *name;
	ctl_cmd_fn fn;
	void *ud;
};

/* Binds path (refusing when another daemon answers there).  cmds must outlive
 * the server.  Returns 0 or -errno with err filled. */
int ctl_server_start(struct loop *l, const char *path, const struct ctl_cmd *cmds, size_t n,
		     char *err, size_t errlen);
void ctl_server_stop(void);

#endif
