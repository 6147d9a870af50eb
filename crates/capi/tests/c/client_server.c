/*
 * A C program using ustack through include/ustack.h: two stacks on an in-memory link, a
 * server on one and a client on the other, checking data end to end and the errno value of
 * every error case against what Linux returns. Built and run by tests/c_api.rs; prints one
 * line per check and exits non-zero at the first failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ustack.h"

static ustack_t *server_st, *client_st;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__,  \
				#cond);                                        \
			fprintf(stderr, __VA_ARGS__);                          \
			fprintf(stderr, " (errno %d: %s)\n", errno,            \
				strerror(errno));                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* A call that must fail with errno `e`. */
#define EXPECT_ERRNO(call, e)                                                  \
	do {                                                                   \
		errno = 0;                                                     \
		long r_ = (long)(call);                                        \
		CHECK(r_ == -1 && errno == (e), "%s returned %ld, want -1 %s", \
		      #call, r_, #e);                                          \
		printf("ok %s -> %s\n", #call, #e);                            \
	} while (0)

static struct sockaddr_in addr(const char *ip, int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

#define SA(a) ((struct sockaddr *)&(a))

static int listener(int port)
{
	int one = 1;
	struct sockaddr_in a = addr("10.0.0.1", port);
	int fd = ustack_socket(server_st, AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0, "socket");
	CHECK(ustack_setsockopt(server_st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "SO_REUSEADDR");
	CHECK(ustack_bind(server_st, fd, SA(a), sizeof(a)) == 0, "bind");
	CHECK(ustack_listen(server_st, fd, 16) == 0, "listen");
	return fd;
}

static int connected_client(int port)
{
	struct sockaddr_in a = addr("10.0.0.1", port);
	int fd = ustack_socket(client_st, AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0, "socket");
	CHECK(ustack_connect(client_st, fd, SA(a), sizeof(a)) == 0, "blocking connect");
	return fd;
}

/* The server side of the data test: echoes what it reads, checksumming it. */
static void *echo_server(void *arg)
{
	int lfd = *(int *)arg;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int fd = ustack_accept(server_st, lfd, SA(peer), &len);
	CHECK(fd >= 0, "accept");
	CHECK(len == sizeof(peer) && peer.sin_addr.s_addr == inet_addr("10.0.0.2"), "peer address");
	char buf[8192];
	for (;;) {
		ssize_t n = ustack_read(server_st, fd, buf, sizeof(buf));
		CHECK(n >= 0, "server read");
		if (n == 0)
			break;
		ssize_t off = 0;
		while (off < n) {
			ssize_t w = ustack_write(server_st, fd, buf + off, n - off);
			CHECK(w > 0, "server write");
			off += w;
		}
	}
	CHECK(ustack_close(server_st, fd) == 0, "server close");
	return NULL;
}

static void data_round_trip(void)
{
	enum { TOTAL = 4 << 20 };
	int lfd = listener(7000);
	pthread_t t;
	pthread_create(&t, NULL, echo_server, &lfd);
	int fd = connected_client(7000);

	struct sockaddr_in local, remote;
	socklen_t ll = sizeof(local), rl = sizeof(remote);
	CHECK(ustack_getsockname(client_st, fd, SA(local), &ll) == 0, "getsockname");
	CHECK(ustack_getpeername(client_st, fd, SA(remote), &rl) == 0, "getpeername");
	CHECK(local.sin_addr.s_addr == inet_addr("10.0.0.2") && ntohs(local.sin_port) != 0, "local address");
	CHECK(remote.sin_addr.s_addr == inet_addr("10.0.0.1") && ntohs(remote.sin_port) == 7000, "remote address");

	/* Send 4 MiB of a known pattern from one thread while reading the echo here. */
	unsigned char *out = malloc(TOTAL), *in = malloc(TOTAL);
	for (size_t i = 0; i < TOTAL; i++)
		out[i] = (unsigned char)(i * 7 + (i >> 11));
	size_t sent = 0, got = 0;
	int flags = ustack_fcntl(client_st, fd, F_GETFL, 0);
	CHECK(ustack_fcntl(client_st, fd, F_SETFL, flags | O_NONBLOCK) == 0, "O_NONBLOCK");
	while (got < TOTAL) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < TOTAL ? POLLOUT : 0) };
		CHECK(ustack_poll(client_st, &p, 1, 5000) == 1, "poll");
		if (sent < TOTAL && (p.revents & POLLOUT)) {
			ssize_t w = ustack_send(client_st, fd, out + sent, TOTAL - sent, 0);
			CHECK(w > 0 || errno == EAGAIN, "send");
			if (w > 0)
				sent += w;
			if (sent == TOTAL)
				CHECK(ustack_shutdown(client_st, fd, SHUT_WR) == 0, "shutdown");
		}
		if (p.revents & POLLIN) {
			ssize_t r = ustack_recv(client_st, fd, in + got, TOTAL - got, 0);
			CHECK(r > 0 || (r < 0 && errno == EAGAIN), "recv");
			if (r > 0)
				got += r;
		}
	}
	CHECK(memcmp(in, out, TOTAL) == 0, "echoed data differs");
	printf("ok 4 MiB echoed byte for byte\n");
	/* The server closed after our FIN: end of stream, then EPIPE on write. */
	CHECK(ustack_fcntl(client_st, fd, F_SETFL, flags) == 0, "blocking again");
	CHECK(ustack_read(client_st, fd, in, 1) == 0, "end of stream");
	EXPECT_ERRNO(ustack_write(client_st, fd, "x", 1), EPIPE);
	pthread_join(t, NULL);
	CHECK(ustack_close(client_st, fd) == 0, "close");
	CHECK(ustack_close(server_st, lfd) == 0, "close listener");
	free(out);
	free(in);
}

static void refused(void)
{
	struct sockaddr_in a = addr("10.0.0.1", 7999);
	int fd = ustack_socket(client_st, AF_INET, SOCK_STREAM, 0);
	EXPECT_ERRNO(ustack_connect(client_st, fd, SA(a), sizeof(a)), ECONNREFUSED);
	ustack_close(client_st, fd);
}

static void reset(void)
{
	int lfd = listener(7001);
	int c = connected_client(7001);
	int s = ustack_accept(server_st, lfd, NULL, NULL);
	CHECK(s >= 0, "accept");
	/* SO_LINGER with a zero timeout: close sends a RST. */
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	CHECK(ustack_setsockopt(server_st, s, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0, "SO_LINGER");
	CHECK(ustack_close(server_st, s) == 0, "close");
	char b;
	EXPECT_ERRNO(ustack_read(client_st, c, &b, 1), ECONNRESET);
	/* Reported once, as Linux clears sk_err: then end of stream, and EPIPE. */
	CHECK(ustack_read(client_st, c, &b, 1) == 0, "after the reset");
	EXPECT_ERRNO(ustack_write(client_st, c, "x", 1), EPIPE);
	ustack_close(client_st, c);
	ustack_close(server_st, lfd);
}

static void timeout(void)
{
	/* Nobody has 10.0.0.99: the SYNs go unanswered. */
	struct sockaddr_in a = addr("10.0.0.99", 80);
	int fd = ustack_socket(client_st, AF_INET, SOCK_STREAM, 0);
	int syncnt = 1;
	CHECK(ustack_setsockopt(client_st, fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt)) == 0, "TCP_SYNCNT");
	EXPECT_ERRNO(ustack_connect(client_st, fd, SA(a), sizeof(a)), ETIMEDOUT);
	ustack_close(client_st, fd);
}

static void would_block(void)
{
	int lfd = listener(7002);
	int fl = ustack_fcntl(server_st, lfd, F_GETFL, 0);
	CHECK(ustack_fcntl(server_st, lfd, F_SETFL, fl | O_NONBLOCK) == 0, "O_NONBLOCK");
	EXPECT_ERRNO(ustack_accept(server_st, lfd, NULL, NULL), EAGAIN);
	int c = connected_client(7002);
	int s = ustack_accept4(server_st, lfd, NULL, NULL, SOCK_NONBLOCK);
	CHECK(s >= 0, "accept4");
	char b[16];
	EXPECT_ERRNO(ustack_read(server_st, s, b, sizeof(b)), EAGAIN);
	EXPECT_ERRNO(ustack_recv(client_st, c, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	int n = -1;
	CHECK(ustack_ioctl(server_st, s, FIONREAD, &n) == 0 && n == 0, "FIONREAD empty");
	CHECK(ustack_write(client_st, c, "hello", 5) == 5, "write");
	CHECK(ustack_ioctl(server_st, s, FIONREAD, &n) == 0 && n == 5, "FIONREAD 5");
	CHECK(ustack_recv(server_st, s, b, sizeof(b), MSG_PEEK) == 5, "peek");
	CHECK(ustack_read(server_st, s, b, sizeof(b)) == 5 && memcmp(b, "hello", 5) == 0, "read");
	printf("ok FIONREAD, MSG_PEEK\n");
	ustack_close(client_st, c);
	ustack_close(server_st, s);
	ustack_close(server_st, lfd);
}

static void addresses(void)
{
	int a = ustack_socket(server_st, AF_INET, SOCK_STREAM, 0);
	int b = ustack_socket(server_st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in x = addr("10.0.0.1", 7003);
	CHECK(ustack_bind(server_st, a, SA(x), sizeof(x)) == 0, "bind");
	EXPECT_ERRNO(ustack_bind(server_st, b, SA(x), sizeof(x)), EADDRINUSE);
	struct sockaddr_in other = addr("10.9.9.9", 7003);
	EXPECT_ERRNO(ustack_bind(server_st, b, SA(other), sizeof(other)), EADDRNOTAVAIL);
	EXPECT_ERRNO(ustack_bind(server_st, a, SA(x), sizeof(x)), EINVAL);
	EXPECT_ERRNO(ustack_socket(server_st, AF_MAX + 1, SOCK_STREAM, 0), EAFNOSUPPORT);
	EXPECT_ERRNO(ustack_close(server_st, 999), EBADF);
	ustack_close(server_st, a);
	ustack_close(server_st, b);
}

static void nonblocking_connect(void)
{
	/* A handshake nobody answers: EINPROGRESS, then EALREADY while it runs. */
	struct sockaddr_in nowhere = addr("10.0.0.99", 80);
	int fd = ustack_socket(client_st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	EXPECT_ERRNO(ustack_connect(client_st, fd, SA(nowhere), sizeof(nowhere)), EINPROGRESS);
	EXPECT_ERRNO(ustack_connect(client_st, fd, SA(nowhere), sizeof(nowhere)), EALREADY);
	ustack_close(client_st, fd);

	/* One that completes: 0 once it has (Linux reports the completion), then EISCONN. */
	int lfd = listener(7004);
	struct sockaddr_in a = addr("10.0.0.1", 7004);
	fd = ustack_socket(client_st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	EXPECT_ERRNO(ustack_connect(client_st, fd, SA(a), sizeof(a)), EINPROGRESS);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	CHECK(ustack_poll(client_st, &p, 1, 5000) == 1 && (p.revents & POLLOUT), "writable once connected");
	int err = -1;
	socklen_t len = sizeof(err);
	CHECK(ustack_getsockopt(client_st, fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0, "SO_ERROR 0");
	CHECK(ustack_connect(client_st, fd, SA(a), sizeof(a)) == 0, "connect reports completion");
	EXPECT_ERRNO(ustack_connect(client_st, fd, SA(a), sizeof(a)), EISCONN);
	struct tcp_info ti;
	len = sizeof(ti);
	CHECK(ustack_getsockopt(client_st, fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0, "TCP_INFO");
	CHECK(ti.tcpi_state == TCP_ESTABLISHED && ti.tcpi_snd_mss == 1448, "tcp_info state %d mss %u", ti.tcpi_state, ti.tcpi_snd_mss);
	printf("ok TCP_INFO\n");
	ustack_close(client_st, fd);
	ustack_close(server_st, lfd);
}

/* ---- IPv6 ------------------------------------------------------------------------- */

static struct sockaddr_in6 addr6(const char *ip, int port)
{
	struct sockaddr_in6 a;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(port);
	CHECK(inet_pton(AF_INET6, ip, &a.sin6_addr) == 1, "inet_pton %s", ip);
	return a;
}

/* Whether `a` (of length `len`) is the sockaddr_in6 of `ip`, port `port` (0: any port). */
static int is_addr6(const struct sockaddr_in6 *a, socklen_t len, const char *ip, int port)
{
	struct in6_addr want;
	inet_pton(AF_INET6, ip, &want);
	return len == sizeof(*a) && a->sin6_family == AF_INET6 &&
	       memcmp(&a->sin6_addr, &want, sizeof(want)) == 0 &&
	       (port == 0 ? a->sin6_port != 0 : ntohs(a->sin6_port) == port);
}

static int listener6(int port, int v6only)
{
	int one = 1;
	struct sockaddr_in6 a = addr6("::", port);
	int fd = ustack_socket(server_st, AF_INET6, SOCK_STREAM, 0);
	CHECK(fd >= 0, "socket AF_INET6");
	CHECK(ustack_setsockopt(server_st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "SO_REUSEADDR");
	CHECK(ustack_setsockopt(server_st, fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == 0, "IPV6_V6ONLY");
	CHECK(ustack_bind(server_st, fd, SA(a), sizeof(a)) == 0, "bind [::]");
	CHECK(ustack_listen(server_st, fd, 16) == 0, "listen");
	return fd;
}

/* Sends `n` bytes of a pattern from one side and reads them on the other. */
static void transfer(ustack_t *from_st, int from, ustack_t *to_st, int to, size_t n, unsigned seed)
{
	unsigned char *out = malloc(n), *in = malloc(n);
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(i * 131 + seed);
	size_t sent = 0, got = 0;
	/* Interleave writes and reads so neither side's buffer has to hold everything. */
	int fl = ustack_fcntl(from_st, from, F_GETFL, 0);
	ustack_fcntl(from_st, from, F_SETFL, fl | O_NONBLOCK);
	while (got < n) {
		if (sent < n) {
			ssize_t w = ustack_write(from_st, from, out + sent, n - sent);
			CHECK(w > 0 || errno == EAGAIN, "write");
			if (w > 0)
				sent += w;
		}
		ssize_t r = ustack_recv(to_st, to, in + got, n - got, sent < n ? MSG_DONTWAIT : 0);
		CHECK(r > 0 || (r < 0 && errno == EAGAIN), "read");
		if (r > 0)
			got += r;
	}
	ustack_fcntl(from_st, from, F_SETFL, fl);
	CHECK(memcmp(in, out, n) == 0, "the data arrived unchanged");
	free(out);
	free(in);
}

static void ipv6_round_trip(void)
{
	int lfd = listener6(7100, 0);
	int v = -1;
	socklen_t vl = sizeof(v);
	CHECK(ustack_getsockopt(server_st, lfd, SOL_SOCKET, SO_DOMAIN, &v, &vl) == 0 && v == AF_INET6, "SO_DOMAIN");

	/* An AF_INET6 client over IPv6. */
	struct sockaddr_in6 dst = addr6("fd00::1", 7100);
	int c = ustack_socket(client_st, AF_INET6, SOCK_STREAM, 0);
	CHECK(c >= 0, "socket AF_INET6");
	CHECK(ustack_connect(client_st, c, SA(dst), sizeof(dst)) == 0, "connect [fd00::1]:7100");
	struct sockaddr_in6 peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	int s = ustack_accept(server_st, lfd, SA(peer), &pl);
	CHECK(s >= 0, "accept");
	CHECK(is_addr6(&peer, pl, "fd00::2", 0), "accept names the IPv6 client");
	CHECK(ustack_getsockname(client_st, c, SA(local), &ll) == 0 && is_addr6(&local, ll, "fd00::2", ntohs(peer.sin6_port)), "client getsockname");
	pl = sizeof(peer);
	CHECK(ustack_getpeername(client_st, c, SA(peer), &pl) == 0 && is_addr6(&peer, pl, "fd00::1", 7100), "client getpeername");
	transfer(client_st, c, server_st, s, 1 << 20, 1);
	transfer(server_st, s, client_st, c, 1 << 20, 2);
	printf("ok AF_INET6 client and server: 1 MiB each way over IPv6\n");
	ustack_close(client_st, c);
	ustack_close(server_st, s);

	/* An AF_INET client of the dual-stack listener appears as ::ffff:10.0.0.2. */
	struct sockaddr_in dst4 = addr("10.0.0.1", 7100);
	c = ustack_socket(client_st, AF_INET, SOCK_STREAM, 0);
	CHECK(ustack_connect(client_st, c, SA(dst4), sizeof(dst4)) == 0, "connect 10.0.0.1:7100");
	pl = sizeof(peer);
	s = ustack_accept(server_st, lfd, SA(peer), &pl);
	CHECK(s >= 0 && is_addr6(&peer, pl, "::ffff:10.0.0.2", 0), "accept names the IPv4 client as mapped");
	pl = sizeof(peer);
	ll = sizeof(local);
	CHECK(ustack_getpeername(server_st, s, SA(peer), &pl) == 0 && is_addr6(&peer, pl, "::ffff:10.0.0.2", 0), "getpeername mapped");
	CHECK(ustack_getsockname(server_st, s, SA(local), &ll) == 0 && is_addr6(&local, ll, "::ffff:10.0.0.1", 7100), "getsockname mapped");
	transfer(client_st, c, server_st, s, 64 << 10, 3);
	transfer(server_st, s, client_st, c, 64 << 10, 4);
	printf("ok dual-stack listener: an AF_INET client as ::ffff:10.0.0.2\n");
	ustack_close(client_st, c);
	ustack_close(server_st, s);

	/* An AF_INET6 socket connecting to an IPv4-mapped address speaks IPv4. */
	struct sockaddr_in6 mapped = addr6("::ffff:10.0.0.1", 7100);
	c = ustack_socket(client_st, AF_INET6, SOCK_STREAM, 0);
	CHECK(ustack_connect(client_st, c, SA(mapped), sizeof(mapped)) == 0, "connect [::ffff:10.0.0.1]:7100");
	ll = sizeof(local);
	CHECK(ustack_getsockname(client_st, c, SA(local), &ll) == 0 && is_addr6(&local, ll, "::ffff:10.0.0.2", 0), "mapped local address");
	s = ustack_accept(server_st, lfd, NULL, NULL);
	CHECK(s >= 0, "accept");
	transfer(client_st, c, server_st, s, 4096, 5);
	printf("ok AF_INET6 client to an IPv4-mapped address\n");
	ustack_close(client_st, c);
	ustack_close(server_st, s);
	ustack_close(server_st, lfd);

	/* IPV6_V6ONLY: the listener takes no IPv4; the SYN is answered with a RST. */
	lfd = listener6(7101, 1);
	v = -1;
	vl = sizeof(v);
	CHECK(ustack_getsockopt(server_st, lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl) == 0 && v == 1, "IPV6_V6ONLY reads 1");
	int one = 1;
	EXPECT_ERRNO(ustack_setsockopt(server_st, lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), EINVAL);
	dst4 = addr("10.0.0.1", 7101);
	c = ustack_socket(client_st, AF_INET, SOCK_STREAM, 0);
	EXPECT_ERRNO(ustack_connect(client_st, c, SA(dst4), sizeof(dst4)), ECONNREFUSED);
	ustack_close(client_st, c);
	dst = addr6("fd00::1", 7101);
	c = ustack_socket(client_st, AF_INET6, SOCK_STREAM, 0);
	CHECK(ustack_connect(client_st, c, SA(dst), sizeof(dst)) == 0, "V6ONLY listener takes IPv6");
	ustack_close(client_st, c);
	ustack_close(server_st, lfd);
}

static void ipv6_udp(void)
{
	struct sockaddr_in6 any = addr6("::", 7200);
	int srv = ustack_socket(server_st, AF_INET6, SOCK_DGRAM, 0);
	CHECK(srv >= 0 && ustack_bind(server_st, srv, SA(any), sizeof(any)) == 0, "UDP bind [::]:7200");

	/* IPv6 both ways. */
	int c6 = ustack_socket(client_st, AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 dst = addr6("fd00::1", 7200), from;
	CHECK(ustack_sendto(client_st, c6, "ping6", 5, 0, SA(dst), sizeof(dst)) == 5, "sendto [fd00::1]");
	char b[16];
	socklen_t fl = sizeof(from);
	CHECK(ustack_recvfrom(server_st, srv, b, sizeof(b), 0, SA(from), &fl) == 5 && memcmp(b, "ping6", 5) == 0, "recvfrom");
	CHECK(is_addr6(&from, fl, "fd00::2", 0), "the IPv6 sender");
	CHECK(ustack_sendto(server_st, srv, "pong6", 5, 0, SA(from), fl) == 5, "reply");
	fl = sizeof(from);
	CHECK(ustack_recvfrom(client_st, c6, b, sizeof(b), 0, SA(from), &fl) == 5 && memcmp(b, "pong6", 5) == 0, "reply received");
	CHECK(is_addr6(&from, fl, "fd00::1", 7200), "the reply's source");

	/* An AF_INET client: the dual-stack socket sees ::ffff:10.0.0.2 and answers it. */
	int c4 = ustack_socket(client_st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in dst4 = addr("10.0.0.1", 7200), from4;
	CHECK(ustack_sendto(client_st, c4, "ping4", 5, 0, SA(dst4), sizeof(dst4)) == 5, "sendto 10.0.0.1");
	fl = sizeof(from);
	CHECK(ustack_recvfrom(server_st, srv, b, sizeof(b), 0, SA(from), &fl) == 5, "recvfrom IPv4");
	CHECK(is_addr6(&from, fl, "::ffff:10.0.0.2", 0), "the IPv4 sender as mapped");
	CHECK(ustack_sendto(server_st, srv, "pong4", 5, 0, SA(from), fl) == 5, "reply to a mapped address");
	socklen_t fl4 = sizeof(from4);
	CHECK(ustack_recvfrom(client_st, c4, b, sizeof(b), 0, SA(from4), &fl4) == 5 && memcmp(b, "pong4", 5) == 0, "IPv4 reply");
	CHECK(fl4 == sizeof(from4) && from4.sin_addr.s_addr == inet_addr("10.0.0.1") && ntohs(from4.sin_port) == 7200, "IPv4 reply source");
	/* A dual-stack socket also takes a sockaddr_in (Linux udpv6_sendmsg). */
	struct sockaddr_in back = addr("10.0.0.2", 0);
	struct sockaddr_in c4name;
	socklen_t nl = sizeof(c4name);
	CHECK(ustack_getsockname(client_st, c4, SA(c4name), &nl) == 0, "getsockname");
	back.sin_port = c4name.sin_port;
	CHECK(ustack_sendto(server_st, srv, "again", 5, 0, SA(back), sizeof(back)) == 5, "sendto a sockaddr_in");
	CHECK(ustack_recv(client_st, c4, b, sizeof(b), 0) == 5 && memcmp(b, "again", 5) == 0, "received");
	CHECK(ustack_recv(client_st, c4, b, sizeof(b), MSG_DONTWAIT) == -1, "nothing else");
	printf("ok UDP over AF_INET6: IPv6 and IPv4-mapped peers\n");
	ustack_close(client_st, c6);
	ustack_close(client_st, c4);
	ustack_close(server_st, srv);
}

/* The errno of each address mistake, as Linux returns it (checked on Linux 6.18). */
static void ipv6_errors(void)
{
	int one = 1;
	struct sockaddr_in6 a6 = addr6("fd00::1", 7300);
	struct sockaddr_in a4 = addr("10.0.0.1", 7300);
	int t4 = ustack_socket(server_st, AF_INET, SOCK_STREAM, 0);
	EXPECT_ERRNO(ustack_bind(server_st, t4, SA(a6), sizeof(a6)), EAFNOSUPPORT);
	EXPECT_ERRNO(ustack_connect(server_st, t4, SA(a6), sizeof(a6)), EAFNOSUPPORT);
	EXPECT_ERRNO(ustack_setsockopt(server_st, t4, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), ENOPROTOOPT);
	int u4 = ustack_socket(server_st, AF_INET, SOCK_DGRAM, 0);
	EXPECT_ERRNO(ustack_sendto(server_st, u4, "x", 1, 0, SA(a6), sizeof(a6)), EAFNOSUPPORT);

	int t6 = ustack_socket(server_st, AF_INET6, SOCK_STREAM, 0);
	/* The length is checked first: a sockaddr_in is too short for AF_INET6. */
	EXPECT_ERRNO(ustack_bind(server_st, t6, SA(a4), sizeof(a4)), EINVAL);
	EXPECT_ERRNO(ustack_bind(server_st, t6, SA(a6), 23), EINVAL);
	EXPECT_ERRNO(ustack_connect(server_st, t6, SA(a4), sizeof(a4)), EINVAL);
	EXPECT_ERRNO(ustack_setsockopt(server_st, t6, IPPROTO_IPV6, IPV6_V6ONLY, &one, 2), EINVAL);
	struct sockaddr_in6 ll = addr6("fe80::1", 80), mc = addr6("ff02::1", 80);
	EXPECT_ERRNO(ustack_connect(server_st, t6, SA(ll), sizeof(ll)), EINVAL);
	EXPECT_ERRNO(ustack_connect(server_st, t6, SA(mc), sizeof(mc)), ENETUNREACH);
	struct sockaddr_in6 other = addr6("fd00::99", 7300);
	EXPECT_ERRNO(ustack_bind(server_st, t6, SA(other), sizeof(other)), EADDRNOTAVAIL);
	/* RFC 2133's sockaddr_in6 (24 bytes, no sin6_scope_id) is accepted. */
	CHECK(ustack_bind(server_st, t6, SA(a6), 24) == 0, "bind with a 24-byte sockaddr_in6");
	EXPECT_ERRNO(ustack_setsockopt(server_st, t6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), EINVAL);

	int only = ustack_socket(server_st, AF_INET6, SOCK_STREAM, 0);
	CHECK(ustack_setsockopt(server_st, only, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0, "V6ONLY");
	struct sockaddr_in6 m = addr6("::ffff:10.0.0.1", 7301);
	EXPECT_ERRNO(ustack_bind(server_st, only, SA(m), sizeof(m)), EINVAL);
	EXPECT_ERRNO(ustack_connect(server_st, only, SA(m), sizeof(m)), ENETUNREACH);
	int u6 = ustack_socket(server_st, AF_INET6, SOCK_DGRAM, 0);
	CHECK(ustack_setsockopt(server_st, u6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0, "V6ONLY");
	EXPECT_ERRNO(ustack_sendto(server_st, u6, "x", 1, 0, SA(a4), sizeof(a4)), ENETUNREACH);
	EXPECT_ERRNO(ustack_connect(server_st, u6, SA(a4), sizeof(a4)), EAFNOSUPPORT);

	/* Ports: a dual-stack [::] reservation covers 0.0.0.0 and 10.0.0.1; a V6ONLY one not. */
	int d = ustack_socket(server_st, AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 any = addr6("::", 7302);
	CHECK(ustack_bind(server_st, d, SA(any), sizeof(any)) == 0, "bind [::]:7302");
	struct sockaddr_in a4b = addr("10.0.0.1", 7302);
	int t4b = ustack_socket(server_st, AF_INET, SOCK_STREAM, 0);
	EXPECT_ERRNO(ustack_bind(server_st, t4b, SA(a4b), sizeof(a4b)), EADDRINUSE);
	int o = ustack_socket(server_st, AF_INET6, SOCK_STREAM, 0);
	CHECK(ustack_setsockopt(server_st, o, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0, "V6ONLY");
	any = addr6("::", 7303);
	CHECK(ustack_bind(server_st, o, SA(any), sizeof(any)) == 0, "bind [::]:7303 V6ONLY");
	struct sockaddr_in a4c = addr("10.0.0.1", 7303);
	int t4c = ustack_socket(server_st, AF_INET, SOCK_STREAM, 0);
	CHECK(ustack_bind(server_st, t4c, SA(a4c), sizeof(a4c)) == 0, "10.0.0.1:7303 beside a V6ONLY [::]:7303");
	printf("ok port sharing across families\n");
	int fds[] = { t4, u4, t6, only, u6, d, t4b, o, t4c };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		ustack_close(server_st, fds[i]);
}

int main(void)
{
	CHECK(ustack_pair_new("10.0.0.1/24,fd00::1/64", "10.0.0.2/24,fd00::2/64", &server_st, &client_st) == 0, "pair");
	data_round_trip();
	refused();
	reset();
	would_block();
	addresses();
	nonblocking_connect();
	timeout();
	ipv6_round_trip();
	ipv6_udp();
	ipv6_errors();
	ustack_free(client_st);
	ustack_free(server_st);
	printf("all C API checks passed\n");
	return 0;
}
