package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/xfer-dev/xfer/transfer"
)

// Receipt is what pull leaves in the exchange for the sender to see: which
// object (by name and ETag) was downloaded, when and by whom. Never
// anything from inside the file.
type Receipt struct {
	Name         string    `json:"name"`
	ETag         string    `json:"etag"`
	Size         int64     `json:"size"`
	DownloadedAt time.Time `json:"downloaded_at"`
	By           string    `json:"by"`
	Tool         string    `json:"tool"`
}

// ReceiptKey is where the receipt of the object at key lives: beside it,
// so that the sender, listing its own prefix, finds the receipts of its
// files whatever prefix the receiver pulled them under.
func ReceiptKey(key string) string {
	dir, base := path.Split(key)
	return dir + InternalDir + receiptsDir + base + ".json"
}

// receiptsDir is the folder of receipts inside InternalDir.
const receiptsDir = "receipts/"

// IsReceiptKey reports a key where ReceiptKey puts receipts.
func IsReceiptKey(key string) bool {
	dir, base := path.Split(key)
	return strings.HasSuffix(dir, InternalDir+receiptsDir) && strings.HasSuffix(base, ".json") &&
		(dir == InternalDir+receiptsDir || strings.HasSuffix(dir, "/"+InternalDir+receiptsDir))
}

// maxReceipt bounds what is read of a receipt: they are small.
const maxReceipt = 64 << 10

func readReceipt(ctx context.Context, s transfer.Store, key string) (*Receipt, error) {
	var r Receipt
	if err := readJSON(ctx, s, key, maxReceipt, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// readJSON decodes the small JSON object at key (at most max bytes of it)
// into v.
func readJSON(ctx context.Context, s transfer.Store, key string, max int64, v any) error {
	rc, err := s.Get(ctx, key, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := json.NewDecoder(io.LimitReader(rc, max)).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// putReceipt leaves the receipt of a pull of name, downloaded as d, in
// the exchange.
func (x *Exchange) putReceipt(ctx context.Context, name string, d *transfer.Fetched, at time.Time) error {
	b, err := json.Marshal(Receipt{Name: name, ETag: d.Info.ETag, Size: d.Size(), DownloadedAt: at, By: x.Sender, Tool: x.Tool})
	if err != nil {
		return err
	}
	_, err = x.Store.Put(ctx, ReceiptKey(x.Key(name)), bytes.NewReader(b), int64(len(b)), transfer.PutOptions{
		CreateOptions: transfer.CreateOptions{ContentType: "application/json", Metadata: map[string]string{"xfer-kind": "receipt"}},
		Overwrite:     true,
	})
	return err
}
