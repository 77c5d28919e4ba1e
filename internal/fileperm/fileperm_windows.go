package fileperm

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// currentUser is the SID of the user this process runs as.
var currentUser = sync.OnceValues(func() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", err
	}
	return u.User.Sid.String(), nil
})

// ownerOnly and ownerOnlyDir are the private descriptors for the current
// user, of a file and of a directory.
var (
	ownerOnly    = sync.OnceValues(func() (*windows.SECURITY_DESCRIPTOR, error) { return newDescriptor(false) })
	ownerOnlyDir = sync.OnceValues(func() (*windows.SECURITY_DESCRIPTOR, error) { return newDescriptor(true) })
)

func newDescriptor(dir bool) (*windows.SECURITY_DESCRIPTOR, error) {
	user, err := currentUser()
	if err != nil {
		return nil, err
	}
	return windows.SecurityDescriptorFromString(ownerOnlySDDL(user, dir))
}

// securityAttributes carries sd into CreateFile or CreateDirectory; the
// handle is not inherited by child processes, as with O_CLOEXEC.
func securityAttributes(sd *windows.SECURITY_DESCRIPTOR) *windows.SecurityAttributes {
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa
}

// mkdirAll creates the missing directories of path, parents first, each
// with the owner-only descriptor whose entries what is created inside
// inherits.
func mkdirAll(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &os.PathError{Op: "mkdir", Path: path, Err: syscall.ENOTDIR}
	}
	if parent := filepath.Dir(path); parent != path {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	sd, err := ownerOnlyDir()
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	namep, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	if err := windows.CreateDirectory(namep, securityAttributes(sd)); err != nil {
		// Made meanwhile by another process, as os.MkdirAll allows.
		if fi, serr := os.Lstat(path); serr == nil && fi.IsDir() {
			return nil
		}
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	return nil
}

// openPrivate creates through CreateFile with the owner-only descriptor,
// so the file is never open to others, even for an instant. Opening
// without O_CREATE is os.OpenFile's job.
func openPrivate(name string, flag int) (*os.File, error) {
	if flag&os.O_CREATE == 0 {
		return os.OpenFile(name, flag, 0o600)
	}
	sd, err := ownerOnly()
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	namep, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	// The access rights as syscall.Open maps the flags.
	var access uint32 = windows.GENERIC_WRITE
	if flag&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY {
		access |= windows.GENERIC_READ
	}
	if flag&os.O_APPEND != 0 {
		if flag&os.O_TRUNC == 0 {
			// GENERIC_WRITE includes FILE_WRITE_DATA, which would
			// write at the start instead of appending.
			access &^= windows.GENERIC_WRITE
		}
		access |= windows.FILE_APPEND_DATA | windows.FILE_WRITE_ATTRIBUTES | windows.FILE_WRITE_EA |
			windows.STANDARD_RIGHTS_WRITE | windows.SYNCHRONIZE
	}
	var disposition uint32
	switch {
	case flag&os.O_EXCL != 0:
		disposition = windows.CREATE_NEW
	case flag&os.O_TRUNC != 0:
		disposition = windows.CREATE_ALWAYS
	default:
		disposition = windows.OPEN_ALWAYS
	}
	attrs := uint32(windows.FILE_ATTRIBUTE_NORMAL)
	if disposition == windows.CREATE_NEW {
		attrs |= windows.FILE_FLAG_OPEN_REPARSE_POINT // as os.OpenFile: never through a symlink
	}
	h, err := windows.CreateFile(namep, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE,
		securityAttributes(sd), disposition, attrs, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(h), name), nil
}

func restrict(path string) error {
	sd, err := ownerOnly()
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return &os.PathError{Op: "restrict", Path: path, Err: err}
	}
	return nil
}

func check(path string) (*Exposure, error) {
	user, err := currentUser()
	if err != nil {
		return nil, err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return nil, &os.PathError{Op: "getsecurityinfo", Path: path, Err: err}
	}
	d, err := parseSDDL(sd.String())
	if err != nil {
		return nil, err
	}
	exposed := exposedTo(d, user)
	if len(exposed) == 0 {
		return nil, nil
	}
	names := make([]string, len(exposed))
	for i, s := range exposed {
		names[i] = accountName(s)
	}
	return &Exposure{Detail: strings.Join(names, ", "), Fix: icaclsFix(path, user, exposed)}, nil
}

// accountName is DOMAIN\name for a SID, or the SID when it has none.
func accountName(s string) string {
	sid, err := windows.StringToSid(s)
	if err != nil {
		return s
	}
	account, domain, _, err := sid.LookupAccount("")
	switch {
	case err != nil:
		return s
	case domain == "":
		return account
	}
	return domain + `\` + account
}
