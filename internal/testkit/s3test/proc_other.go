//go:build unix && !linux

package s3test

import "syscall"

// sysProcAttr puts the server in its own process group, so stop reaches
// its children too.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
