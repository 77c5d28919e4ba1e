package fileperm

import (
	"os"
	"strings"
	"sync"
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

// ownerOnly is the private descriptor for the current user.
var ownerOnly = sync.OnceValues(func() (*windows.SECURITY_DESCRIPTOR, error) {
	user, err := currentUser()
	if err != nil {
		return nil, err
	}
	return windows.SecurityDescriptorFromString(ownerOnlySDDL(user))
})

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
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd} // not inheritable, as O_CLOEXEC
	sa.Length = uint32(unsafe.Sizeof(*sa))
	h, err := windows.CreateFile(namep, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE,
		sa, disposition, windows.FILE_ATTRIBUTE_NORMAL, 0)
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
