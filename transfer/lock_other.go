//go:build !unix && !windows

package transfer

// canRemoveOpenFile says whether a file can be removed while open.
const canRemoveOpenFile = true
