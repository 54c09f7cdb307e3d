//go:build !linux || !cgo

// Package cmalloc bounds what the C library's allocator keeps (glibc only; elsewhere nothing).
package cmalloc

// LimitArenas does nothing: the arena limit is glibc's.
func LimitArenas(n int) error { return nil }

// FixMmapThreshold does nothing: the threshold is glibc's.
func FixMmapThreshold(n int) error { return nil }

func mappedAfterLargeFree(big, small int) int { return -1 }

func arenas() int { return -1 }

// InUse is -1: only glibc's malloc says what it has handed out.
func InUse() int64 { return -1 }

func churn(threads int) int { return 0 }
