/*
 * LD_PRELOAD helper for running packetdrill against libustack_capi.so.
 *
 * packetdrill's %{ }% blocks read TCP_INFO, TCP_CC_INFO and SO_MEMINFO with the C library's
 * getsockopt() on the script's descriptor, not through the shared-object interface, so with
 * --so_filename those calls would reach the kernel with a descriptor number the kernel does
 * not know. Preloaded, this file's getsockopt() first offers each call to the hook that
 * libustack_capi.so registers when packetdrill loads it (ustack_packetdrill_getsockopt): a
 * descriptor of the running script's stack is answered by ustack, anything else goes on to
 * the C library's getsockopt().
 *
 * packetdrill also closes the descriptors a script leaves open with the C library's close()
 * when the script ends, which fails with EBADF (and makes packetdrill exit with an error)
 * for a descriptor the kernel does not know. This file's close() offers a descriptor the
 * process does not have open to the hook libustack_capi.so registers
 * (ustack_packetdrill_close); a descriptor the process has open is always the process's.
 *
 * Built by scripts/packetdrill.sh; not part of the C API.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>

typedef int (*ustack_getsockopt_hook)(int fd, int level, int name, void *val,
				      socklen_t *len, int *handled);

static ustack_getsockopt_hook hook;

void ustack_preload_set_getsockopt_hook(ustack_getsockopt_hook f)
{
	hook = f;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static int (*next)(int, int, int, void *, socklen_t *);

	if (hook) {
		int handled = 0;
		int r = hook(fd, level, name, val, len, &handled);

		if (handled)
			return r;
	}
	if (!next)
		next = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
	return next(fd, level, name, val, len);
}

typedef int (*ustack_close_hook)(int fd, int *handled);

static ustack_close_hook close_hook;

void ustack_preload_set_close_hook(ustack_close_hook f)
{
	close_hook = f;
}

int close(int fd)
{
	static int (*next)(int);

	if (close_hook && fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
		int handled = 0;
		int r = close_hook(fd, &handled);

		if (handled)
			return r;
	}
	if (!next)
		next = (int (*)(int))dlsym(RTLD_NEXT, "close");
	return next(fd);
}
