//go:build linux && cgo

// Package cmalloc bounds what the C library's allocator keeps. DuckDB allocates its buffers
// from its own jemalloc pool, which its memory limit governs, but the rest of its C++ objects
// (plans, vectors, strings, the Parquet writer's state) and Arrow's C data come from glibc's
// malloc, which gives each new thread an arena of its own, up to eight per CPU, keeps each
// arena's freed memory for reuse by that arena, and serves large blocks from the arenas once
// large blocks were freed (its moving mmap threshold). A writing process is sized by one memory
// budget; both multiply what freed memory stays resident.
package cmalloc

/*
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mc_limit_arenas(int n) {
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
	return mallopt(M_ARENA_MAX, n);
#else
	return -1;
#endif
}

static int mc_mmap_threshold(int n) {
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
	return mallopt(M_MMAP_THRESHOLD, n);
#else
	return -1;
#endif
}

// mc_mapped_after_large_free frees a block of big bytes (mapped on its own at glibc's default
// threshold), then allocates one of small bytes and reports how many bytes are mapped on their
// own while it is held: 0 when glibc raised its threshold past small after the free.
static long mc_mapped_after_large_free(long big, long small) {
#if defined(__GLIBC__)
	void *volatile p = malloc(big);
	memset(p, 1, 64);
	free(p);
	void *volatile q = malloc(small);
	memset(q, 1, 64);
	struct mallinfo2 mi = mallinfo2();
	long mapped = (long)mi.hblkhd;
	free(q);
	return mapped;
#else
	return -1;
#endif
}

// mc_in_use is the bytes glibc's malloc has handed out and not had back: in its arenas and
// mapped on their own.
static long mc_in_use(void) {
#if defined(__GLIBC__)
	struct mallinfo2 mi = mallinfo2();
	return (long)(mi.uordblks + mi.hblkhd);
#else
	return -1;
#endif
}

static int mc_arenas(void) {
#if defined(__GLIBC__)
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) return -1;
	malloc_info(0, f);
	fclose(f);
	int n = 0;
	for (char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++) n++;
	free(buf);
	return n;
#else
	return -1;
#endif
}

static pthread_barrier_t mc_barrier;
static void *volatile mc_held[64]; // kept where the compiler cannot see it unused (it elides a malloc and free pair)

static void *mc_churn_thread(void *arg) {
	void *p = malloc(4096);
	memset(p, 1, 64);
	mc_held[(long)arg] = p;
	pthread_barrier_wait(&mc_barrier); // every thread holds its allocation at once
	free(p);
	return NULL;
}

// mc_churn runs threads that each allocate while all are alive, so that each wants an arena of
// its own (a thread's first allocation takes a new arena while the limit allows).
static int mc_churn(int threads) {
	pthread_t t[64];
	if (threads > 64) threads = 64;
	if (pthread_barrier_init(&mc_barrier, NULL, threads) != 0) return 0;
	int started = 0;
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&t[i], NULL, mc_churn_thread, (void *)(long)i) != 0) break;
		started++;
	}
	if (started < threads) return started; // the started ones wait for ever: the test fails
	for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
	pthread_barrier_destroy(&mc_barrier);
	return started;
}
*/
import "C"

import "fmt"

// LimitArenas caps the C allocator's arenas at n (glibc's M_ARENA_MAX): threads beyond the
// n-th share the existing arenas instead of each keeping freed memory in its own. Call it before
// the threads start (DuckDB starts its own when it opens). It does nothing where the C library
// is not glibc.
func LimitArenas(n int) error {
	switch C.mc_limit_arenas(C.int(n)) {
	case 1:
		return nil
	case -1:
		return nil // not glibc: nothing to limit
	default:
		return fmt.Errorf("limit malloc arenas to %d: mallopt refused", n)
	}
}

// FixMmapThreshold makes every allocation of n bytes or more a mapping of its own, returned to
// the system when freed (glibc's M_MMAP_THRESHOLD). glibc's default starts at 128 KiB and raises
// itself to the size of each such block freed, up to 32 MiB: after a few of DuckDB's and Arrow's
// large buffers come and go, the next ones come from the arenas, whose freed memory stays
// resident. A fixed threshold keeps them mapped (measured: 8–16 MB less peak RSS in a 100k load,
// no slower). It does nothing where the C library is not glibc.
func FixMmapThreshold(n int) error {
	switch C.mc_mmap_threshold(C.int(n)) {
	case 1:
		return nil
	case -1:
		return nil // not glibc
	default:
		return fmt.Errorf("fix the malloc mmap threshold at %d bytes: mallopt refused", n)
	}
}

// mappedAfterLargeFree frees a block of big bytes, then holds one of small bytes and returns the
// bytes mapped on their own meanwhile (-1 where it cannot tell).
func mappedAfterLargeFree(big, small int) int {
	return int(C.mc_mapped_after_large_free(C.long(big), C.long(small)))
}

// arenas is how many arenas glibc's malloc has made (-1 where it cannot tell).
func arenas() int { return int(C.mc_arenas()) }

// InUse is the bytes the C library's malloc has handed out and not had back (-1 where it
// cannot say): DuckDB's C++ objects and Arrow's C data, not DuckDB's buffers (its own pool).
func InUse() int64 { return int64(C.mc_in_use()) }

// churn starts threads C threads that allocate at once and waits for them; it returns how many
// started.
func churn(threads int) int { return int(C.mc_churn(C.int(threads))) }
