/* systemd's readiness protocol (sd_notify) without libsystemd: one datagram
 * per state change to $NOTIFY_SOCKET; nothing happens when it is unset. */
#ifndef RELAYD_CONTROL_SDNOTIFY_H
#define RELAYD_CONTROL_SDNOTIFY_H

int sdnotify_send(const char *state);
int sdnotify_ready(void);
/* RELOADING=1 with MONOTONIC_USEC, as systemd >= 253 expects for Type=notify-reload */
int sdnotify_reloading(void);
int sdnotify_stopping(void);

#endif
