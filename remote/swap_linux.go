package remote

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exchangeDirs puts the folder next in place of cur, and cur's old content at next, in one
// atomic step (renameat2 RENAME_EXCHANGE): a reader resolving paths under cur sees the old
// version or the new one, never neither. When cur does not exist yet, next is renamed to it.
func exchangeDirs(next, cur string) error {
	err := unix.Renameat2(unix.AT_FDCWD, next, unix.AT_FDCWD, cur, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) {
		if _, serr := os.Stat(cur); errors.Is(serr, os.ErrNotExist) {
			return os.Rename(next, cur)
		}
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return swapByRenames(next, cur) // a filesystem without RENAME_EXCHANGE
	}
	return err
}
