//go:build linux

package delivery

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unacknowledged is how many bytes sent on c (the FIN included) the receiver's TCP has not
// acknowledged yet (SIOCOUTQ), and a pending socket error such as a reset (SO_ERROR). ok is
// false when the kernel cannot tell.
func unacknowledged(c *net.TCPConn) (n int, sockErr error, ok bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, nil, false
	}
	var ioctlErr error
	err = rc.Control(func(fd uintptr) {
		if n, ioctlErr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); ioctlErr != nil {
			return
		}
		if e, _ := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR); e != 0 {
			sockErr = syscall.Errno(e)
		}
	})
	return n, sockErr, err == nil && ioctlErr == nil
}
