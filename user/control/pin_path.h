/* Where a daemon pins its fast-path maps, derived from its control socket
 * path so that several daemons side by side never share a pin directory and
 * relayctl finds them with the same --ctl it uses for the socket. */
#ifndef RELAYD_CONTROL_PIN_PATH_H
#define RELAYD_CONTROL_PIN_PATH_H

#include <stddef.h>

/* FP_PIN_DIR "/" + the control path with '/' turned into '_', or a hash of
 * it when that would make too long a directory name. */
void pin_path_for(const char *ctl_path, char *out, size_t cap);

#endif
