//go:build !linux

package testserver

import (
	"os"
	"os/exec"
)

var (
	terminate = os.Interrupt
	kill      = os.Kill
)

// setProcessGroup does nothing here: process groups and parent-death signals are Linux features,
// and the servers are installed on Linux only.
func setProcessGroup(*exec.Cmd) {}

// signalGroup signals the server process itself.
func signalGroup(cmd *exec.Cmd, sig os.Signal) {
	_ = cmd.Process.Signal(sig)
}
