package csvcheck

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestHeaderLimits holds the bounds on the one record a Checker keeps: a
// header of millions of names used to cost hundreds of MiB (found by the
// hostile input corpus, cmd/hostile_test.go).
func TestHeaderLimits(t *testing.T) {
	var wide strings.Builder
	for i := range MaxColumns {
		fmt.Fprintf(&wide, "c%d,", i)
	}
	ok := wide.String()[:wide.Len()-1] + "\r\n"
	if _, err := check([]byte(ok+strings.Repeat("1,", MaxColumns-1)+"1\r\n"), 1<<20); err != nil {
		t.Fatalf("%d columns: %v", MaxColumns, err)
	}
	for name, tt := range map[string]struct {
		csv      string
		maxField int
		msg      string
	}{
		"too many columns": {wide.String() + "last\r\n", 0, fmt.Sprintf("more than %d columns", MaxColumns)},
		"header too long":  {"aaaaaaaa,bbbbbbbb,cccccccc\r\n", 20, "header row longer than 20 bytes"},
	} {
		c := New()
		c.MaxField = tt.maxField
		_, err := c.Write([]byte(tt.csv))
		if err == nil {
			err = c.Close()
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "line 1:") {
			t.Errorf("%s: got %v, want line 1 and %q", name, err, tt.msg)
		}
	}
}
