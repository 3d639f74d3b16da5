/* The configuration module: -L/-F flags into GOST's schema (every rule of
 * x/config/cmd, and the exact errors), gost -O json output byte for byte,
 * -C loading and merging, compile defaults and errors with their field paths,
 * auth files, users, metadata getters, and every configs/examples file. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "unit.h"

#define V(...) ((const char *[]){ __VA_ARGS__ })
#define NV(...) (sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *))
#define DATA "tests/unit/data/config/"

static char err[CFG_ERR_MAX];

static json_t *build(const char **C, size_t nC, const char **L, size_t nL, const char **F,
		     size_t nF)
{
	struct cfg_sources s = { C, nC, L, nL, F, nF };
	json_t *doc = NULL;

	err[0] = '\0';
	if (cfg_build_doc(&s, &doc, err, sizeof(err)))
		return NULL;
	return doc;
}

/* gost -O json for these flags, or NULL with err set. */
static char *dump_of(const char **C, size_t nC, const char **L, size_t nL, const char **F,
		     size_t nF)
{
	json_t *doc = build(C, nC, L, nL, F, nF);
	char *s;

	if (!doc)
		return NULL;
	s = cfg_doc_dump(doc);
	json_decref(doc);
	return s;
}

#define DUMP_L(...) dump_of(NULL, 0, V(__VA_ARGS__), NV(__VA_ARGS__), NULL, 0)

static void check_dump(char *got, const char *want, int line)
{
	if (!got || strcmp(got, want)) {
		fprintf(stderr, "  line %d: dump differs (err: %s)\n--- got\n%s--- want\n%s", line,
			err, got ? got : "(null)\n", want);
		unit_failed_checks++;
	}
	free(got);
}
#define CHECK_DUMP(got, want) check_dump((got), (want), __LINE__)

/* The error building these sources gives. */
static const char *build_error(const char **C, size_t nC, const char **L, size_t nL,
			       const char **F, size_t nF)
{
	json_t *doc = build(C, nC, L, nL, F, nF);

	if (doc) {
		json_decref(doc);
		return "(no error)";
	}
	return err;
}

/* Build then compile; NULL with err set on failure. */
static struct cfg *compile_of(const char **C, size_t nC, const char **L, size_t nL,
			      const char **F, size_t nF)
{
	json_t *doc = build(C, nC, L, nL, F, nF);
	struct cfg *c = NULL;

	if (!doc)
		return NULL;
	if (cfg_compile(doc, &c, err, sizeof(err)))
		c = NULL;
	json_decref(doc);
	return c;
}

static const char *compile_error(const char **C, size_t nC, const char **L, size_t nL,
				 const char **F, size_t nF)
{
	struct cfg *c = compile_of(C, nC, L, nL, F, nF);

	if (c) {
		cfg_free(c);
		return "(no error)";
	}
	return err;
}

#define COMPILE_ERR_C(json) compile_error(V(json), 1, NULL, 0, NULL, 0)

/* A string member of the built document, by a path of keys and indexes. */
static const char *doc_str(const json_t *doc, const char *path)
{
	char buf[256], *tok, *save = NULL;
	const json_t *v = doc;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
		char *br = strchr(tok, '[');

		if (br)
			*br = '\0';
		v = json_object_get(v, tok);
		if (br)
			v = json_array_get(v, strtoul(br + 1, NULL, 10));
	}
	return json_string_value(v);
}

static json_t *doc_get(const json_t *doc, const char *path)
{
	char buf[256], *tok, *save = NULL;
	const json_t *v = doc;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
		char *br = strchr(tok, '[');

		if (br)
			*br = '\0';
		v = json_object_get(v, tok);
		if (br)
			v = json_array_get(v, strtoul(br + 1, NULL, 10));
	}
	return (json_t *)v;
}

/* ---- gost -O json worked examples (gost-cli-and-config.md §2) ---------------- */

static void test_dump_tcp_udp_forward_through_relay_matches_gost(void)
{
	CHECK_DUMP(dump_of(NULL, 0, V("tcp://:2222/:22", "udp://:1053/:53"), 2,
			   V("relay://:8420"), 1),
		   "{\n"
		   "  \"services\": [\n"
		   "    {\n"
		   "      \"name\": \"service-0\",\n"
		   "      \"addr\": \":2222\",\n"
		   "      \"handler\": {\n"
		   "        \"type\": \"tcp\",\n"
		   "        \"chain\": \"chain-0\"\n"
		   "      },\n"
		   "      \"listener\": {\n"
		   "        \"type\": \"tcp\"\n"
		   "      },\n"
		   "      \"forwarder\": {\n"
		   "        \"nodes\": [\n"
		   "          {\n"
		   "            \"name\": \"target-0\",\n"
		   "            \"addr\": \":22\"\n"
		   "          }\n"
		   "        ]\n"
		   "      }\n"
		   "    },\n"
		   "    {\n"
		   "      \"name\": \"service-1\",\n"
		   "      \"addr\": \":1053\",\n"
		   "      \"handler\": {\n"
		   "        \"type\": \"udp\",\n"
		   "        \"chain\": \"chain-0\"\n"
		   "      },\n"
		   "      \"listener\": {\n"
		   "        \"type\": \"udp\"\n"
		   "      },\n"
		   "      \"forwarder\": {\n"
		   "        \"nodes\": [\n"
		   "          {\n"
		   "            \"name\": \"target-0\",\n"
		   "            \"addr\": \":53\"\n"
		   "          }\n"
		   "        ]\n"
		   "      }\n"
		   "    }\n"
		   "  ],\n"
		   "  \"chains\": [\n"
		   "    {\n"
		   "      \"name\": \"chain-0\",\n"
		   "      \"hops\": [\n"
		   "        {\n"
		   "          \"name\": \"hop-0\",\n"
		   "          \"nodes\": [\n"
		   "            {\n"
		   "              \"name\": \"node-0\",\n"
		   "              \"addr\": \":8420\",\n"
		   "              \"connector\": {\n"
		   "                \"type\": \"relay\"\n"
		   "              },\n"
		   "              \"dialer\": {\n"
		   "                \"type\": \"tcp\"\n"
		   "              }\n"
		   "            }\n"
		   "          ]\n"
		   "        }\n"
		   "      ]\n"
		   "    }\n"
		   "  ]\n"
		   "}\n");
}

static void test_dump_relay_server_with_userinfo_matches_gost(void)
{
	CHECK_DUMP(DUMP_L("relay://user:pass@:12345"),
		   "{\n"
		   "  \"services\": [\n"
		   "    {\n"
		   "      \"name\": \"service-0\",\n"
		   "      \"addr\": \":12345\",\n"
		   "      \"handler\": {\n"
		   "        \"type\": \"relay\",\n"
		   "        \"auth\": {\n"
		   "          \"username\": \"user\",\n"
		   "          \"password\": \"pass\"\n"
		   "        }\n"
		   "      },\n"
		   "      \"listener\": {\n"
		   "        \"type\": \"tcp\"\n"
		   "      }\n"
		   "    }\n"
		   "  ]\n"
		   "}\n");
}

static void test_dump_relay_client_nodelay_matches_gost(void)
{
	CHECK_DUMP(dump_of(NULL, 0, V(":8080"), 1, V("relay://u:p@srv:12345?nodelay=false"), 1),
		   "{\n"
		   "  \"services\": [\n"
		   "    {\n"
		   "      \"name\": \"service-0\",\n"
		   "      \"addr\": \":8080\",\n"
		   "      \"handler\": {\n"
		   "        \"type\": \"auto\",\n"
		   "        \"chain\": \"chain-0\"\n"
		   "      },\n"
		   "      \"listener\": {\n"
		   "        \"type\": \"tcp\"\n"
		   "      }\n"
		   "    }\n"
		   "  ],\n"
		   "  \"chains\": [\n"
		   "    {\n"
		   "      \"name\": \"chain-0\",\n"
		   "      \"hops\": [\n"
		   "        {\n"
		   "          \"name\": \"hop-0\",\n"
		   "          \"nodes\": [\n"
		   "            {\n"
		   "              \"name\": \"node-0\",\n"
		   "              \"addr\": \"srv:12345\",\n"
		   "              \"connector\": {\n"
		   "                \"type\": \"relay\",\n"
		   "                \"auth\": {\n"
		   "                  \"username\": \"u\",\n"
		   "                  \"password\": \"p\"\n"
		   "                },\n"
		   "                \"metadata\": {\n"
		   "                  \"nodelay\": \"false\"\n"
		   "                }\n"
		   "              },\n"
		   "              \"dialer\": {\n"
		   "                \"type\": \"tcp\",\n"
		   "                \"tls\": {\n"
		   "                  \"serverName\": \"srv\"\n"
		   "                },\n"
		   "                \"metadata\": {\n"
		   "                  \"nodelay\": \"false\"\n"
		   "                }\n"
		   "              },\n"
		   "              \"metadata\": {\n"
		   "                \"nodelay\": \"false\"\n"
		   "              }\n"
		   "            }\n"
		   "          ],\n"
		   "          \"metadata\": {\n"
		   "            \"nodelay\": \"false\"\n"
		   "          }\n"
		   "        }\n"
		   "      ]\n"
		   "    }\n"
		   "  ]\n"
		   "}\n");
}

/* The doc's "minimal server config equivalent to -L relay+wss://u:p@:443?path=/ws". */
static void test_dump_relay_wss_flag_equals_documented_config(void)
{
	char *a = DUMP_L("relay+wss://u:p@:443?path=/ws");
	char *b = dump_of(V("{\"services\":[{\"name\":\"service-0\",\"addr\":\":443\","
			    "\"handler\":{\"type\":\"relay\",\"auth\":{\"username\":\"u\",\"password\":\"p\"},"
			    "\"metadata\":{\"path\":\"/ws\"}},\"listener\":{\"type\":\"wss\",\"metadata\":"
			    "{\"path\":\"/ws\"}},\"metadata\":{\"path\":\"/ws\"}}]}"), 1, NULL, 0, NULL, 0);

	CHECK(a && b && !strcmp(a, b));
	free(a);
	free(b);
}

static void test_dump_prints_go_zero_values_and_escapes(void)
{
	/* no service at all: Config.Services has no omitempty, so GOST prints null */
	CHECK_DUMP(dump_of(NULL, 0, NULL, 0, NULL, 0), "{\n  \"services\": null\n}\n");
	/* HTML-escaped like encoding/json; map keys sorted; {} for an empty auth */
	CHECK_DUMP(DUMP_L("relay://@:1?b=%3Cx%3E&a=1%262"),
		   "{\n"
		   "  \"services\": [\n"
		   "    {\n"
		   "      \"name\": \"service-0\",\n"
		   "      \"addr\": \":1\",\n"
		   "      \"handler\": {\n"
		   "        \"type\": \"relay\",\n"
		   "        \"auth\": {},\n"
		   "        \"metadata\": {\n"
		   "          \"a\": \"1\\u00262\",\n"
		   "          \"b\": \"\\u003cx\\u003e\"\n"
		   "        }\n"
		   "      },\n"
		   "      \"listener\": {\n"
		   "        \"type\": \"tcp\",\n"
		   "        \"metadata\": {\n"
		   "          \"a\": \"1\\u00262\",\n"
		   "          \"b\": \"\\u003cx\\u003e\"\n"
		   "        }\n"
		   "      },\n"
		   "      \"metadata\": {\n"
		   "        \"a\": \"1\\u00262\",\n"
		   "        \"b\": \"\\u003cx\\u003e\"\n"
		   "      }\n"
		   "    }\n"
		   "  ]\n"
		   "}\n");
	/* selectors print every field; failTimeout is a Go duration in nanoseconds */
	CHECK_DUMP(dump_of(V("{\"chains\":[{\"name\":\"c\",\"hops\":[{\"name\":\"h\","
			     "\"selector\":{\"failTimeout\":\"1.5s\"}}]}]}"), 1, NULL, 0, NULL, 0),
		   "{\n"
		   "  \"services\": null,\n"
		   "  \"chains\": [\n"
		   "    {\n"
		   "      \"name\": \"c\",\n"
		   "      \"hops\": [\n"
		   "        {\n"
		   "          \"name\": \"h\",\n"
		   "          \"selector\": {\n"
		   "            \"strategy\": \"\",\n"
		   "            \"maxFails\": 0,\n"
		   "            \"failTimeout\": 1500000000\n"
		   "          }\n"
		   "        }\n"
		   "      ]\n"
		   "    }\n"
		   "  ]\n"
		   "}\n");
}

/* ---- -L / -F rules (x/config/cmd/cmd.go) ----------------------------------- */

static void test_flags_scheme_defaults_and_fallbacks(void)
{
	json_t *doc = build(NULL, 0,
			    V(":8080", "user:pass@:8081", "https://:443", "relay://:8420",
			      "tls://:444", "foo+bar://:1", "a+b+c://:2", "RELAY+WSS://:3",
			      "ssu://:4", "socks5://:5"), 10,
			    V("1.2.3.4:8080", "kcp://h:1", "relay://h:2", "relay+tls://h:3",
			      "relay+nope://h:4"), 5);

	CHECK(doc);
	CHECK_STR(doc_str(doc, "services[0].handler.type"), "auto");
	CHECK_STR(doc_str(doc, "services[0].listener.type"), "tcp");
	CHECK_STR(doc_str(doc, "services[1].handler.type"), "auto");
	CHECK_STR(doc_str(doc, "services[1].handler.auth.username"), "user");
	CHECK_STR(doc_str(doc, "services[1].handler.auth.password"), "pass");
	CHECK_STR(doc_str(doc, "services[1].addr"), ":8081");
	CHECK_STR(doc_str(doc, "services[2].handler.type"), "http");
	CHECK_STR(doc_str(doc, "services[2].listener.type"), "tls");
	CHECK_STR(doc_str(doc, "services[3].handler.type"), "relay");
	CHECK_STR(doc_str(doc, "services[3].listener.type"), "tcp");
	CHECK_STR(doc_str(doc, "services[4].handler.type"), "auto");
	CHECK_STR(doc_str(doc, "services[4].listener.type"), "tls");
	CHECK_STR(doc_str(doc, "services[5].handler.type"), "auto");
	CHECK_STR(doc_str(doc, "services[5].listener.type"), "tcp");
	CHECK_STR(doc_str(doc, "services[6].handler.type"), "auto");
	CHECK_STR(doc_str(doc, "services[6].listener.type"), "tcp");
	CHECK_STR(doc_str(doc, "services[7].handler.type"), "relay");   /* schemes are lower-cased */
	CHECK_STR(doc_str(doc, "services[7].listener.type"), "wss");
	CHECK_STR(doc_str(doc, "services[8].listener.type"), "udp");   /* ssu falls back to udp */
	CHECK_STR(doc_str(doc, "services[9].handler.type"), "socks5");
	CHECK_STR(doc_str(doc, "services[9].listener.type"), "tcp");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].connector.type"), "http");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].dialer.type"), "tcp");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].addr"), "1.2.3.4:8080");
	CHECK_STR(doc_str(doc, "chains[0].hops[1].nodes[0].connector.type"), "http");
	CHECK_STR(doc_str(doc, "chains[0].hops[1].nodes[0].dialer.type"), "kcp");
	CHECK_STR(doc_str(doc, "chains[0].hops[2].nodes[0].connector.type"), "relay");
	CHECK_STR(doc_str(doc, "chains[0].hops[2].nodes[0].dialer.type"), "tcp");
	CHECK_STR(doc_str(doc, "chains[0].hops[3].nodes[0].dialer.type"), "tls");
	CHECK_STR(doc_str(doc, "chains[0].hops[4].nodes[0].dialer.type"), "tcp");
	CHECK_STR(doc_str(doc, "chains[0].hops[4].name"), "hop-4");
	json_decref(doc);
}

static void test_flags_port_ranges_make_one_service_per_port(void)
{
	json_t *doc = build(NULL, 0,
			    V("tcp://:8000-8002/10.0.0.1:9000-9002", "tcp://:7000-7001/:22",
			      "tcp://:abc", "tcp://:8010-8000", "tcp://localhost:080"), 5, NULL, 0);

	CHECK(doc);
	CHECK_INT(json_array_size(json_object_get(doc, "services")), 8);
	CHECK_STR(doc_str(doc, "services[0].addr"), ":8000");
	CHECK_STR(doc_str(doc, "services[2].addr"), ":8002");
	CHECK_STR(doc_str(doc, "services[2].name"), "service-2");
	/* a range of targets pairs one to one, keeping the target names */
	CHECK_STR(doc_str(doc, "services[1].forwarder.nodes[0].addr"), "10.0.0.1:9001");
	CHECK_STR(doc_str(doc, "services[1].forwarder.nodes[0].name"), "target-1");
	CHECK_INT(json_array_size(doc_get(doc, "services[1].forwarder.nodes")), 1);
	/* a single target is shared */
	CHECK_STR(doc_str(doc, "services[3].forwarder.nodes[0].addr"), ":22");
	CHECK_STR(doc_str(doc, "services[4].forwarder.nodes[0].addr"), ":22");
	CHECK_STR(doc_str(doc, "services[4].forwarder.nodes[0].name"), "target-0");
	/* GOST's PortRange leaves 0-0 when the port does not parse */
	CHECK_STR(doc_str(doc, "services[5].addr"), ":0");
	/* a reversed range expands to nothing and the host is kept as typed */
	CHECK_STR(doc_str(doc, "services[6].addr"), ":8010-8000");
	CHECK_STR(doc_str(doc, "services[7].addr"), "localhost:80");
	json_decref(doc);

	CHECK_STR(build_error(NULL, 0, V("tcp://:1-70000"), 1, NULL, 0),
		  "-L 'tcp://:1-70000': port range 1-70000 expands to 70000 addresses, more than "
		  "there are ports");
}

static void test_flags_targets_rewrite_the_handler(void)
{
	json_t *doc = build(NULL, 0,
			    V("tcp://:1/a:1", "udp://:2/a:2", "rtcp://:3/a:3", "rudp://:4/a:4",
			      "tls://:5/a:5", "relay://:6/:53", "socks5://:7/a:7", ":8/a:8",
			      "tcp://:9/a:1,b:2?strategy=rand"), 9, V("relay://:8420"), 1);

	CHECK(doc);
	CHECK_STR(doc_str(doc, "services[0].handler.type"), "tcp");
	CHECK_STR(doc_str(doc, "services[1].handler.type"), "udp");
	CHECK_STR(doc_str(doc, "services[2].handler.type"), "rtcp");
	CHECK_STR(doc_str(doc, "services[3].handler.type"), "rudp");
	CHECK_STR(doc_str(doc, "services[4].handler.type"), "forward");
	CHECK_STR(doc_str(doc, "services[5].handler.type"), "relay");
	CHECK_STR(doc_str(doc, "services[5].forwarder.nodes[0].addr"), ":53");
	/* socks5 is no listener, so the listener is tcp and the handler follows it */
	CHECK_STR(doc_str(doc, "services[6].handler.type"), "tcp");
	CHECK_STR(doc_str(doc, "services[7].handler.type"), "tcp");
	CHECK_STR(doc_str(doc, "services[8].forwarder.nodes[1].name"), "target-1");
	CHECK_STR(doc_str(doc, "services[8].forwarder.selector.strategy"), "rand");
	CHECK_INT(json_integer_value(doc_get(doc, "services[8].forwarder.selector.maxFails")), 1);
	CHECK_INT(json_integer_value(doc_get(doc, "services[8].forwarder.selector.failTimeout")),
		  30000000000LL);
	CHECK(!doc_get(doc, "services[8].handler.metadata.strategy"));
	/* chain-0: on the handler, but on the listener for rtcp/rudp */
	CHECK_STR(doc_str(doc, "services[0].handler.chain"), "chain-0");
	CHECK(!doc_get(doc, "services[0].listener.chain"));
	CHECK_STR(doc_str(doc, "services[2].listener.chain"), "chain-0");
	CHECK(!doc_get(doc, "services[2].handler.chain"));
	CHECK_STR(doc_str(doc, "services[3].listener.chain"), "chain-0");
	json_decref(doc);

	doc = build(NULL, 0, V("tcp://:1/a:1"), 1, NULL, 0);
	CHECK(doc && !doc_get(doc, "services[0].handler.chain") && !doc_get(doc, "chains"));
	json_decref(doc);
}

static void test_flags_credentials(void)
{
	json_t *doc = build(NULL, 0,
			    V("relay://:1?auth=dXNlcjpwYXNz", "relay://:2?auth=dXNlcg",
			      "relay://a:b@:3?auth=dXNlcjpwYXNz", "relay://solo@:4",
			      "relay://%41:p%40ss@:5", "sshd://u:p@:22"), 6,
			    V("relay://u:p@h:1", "relay://h:2?auth=dTpw", "relay://:pw@h:3"), 3);

	CHECK(doc);
	CHECK_STR(doc_str(doc, "services[0].handler.auth.username"), "user");
	CHECK_STR(doc_str(doc, "services[0].handler.auth.password"), "pass");
	CHECK(!doc_get(doc, "services[0].handler.metadata.auth"));
	CHECK_STR(doc_str(doc, "services[1].handler.auth.username"), "user");  /* raw URL base64 */
	CHECK_STR(doc_str(doc, "services[2].handler.auth.username"), "a");     /* userinfo wins */
	CHECK_STR(doc_str(doc, "services[3].handler.auth.username"), "solo");
	CHECK_STR(doc_str(doc, "services[3].handler.auth.password"), "");
	CHECK_STR(doc_str(doc, "services[4].handler.auth.username"), "A");
	CHECK_STR(doc_str(doc, "services[4].handler.auth.password"), "p@ss");
	CHECK(!doc_get(doc, "services[5].handler.auth"));                     /* ssh keeps them */
	CHECK_STR(doc_str(doc, "services[5].listener.auth.username"), "u");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].connector.auth.password"), "p");
	CHECK_STR(doc_str(doc, "chains[0].hops[1].nodes[0].connector.auth.username"), "u");
	/* GOST builds the hop metadata before the node takes auth out */
	CHECK_STR(doc_str(doc, "chains[0].hops[1].metadata.auth"), "dTpw");
	CHECK(!doc_get(doc, "chains[0].hops[1].nodes[0].metadata.auth"));
	CHECK_STR(doc_str(doc, "chains[0].hops[2].nodes[0].connector.auth.username"), "");
	json_decref(doc);

	CHECK_STR(build_error(NULL, 0, V("relay://:1?auth=!!"), 1, NULL, 0),
		  "-L 'relay://:1?auth=!!': auth: illegal base64 data at input byte 0");
	/* raw URL base64 is tried first; the error reported is the padded decoder's */
	CHECK_STR(build_error(NULL, 0, NULL, 0, V("relay://h:1?auth=dXNlcjpwYXNz="), 1),
		  "-F 'relay://h:1?auth=dXNlcjpwYXNz=': auth: illegal base64 data at input byte 12");
}

static void test_flags_service_metadata_routing(void)
{
	json_t *doc = build(NULL, 0,
			    V("relay+tls://:1?a=1&handler.h=2&listener.l=3&service.s=4&certFile=c.pem&"
			      "key=k.pem&interface=eth0&so_mark=7&proxyProtocol=x&netns=ns1&dns=1.1.1.1,,"
			      "8.8.8.8&retries=3&nodelay=false",
			      "tls://:2?keyFile=k.pem"), 2, NULL, 0);

	CHECK(doc);
	CHECK_STR(doc_str(doc, "services[0].handler.metadata.a"), "1");
	CHECK_STR(doc_str(doc, "services[0].listener.metadata.a"), "1");
	CHECK_STR(doc_str(doc, "services[0].metadata.a"), "1");
	CHECK_STR(doc_str(doc, "services[0].handler.metadata.h"), "2");
	CHECK(!doc_get(doc, "services[0].listener.metadata.h"));
	CHECK_STR(doc_str(doc, "services[0].listener.metadata.l"), "3");
	CHECK_STR(doc_str(doc, "services[0].metadata.s"), "4");
	CHECK(!doc_get(doc, "services[0].handler.metadata.s"));
	CHECK_STR(doc_str(doc, "services[0].listener.tls.certFile"), "c.pem");
	CHECK_STR(doc_str(doc, "services[0].listener.tls.keyFile"), "k.pem");
	CHECK(!doc_get(doc, "services[0].listener.metadata.certFile"));
	CHECK(!doc_get(doc, "services[0].listener.metadata.key"));
	CHECK_STR(doc_str(doc, "services[0].metadata.interface"), "eth0");
	CHECK(!doc_get(doc, "services[0].handler.metadata.interface"));
	/* so_mark becomes an int; an unparsable proxyProtocol stays a plain key */
	CHECK_INT(json_integer_value(doc_get(doc, "services[0].metadata.so_mark")), 7);
	CHECK_STR(doc_str(doc, "services[0].handler.metadata.proxyProtocol"), "x");
	CHECK_STR(doc_str(doc, "services[0].metadata.netns"), "ns1");
	CHECK_INT(json_array_size(doc_get(doc, "services[0].handler.metadata.dns")), 3);
	CHECK_STR(doc_str(doc, "services[0].handler.metadata.dns[1]"), "");
	/* retries leaves handler metadata only; values stay strings */
	CHECK_INT(json_integer_value(doc_get(doc, "services[0].handler.retries")), 3);
	CHECK(!doc_get(doc, "services[0].handler.metadata.retries"));
	CHECK_STR(doc_str(doc, "services[0].listener.metadata.retries"), "3");
	CHECK_STR(doc_str(doc, "services[0].handler.metadata.nodelay"), "false");
	/* TLS only when a certificate is given; the key is consumed either way */
	CHECK(!doc_get(doc, "services[1].listener.tls"));
	CHECK(!doc_get(doc, "services[1].listener.metadata.keyFile"));
	json_decref(doc);
}

static void test_flags_named_objects(void)
{
	json_t *doc = build(NULL, 0,
			    V("tcp://:1/a:1?bypass=~10.0.0.0/8,,x&admission=1.2.3.4&resolver=udp://"
			      "1.1.1.1&prefer=ipv6&hosts=a:1.2.3.4,bad,b:5.6.7.8&limiter.in=1MB&"
			      "climiter=10&rlimiter=2.5"), 1,
			    V("relay://h:1?bypass=y&resolver=r1,r2&hosts=c:1.1.1.1"), 1);

	CHECK(doc);
	/* hops first, so the -F objects get the lower numbers */
	CHECK_STR(doc_str(doc, "chains[0].hops[0].bypass"), "bypass-0");
	CHECK_STR(doc_str(doc, "services[0].bypass"), "bypass-1");
	CHECK(json_is_true(doc_get(doc, "bypasses[1].whitelist")));
	CHECK_INT(json_array_size(doc_get(doc, "bypasses[1].matchers")), 2);
	CHECK_STR(doc_str(doc, "services[0].admission"), "admission-0");
	CHECK_STR(doc_str(doc, "admissions[0].matchers[0]"), "1.2.3.4");
	CHECK_STR(doc_str(doc, "services[0].resolver"), "resolver-1");
	CHECK_STR(doc_str(doc, "resolvers[1].nameservers[0].prefer"), "ipv6");
	CHECK_STR(doc_str(doc, "resolvers[0].nameservers[1].addr"), "r2");
	CHECK_STR(doc_str(doc, "hosts[1].mappings[1].hostname"), "b");
	CHECK_STR(doc_str(doc, "hosts[1].mappings[1].ip"), "5.6.7.8");
	CHECK_STR(doc_str(doc, "limiters[0].limits[0]"), "$ 1MB ");
	CHECK_STR(doc_str(doc, "climiters[0].limits[0]"), "$ 10");
	CHECK_STR(doc_str(doc, "rlimiters[0].limits[0]"), "$ 2.5");
	/* only handler metadata loses the keys */
	CHECK(!doc_get(doc, "services[0].handler.metadata.bypass"));
	CHECK_STR(doc_str(doc, "services[0].listener.metadata.bypass"), "~10.0.0.0/8,,x");
	CHECK_STR(doc_str(doc, "services[0].handler.metadata.prefer"), "ipv6");
	json_decref(doc);
}

static void test_flags_node_metadata_and_tls(void)
{
	json_t *doc = build(NULL, 0, NULL, 0,
			    V("relay+tls://example.com:443?a=1&hop.h=2&node.n=3&connector.c=4&"
			      "dialer.d=5&secure=true&interface=eth1&so_mark=9&strategy=hash&"
			      "failTimeout=5",
			      "relay+wss://[::1]:443?tls.serverName=sni.example&caFile=ca.pem",
			      "relay://a:1,b:2,,c:3?x=1", "relay://:8000?serverName=s"), 4);

	CHECK(doc);
	CHECK_STR(doc_str(doc, "chains[0].hops[0].metadata.a"), "1");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].metadata.a"), "1");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].connector.metadata.a"), "1");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].dialer.metadata.a"), "1");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].metadata.h"), "2");
	CHECK(!doc_get(doc, "chains[0].hops[0].nodes[0].metadata.h"));
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].metadata.n"), "3");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].connector.metadata.c"), "4");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].dialer.metadata.d"), "5");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].metadata.interface"), "eth1");
	CHECK_INT(json_integer_value(doc_get(doc, "chains[0].hops[0].metadata.so_mark")), 9);
	CHECK(!doc_get(doc, "chains[0].hops[0].nodes[0].metadata.interface"));
	CHECK(json_is_true(doc_get(doc, "chains[0].hops[0].nodes[0].dialer.tls.secure")));
	CHECK_STR(doc_str(doc, "chains[0].hops[0].nodes[0].dialer.tls.serverName"), "example.com");
	CHECK_STR(doc_str(doc, "chains[0].hops[0].metadata.secure"), "true");
	CHECK(!doc_get(doc, "chains[0].hops[0].nodes[0].metadata.secure"));
	CHECK_STR(doc_str(doc, "chains[0].hops[0].selector.strategy"), "hash");
	CHECK_INT(json_integer_value(doc_get(doc, "chains[0].hops[0].selector.failTimeout")),
		  5000000000LL);
	/* serverName read case-insensitively, but GOST only deletes "serverName" */
	CHECK_STR(doc_str(doc, "chains[0].hops[1].nodes[0].dialer.tls.serverName"), "sni.example");
	CHECK_STR(doc_str(doc, "chains[0].hops[1].nodes[0].dialer.tls.caFile"), "ca.pem");
	CHECK_STR(json_string_value(json_object_get(doc_get(doc, "chains[0].hops[1].nodes[0]."
							    "metadata"), "tls.serverName")),
		  "sni.example");
	/* comma hosts: several nodes of one hop, the same config each */
	CHECK_INT(json_array_size(doc_get(doc, "chains[0].hops[2].nodes")), 3);
	CHECK_STR(doc_str(doc, "chains[0].hops[2].nodes[2].name"), "node-2");
	CHECK_STR(doc_str(doc, "chains[0].hops[2].nodes[2].addr"), "c:3");
	CHECK_STR(doc_str(doc, "chains[0].hops[2].nodes[1].metadata.x"), "1");
	/* Hostname() of "a:1,b:2,,c:3" is everything before the last port */
	CHECK_STR(doc_str(doc, "chains[0].hops[2].nodes[0].dialer.tls.serverName"), "a:1,b:2,,c");
	/* no host: no default serverName, so only the explicit one */
	CHECK_STR(doc_str(doc, "chains[0].hops[3].nodes[0].dialer.tls.serverName"), "s");
	json_decref(doc);

	doc = build(NULL, 0, NULL, 0, V("relay://:8000"), 1);
	CHECK(doc && !doc_get(doc, "chains[0].hops[0].nodes[0].dialer.tls"));
	json_decref(doc);
}

static void test_flags_errors_name_the_flag(void)
{
	CHECK_STR(build_error(NULL, 0, NULL, 0, V("relay://h:abc"), 1),
		  "-F 'relay://h:abc': invalid port \":abc\" after host");
	CHECK_STR(build_error(NULL, 0, NULL, 0, V("relay://:8000-8010"), 1),
		  "-F 'relay://:8000-8010': invalid port \":8000-8010\" after host");
	CHECK_STR(build_error(NULL, 0, NULL, 0, V("  "), 1), "-F '  ': empty value");
	CHECK_STR(build_error(NULL, 0, V("relay://%zz@:1"), 1, NULL, 0),
		  "-L 'relay://%zz@:1': invalid URL escape \"%zz\"");
	CHECK_STR(build_error(NULL, 0, V("relay://a b@:1"), 1, NULL, 0),
		  "-L 'relay://a b@:1': net/url: invalid userinfo");
	CHECK_STR(build_error(NULL, 0, V("my_relay://:1"), 1, NULL, 0),
		  "-L 'my_relay://:1': first path segment in URL cannot contain colon");
	CHECK_STR(build_error(NULL, 0, V("tcp://:1/a%2"), 1, NULL, 0),
		  "-L 'tcp://:1/a%2': invalid URL escape \"%2\"");
	CHECK_STR(build_error(NULL, 0, NULL, 0, V("relay://h\t:1"), 1),
		  "-F 'relay://h\t:1': net/url: invalid control character in URL");
	CHECK_STR(build_error(NULL, 0, NULL, 0, V("relay://[::1:80"), 1),
		  "-F 'relay://[::1:80': missing ']' in host");
	CHECK_STR(build_error(NULL, 0, NULL, 0, V("relay://h%2f:80"), 1),
		  "-F 'relay://h%2f:80': invalid URL escape \"%2f\"");
	/* blank -L values are skipped, as GOST does */
	CHECK_STR(build_error(NULL, 0, V(" "), 1, NULL, 0), "(no error)");
}

/* ---- -C sources and merging ------------------------------------------------ */

static void test_load_merges_sources_in_order(void)
{
	json_t *doc = build(V(DATA "base.json", " ", DATA "extra.json",
			      "{\"services\":[{\"name\":\"inline\",\"addr\":\":3\",\"handler\":"
			      "{\"metadata\":{\"MixedCase\":1}}}]}"), 4,
			    V("relay://:4"), 1, NULL, 0);

	CHECK(doc);
	CHECK_INT(json_array_size(json_object_get(doc, "services")), 4);
	/* keys are matched case-insensitively and spelled as GOST prints them */
	CHECK_STR(doc_str(doc, "services[0].name"), "web");
	CHECK_STR(doc_str(doc, "services[0].addr"), ":8443");
	CHECK_STR(doc_str(doc, "services[0].listener.tls.certFile"), "cert.pem");
	CHECK_STR(doc_str(doc, "services[0].listener.tls.keyFile"), "key.pem");
	/* viper lower-cases the metadata keys of files; inline JSON keeps them */
	CHECK_STR(doc_str(doc, "services[0].handler.metadata.readtimeout"), "10s");
	CHECK(json_is_integer(doc_get(doc, "services[2].handler.metadata.MixedCase")));
	CHECK_STR(doc_str(doc, "services[1].name"), "fwd");
	CHECK_STR(doc_str(doc, "services[3].name"), "service-0");
	/* single sections: later non-null ones replace, null keeps the earlier */
	CHECK_STR(doc_str(doc, "log.level"), "warn");
	CHECK_STR(doc_str(doc, "tls.certFile"), "default.pem");
	CHECK_INT(json_integer_value(doc_get(doc, "hops[0].selector.failTimeout")),
		  60000000000LL);
	CHECK(!json_object_get(doc, "somethingGostDoesNotKnow"));
	json_decref(doc);
}

static void test_load_stdin(void)
{
	FILE *f = freopen(DATA "extra.json", "r", stdin);
	json_t *doc;

	CHECK(f);
	doc = build(V("-"), 1, NULL, 0, NULL, 0);
	CHECK(doc);
	CHECK_STR(doc_str(doc, "services[0].name"), "fwd");
	json_decref(doc);
	f = freopen(DATA "gost.yaml", "r", stdin);
	CHECK_STR(build_error(V("-"), 1, NULL, 0, NULL, 0),
		  "stdin: relayd reads JSON only and this is not a JSON object (GOST would read "
		  "it as YAML)");
	f = freopen("/dev/null", "r", stdin);
	CHECK_STR(build_error(V("-"), 1, NULL, 0, NULL, 0), "stdin: empty");
}

static void test_load_errors_name_the_source(void)
{
	CHECK_STR(build_error(V(DATA "gost.yaml"), 1, NULL, 0, NULL, 0),
		  DATA "gost.yaml: relayd reads JSON only; convert it first (gost -C "
		  DATA "gost.yaml -O json prints it as JSON)");
	CHECK_STR(build_error(V(DATA "missing.json"), 1, NULL, 0, NULL, 0),
		  DATA "missing.json: cannot open: No such file or directory");
	CHECK_STR(build_error(V(DATA "bad-syntax.json"), 1, NULL, 0, NULL, 0),
		  DATA "bad-syntax.json: line 3 column 20: string or '}' expected near '}'");
	CHECK_STR(build_error(V("[1]"), 1, NULL, 0, NULL, 0),
		  "[1]: cannot open: No such file or directory");
	CHECK_STR(build_error(V("{\"services\":{\"name\":\"a\",\"handler\":{\"retries\":\"x\"}}}"), 1,
			      NULL, 0, NULL, 0),
		  "inline JSON: services[0].handler.retries: 'x' is not an integer");
	CHECK_STR(build_error(V("{\"hops\":[{\"name\":\"h\",\"selector\":{\"failTimeout\":\"30\"}}]}"),
			      1, NULL, 0, NULL, 0),
		  "inline JSON: hops[0].selector.failTimeout: time: missing unit in duration \"30\"");
	CHECK_STR(build_error(V("{\"services\":[7]}"), 1, NULL, 0, NULL, 0),
		  "inline JSON: services[0]: expected an object, got a number");
	CHECK_STR(build_error(V("https://example.com/gost.json"), 1, NULL, 0, NULL, 0),
		  "-C 'https://example.com/gost.json': relayd does not fetch configuration over "
		  "HTTP; download it and pass the file");
}

/* ---- compile --------------------------------------------------------------- */

static void test_compile_resolves_files_and_flags(void)
{
	struct cfg *c = compile_of(V(DATA "base.json", DATA "extra.json"), 2,
				   V("rtcp://:2222/:22"), 1, V("relay://u:p@srv:8420"), 1);
	const struct cfg_service *web, *fwd, *rt;
	const struct cfg_node *n;
	const char *v;
	long ms;
	bool b;

	CHECK(c);
	if (!c) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_INT(c->n_services, 3);
	CHECK_INT(c->n_chains, 2);
	web = &c->services[0];
	fwd = &c->services[1];
	rt = &c->services[2];
	CHECK_STR(web->handler, "relay");
	CHECK_STR(web->listener, "tls");
	CHECK(web->handler_chain == &c->chains[0]);
	CHECK_STR(web->listener_tls.cert_file, "cert.pem");
	CHECK(web->listener_tls.present);
	/* the hop without nodes is the top-level hop "shared" */
	CHECK_INT(c->chains[0].n_hops, 1);
	CHECK_STR(c->chains[0].hops[0].name, "shared");
	CHECK_STR(c->chains[0].hops[0].selector.strategy, "round");
	CHECK_INT(c->chains[0].hops[0].selector.max_fails, 3);
	CHECK_INT(c->chains[0].hops[0].selector.fail_timeout_ms, 60000);
	n = &c->chains[0].hops[0].nodes[0];
	CHECK_STR(n->connector, "relay");
	CHECK_STR(n->dialer, "tls");
	CHECK_STR(n->dialer_tls.server_name, "relay.example.com");
	CHECK(!n->dialer_tls.present);
	CHECK_STR(n->connector_auth->username, "u");
	/* the hop's interface is handed to its node */
	CHECK_STR(cfg_md_get(&n->md, "interface"), "eth1");
	/* users: inline auths, then the file, later lines replacing earlier ones */
	CHECK(web->handler_users.enabled);
	CHECK_INT(web->handler_users.n, 5);
	CHECK_STR(web->handler_users.v[0].username, "alice");
	CHECK_STR(web->handler_users.v[0].password, "override");
	CHECK_STR(web->handler_users.v[1].password, "pass with spaces");
	CHECK_STR(web->handler_users.v[3].username, "dave#x");
	CHECK_STR(web->handler_users.v[4].password, "pw2");
	CHECK(cfg_users_check(&web->handler_users, "carol", "anything"));
	CHECK(!cfg_users_check(&web->handler_users, "alice", "a1"));
	CHECK(!web->listener_users.enabled);
	/* metadata values of every JSON type arrive as text */
	CHECK_STR(cfg_md_get(&web->handler_md, "bind"), "true");
	CHECK_STR(cfg_md_get(&web->handler_md, "BACKLOG"), "256");
	CHECK_STR(cfg_md_get(&web->handler_md, "ratio"), "1.5");
	CHECK_STR(cfg_md_get(&web->handler_md, "skipauth"), "[\"10.0.0.0/8\",\"127.0.0.1\"]");
	CHECK(!cfg_md_duration_ms(&web->handler_md, "readTimeout", 15000, &ms, err, sizeof(err)));
	CHECK_INT(ms, 10000);
	CHECK(!cfg_md_bool(&web->handler_md, "bind", false, &b, err, sizeof(err)) && b);
	CHECK_STR(web->handler_md.where, DATA "base.json: services[0].handler.metadata");
	/* extra.json: defaults, forwarder and its selector */
	CHECK_STR(fwd->listener, "tcp");
	CHECK_STR(fwd->handler, "tcp");
	CHECK_INT(fwd->forwarder.n_nodes, 1);
	CHECK_STR(fwd->forwarder.nodes[0].network, "tcp");
	CHECK_STR(fwd->forwarder.selector.strategy, "fifo");
	CHECK_INT(fwd->forwarder.selector.fail_timeout_ms, 10000);
	CHECK(!fwd->handler_users.enabled);
	/* the flags: chain-0 on the rtcp listener */
	CHECK_STR(rt->name, "service-0");
	CHECK(rt->listener_chain == &c->chains[1]);
	CHECK(!rt->handler_chain);
	CHECK_STR(c->chains[1].hops[0].nodes[0].dialer_tls.server_name, "srv");
	CHECK_STR(c->chains[1].hops[0].nodes[0].connector_auth->password, "p");
	v = c->log.level;
	CHECK_STR(v, "warn");
	CHECK_STR(c->log.format, "text");
	CHECK_STR(c->log.output, "stderr");
	CHECK_STR(c->tls.cert_file, "default.pem");
	CHECK(!c->metrics.addr);
	cfg_free(c);
}

static void test_compile_defaults(void)
{
	struct cfg *c = compile_of(V("{\"services\":[{\"name\":\"s\",\"addr\":\"[::1]:80\"}],"
				     "\"chains\":[{\"name\":\"c\",\"hops\":[{\"name\":\"h\",\"nodes\":"
				     "[{\"addr\":\"h.example:1\",\"connector\":{\"type\":\"relay\"}}]}]}],"
				     "\"metrics\":{\"addr\":\":9000\",\"auth\":{\"username\":\"m\"}},"
				     "\"log\":{\"output\":\"null\",\"level\":\"WARNING\"}}"), 1,
				   NULL, 0, NULL, 0);

	CHECK(c);
	if (!c) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_STR(c->services[0].listener, "tcp");
	CHECK_STR(c->services[0].handler, "auto");
	CHECK(!c->services[0].handler_chain);
	CHECK_INT(c->services[0].forwarder.n_nodes, 0);
	CHECK_STR(c->chains[0].hops[0].nodes[0].dialer, "tcp");
	CHECK_STR(c->chains[0].hops[0].nodes[0].name, "");
	CHECK_STR(c->chains[0].hops[0].nodes[0].dialer_tls.server_name, "h.example");
	CHECK(!c->chains[0].hops[0].nodes[0].connector_auth);
	CHECK_STR(c->chains[0].hops[0].selector.strategy, "round");
	CHECK_INT(c->chains[0].hops[0].selector.max_fails, 1);
	CHECK_INT(c->chains[0].hops[0].selector.fail_timeout_ms, 10000);
	CHECK_STR(c->metrics.path, "/metrics");
	CHECK_STR(c->metrics.auth->username, "m");
	CHECK_STR(c->metrics.auth->password, "");
	CHECK_STR(c->log.level, "warn");
	CHECK_STR(c->log.format, "json");
	CHECK_STR(c->log.output, "none");
	cfg_free(c);

	/* ignoreChain drops the chain after checking it exists */
	c = compile_of(V("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"metadata\":"
			 "{\"ignoreChain\":true},\"handler\":{\"chain\":\"c\"}}],\"chains\":"
			 "[{\"name\":\"c\"}]}"), 1, NULL, 0, NULL, 0);
	CHECK(c && !c->services[0].handler_chain);
	cfg_free(c);
}

static void test_compile_errors_name_source_and_field(void)
{
	CHECK_STR(compile_error(V(DATA "bad-chain.json"), 1, NULL, 0, NULL, 0),
		  DATA "bad-chain.json: services[1].handler.chain: no chain named 'chain-9'");
	/* indexes are the source's own, not the merged document's */
	CHECK_STR(compile_error(V(DATA "extra.json", DATA "bad-chain.json"), 2, NULL, 0, NULL, 0),
		  DATA "extra.json: services[0].handler.chain: no chain named 'up'");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\"}]}"),
		  "inline JSON: services[0].addr: missing");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":99999\"}]}"),
		  "inline JSON: services[0].addr: port 99999 out of range in ':99999'");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":http\"}]}"),
		  "inline JSON: services[0].addr: bad port 'http' in ':http'");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\"1.2.3.4\"}]}"),
		  "inline JSON: services[0].addr: '1.2.3.4' is not host:port (missing port in "
		  "address)");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"addr\":\":1\"}]}"),
		  "inline JSON: services[0].name: missing");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\"},"
				"{\"name\":\"s\",\"addr\":\":2\"}]}"),
		  "inline JSON: services[1].name: duplicate service name 's'");
	CHECK_STR(compile_error(NULL, 0, V("ss://:8388"), 1, NULL, 0),
		  "-L 'ss://:8388': services[0].handler.type: 'ss' is a GOST handler that relayd "
		  "does not implement");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"handler\":"
				"{\"type\":\"bogus\"}}]}"),
		  "inline JSON: services[0].handler.type: unknown handler type 'bogus'");
	CHECK_STR(compile_error(NULL, 0, V("relay+quic://:1"), 1, NULL, 0),
		  "-L 'relay+quic://:1': services[0].listener.type: 'quic' is a GOST listener "
		  "that relayd does not implement");
	CHECK_STR(compile_error(NULL, 0, V(":1"), 1, V("relay+h2://h:1"), 1),
		  "-F 'relay+h2://h:1': chains[0].hops[0].nodes[0].dialer.type: 'h2' is a GOST "
		  "dialer that relayd does not implement");
	CHECK_STR(compile_error(NULL, 0, V(":1"), 1, V("socks5://h:1"), 1),
		  "-F 'socks5://h:1': chains[0].hops[0].nodes[0].connector.type: 'socks5' is a "
		  "GOST connector that relayd does not implement");
	CHECK_STR(compile_error(NULL, 0, V("relay://:1?auther=x"), 1, NULL, 0), "(no error)");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"handler\":"
				"{\"authers\":[\"a\",\"nope\"]}}],\"authers\":[{\"name\":\"a\"}]}"),
		  "inline JSON: services[0].handler.authers[1]: no auther named 'nope'");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"handler\":"
				"{\"auther\":\"a\"}}],\"authers\":[{\"name\":\"a\",\"file\":"
				"{\"path\":\"/nonexistent/users\"}}]}"),
		  "inline JSON: authers[0].file.path: cannot read '/nonexistent/users': No such "
		  "file or directory");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"handler\":"
				"{\"auth\":{\"file\":\"users.txt\"}}}]}"),
		  "inline JSON: services[0].handler.auth.file: GOST ignores auth.file here, so "
		  "nobody would be authenticated; name an auther with file.path instead");
	CHECK_STR(COMPILE_ERR_C("{\"chains\":[{\"name\":\"c\",\"hops\":[{\"name\":\"h\",\"nodes\":"
				"[{\"addr\":\":1\",\"connector\":{\"type\":\"relay\",\"auth\":"
				"{\"file\":\"/nonexistent\"}}}]}]}]}"),
		  "inline JSON: chains[0].hops[0].nodes[0].connector.auth.file: cannot read "
		  "'/nonexistent': No such file or directory");
	CHECK_STR(COMPILE_ERR_C("{\"chains\":[{\"name\":\"c\",\"hops\":[{\"name\":\"h\"}]}]}"),
		  "inline JSON: chains[0].hops[0]: no hop named 'h' in hops[] (a hop without "
		  "nodes refers to a top-level hop by name)");
	CHECK_STR(COMPILE_ERR_C("{\"chains\":[{\"name\":\"c\",\"hops\":[{\"name\":\"h\",\"nodes\":"
				"[]}]}]}"),
		  "inline JSON: chains[0].hops[0].nodes: empty (a hop needs at least one node)");
	CHECK_STR(COMPILE_ERR_C("{\"chains\":[{\"name\":\"c\"},{\"name\":\"c\"}]}"),
		  "inline JSON: chains[1].name: duplicate chain name 'c'");
	CHECK_STR(COMPILE_ERR_C("{\"hops\":[{\"name\":\"h\",\"nodes\":[{\"addr\":\"x\"}]}],"
				"\"chains\":[{\"name\":\"c\",\"hops\":[{\"name\":\"h\"}]}]}"),
		  "inline JSON: hops[0].nodes[0].addr: 'x' is not host:port (missing port in "
		  "address)");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"forwarder\":"
				"{\"selector\":{\"strategy\":\"parallel\"},\"nodes\":[{\"addr\":\":2\"}]}}]}"),
		  "inline JSON: services[0].forwarder.selector.strategy: 'parallel' is a GOST "
		  "selector strategy that relayd does not implement");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"forwarder\":"
				"{\"nodes\":[]}}]}"),
		  "inline JSON: services[0].forwarder.nodes: empty (a forwarder needs at least "
		  "one node)");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"forwarder\":"
				"{\"hop\":\"nope\"}}]}"),
		  "inline JSON: services[0].forwarder.hop: no hop named 'nope' in hops[]");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"handler\":"
				"{\"chainGroup\":{\"chains\":[\"a\"]}}}]}"),
		  "inline JSON: services[0].handler.chainGroup: chain groups are a GOST feature "
		  "relayd does not implement");
	CHECK_STR(compile_error(NULL, 0, V("relay://:1?bypass=10.0.0.0/8"), 1, NULL, 0),
		  "-L 'relay://:1?bypass=10.0.0.0/8': services[0].bypass: bypass rules are a GOST "
		  "feature relayd does not implement");
	CHECK_STR(COMPILE_ERR_C("{\"log\":{\"level\":\"loud\"}}"),
		  "inline JSON: log.level: 'loud' is not one of trace, debug, info, warn, error, "
		  "fatal");
	CHECK_STR(COMPILE_ERR_C("{\"authers\":[{\"name\":\"a\"},{\"name\":\"a\"}]}"),
		  "inline JSON: authers[1].name: duplicate name 'a'");
	CHECK_STR(COMPILE_ERR_C("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"handler\":"
				"{\"auther\":\"a\"}}],\"authers\":[{\"name\":\"a\",\"redis\":"
				"{\"addr\":\":6379\"}}]}"),
		  "inline JSON: authers[0].redis: redis user loaders are a GOST feature relayd "
		  "does not implement");
	/* a raw document (not from cfg_build_doc) compiles too, without a source */
	{
		json_t *raw = json_loads("{\"SERVICES\":[{\"name\":\"s\",\"addr\":\":1\",\"Handler\":"
					 "{\"Chain\":\"x\"}}]}", 0, NULL);
		struct cfg *c = NULL;

		CHECK(cfg_compile(raw, &c, err, sizeof(err)) == -1);
		CHECK_STR(err, "services[0].handler.chain: no chain named 'x'");
		json_decref(raw);
	}
}

/* ---- users and auth files -------------------------------------------------- */

static void test_users_follow_gost_rules(void)
{
	struct cfg_auth v[] = { { "alice", "pw" }, { "bob", "" } };
	struct cfg_users none = { false, 0, NULL }, empty = { true, 0, NULL };
	struct cfg_users some = { true, 2, v };

	CHECK(cfg_users_check(NULL, "x", "y"));
	CHECK(cfg_users_check(&none, NULL, NULL));
	CHECK(!cfg_users_check(&empty, "", ""));
	CHECK(cfg_users_check(&some, "alice", "pw"));
	CHECK(!cfg_users_check(&some, "alice", "PW"));
	CHECK(!cfg_users_check(&some, "alice", NULL));
	CHECK(cfg_users_check(&some, "bob", "whatever"));
	CHECK(!cfg_users_check(&some, "carol", "pw"));
	CHECK(!cfg_users_check(&some, NULL, NULL));
}

static void test_auth_client_file_and_auther_sources(void)
{
	struct cfg *c = compile_of(V("{\"services\":[{\"name\":\"s\",\"addr\":\":1\",\"handler\":"
				     "{\"auther\":\"a\",\"authers\":[\"b\"],\"auth\":{\"username\":\"ignored\"}},"
				     "\"listener\":{\"auth\":{\"username\":\"l\"}}},"
				     "{\"name\":\"t\",\"addr\":\":2\",\"handler\":{\"auther\":\"empty\"}}],"
				     "\"authers\":[{\"name\":\"a\",\"auths\":[{\"username\":\"x\","
				     "\"password\":\"1\"},{\"username\":\"x\",\"password\":\"2\"}]},"
				     "{\"name\":\"b\",\"auths\":[{\"username\":\"x\",\"password\":\"3\"}]},"
				     "{\"name\":\"empty\"}],"
				     "\"chains\":[{\"name\":\"c\",\"hops\":[{\"name\":\"h\",\"nodes\":["
				     "{\"addr\":\":1\",\"connector\":{\"type\":\"relay\",\"auth\":{\"username\":"
				     "\"fallback\",\"file\":\"" DATA "client-auth.txt\"}}}]}]}]}"), 1,
				   NULL, 0, NULL, 0);
	const struct cfg_users *u;

	CHECK(c);
	if (!c) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	u = &c->services[0].handler_users;
	/* authers take precedence over auth; each auther keeps its own last password */
	CHECK_INT(u->n, 2);
	CHECK(cfg_users_check(u, "x", "2"));
	CHECK(cfg_users_check(u, "x", "3"));
	CHECK(!cfg_users_check(u, "x", "1"));
	CHECK(!cfg_users_check(u, "ignored", ""));
	CHECK(c->services[0].listener_users.enabled);
	CHECK(cfg_users_check(&c->services[0].listener_users, "l", "any"));
	/* an auther with no users rejects everyone */
	CHECK(c->services[1].handler_users.enabled);
	CHECK(!cfg_users_check(&c->services[1].handler_users, "", ""));
	/* a client's auth.file: the first user line, password trimmed */
	CHECK_STR(c->chains[0].hops[0].nodes[0].connector_auth->username, "client");
	CHECK_STR(c->chains[0].hops[0].nodes[0].connector_auth->password, "secret words");
	cfg_free(c);
}

/* ---- metadata getters ------------------------------------------------------ */

static void test_md_getters(void)
{
	char *keys[] = { "NoDelay", "bad", "num", "yes", "dur", "secs", "frac", "zero", "neg",
			 "list", "arr", "nested", "empty", "big" };
	char *vals[] = { "T", "maybe", "42", "true", "1m30s", "15", "1.5", "0s", "-1s",
			 " a, ,b ,", "[\"x\",2,true]", "[[1]]", "", "99999999999999999999" };
	struct cfg_md md = { 14, keys, vals, "x.json: services[0].handler.metadata" };
	struct cfg_md bare = { 14, keys, vals, NULL };
	char **list = NULL;
	bool b;
	long n;

	CHECK_STR(cfg_md_get(&md, "nodelay"), "T");
	CHECK(!cfg_md_get(&md, "absent"));
	CHECK(!cfg_md_get(NULL, "x"));
	CHECK(!cfg_md_bool(&md, "nodelay", false, &b, err, sizeof(err)) && b);
	CHECK(!cfg_md_bool(&md, "absent", true, &b, err, sizeof(err)) && b);
	CHECK(!cfg_md_bool(&md, "empty", true, &b, err, sizeof(err)) && b);
	CHECK(cfg_md_bool(&md, "bad", true, &b, err, sizeof(err)) == -1 && b);
	CHECK_STR(err, "x.json: services[0].handler.metadata.bad: 'maybe' is not a boolean");
	CHECK(cfg_md_bool(&bare, "bad", true, &b, err, sizeof(err)) == -1);
	CHECK_STR(err, "bad: 'maybe' is not a boolean");

	CHECK(!cfg_md_int(&md, "num", 0, &n, err, sizeof(err)) && n == 42);
	CHECK(!cfg_md_int(&md, "yes", 0, &n, err, sizeof(err)) && n == 1);
	CHECK(!cfg_md_int(&md, "absent", 7, &n, err, sizeof(err)) && n == 7);
	CHECK(cfg_md_int(&md, "frac", 7, &n, err, sizeof(err)) == -1 && n == 7);
	CHECK_STR(err, "x.json: services[0].handler.metadata.frac: '1.5' is not an integer");
	CHECK(cfg_md_int(&md, "big", 7, &n, err, sizeof(err)) == -1);

	CHECK(!cfg_md_duration_ms(&md, "dur", 0, &n, err, sizeof(err)) && n == 90000);
	CHECK(!cfg_md_duration_ms(&md, "secs", 0, &n, err, sizeof(err)) && n == 15000);
	CHECK(!cfg_md_duration_ms(&md, "zero", 5, &n, err, sizeof(err)) && n == 0);
	CHECK(!cfg_md_duration_ms(&md, "neg", 5, &n, err, sizeof(err)) && n == -1000);
	CHECK(!cfg_md_duration_ms(&md, "absent", 15000, &n, err, sizeof(err)) && n == 15000);
	CHECK(cfg_md_duration_ms(&md, "frac", 5, &n, err, sizeof(err)) == -1 && n == 5);
	CHECK_STR(err, "x.json: services[0].handler.metadata.frac: '1.5' is not a duration");

	CHECK(!cfg_md_strlist(&md, "list", &list, err, sizeof(err)));
	CHECK(list && list[0] && !strcmp(list[0], "a") && list[1] && !strcmp(list[1], "b") &&
	      !list[2]);
	cfg_strv_free(list);
	CHECK(!cfg_md_strlist(&md, "arr", &list, err, sizeof(err)));
	CHECK(list && !strcmp(list[0], "x") && !strcmp(list[1], "2") &&
	      !strcmp(list[2], "true") && !list[3]);
	cfg_strv_free(list);
	CHECK(!cfg_md_strlist(&md, "empty", &list, err, sizeof(err)) && list && !list[0]);
	cfg_strv_free(list);
	CHECK(!cfg_md_strlist(&md, "absent", &list, err, sizeof(err)) && !list);
	CHECK(cfg_md_strlist(&md, "nested", &list, err, sizeof(err)) == -1 && !list);
	CHECK_STR(err, "x.json: services[0].handler.metadata.nested: '[[1]]' is not a list of "
		  "strings");
	cfg_strv_free(NULL);

	CHECK_INT(cfg_parse_duration_ms("1h"), 3600000);
	CHECK_INT(cfg_parse_duration_ms("1.5s"), 1500);
	CHECK_INT(cfg_parse_duration_ms("2h45m0.5s"), 9900500);
	CHECK_INT(cfg_parse_duration_ms("1us"), 0);
	CHECK_INT(cfg_parse_duration_ms("\xc2\xb5s"), -1);
	CHECK_INT(cfg_parse_duration_ms("0"), 0);
	CHECK_INT(cfg_parse_duration_ms("15"), -1);
	CHECK_INT(cfg_parse_duration_ms("-1s"), -1);
	CHECK_INT(cfg_parse_duration_ms("1x"), -1);
	CHECK_INT(cfg_parse_duration_ms(""), -1);
	CHECK_INT(cfg_parse_duration_ms("9999999999h"), -1);
}

/* ---- configs/examples ------------------------------------------------------ */

static void test_every_example_compiles(void)
{
	DIR *d = opendir("configs/examples");
	struct dirent *e;
	int seen = 0;

	CHECK(d);
	while (d && (e = readdir(d))) {
		char path[512];
		struct cfg *c;
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "configs/examples/%s", e->d_name);
		c = compile_of(V(path), 1, NULL, 0, NULL, 0);
		if (!c || !c->n_services) {
			fprintf(stderr, "  %s: %s\n", path, c ? "no services" : err);
			unit_failed_checks++;
		}
		cfg_free(c);
		seen++;
	}
	if (d)
		closedir(d);
	CHECK(seen >= 10);
}

/* The examples that are exactly what their command line means print the same. */
static void test_examples_equal_their_command_lines(void)
{
	static const struct {
		const char *file;
		const char *L[3];
		const char *F;
	} cases[] = {
		{ "relay-server.json", { "relay://:8420" }, NULL },
		{ "relay-forward-client.json", { "tcp://:2222/:22", "udp://:1053/:53" },
		  "relay://:8420" },
		{ "relay-forward-mode-server.json", { "relay://:8420/:53" }, NULL },
		{ "relay-forward-mode-client.json", { "udp://:1053", "tcp://:2222" }, "relay://:8420" },
		{ "relay-bind-client.json", { "rtcp://:2222/:22", "rudp://:10053/:53" },
		  "relay://:8420" },
		{ "relay-tls-server.json", { "relay+tls://:8443" }, NULL },
		{ "relay-ws-server.json", { "relay+ws://:8080" }, NULL },
		{ "relay-wss-server.json", { "relay+wss://:8080" }, NULL },
		{ "relay-handler-reference.json", { "relay://:8421" }, NULL },
		{ "relay-connector-reference.json", { ":8000" }, "relay://:8421" },
		{ "seed-auth-server.json", { "relay://user:pass@:12345" }, NULL },
		{ "seed-auth-client.json", { ":8080" }, "relay://user:pass@srv:12345?nodelay=false" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[256];
		size_t nL = 0;
		char *a, *b;

		while (nL < 3 && cases[i].L[nL])
			nL++;
		snprintf(path, sizeof(path), "configs/examples/%s", cases[i].file);
		a = dump_of(V(path), 1, NULL, 0, NULL, 0);
		b = dump_of(NULL, 0, (const char **)cases[i].L, nL, (const char **)&cases[i].F,
			    cases[i].F ? 1 : 0);
		if (!a || !b || strcmp(a, b)) {
			fprintf(stderr, "  %s differs from its command line\n", cases[i].file);
			unit_failed_checks++;
		}
		free(a);
		free(b);
	}
}

int main(void)
{
	RUN(test_dump_tcp_udp_forward_through_relay_matches_gost);
	RUN(test_dump_relay_server_with_userinfo_matches_gost);
	RUN(test_dump_relay_client_nodelay_matches_gost);
	RUN(test_dump_relay_wss_flag_equals_documented_config);
	RUN(test_dump_prints_go_zero_values_and_escapes);
	RUN(test_flags_scheme_defaults_and_fallbacks);
	RUN(test_flags_port_ranges_make_one_service_per_port);
	RUN(test_flags_targets_rewrite_the_handler);
	RUN(test_flags_credentials);
	RUN(test_flags_service_metadata_routing);
	RUN(test_flags_named_objects);
	RUN(test_flags_node_metadata_and_tls);
	RUN(test_flags_errors_name_the_flag);
	RUN(test_load_merges_sources_in_order);
	RUN(test_load_errors_name_the_source);
	RUN(test_compile_resolves_files_and_flags);
	RUN(test_compile_defaults);
	RUN(test_compile_errors_name_source_and_field);
	RUN(test_users_follow_gost_rules);
	RUN(test_auth_client_file_and_auther_sources);
	RUN(test_md_getters);
	RUN(test_every_example_compiles);
	RUN(test_examples_equal_their_command_lines);
	RUN(test_load_stdin);
	return UNIT_DONE();
}
