package exchange

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/transfer"
)

// ErrAmbiguous: a name without the sealed suffix matches more than one
// sealed file (Resolve). It is also ErrBadName.
var ErrAmbiguous = errors.New("ambiguous name")

type ambiguousError struct {
	name       string
	candidates []string
}

func (e ambiguousError) Error() string {
	return fmt.Sprintf("%s is ambiguous: %s are both in the exchange; give one of them", e.name, strings.Join(e.candidates, " and "))
}
func (e ambiguousError) Is(target error) bool { return target == ErrAmbiguous || target == ErrBadName }

// Resolve turns a name as a person types it into the name of a file in
// the exchange, for fetch, pull and shred: a name that is there, or that
// ends in a sealed suffix (.zip.age, .zip.aes), is taken as given (the
// command then finds what it finds); a name without the suffix resolves to
// the one sealed file it names, name.zip.age or name.zip.aes, and is
// refused (ErrAmbiguous, naming both) when both are there. A name that
// matches nothing is returned as given, for the command to report it not
// found. Names CheckName refuses are refused.
func (x *Exchange) Resolve(ctx context.Context, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if IsSealedName(name) {
		return name, nil
	}
	candidates := []string{name, name + ".zip.age", name + ".zip.aes"}
	there := make([]bool, len(candidates))
	g, gctx := errgroup.WithContext(ctx)
	for i, c := range candidates {
		g.Go(func() error {
			_, err := x.Store.Head(gctx, x.Key(c))
			switch {
			case err == nil:
				there[i] = true
			case !errors.Is(err, transfer.ErrNotFound):
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	switch {
	case there[0]:
		return name, nil // an object of exactly that name: what was typed
	case there[1] && there[2]:
		return "", ambiguousError{name, candidates[1:]}
	case there[1]:
		return candidates[1], nil
	case there[2]:
		return candidates[2], nil
	}
	return name, nil
}

// ErrNotInExchange: there is nothing of the name to shred (ShredPlan.Check);
// it is also transfer.ErrNotFound.
var ErrNotInExchange = errors.New("not in the exchange")

type notInExchange struct{ name string }

func (e notInExchange) Error() string {
	return e.name + " is not in the exchange: no version, delete marker, unfinished upload or local file"
}
func (e notInExchange) Is(target error) bool {
	return target == ErrNotInExchange || target == transfer.ErrNotFound
}

// Check fails with ErrNotInExchange when the plan removes nothing: a
// shred of a name that is not there is a mistake (a typo, the wrong
// prefix), not a success.
func (p *ShredPlan) Check() error {
	if p.Empty() {
		return notInExchange{p.Name}
	}
	return nil
}
