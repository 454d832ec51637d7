/*
 * packets.c: nvr-bench-packets, what the ingest spends on each packet, in
 * one process, on the same packets:
 *
 *   check    a camera's SRTP: tag and replay window with the derived auth
 *            key only (ingest/srtp.c), what every SRTP camera costs
 *   protect  a plain-RTP camera's packet encrypted at ingest
 *            (ingest/protect.c: libsrtp2 and the packet index)
 *   libsrtp  srtp_protect alone on the same packets: the reference the
 *            other two read against
 *
 * Figures are microseconds per packet and MB/s, and each row's ratio to
 * the libsrtp row. `make bench-packets`; never part of make check.
 *
 *   nvr-bench-packets [--packets N] [--size BYTES]
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

#include "ingest/protect.h"
#include "ingest/srtp.h"
#include "nvrd/util.h"

#define SUITE ING_SRTP_AES128_SHA1_80
#define TAG 10

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The i-th plain RTP packet of a stream: header, then a payload pattern. */
static void
make_rtp(uint8_t *p, size_t size, unsigned i)
{
	uint16_t seq = (uint16_t)i;
	uint32_t ts = i * 3000u;

	memset(p, 0, size);
	p[0] = 0x80;
	p[1] = 96;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = 0x12, p[9] = 0x34, p[10] = 0x56, p[11] = 0x78;
	for (size_t k = 12; k < size; k++)
		p[k] = (uint8_t)(k * 7 + i);
}

static void
row(const char *name, unsigned n, size_t size, double secs, double ref)
{
	printf("%-8s %9u %6zu %10.3f %9.0f %8.2fx\n", name, n, size, secs * 1e6 / n, (double)n * (double)size / secs / 1e6,
	    ref > 0 ? secs / ref : 1.0);
}

/* The SRTP packets a camera under key/salt would send: n of them, each
 * size + TAG bytes, at out + i * (size + TAG). */
static int
camera_packets(uint8_t *secret, unsigned n, size_t size, uint8_t *out, double *secs)
{
	srtp_policy_t pol;
	srtp_t s;
	double t0;

	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_rtp_default(&pol.rtp);
	srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
	pol.ssrc.type = ssrc_any_outbound;
	pol.key = secret;
	pol.window_size = 1024;
	if (srtp_create(&s, &pol) != srtp_err_status_ok)
		return -1;
	for (unsigned i = 0; i < n; i++)
		make_rtp(out + (size_t)i * (size + TAG), size, i);
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		int len = (int)size;
		if (srtp_protect(s, out + (size_t)i * (size + TAG), &len) != srtp_err_status_ok || len != (int)(size + TAG))
			return -1;
	}
	*secs = now_s() - t0;
	srtp_dealloc(s);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = { { "packets", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' }, { NULL, 0, NULL, 0 } };
	uint8_t secret[30] = { 0 }, *plain = NULL;
	unsigned n = 200000;
	size_t size = 1400;
	long v;
	int c, status = 1;
	uint8_t *pkts = NULL;
	struct ing_srtp *chk = NULL;
	struct ing_protect *prot = NULL;
	double ref = 0, t0, secs;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n' && nvr_parse_num(optarg, NULL, 1000, 10000000, &v))
			n = (unsigned)v;
		else if (c == 's' && nvr_parse_num(optarg, NULL, 64, 65000, &v))
			size = (size_t)v;
		else {
			fprintf(stderr, "usage: nvr-bench-packets [--packets 1000..10000000] [--size 64..65000]\n");
			return 2;
		}
	}
	srtp_init();
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 13 + 1);
	if ((pkts = malloc((size_t)n * (size + TAG))) == NULL || (plain = malloc((size_t)n * size)) == NULL ||
	    camera_packets(secret, n, size, pkts, &ref) != 0) {
		fprintf(stderr, "nvr-bench-packets: cannot make the camera's packets\n");
		goto out;
	}
	printf("%-8s %9s %6s %10s %9s %9s\n", "path", "packets", "bytes", "us/packet", "MB/s", "/libsrtp");
	row("libsrtp", n, size, ref, ref);

	if (ing_srtp_new(SUITE, secret, secret + 16, 0, 0, &chk) != NVR_OK)
		goto out;
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		uint64_t idx;
		if (ing_srtp_check_rtp(chk, pkts + (size_t)i * (size + TAG), size + TAG, &idx) != ING_SRTP_OK) {
			fprintf(stderr, "nvr-bench-packets: packet %u does not check\n", i);
			goto out;
		}
	}
	row("check", n, size, now_s() - t0, ref);

	if (ing_protect_new(SUITE, secret, secret + 16, &prot) != NVR_OK)
		goto out;
	for (unsigned i = 0; i < n; i++)
		make_rtp(plain + (size_t)i * size, size, i);
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *o;
		size_t olen;
		uint64_t idx;
		if (ing_protect_rtp(prot, plain + (size_t)i * size, size, &o, &olen, &idx) != ING_SRTP_OK || idx != i) {
			fprintf(stderr, "nvr-bench-packets: packet %u not protected\n", i);
			goto out;
		}
	}
	secs = now_s() - t0;
	row("protect", n, size, secs, ref);
	status = 0;
out:
	ing_srtp_free(chk);
	ing_protect_free(prot);
	OPENSSL_cleanse(secret, sizeof(secret));
	free(pkts);
	free(plain);
	return status;
}
