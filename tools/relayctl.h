/* relayctl internals: every command produces one JSON reply (from the daemon
 * over its control socket, or built here for the commands that work without
 * one); -j prints that reply, otherwise a printer turns it into text. */
#ifndef RELAYD_TOOLS_RELAYCTL_H
#define RELAYD_TOOLS_RELAYCTL_H

#include <jansson.h>

/* relayctl_print.c: text output of each reply */
void print_status(const json_t *r);
void print_services(const json_t *r);
void print_conns(const json_t *r);
void print_conn(const json_t *r);
void print_killed(const json_t *r);
void print_reloaded(const json_t *r);
void print_object(const json_t *r);
void print_config_check(const json_t *r);
void print_map_dump(const json_t *r);

/* relayctl_local.c: commands that need no daemon.  Each returns a reply
 * ({"ok":true,...}) or NULL with err filled. */
json_t *local_config_check(const char *file, char *err, size_t errlen);
json_t *local_map_dump(const char *ctl_path, char *err, size_t errlen);

#endif
