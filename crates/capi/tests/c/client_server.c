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
	EXPECT_ERRNO(ustack_socket(server_st, AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT);
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

int main(void)
{
	CHECK(ustack_pair_new("10.0.0.1/24", "10.0.0.2/24", &server_st, &client_st) == 0, "pair");
	data_round_trip();
	refused();
	reset();
	would_block();
	addresses();
	nonblocking_connect();
	timeout();
	ustack_free(client_st);
	ustack_free(server_st);
	printf("all C API checks passed\n");
	return 0;
}
