//go:build !linux

package remote

// exchangeDirs puts next in place of cur with two renames; between them cur is briefly absent.
func exchangeDirs(next, cur string) error { return swapByRenames(next, cur) }
