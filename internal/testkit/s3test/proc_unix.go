//go:build unix

package s3test

import (
	"os"
	"syscall"
)

// terminate asks the server's process group (see sysProcAttr) to end.
func terminate(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGTERM) }

// kill ends the server's process group at once.
func kill(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
