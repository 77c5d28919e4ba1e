// Command gendocs generates xfer's CLI reference from the Cobra tree:
// Markdown pages, man pages and shell completion scripts. Its output
// depends on the tree alone (no dates, no paths or names of the machine
// it runs on), so the checked-in pages can be compared with a fresh
// generation:
//
//	go run ./internal/cmd/gendocs -out docs/cli -man docs/man -events docs/events.md        # regenerate
//	go run ./internal/cmd/gendocs -out docs/cli -man docs/man -events docs/events.md -check # fail when stale
//	go run ./internal/cmd/gendocs -man manpages -completions completions
//
// In a directory it writes, it owns the files named xfer*.md (Markdown) or
// xfer*.1 (man): pages of commands that no longer exist are removed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"github.com/xfer-dev/xfer/cmd"
)

func main() {
	out := flag.String("out", "", "write the Markdown reference into `DIR`")
	man := flag.String("man", "", "write the man pages into `DIR`")
	comp := flag.String("completions", "", "write bash, zsh, fish and PowerShell completion scripts into `DIR`")
	events := flag.String("events", "", "write the reference of the --json events into `FILE` (docs/events.md)")
	check := flag.Bool("check", false, "write nothing; fail when the files in -out, -man and -events differ from what the tree generates")
	flag.Parse()
	if flag.NArg() > 0 || *out == "" && *man == "" && *comp == "" && *events == "" || *check && *comp != "" {
		fmt.Fprintln(os.Stderr, "usage: gendocs [-out DIR] [-man DIR] [-completions DIR] [-events FILE] [-check]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	sets, err := generate(*out, *man, *comp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs: error:", err)
		os.Exit(1)
	}
	if *events != "" {
		sets = append(sets, fileSet{dir: filepath.Dir(*events), files: map[string][]byte{filepath.Base(*events): cmd.EventsMarkdown()}})
	}
	if *check {
		var problems []string
		for _, s := range sets {
			p, err := s.check()
			if err != nil {
				fmt.Fprintln(os.Stderr, "gendocs: error:", err)
				os.Exit(1)
			}
			problems = append(problems, p...)
		}
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "gendocs:", p)
		}
		if len(problems) > 0 {
			regen := "go run ./internal/cmd/gendocs"
			if *out != "" {
				regen += " -out " + *out
			}
			if *man != "" {
				regen += " -man " + *man
			}
			if *events != "" {
				regen += " -events " + *events
			}
			fmt.Fprintf(os.Stderr, "gendocs: hint: the CLI reference is stale; regenerate it with '%s' and commit the result\n", regen)
			os.Exit(1)
		}
		fmt.Printf("gendocs: %d files current\n", countFiles(sets))
		return
	}
	for _, s := range sets {
		if err := s.write(); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs: error:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("gendocs: wrote %d files\n", countFiles(sets))
}

// fileSet is the generated content of one directory.
type fileSet struct {
	dir   string
	owned string // glob of the file names the directory's generator owns; "" for none
	files map[string][]byte
}

// generate builds the file sets for the directories that are not "".
func generate(mdDir, manDir, compDir string) ([]fileSet, error) {
	var sets []fileSet
	for _, g := range []struct {
		dir, owned string
		gen        func(*cobra.Command) (map[string][]byte, error)
	}{
		{mdDir, "xfer*.md", markdown},
		{manDir, "xfer*.1", manPages},
		{compDir, "", completions},
	} {
		if g.dir == "" {
			continue
		}
		files, err := g.gen(newRoot()) // a fresh tree each: plainText changes it
		if err != nil {
			return nil, err
		}
		sets = append(sets, fileSet{dir: g.dir, owned: g.owned, files: files})
	}
	return sets, nil
}

// newRoot returns xfer's tree with nothing of this machine in its help:
// the default --config path is spelt as the documentation spells it, and
// no page carries cobra's dated "auto generated" line.
func newRoot() *cobra.Command {
	// config.DefaultPath reads the environment itself, not through cmd.Env.
	os.Setenv("XDG_CONFIG_HOME", "$XDG_CONFIG_HOME")
	root := cmd.NewRootCommand()
	walk(root, func(c *cobra.Command) error { c.DisableAutoGenTag = true; return nil })
	return root
}

// walk calls fn on c and every command below it that has a page, parents
// first, siblings by name.
func walk(c *cobra.Command, fn func(*cobra.Command) error) error {
	if err := fn(c); err != nil {
		return err
	}
	subs := slices.Clone(c.Commands())
	slices.SortFunc(subs, func(a, b *cobra.Command) int { return strings.Compare(a.Name(), b.Name()) })
	for _, s := range subs {
		if !s.IsAvailableCommand() || s.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := walk(s, fn); err != nil {
			return err
		}
	}
	return nil
}

// markdown renders one page per command, named and linked as cobra's
// GenMarkdownTree names them (xfer_send.md).
func markdown(root *cobra.Command) (map[string][]byte, error) {
	plainText(root, false) // flag help goes into code blocks
	files := map[string][]byte{}
	err := walk(root, func(c *cobra.Command) error {
		var b bytes.Buffer
		if err := doc.GenMarkdown(c, &b); err != nil {
			return err
		}
		files[strings.ReplaceAll(c.CommandPath(), " ", "_")+".md"] = b.Bytes()
		return nil
	})
	return files, err
}

// manPages renders one section 1 page per command (xfer-send.1). cobra
// insists on a date in the .TH line; it is left empty.
func manPages(root *cobra.Command) (map[string][]byte, error) {
	plainText(root, true)
	epoch := time.Unix(0, 0).UTC()
	files := map[string][]byte{}
	err := walk(root, func(c *cobra.Command) error {
		var b bytes.Buffer
		h := &doc.GenManHeader{Section: "1", Date: &epoch, Source: "xfer", Manual: "xfer manual"}
		if err := doc.GenMan(c, h, &b); err != nil {
			return err
		}
		page := b.Bytes()
		dated := []byte(`"1" "` + epoch.Format("Jan 2006") + `"`)
		n := bytes.Index(page, dated)
		if n < 0 {
			return fmt.Errorf("%s: no %s in the man page header", c.CommandPath(), dated)
		}
		page = slices.Concat(page[:n], []byte(`"1" ""`), page[n+len(dated):])
		files[strings.ReplaceAll(c.CommandPath(), " ", "-")+".1"] = page
		return nil
	})
	return files, err
}

// markdownEscaper makes text print as written when cobra puts it into
// Markdown: help text is plain text (as --help shows it), so
// "<prefix><name>.zip.age" must not vanish as HTML and "AWS_REGION, AWS_*
// credentials" must not turn italic.
// Indented lines are left alone: Markdown prints them verbatim already.
var markdownEscaper = strings.NewReplacer(`\`, `\\`, "_", `\_`, "*", `\*`, "`", "\\`", "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`)

// plainText escapes the descriptions of the tree, and its flag help if
// flags is set, for cobra's Markdown and man page generators, which insert
// them into Markdown as they are. The tree is useless for anything else
// after.
func plainText(root *cobra.Command, flags bool) {
	seen := map[*pflag.Flag]bool{} // persistent flags are shared by commands
	walk(root, func(c *cobra.Command) error {
		c.Short = markdownEscaper.Replace(c.Short)
		lines := strings.Split(c.Long, "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "    ") {
				lines[i] = markdownEscaper.Replace(l)
			}
		}
		c.Long = strings.Join(lines, "\n")
		if !flags {
			return nil
		}
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.InheritedFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if !seen[f] {
					seen[f] = true
					f.Usage = markdownEscaper.Replace(f.Usage)
				}
			})
		}
		return nil
	})
}

// completions renders the scripts `xfer completion SHELL` prints, under
// the names the shells look for.
func completions(root *cobra.Command) (map[string][]byte, error) {
	files := map[string][]byte{}
	for name, gen := range map[string]func(*bytes.Buffer) error{
		"xfer.bash": func(b *bytes.Buffer) error { return root.GenBashCompletionV2(b, true) },
		"_xfer":     func(b *bytes.Buffer) error { return root.GenZshCompletion(b) },
		"xfer.fish": func(b *bytes.Buffer) error { return root.GenFishCompletion(b, true) },
		"xfer.ps1":  func(b *bytes.Buffer) error { return root.GenPowerShellCompletionWithDesc(b) },
	} {
		var b bytes.Buffer
		if err := gen(&b); err != nil {
			return nil, fmt.Errorf("completion %s: %w", name, err)
		}
		files[name] = b.Bytes()
	}
	return files, nil
}

// write writes the set into its directory and removes the owned files
// the tree no longer generates.
func (s fileSet) write() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	stale, err := s.orphans()
	if err != nil {
		return err
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(s.files) {
		if err := os.WriteFile(filepath.Join(s.dir, name), s.files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// check compares the set with its directory and describes each difference.
func (s fileSet) check() ([]string, error) {
	var problems []string
	for _, name := range sortedKeys(s.files) {
		path := filepath.Join(s.dir, name)
		have, err := os.ReadFile(path)
		switch {
		case os.IsNotExist(err):
			problems = append(problems, path+" is missing")
		case err != nil:
			return nil, err
		case !bytes.Equal(have, s.files[name]):
			problems = append(problems, fmt.Sprintf("%s is stale (first difference on line %d)", path, firstDiffLine(have, s.files[name])))
		}
	}
	stale, err := s.orphans()
	if err != nil {
		return nil, err
	}
	for _, name := range stale {
		problems = append(problems, filepath.Join(s.dir, name)+" documents a command that no longer exists")
	}
	return problems, nil
}

// orphans lists the owned files in the directory that the set lacks.
func (s fileSet) orphans() ([]string, error) {
	if s.owned == "" {
		return nil, nil
	}
	paths, err := filepath.Glob(filepath.Join(s.dir, s.owned))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range paths {
		if _, ok := s.files[filepath.Base(p)]; !ok {
			names = append(names, filepath.Base(p))
		}
	}
	return names, nil
}

func firstDiffLine(a, b []byte) int {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(al), len(bl)) {
		if !bytes.Equal(al[i], bl[i]) {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func countFiles(sets []fileSet) int {
	n := 0
	for _, s := range sets {
		n += len(s.files)
	}
	return n
}
