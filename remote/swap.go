package remote

import (
	"errors"
	"os"
)

// swapByRenames replaces cur by next with two renames (cur's old content ends at next); a
// reader between the two finds no dataset rather than a mixed one.
func swapByRenames(next, cur string) error {
	old := next + ".old"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	err := os.Rename(cur, old)
	if errors.Is(err, os.ErrNotExist) {
		return os.Rename(next, cur)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(next, cur); err != nil {
		return err
	}
	return os.Rename(old, next)
}
