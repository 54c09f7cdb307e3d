// torn.c, an LD_PRELOAD shim for TestReliabilityTornWrite: the TORN_N-th pwrite of a whole
// 256 KiB DuckDB block at file offset TORN_OFF (any offset when unset) writes only the block's
// first half, and the process then SIGKILLs itself. That is what a SIGKILL arriving while the
// kernel copies a large buffered write leaves: Linux copies it page by page and stops between
// pages at a fatal signal, so the file holds half the new block and half the old one.
// TORN_LOG=1 prints every such write to stderr (to find the write to tear).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BLOCK 262144

static int seen;
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);

static ssize_t torn_pwrite(int fd, const void *buf, size_t n, off_t off) {
	if (!real_pwrite) {
		real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
	}
	const char *at = getenv("TORN_OFF"), *nth = getenv("TORN_N");
	if (n == BLOCK && (!at || off == atoll(at))) {
		seen++;
		if (getenv("TORN_LOG")) {
			char msg[80];
			int len = snprintf(msg, sizeof msg, "torn: block write %d at %lld\n", seen, (long long)off);
			if (write(2, msg, len) < 0) {
			}
		}
		if (nth && seen == atoi(nth)) {
			real_pwrite(fd, buf, n / 2, off);
			kill(getpid(), SIGKILL);
		}
	}
	return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return torn_pwrite(fd, buf, n, off); }
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { return torn_pwrite(fd, buf, n, off); }
