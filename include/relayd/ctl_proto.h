/* The control protocol between relayd and relayctl: a Unix stream socket,
 * one JSON object per line.  The client sends {"cmd": NAME, ...args}; the
 * daemon answers one line {"ok": true, ...} or {"ok": false, "error": TEXT}
 * and closes.  Version bumps when a reply changes incompatibly. */
#ifndef RELAYD_CTL_PROTO_H
#define RELAYD_CTL_PROTO_H

#define CTL_PROTO_VERSION 1
#define CTL_DEFAULT_PATH "/run/relayd/relayd.sock"
#define CTL_MAX_REQUEST 4096

#endif
