package seal

import (
	"errors"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/zipenc"
)

// IsDamaged reports an error of opening a sealed file that says its
// content is damaged or altered (or in a form xfer cannot check), as
// opposed to a wrong key or password or a failing reader: trying again
// with the same bytes cannot succeed.
func IsDamaged(err error) bool {
	return errors.Is(err, crypt.ErrIntegrity) || errors.Is(err, zipenc.ErrIntegrity) ||
		errors.Is(err, zipenc.ErrUnsupported) || errors.Is(err, ErrContent)
}
