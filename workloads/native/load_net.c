/* Network workload (workloads/network.py): TCP connect+accept and UDP sends on loopback.
 *
 * Thread t's own count j: TCP when j is even, UDP when odd (protocols=both; every one
 * TCP with protocols=tcp, UDP with protocols=udp), keyed by the port pair
 * (client << 16 | server). Each thread has its own listener and UDP receiver (so no
 * thread accepts another's connection and every key is its own), and its own slice of the
 * UDP source-port block 10000-32767 below the kernel's ephemeral range, walked up from a
 * random start as the Python workload walks the whole block.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sb-load.h"

#define UDP_LO 10000
#define UDP_HI 32768
static const char PAYLOAD[] = "sensorbench-udp";

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	return ntohs(a.sin_port);
}

static int bound(int type, int flags)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC | flags, 0);
	struct sockaddr_in a = loopback(0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	return fd;
}

static int thread_setup(struct worker *w)
{
	int one = 1, n = w->run->cfg.threads;
	w->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->listener < 0 ||
	    setsockopt(w->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		return -1;
	struct sockaddr_in a = loopback(0);
	if (bind(w->listener, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(w->listener, 4096) != 0)
		return -1;
	w->receiver = bound(SOCK_DGRAM, SOCK_NONBLOCK);
	if (w->receiver < 0)
		return -1;
	w->tcp_port = (uint16_t)local_port(w->listener);
	w->udp_port = (uint16_t)local_port(w->receiver);
	w->udp_n = (UDP_HI - UDP_LO) / n;
	w->udp_lo = UDP_LO + w->t * w->udp_n;
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)now_ns();
	w->udp_next = (int)(rnd % (uint32_t)w->udp_n);
	return 0;
}

/* A UDP socket bound to the next free port of this thread's slice (*port), or after 64
 * taken ones an unbound one (*port 0: the kernel picks it at the send). */
static int udp_socket(struct worker *w, int *port)
{
	for (int tries = 0; tries < 64; tries++) {
		*port = w->udp_lo + w->udp_next++ % w->udp_n;
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		struct sockaddr_in a = loopback((uint16_t)*port);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
	}
	*port = 0;
	return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static void tcp(struct worker *w, int64_t i, int64_t t_int)
{
	struct linger rst = { 1, 0 }; /* close resets: no TIME_WAIT piling up */
	struct sockaddr_in to = loopback(w->tcp_port);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s = -1, ok = 0;
	/* accept asks for the peer's address, as Python's accept() does: a sensor that
	 * reports it (audit's SOCKADDR record) sees the same system call */
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	if (c >= 0 && setsockopt(c, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)) == 0) {
		int64_t t0 = now_ns();
		if (connect(c, (struct sockaddr *)&to, sizeof(to)) == 0)
			s = accept4(w->listener, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		int64_t t1 = now_ns();
		/* the client's port is the accepted peer's: no getsockname on the op path */
		int port = s >= 0 ? ntohs(peer.sin_port) : -1;
		if (port >= 0) {
			int64_t key = ((int64_t)port << 16) | w->tcp_port;
			record(&w->run->led, w->slice, i, K_NET_CONNECT, key, NULL, 0, t_int, t0, t1);
			record(&w->run->led, w->slice, i, K_NET_ACCEPT, key, NULL, 0, t_int, t0, t1);
			ok = 1;
		}
	}
	if (s >= 0)
		close(s);
	if (c >= 0)
		close(c);
	if (!ok)
		w->errors++;
}

static void udp(struct worker *w, int64_t i, int64_t t_int)
{
	struct sockaddr_in to = loopback(w->udp_port);
	int bound_to, u = udp_socket(w, &bound_to), port = -1;
	if (u >= 0) {
		int64_t t0 = now_ns();
		ssize_t sent = sendto(u, PAYLOAD, sizeof(PAYLOAD) - 1, 0, (struct sockaddr *)&to,
				      sizeof(to));
		int64_t t1 = now_ns();
		port = sent < 0 ? -1 : bound_to ? bound_to : local_port(u);
		if (port >= 0)
			record(&w->run->led, w->slice, i, K_NET_SEND,
			       ((int64_t)port << 16) | w->udp_port, NULL, 0, t_int, t0, t1);
		close(u);
	}
	if (port < 0)
		w->errors++;
}

static void op(struct worker *w, int64_t i, int64_t j, int64_t t_int)
{
	int protocols = w->run->cfg.protocols;
	if (protocols == PROTO_TCP || (protocols == PROTO_BOTH && j % 2 == 0))
		tcp(w, i, t_int);
	else
		udp(w, i, t_int);
}

/* Keep the receive queue empty so sends never see a full socket. */
static void poll_(struct worker *w)
{
	char buf[64];
	while (recv(w->receiver, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno == EINTR)
		;
}

static void thread_teardown(struct worker *w)
{
	if (w->listener >= 0)
		close(w->listener);
	if (w->receiver >= 0)
		close(w->receiver);
	w->listener = w->receiver = -1;
}

const struct workload network_workload = {
	.name = "network", .rows_per_op = 2, .thread_setup = thread_setup, .op = op,
	.poll = poll_, .thread_teardown = thread_teardown,
};
