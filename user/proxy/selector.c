/* Node selection with fail marks (see selector.h). */
#include "proxy/selector.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "net/loop.h"

int selector_init(struct selector *s, const struct cfg_selector *cfg, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->strategy = SEL_ROUND;
	s->max_fails = 1;
	s->fail_timeout_ms = 30000;
	if (cfg) {
		if (cfg->strategy && (!strcmp(cfg->strategy, "random") || !strcmp(cfg->strategy, "rand")))
			s->strategy = SEL_RANDOM;
		else if (cfg->strategy && (!strcmp(cfg->strategy, "fifo") || !strcmp(cfg->strategy, "ha")))
			s->strategy = SEL_FIFO;
		if (cfg->max_fails > 0)
			s->max_fails = (uint32_t)cfg->max_fails;
		if (cfg->fail_timeout_ms > 0)
			s->fail_timeout_ms = (uint64_t)cfg->fail_timeout_ms;
	}
	s->n = n;
	s->marks = calloc(n ? n : 1, sizeof(*s->marks));
	if (!s->marks)
		return -ENOMEM;
	return -pthread_mutex_init(&s->lock, NULL);
}

void selector_fini(struct selector *s)
{
	if (!s->marks)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->marks);
	s->marks = NULL;
}

static int usable(const struct selector *s, size_t i, uint64_t now)
{
	const struct selector_mark *m = &s->marks[i];

	return m->fails < s->max_fails || now - m->last_fail_ms >= s->fail_timeout_ms;
}

int selector_pick(struct selector *s)
{
	uint64_t now = loop_clock_ms();
	size_t ok[64], nok = 0;
	int pick = -1;

	pthread_mutex_lock(&s->lock);
	/* GOST never filters a lone node out: with one node there is no choice */
	for (size_t i = 0; i < s->n && nok < 64; i++)
		if (s->n == 1 || usable(s, i, now))
			ok[nok++] = i;
	if (nok) {
		switch (s->strategy) {
		case SEL_FIFO:
			pick = (int)ok[0];
			break;
		case SEL_RANDOM:
			pick = (int)ok[(size_t)random() % nok];
			break;
		case SEL_ROUND:
			pick = (int)ok[s->next++ % nok];
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return pick;
}

void selector_mark_failed(struct selector *s, int idx)
{
	if (idx < 0 || (size_t)idx >= s->n)
		return;
	pthread_mutex_lock(&s->lock);
	s->marks[idx].fails++;
	s->marks[idx].last_fail_ms = loop_clock_ms();
	pthread_mutex_unlock(&s->lock);
}

void selector_mark_ok(struct selector *s, int idx)
{
	if (idx < 0 || (size_t)idx >= s->n)
		return;
	pthread_mutex_lock(&s->lock);
	s->marks[idx].fails = 0;
	pthread_mutex_unlock(&s->lock);
}
