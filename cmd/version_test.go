package cmd

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildOf(t *testing.T) {
	vcs := func(rev, at, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: at}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "1cfddf65022aaf447a9e30d910fe7a22ee49af63"
	for _, tc := range []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  Build
	}{
		{name: "no build information", want: Build{Version: "devel"}},
		{name: "go test", bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, want: Build{Version: "devel"}},
		{
			name: "stamped by goreleaser", version: "v1.2.3", commit: rev, date: "2026-12-02T22:31:55Z",
			// goreleaser's go build also records vcs settings; the stamp wins.
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: vcs("0000000000000000000000000000000000000000", "2000-01-01T00:00:00Z", "true")},
			want: Build{Version: "v1.2.3", Commit: rev, Date: "2026-12-02T22:31:55Z"},
		},
		{
			name: "go build in a git checkout",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202223155-1cfddf65022a+dirty"}, Settings: vcs(rev, "2026-12-02T22:31:55Z", "true")},
			want: Build{Version: "v0.0.0-20261202223155-1cfddf65022a+dirty", Commit: rev, Date: "2026-12-02T22:31:55Z", Modified: true},
		},
		{
			name: "go install of a tagged version",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			want: Build{Version: "v1.2.3"},
		},
		{
			name: "go install of a commit",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v1.2.4-0.20261202223155-1cfddf65022a"}},
			want: Build{Version: "v1.2.4-0.20261202223155-1cfddf65022a", Commit: "1cfddf65022a", Date: "2026-12-02T22:31:55Z"},
		},
		{
			name: "go install of a commit before the first tag",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202223155-1cfddf65022a"}},
			want: Build{Version: "v0.0.0-20261202223155-1cfddf65022a", Commit: "1cfddf65022a", Date: "2026-12-02T22:31:55Z"},
		},
		{
			name: "a pre-release is no pseudo-version",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0-rc.1"}},
			want: Build{Version: "v1.3.0-rc.1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildOf(tc.version, tc.commit, tc.date, tc.bi); got != tc.want {
				t.Errorf("buildOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBuildString(t *testing.T) {
	for _, tc := range []struct {
		b    Build
		want string
	}{
		{Build{Version: "v1.2.3", Commit: "1cfddf65022aaf447a9e30d910fe7a22ee49af63", Date: "2026-12-02T22:31:55Z"}, "xfer v1.2.3 (commit 1cfddf65022a of 2026-12-02T22:31:55Z, go"},
		{Build{Version: "v0.0.0-x", Commit: "1cfddf65022a", Modified: true}, "xfer v0.0.0-x (commit 1cfddf65022a, modified, go"},
		{Build{Version: "devel"}, "xfer devel (go"},
	} {
		if got := tc.b.String(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%+v.String() = %q, want it to start with %q", tc.b, got, tc.want)
		}
	}
}
