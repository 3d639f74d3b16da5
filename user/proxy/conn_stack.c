/* Transport stack and TLS details of a connection (see conn_stack.h). */
#include "proxy/conn_stack.h"

#include <stdio.h>

#include "base/util.h"
#include "control/conns.h"
#include "net/stream.h"

void conn_note_streams(struct conn_info *ci, struct stream *client, struct stream *target)
{
	char c[64], t[64];
	const char *tc = stream_tls_info(client), *tt = stream_tls_info(target);

	stream_describe(client, c, sizeof(c));
	stream_describe(target, t, sizeof(t));
	snprintf(ci->stack, sizeof(ci->stack), "%s|%s", c, t);
	util_strcpy(ci->tls_client, sizeof(ci->tls_client), tc ? tc : "");
	util_strcpy(ci->tls_target, sizeof(ci->tls_target), tt ? tt : "");
}
