package exchange

import (
	"bytes"
	"context"

	"github.com/xfer-dev/xfer/transfer"
)

// AuditPrefix is where the audit mirror puts each line, under the prefix:
// one small object per line, named by time and hash.
const AuditPrefix = InternalDir + "audit/"

// PutAudit writes one line of the audit log to the exchange, as the
// log's mirror (audit.Mirror).
func (x *Exchange) PutAudit(ctx context.Context, name string, line []byte) error {
	_, err := x.Store.Put(ctx, x.Key(AuditPrefix+name), bytes.NewReader(line), int64(len(line)), transfer.PutOptions{
		CreateOptions: transfer.CreateOptions{ContentType: "application/x-ndjson", Metadata: map[string]string{"xfer-kind": "audit"}},
		Overwrite:     true,
	})
	return err
}
