/* Unit tests for the fast-path pin directory names (user/control/pin_path.c):
 * one directory per control socket, valid on the BPF filesystem (no dots). */
#include <string.h>

#include "control/pin_path.h"
#include "relayd/fastpath_abi.h"
#include "unit.h"

static void test_plain_paths_map_slashes_to_underscores(void)
{
	char out[256];

	pin_path_for("/run/relayd/relayd_sock", out, sizeof(out));
	CHECK_STR(out, FP_PIN_DIR "/_run_relayd_relayd_sock");
}

static void test_dots_are_replaced_and_names_stay_apart(void)
{
	char a[256], b[256];

	pin_path_for("/run/relayd/relayd.sock", a, sizeof(a));
	pin_path_for("/run/relayd/relayd_sock", b, sizeof(b));
	CHECK(!strchr(a + strlen(FP_PIN_DIR), '.'));
	CHECK(strncmp(a, FP_PIN_DIR "/_run_relayd_relayd_sock-", strlen(FP_PIN_DIR) + 25) == 0);
	CHECK(strcmp(a, b) != 0);
}

static void test_long_paths_are_hashed(void)
{
	char path[400], out[256];

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	pin_path_for(path, out, sizeof(out));
	CHECK(strncmp(out, FP_PIN_DIR "/ctl-", strlen(FP_PIN_DIR) + 5) == 0);
	CHECK_INT(strlen(out), strlen(FP_PIN_DIR) + 5 + 16);
}

static void test_small_buffers_are_terminated(void)
{
	char out[24];

	pin_path_for("/a/b.c", out, sizeof(out));
	CHECK(memchr(out, 0, sizeof(out)) != NULL);
}

int main(void)
{
	RUN(test_plain_paths_map_slashes_to_underscores);
	RUN(test_dots_are_replaced_and_names_stay_apart);
	RUN(test_long_paths_are_hashed);
	RUN(test_small_buffers_are_terminated);
	return UNIT_DONE();
}
