package s3test

import (
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// sysProcAttr starts the server in its own process group, so terminate
// can send it a console break without reaching the test binary. Windows
// has no parent-death signal: a test binary killed outright leaves its
// server running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// terminate sends CTRL_BREAK to the server's process group, the nearest
// Windows has to SIGTERM (a Go server sees os.Interrupt). It reaches the
// server only when both share a console; otherwise kill follows.
func terminate(p *os.Process) {
	_ = windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(p.Pid))
}

// kill ends the server at once (TerminateProcess).
func kill(p *os.Process) { _ = p.Kill() }
