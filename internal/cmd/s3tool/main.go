// Command s3tool asks an S3 server, through transfer/s3store, what the
// stock S3 clients do not show simply, and makes the changes an attacker or
// a crash would, for scripts such as scripts/acceptance-send.sh and
// scripts/acceptance-receive.sh:
//
//	s3tool uploads KEY        # unfinished multipart uploads of KEY: a count, then one ID a line
//	s3tool head KEY           # size and user metadata of KEY
//	s3tool versions KEY       # versions and delete markers of KEY: "VERSIONS MARKERS", then one a line
//	s3tool flip KEY OFFSET    # rewrites KEY (metadata kept) with the byte at OFFSET changed
//	s3tool put KEY FILE       # writes FILE to KEY, replacing what is there, without metadata
//	s3tool rm KEY             # a plain DELETE of KEY: a delete marker on a versioned bucket
//	s3tool start KEY          # starts a multipart upload of KEY and leaves it unfinished; prints its ID
//	s3tool config BUCKET SUB  # GET /BUCKET?SUB (versioning, encryption, lifecycle, policy, publicAccessBlock): status line, then the body
//	s3tool seed PREFIX N CLIENTS  # N small objects PREFIXcNNNN/fNNNNNN.csv.zip.age over CLIENTS client prefixes, with send's metadata
//
// The server comes from the environment, as xfer's: XFER_ENDPOINT,
// XFER_BUCKET, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
// config reads a bucket's configuration with s3test's own request signing,
// not through transfer/s3store, so that what `xfer bucket init` set is read
// back by other code than xfer's; it prints the server's raw answer, error
// or not, and fails only when there is no answer.
// KEY is the full object key, prefix included: MinIO lists the uploads of
// an exact key only.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

const usageText = "usage: s3tool uploads|head|versions|rm|start KEY\n       s3tool flip KEY OFFSET\n       s3tool put KEY FILE\n       s3tool config BUCKET versioning|encryption|lifecycle|policy|publicAccessBlock\n       s3tool seed PREFIX N CLIENTS"

// nargs is how many arguments each subcommand takes after its name.
var nargs = map[string]int{"uploads": 1, "head": 1, "versions": 1, "rm": 1, "start": 1, "flip": 2, "put": 2, "config": 2, "seed": 3}

func main() {
	log.SetFlags(0)
	log.SetPrefix("s3tool: ")
	if len(os.Args) < 2 || nargs[os.Args[1]] == 0 || len(os.Args) != 2+nargs[os.Args[1]] {
		fmt.Fprintln(os.Stderr, usageText)
		os.Exit(2)
	}
	// flip and put move whole objects: allow for big ones.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if os.Args[1] == "config" {
		bucketConfig(ctx, os.Args[2], os.Args[3])
		return
	}
	store, err := s3store.New(ctx, s3store.Options{
		Endpoint:  os.Getenv("XFER_ENDPOINT"),
		Bucket:    os.Getenv("XFER_BUCKET"),
		Region:    os.Getenv("AWS_REGION"),
		PathStyle: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	key := os.Args[2]
	switch os.Args[1] {
	case "seed":
		n, err1 := strconv.Atoi(os.Args[3])
		clients, err2 := strconv.Atoi(os.Args[4])
		if err1 != nil || err2 != nil || n < 1 || clients < 1 {
			log.Fatalf("seed %s %s: give two positive counts", os.Args[3], os.Args[4])
		}
		seed(store, key, n, clients)
	case "uploads":
		var ids []string
		err := store.ListUploads(ctx, key, func(u transfer.UploadInfo) error {
			if u.Key == key {
				ids = append(ids, u.UploadID)
			}
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(ids))
		for _, id := range ids {
			fmt.Println(id)
		}
	case "head":
		info, err := store.Head(ctx, key)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("size=%d\n", info.Size)
		names := make([]string, 0, len(info.Metadata))
		for k := range info.Metadata {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Printf("meta %s=%s\n", k, info.Metadata[k])
		}
	case "versions":
		versions(ctx, store, key)
	case "flip":
		off, err := strconv.ParseInt(os.Args[3], 10, 64)
		if err != nil || off < 0 {
			log.Fatalf("offset %q: give a byte offset", os.Args[3])
		}
		flip(ctx, store, key, off)
	case "put":
		f, err := os.Open(os.Args[3])
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			log.Fatal(err)
		}
		info, err := store.Put(ctx, key, f, fi.Size(), transfer.PutOptions{Overwrite: true})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("put %s: %d bytes, ETag %s\n", key, fi.Size(), info.ETag)
	case "rm":
		if err := store.DeleteVersion(ctx, key, ""); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("deleted %s (a delete marker on a versioned bucket)\n", key)
	case "start":
		id, err := store.CreateUpload(ctx, key, transfer.CreateOptions{})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(id)
	}
}

// subresources are the bucket configurations config reads.
var subresources = []string{"versioning", "encryption", "lifecycle", "policy", "publicAccessBlock"}

// bucketConfig prints the HTTP status of GET /bucket?sub, then the body.
func bucketConfig(ctx context.Context, bucket, sub string) {
	if !slices.Contains(subresources, sub) {
		log.Fatalf("config %q: use one of %s", sub, strings.Join(subresources, ", "))
	}
	s := &s3test.Server{
		Endpoint:  os.Getenv("XFER_ENDPOINT"),
		Region:    os.Getenv("AWS_REGION"),
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
	resp, err := s.Do(ctx, http.MethodGet, "/"+bucket, sub, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("HTTP %s\n%s\n", resp.Status, bytes.TrimSpace(body))
}

// versions prints the counts of versions and delete markers of exactly
// key, then one line each, newest first.
func versions(ctx context.Context, store *s3store.Store, key string) {
	var vs []transfer.Version
	err := store.ListVersions(ctx, key, func(v transfer.Version) error {
		if v.Key == key {
			vs = append(vs, v)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	markers := 0
	for _, v := range vs {
		if v.DeleteMarker {
			markers++
		}
	}
	fmt.Println(len(vs)-markers, markers)
	for _, v := range vs {
		kind, size := "version", strconv.FormatInt(v.Size, 10)
		if v.DeleteMarker {
			kind, size = "marker", "-"
		}
		fmt.Printf("%s %s latest=%t size=%s modified=%s\n", kind, v.VersionID, v.IsLatest, size, v.LastModified.UTC().Format(time.RFC3339))
	}
}

// flip downloads key into a temporary file, changes the byte at off and
// writes the result back over key with the same user metadata: what
// someone with write access to the bucket, but no key, could do. The
// server records a checksum of the changed bytes, so only the reader's own
// checks can notice.
func flip(ctx context.Context, store *s3store.Store, key string, off int64) {
	info, err := store.Head(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	if off >= info.Size {
		log.Fatalf("offset %d: %s has %d bytes", off, key, info.Size)
	}
	tmp, err := os.CreateTemp("", "s3tool-flip-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	rc, err := store.Get(ctx, key, 0, -1)
	if err != nil {
		log.Fatal(err)
	}
	n, err := io.Copy(tmp, rc)
	rc.Close()
	if err == nil && n != info.Size {
		err = fmt.Errorf("read %d bytes of %d", n, info.Size)
	}
	if err != nil {
		log.Fatalf("reading %s: %v", key, err)
	}
	b := make([]byte, 1)
	if _, err := tmp.ReadAt(b, off); err != nil {
		log.Fatal(err)
	}
	old := b[0]
	b[0] ^= 0x01
	if _, err := tmp.WriteAt(b, off); err != nil {
		log.Fatal(err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		log.Fatal(err)
	}
	put, err := store.Put(ctx, key, tmp, n, transfer.PutOptions{
		CreateOptions: transfer.CreateOptions{Metadata: info.Metadata},
		Overwrite:     true,
	})
	if err != nil {
		log.Fatal(err)
	}
	if put.ETag == info.ETag {
		log.Fatal(errors.New("the server kept the ETag: the object did not change"))
	}
	fmt.Printf("flipped byte %d of %s (%d bytes): 0x%02x -> 0x%02x; ETag %s -> %s\n", off, key, n, old, b[0], info.ETag, put.ETag)
}

// seed puts n small objects under prefix, spread over the given number of
// client prefixes (PREFIXc0000/ …), named and with the metadata as xfer
// send leaves them (format, cipher, sender, created, expires, source):
// what list and pull --all see of an exchange, without sealing n files.
// Their content is a few hundred random bytes, not a sealed file. 64
// requests at a time, as long as it takes.
func seed(store *s3store.Store, prefix string, n, clients int) {
	ctx := context.Background()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	now := time.Now().UTC()
	start := time.Now()
	for i := range n {
		g.Go(func() error {
			body := make([]byte, 256)
			rand.Read(body)
			src := make([]byte, 16)
			rand.Read(src)
			key := fmt.Sprintf("%sc%04d/f%06d.csv.zip.age", prefix, i%clients, i)
			_, err := store.Put(gctx, key, bytes.NewReader(body), int64(len(body)), transfer.PutOptions{
				CreateOptions: transfer.CreateOptions{ContentType: "application/octet-stream", Metadata: map[string]string{
					"xfer-format": "1", "xfer-cipher": "age", "xfer-sender": fmt.Sprintf("client%04d@example.com", i%clients),
					"xfer-created": now.Format(time.RFC3339), "xfer-expires": now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
					"xfer-source": hex.EncodeToString(src)}},
				Overwrite: true,
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("seeded %d objects under %s over %d client prefixes in %s\n", n, prefix, clients, time.Since(start).Round(time.Second))
}
