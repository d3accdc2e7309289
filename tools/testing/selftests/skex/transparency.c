// SPDX-License-Identifier: GPL-2.0
/*
 * The skex hooks must be transparent: 100 MB of seeded pseudo-random bytes go
 * each way over one loopback connection at once (accepted socket -> client
 * and client -> accepted socket), through plain write/read, sendfile, and
 * splice file -> pipe -> socket / socket -> pipe -> file. Each receiver
 * hashes what it got; length and hash must equal the sender's.
 *
 * Passes on a kernel without the module too; with it loaded, the accepted
 * socket is one the netmeter counts, so every hooked path is crossed.
 *
 * SKEX_XFER_BYTES overrides the size per direction (default 100 MiB + 12345).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "skex_common.h"

#define XFER_DEFAULT	(100ull * 1024 * 1024 + 12345)
#define CHUNK_MAX	(256 * 1024)
#define RING_BYTES	(8u * 1024 * 1024)	/* splice receive file size */
#define REV_SKIP	4321			/* reverse direction starts here */

enum xfer_mode { XFER_RW, XFER_SENDFILE, XFER_SPLICE };

/* write(2) sizes, cycled: large for speed, odd and tiny for the edges */
static const size_t write_sizes[] = {
	262144, 1, 65537, 4096, 131071, 1448, 200000, 7,
};

struct xfer_end {
	/* in */
	int sock;
	enum xfer_mode mode;
	uint64_t bytes;		/* to send */
	uint64_t seed;		/* RW: PRNG seed */
	int file;		/* SENDFILE/SPLICE: source file */
	off_t file_off;		/* ... and where to start in it */
	/* out */
	uint64_t done;		/* bytes sent or received */
	uint64_t hash;
	int err;		/* errno of the first failure */
	const char *what;	/* the call that failed */
};

static void *xfer_send(void *arg)
{
	struct xfer_end *e = arg;
	struct skex_hash h;
	char *buf = NULL;
	int pfd[2] = { -1, -1 };
	unsigned int i = 0;

	skex_hash_init(&h);
	if (e->mode == XFER_RW) {
		struct skex_gen g;

		buf = malloc(CHUNK_MAX);
		if (!buf) {
			e->err = ENOMEM;
			e->what = "malloc";
			goto out;
		}
		skex_gen_init(&g, e->seed);
		while (e->done < e->bytes) {
			size_t n = write_sizes[i++ % ARRAY_SIZE(write_sizes)];
			size_t off = 0;

			if (n > e->bytes - e->done)
				n = e->bytes - e->done;
			skex_gen_fill(&g, buf, n);
			skex_hash_update(&h, buf, n);
			while (off < n) {
				ssize_t w = write(e->sock, buf + off, n - off);

				if (w < 0) {
					if (errno == EINTR)
						continue;
					e->err = errno;
					e->what = "write";
					goto out;
				}
				off += w;
				e->done += w;
			}
		}
	} else if (e->mode == XFER_SENDFILE) {
		off_t off = e->file_off;

		while (e->done < e->bytes) {
			uint64_t rem = e->bytes - e->done;
			size_t n = rem > (4u << 20) ? (4u << 20) : rem;
			ssize_t w = sendfile(e->sock, e->file, &off, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				e->err = w ? errno : EPIPE;
				e->what = "sendfile";
				goto out;
			}
			e->done += w;
		}
	} else {
		loff_t off = e->file_off;

		if (pipe(pfd)) {
			e->err = errno;
			e->what = "pipe";
			goto out;
		}
		while (e->done < e->bytes) {
			uint64_t rem = e->bytes - e->done;
			size_t n = rem > 65536 ? 65536 : rem;
			ssize_t in, out;

			in = splice(e->file, &off, pfd[1], NULL, n,
				    SPLICE_F_MOVE | SPLICE_F_MORE);
			if (in <= 0) {
				e->err = in ? errno : EIO;
				e->what = "splice file->pipe";
				goto out;
			}
			while (in > 0) {
				out = splice(pfd[0], NULL, e->sock, NULL, in,
					     SPLICE_F_MOVE | SPLICE_F_MORE);
				if (out <= 0) {
					e->err = out ? errno : EPIPE;
					e->what = "splice pipe->socket";
					goto out;
				}
				in -= out;
				e->done += out;
			}
		}
	}
	if (shutdown(e->sock, SHUT_WR)) {
		e->err = errno;
		e->what = "shutdown";
	}
out:
	if (e->mode != XFER_RW)
		e->hash = 0;	/* the caller hashed the file */
	else
		e->hash = skex_hash_final(&h);
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	free(buf);
	return NULL;
}

/* Receive until EOF; SPLICE goes socket -> pipe -> a ring file in /tmp. */
static void *xfer_recv(void *arg)
{
	struct xfer_end *e = arg;
	struct skex_hash h;
	char *buf;
	int pfd[2] = { -1, -1 };
	int ring = -1;

	skex_hash_init(&h);
	buf = malloc(CHUNK_MAX);
	if (!buf) {
		e->err = ENOMEM;
		e->what = "malloc";
		return NULL;
	}
	if (e->mode != XFER_SPLICE) {
		for (;;) {
			ssize_t r = read(e->sock, buf, CHUNK_MAX);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				e->err = errno;
				e->what = "read";
				goto out;
			}
			if (!r)
				break;
			skex_hash_update(&h, buf, r);
			e->done += r;
		}
		goto out;
	}

	{
		char path[] = "/tmp/skex-ringXXXXXX";

		ring = mkstemp(path);
		if (ring < 0) {
			e->err = errno;
			e->what = "mkstemp";
			goto out;
		}
		unlink(path);
	}
	if (pipe(pfd)) {
		e->err = errno;
		e->what = "pipe";
		goto out;
	}
	for (;;) {
		loff_t off = e->done % RING_BYTES;
		loff_t start = off;
		size_t n = RING_BYTES - off;
		ssize_t in, out;

		if (n > 65536)
			n = 65536;
		in = splice(e->sock, NULL, pfd[1], NULL, n, SPLICE_F_MOVE);
		if (in < 0 && errno == EINTR)
			continue;
		if (in < 0) {
			e->err = errno;
			e->what = "splice socket->pipe";
			goto out;
		}
		if (!in)
			break;
		while (in > 0) {
			out = splice(pfd[0], NULL, ring, &off, in, SPLICE_F_MOVE);
			if (out <= 0) {
				e->err = out ? errno : EIO;
				e->what = "splice pipe->file";
				goto out;
			}
			in -= out;
		}
		/* read back what just landed in the file */
		if (pread(ring, buf, off - start, start) != off - start) {
			e->err = errno ? errno : EIO;
			e->what = "pread ring";
			goto out;
		}
		skex_hash_update(&h, buf, off - start);
		e->done += off - start;
	}
out:
	e->hash = skex_hash_final(&h);
	if (ring >= 0)
		close(ring);
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	free(buf);
	return NULL;
}

static uint64_t xfer_bytes(void)
{
	const char *s = getenv("SKEX_XFER_BYTES");

	return s && *s ? strtoull(s, NULL, 0) : XFER_DEFAULT;
}

/*
 * Source file for SENDFILE/SPLICE: @bytes of the PRNG stream of @seed; the
 * hashes of the forward ([0, bytes)) and reverse ([REV_SKIP, bytes)) slices
 * are returned.
 */
static int make_file(uint64_t bytes, uint64_t seed, uint64_t *fwd, uint64_t *rev)
{
	char path[] = "/tmp/skex-xferXXXXXX";
	struct skex_hash hf, hr;
	struct skex_gen g;
	uint64_t done = 0;
	char *buf;
	int fd;

	buf = malloc(CHUNK_MAX);
	if (!buf)
		return -1;
	fd = mkstemp(path);
	if (fd < 0) {
		free(buf);
		return -1;
	}
	unlink(path);
	skex_gen_init(&g, seed);
	skex_hash_init(&hf);
	skex_hash_init(&hr);
	while (done < bytes) {
		size_t n = bytes - done > CHUNK_MAX ? CHUNK_MAX : bytes - done;

		skex_gen_fill(&g, buf, n);
		skex_hash_update(&hf, buf, n);
		if (done + n > REV_SKIP) {
			size_t skip = done >= REV_SKIP ? 0 : REV_SKIP - done;

			skex_hash_update(&hr, buf + skip, n - skip);
		}
		if (write(fd, buf, n) != (ssize_t)n) {
			close(fd);
			free(buf);
			return -1;
		}
		done += n;
	}
	free(buf);
	*fwd = skex_hash_final(&hf);
	*rev = skex_hash_final(&hr);
	return fd;
}

static void check_end(struct __test_metadata *_metadata, const char *dir,
		      struct xfer_end *snd, struct xfer_end *rcv,
		      uint64_t expect_hash)
{
	EXPECT_EQ(0, snd->err) {
		TH_LOG("%s: sender %s: %s", dir, snd->what, strerror(snd->err));
	}
	EXPECT_EQ(0, rcv->err) {
		TH_LOG("%s: receiver %s: %s", dir, rcv->what, strerror(rcv->err));
	}
	EXPECT_EQ(snd->bytes, snd->done) {
		TH_LOG("%s: sent %llu of %llu bytes", dir,
		       (unsigned long long)snd->done,
		       (unsigned long long)snd->bytes);
	}
	EXPECT_EQ(snd->bytes, rcv->done) {
		TH_LOG("%s: received %llu bytes, %llu sent", dir,
		       (unsigned long long)rcv->done,
		       (unsigned long long)snd->bytes);
	}
	EXPECT_EQ(expect_hash, rcv->hash) {
		TH_LOG("%s: hash of received bytes %016llx, sent %016llx", dir,
		       (unsigned long long)rcv->hash,
		       (unsigned long long)expect_hash);
	}
}

static void xfer_run(struct __test_metadata *_metadata, int family,
		     enum xfer_mode mode)
{
	struct xfer_end s2c_snd = {}, s2c_rcv = {}, c2s_snd = {}, c2s_rcv = {};
	uint64_t bytes = xfer_bytes();
	uint64_t hash_fwd = 0, hash_rev = 0;
	pthread_t t[4];
	struct skex_addr a;
	int lfd, cfd, sfd, file = -1;
	uint64_t t0;

	skex_loopback(&a, family, 0);
	lfd = skex_listen(&a, 16, false);
	ASSERT_LE(0, lfd) TH_LOG("listen: %s", strerror(errno));
	cfd = skex_connect(&a);
	ASSERT_LE(0, cfd) TH_LOG("connect: %s", strerror(errno));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd) TH_LOG("accept: %s", strerror(errno));

	if (mode != XFER_RW) {
		ASSERT_LT((uint64_t)REV_SKIP, bytes);
		file = make_file(bytes, 0x5eed0001, &hash_fwd, &hash_rev);
		ASSERT_LE(0, file) TH_LOG("source file in /tmp: %s", strerror(errno));
	}

	/* accepted socket -> client: the whole stream */
	s2c_snd = (struct xfer_end){ .sock = sfd, .mode = mode, .bytes = bytes,
				     .seed = 0x5eed0001, .file = file };
	s2c_rcv = (struct xfer_end){ .sock = cfd, .mode = mode };
	/* client -> accepted socket: another stream, REV_SKIP bytes shorter */
	c2s_snd = (struct xfer_end){ .sock = cfd, .mode = mode,
				     .bytes = bytes - REV_SKIP,
				     .seed = 0x5eed0002, .file = file,
				     .file_off = REV_SKIP };
	c2s_rcv = (struct xfer_end){ .sock = sfd, .mode = mode };

	t0 = skex_now_us();
	ASSERT_EQ(0, pthread_create(&t[0], NULL, xfer_send, &s2c_snd));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, xfer_recv, &s2c_rcv));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, xfer_send, &c2s_snd));
	ASSERT_EQ(0, pthread_create(&t[3], NULL, xfer_recv, &c2s_rcv));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%llu + %llu bytes in %llu ms",
	       (unsigned long long)s2c_rcv.done, (unsigned long long)c2s_rcv.done,
	       (unsigned long long)(skex_now_us() - t0) / 1000);

	if (mode == XFER_RW) {
		hash_fwd = s2c_snd.hash;
		hash_rev = c2s_snd.hash;
	}
	check_end(_metadata, "server->client", &s2c_snd, &s2c_rcv, hash_fwd);
	check_end(_metadata, "client->server", &c2s_snd, &c2s_rcv, hash_rev);

	if (file >= 0)
		close(file);
	close(sfd);
	close(cfd);
	close(lfd);
}

/*
 * The generator and the hash are checked against each other once, so a
 * broken helper cannot make every transfer compare equal.
 */
TEST(helpers_selfcheck)
{
	unsigned char a[4096], b[4096];
	struct skex_gen g1, g2;
	struct skex_hash h1, h2, h3;
	size_t off = 0, cut = 1;

	skex_gen_init(&g1, 42);
	skex_gen_fill(&g1, a, sizeof(a));
	skex_gen_init(&g2, 42);
	while (off < sizeof(b)) {
		size_t n = cut > sizeof(b) - off ? sizeof(b) - off : cut;

		skex_gen_fill(&g2, b + off, n);
		off += n;
		cut = cut * 3 + 1;
	}
	ASSERT_EQ(0, memcmp(a, b, sizeof(a)));

	skex_hash_init(&h1);
	skex_hash_update(&h1, a, sizeof(a));
	skex_hash_init(&h2);
	for (off = 0, cut = 1; off < sizeof(a); off += cut, cut += 5)
		skex_hash_update(&h2, a + off,
				 cut > sizeof(a) - off ? sizeof(a) - off : cut);
	ASSERT_EQ(skex_hash_final(&h1), skex_hash_final(&h2));

	/* one flipped bit, two swapped words and a missing byte all differ */
	skex_hash_init(&h1);
	skex_hash_update(&h1, a, sizeof(a));
	b[1000] ^= 0x10;
	skex_hash_init(&h2);
	skex_hash_update(&h2, b, sizeof(b));
	ASSERT_NE(skex_hash_final(&h1), skex_hash_final(&h2));
	b[1000] ^= 0x10;
	memcpy(b + 64, a + 72, 8);
	memcpy(b + 72, a + 64, 8);
	skex_hash_init(&h2);
	skex_hash_update(&h2, b, sizeof(b));
	ASSERT_NE(h1.h, skex_hash_final(&h2));
	skex_hash_init(&h3);
	skex_hash_update(&h3, a, sizeof(a) - 1);
	ASSERT_NE(h1.h, skex_hash_final(&h3));
}

FIXTURE(transparency) {};
FIXTURE_SETUP(transparency) {}
FIXTURE_TEARDOWN(transparency) {}

TEST_F_TIMEOUT(transparency, rw_ipv4, 240)
{
	xfer_run(_metadata, AF_INET, XFER_RW);
}

TEST_F_TIMEOUT(transparency, rw_ipv6, 240)
{
	xfer_run(_metadata, AF_INET6, XFER_RW);
}

TEST_F_TIMEOUT(transparency, sendfile_ipv4, 240)
{
	xfer_run(_metadata, AF_INET, XFER_SENDFILE);
}

TEST_F_TIMEOUT(transparency, splice_ipv4, 240)
{
	xfer_run(_metadata, AF_INET, XFER_SPLICE);
}

TEST_HARNESS_MAIN
