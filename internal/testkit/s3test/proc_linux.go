package s3test

import "syscall"

// sysProcAttr puts the server in its own process group, so stop reaches
// its children too, and has the kernel kill it should the test binary die
// without cleaning up: no server outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
