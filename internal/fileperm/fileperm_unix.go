//go:build !windows

package fileperm

import (
	"fmt"
	"os"
)

func openPrivate(name string, flag int) (*os.File, error) {
	return os.OpenFile(name, flag, 0o600)
}

func mkdirAll(path string) error { return os.MkdirAll(path, 0o700) }

func restrict(path string) error { return os.Chmod(path, 0o600) }

func check(path string) (*Exposure, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil, nil
	}
	return &Exposure{
		Detail: fmt.Sprintf("mode %04o", fi.Mode().Perm()),
		Fix:    "chmod 600 " + path,
	}, nil
}
