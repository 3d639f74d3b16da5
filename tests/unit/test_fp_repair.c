/* Unit tests for the retransmission repair's userspace half
 * (user/fastpath/fp_repair.c): a passed stream of numbered bytes is read in
 * chunks of every size, with skip records naming the repeated heads the
 * verdict let through, and what comes out must be the stream without them. */
#include <stdint.h>
#include <string.h>

#include "fastpath/fp_repair.h"
#include "unit.h"

#define STREAM 4096

/* The passed stream: byte i is i mod 251, except inside a repeated range,
 * which repeats the bytes just before it (what a retransmission looks like). */
struct passed {
	uint8_t bytes[STREAM];
	size_t n;
	struct fp_conn c;
	uint8_t want[STREAM];       /* the stream with the repeats cut */
	size_t want_n;
	uint64_t rec_at[64];        /* every record, in order (c keeps the ring) */
	uint32_t rec_len[64];
};

static void passed_init(struct passed *p)
{
	memset(p, 0, sizeof(*p));
}

/* Append len new bytes, the first rep of which repeat the previous rep bytes
 * and get a skip record. */
static void passed_add(struct passed *p, size_t len, size_t rep)
{
	static unsigned next;

	if (rep) {
		uint32_t k = p->c.skips % FP_SKIPS;

		p->rec_at[p->c.skips] = p->c.skip_at[k] = p->n;
		p->rec_len[p->c.skips] = p->c.skip_len[k] = (uint32_t)rep;
		p->c.skips++;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t b = i < rep ? p->bytes[p->n - rep] : (uint8_t)(next++ % 251);

		p->bytes[p->n++] = b;
		if (i >= rep)
			p->want[p->want_n++] = b;
	}
}

/* Read the stream in chunks of `chunk` bytes, cutting as the copy loop does. */
static long read_all(const struct passed *p, size_t chunk, uint8_t *out, size_t *out_n)
{
	struct fp_skip_state st = { 0 };
	uint8_t buf[STREAM];
	long cut_total = 0;

	*out_n = 0;
	for (size_t off = 0; off < p->n; off += chunk) {
		size_t len = p->n - off < chunk ? p->n - off : chunk;
		long cut;

		memcpy(buf, p->bytes + off, len);
		cut = fp_cut_skips(&st, &p->c, off, buf, &len);
		if (cut < 0)
			return -1;
		cut_total += cut;
		memcpy(out + *out_n, buf, len);
		*out_n += len;
	}
	return cut_total;
}

static void check_every_chunk_size(const struct passed *p)
{
	for (size_t chunk = 1; chunk <= p->n; chunk += chunk < 40 ? 1 : 37) {
		uint8_t out[STREAM];
		size_t out_n;
		long cut = read_all(p, chunk, out, &out_n);

		CHECK_INT(cut, (long)(p->n - p->want_n));
		CHECK_MEM(out, out_n, p->want, p->want_n);
	}
}

static void test_no_records_cut_nothing(void)
{
	struct passed p;

	passed_init(&p);
	passed_add(&p, 1000, 0);
	check_every_chunk_size(&p);
}

static void test_one_repeated_head_is_cut_at_any_read_boundary(void)
{
	struct passed p;

	passed_init(&p);
	passed_add(&p, 300, 0);
	passed_add(&p, 500, 120);
	passed_add(&p, 200, 0);
	check_every_chunk_size(&p);
}

static void test_back_to_back_and_many_records(void)
{
	struct passed p;

	passed_init(&p);
	passed_add(&p, 64, 0);
	for (int i = 0; i < 3 * FP_SKIPS; i++)
		passed_add(&p, 90, (size_t)(10 + i));
	passed_add(&p, 40, 0);
	/* the ring holds FP_SKIPS records: a reader that keeps up with the
	 * verdict sees each before it is overwritten, so each read sees the
	 * ring as it was when the bytes it gets had been passed */
	{
		struct fp_skip_state st = { 0 };
		uint8_t out[STREAM], buf[STREAM];
		size_t out_n = 0;

		for (size_t off = 0; off < p.n; off += 50) {
			size_t len = p.n - off < 50 ? p.n - off : 50;
			struct fp_conn c = { 0 };

			while (c.skips < p.c.skips && p.rec_at[c.skips] < off + len) {
				c.skip_at[c.skips % FP_SKIPS] = p.rec_at[c.skips];
				c.skip_len[c.skips % FP_SKIPS] = p.rec_len[c.skips];
				c.skips++;
			}
			memcpy(buf, p.bytes + off, len);
			CHECK(fp_cut_skips(&st, &c, off, buf, &len) >= 0);
			memcpy(out + out_n, buf, len);
			out_n += len;
		}
		CHECK_MEM(out, out_n, p.want, p.want_n);
	}
}

static void test_ring_overrun_is_refused(void)
{
	struct passed p;
	struct fp_skip_state st = { 0 };
	uint8_t buf[STREAM];
	size_t len;

	passed_init(&p);
	passed_add(&p, 20, 0);
	for (int i = 0; i < FP_SKIPS + 1; i++)
		passed_add(&p, 20, 5);
	len = 10;
	memcpy(buf, p.bytes + 20, len);
	CHECK_INT(fp_cut_skips(&st, &p.c, 20, buf, &len), -1);
}

static void test_record_for_bytes_already_forwarded_is_refused(void)
{
	struct fp_conn c = { 0 };
	struct fp_skip_state st = { 0 };
	uint8_t buf[100] = { 0 };
	size_t len = sizeof(buf);

	c.skips = 1;
	c.skip_at[0] = 10;      /* the reader is already at 50 */
	c.skip_len[0] = 20;
	CHECK_INT(fp_cut_skips(&st, &c, 50, buf, &len), -1);
}

static void test_whole_read_cut_leaves_an_empty_buffer(void)
{
	struct passed p;
	uint8_t out[STREAM];
	size_t out_n;

	passed_init(&p);
	passed_add(&p, 100, 0);
	passed_add(&p, 150, 100);       /* reads of 100 at 100..200: all repeated */
	CHECK_INT(read_all(&p, 100, out, &out_n), 100);
	CHECK_MEM(out, out_n, p.want, p.want_n);
}

int main(void)
{
	RUN(test_no_records_cut_nothing);
	RUN(test_one_repeated_head_is_cut_at_any_read_boundary);
	RUN(test_back_to_back_and_many_records);
	RUN(test_ring_overrun_is_refused);
	RUN(test_record_for_bytes_already_forwarded_is_refused);
	RUN(test_whole_read_cut_leaves_an_empty_buffer);
	return UNIT_DONE();
}
