package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// EventVersion is the version of the NDJSON event format that --json
// prints, carried by every event as "v". Within a version, event types
// and fields are only ever added; a rename, a removal or a change of a
// field's type makes a new version (docs/events.md).
const EventVersion = 1

// The types a field of an event can have, as docs/events.md names them.
const (
	tString   = "string"
	tInt      = "integer"
	tBool     = "boolean"
	tTime     = "time"              // a string, RFC 3339
	tStrings  = "array of strings"  //
	tInts     = "array of integers" //
	tCounts   = "object of integers"
	tObject   = "object"           // with the fields listed, or free-form when none are
	tObjects  = "array of objects" // each with the fields listed
	tFreeform = "JSON object"      // any object, described in words
)

// eventField is one field of an event.
type eventField struct {
	name     string
	typ      string
	optional bool   // absent in some events of the type; doc says when
	doc      string // what it holds
	fields   []eventField
}

// eventSpec is one event type: its name, the commands that print it and
// its fields besides "event" and "v".
type eventSpec struct {
	name     string
	commands string
	doc      string
	fields   []eventField
}

// commonFields are the fields of every event.
var commonFields = []eventField{
	{name: "event", typ: tString, doc: "the event type, one of those below"},
	{name: "v", typ: tInt, doc: fmt.Sprintf("the version of the event format: %d", EventVersion)},
}

func req(name, typ, doc string) eventField { return eventField{name: name, typ: typ, doc: doc} }
func opt(name, typ, doc string) eventField {
	return eventField{name: name, typ: typ, optional: true, doc: doc}
}

// sourceFields describe the dialect a CSV came in (csvcheck.Dialect).
var sourceFields = []eventField{
	req("encoding", tString, "utf-8, utf-16le, utf-16be, windows-1252, iso-8859-1 or iso-8859-15"),
	opt("bom", tBool, "the file began with a byte-order mark (absent: it did not)"),
	req("delimiter", tString, `the field separator: "," ";" "\t" or "|"`),
	opt("sep_line", tBool, "the file began with Excel's sep= line (absent: it did not)"),
	req("line_ends", tString, "crlf, lf, mixed or none"),
}

// screenFields are what screening did, in the events of send and encrypt
// (present when screening rules were active).
var screenFields = []eventField{
	opt("rows_in", tInt, "data rows read, before screening"),
	opt("suppressed_rows", tInt, "rows that suppression lists removed, each counted once"),
	opt("suppressed_by_variant", tInt, "of those, rows matched only through another spelling"),
	opt("suppressed", tCounts, "per suppression list, the rows it matched"),
	opt("dropped_columns", tStrings, "the columns removed before sealing"),
	{name: "issues", typ: tObjects, optional: true, doc: "problems screening found (row numbers, never content)", fields: []eventField{
		req("kind", tString, "what is wrong"),
		opt("column", tString, "the column concerned"),
		req("count", tInt, "rows concerned"),
		opt("first_rows", tInts, "the line numbers of the first rows concerned (the header is line 1)"),
		req("action", tString, "what the rules do about it: reject, warn, ..."),
		req("rejected", tBool, "the file was refused for it"),
	}},
}

// manifestFields are what a sealed file's manifest vouched for, in the
// events of decrypt and pull.
var manifestFields = []eventField{
	req("manifest", tBool, "the file carried a manifest that was checked"),
	opt("rows", tInt, "data rows, as the manifest says and as counted (with a manifest)"),
	opt("csv_sha256", tString, "SHA-256 of the CSV, hex (with a manifest)"),
	opt("suppressed", tCounts, "rows each suppression list removed before sealing"),
	opt("suppressed_by_variant", tInt, "suppressed rows matched only through another spelling"),
	opt("dropped_columns", tStrings, "columns the sender removed before sealing"),
	opt("expires", tTime, "the expiry the sender recorded"),
	{name: "source", typ: tObject, optional: true, doc: "the dialect of the sender's file", fields: sourceFields},
}

// eventSpecs is the event format: every event type --json prints, and
// every field of each. docs/events.md is generated from it, and the tests
// check every event any test run prints against it.
var eventSpecs = []eventSpec{
	{name: "summary", commands: "every command", doc: "The last line of every run with --json.", fields: []eventField{
		req("ok", tBool, "the run succeeded"),
		req("exit_code", tInt, "the exit code (docs/exit-codes.md)"),
		opt("error", tString, "the error, when the run failed"),
	}},
	{name: "error", commands: "send, pull, shred, sweep", doc: "One file of a run over several failed; the run goes on with the others.", fields: []eventField{
		opt("file", tString, "the file, for send"),
		opt("name", tString, "the name in the exchange, for the others"),
		req("error", tString, "what went wrong"),
		req("exit_code", tInt, "the exit code this failure alone would end with"),
	}},
	{name: "progress", commands: "send, fetch, pull", doc: "Once a second during a transfer, unless --no-progress or --quiet. With --jobs above 1, the progress events of the files in flight interleave (each names its file in label) and come as they happen; every other event of a file comes with its file's, in the order of the files.", fields: []eventField{
		req("label", tString, "what is being transferred"),
		req("bytes", tInt, "bytes done"),
		req("total", tInt, "bytes in all, -1 while unknown"),
	}},
	{name: "keygen", commands: "keygen", doc: "A key, identity or password file was made. Never the secret itself.", fields: []eventField{
		req("kind", tString, "age (an age identity), aes256 (an AES-256 key file) or zip_password"),
		req("file", tString, "the file written (0600)"),
		opt("pub_file", tString, "the recipient file written beside it (age)"),
		opt("recipient", tString, "the public recipient, age1… (age)"),
		opt("check_code", tString, "the check code of the recipient or password, to compare by phone (age, zip_password)"),
		opt("key_id", tString, "the key's ID (aes256)"),
		opt("bits", tInt, "the password's strength in bits (zip_password)"),
	}},
	{name: "encrypted", commands: "encrypt", doc: "A CSV was sealed into a local file.", fields: append([]eventField{
		req("input", tString, "the CSV (- for standard input)"),
		req("output", tString, "the sealed file (- for standard output)"),
		req("cipher", tString, "age or aes256"),
		req("rows", tInt, "data rows sealed"),
		req("columns", tInt, "fields per row"),
		req("input_bytes", tInt, "size of the CSV"),
		req("output_bytes", tInt, "size of the sealed file"),
		req("sha256", tString, "SHA-256 of the CSV as sealed, hex"),
		{name: "source", typ: tObject, doc: "the dialect the CSV came in", fields: sourceFields},
	}, screenFields...)},
	{name: "decrypted", commands: "decrypt", doc: "A sealed file was opened into a CSV.", fields: append([]eventField{
		req("input", tString, "the sealed file"),
		req("output", tString, "the CSV written (- for standard output)"),
		req("bytes", tInt, "size of the CSV"),
	}, manifestFields...)},
	{name: "sent", commands: "send", doc: "A file is in the exchange.", fields: append([]eventField{
		req("file", tString, "the file given (- for standard input)"),
		req("name", tString, "its name in the exchange"),
		req("key", tString, "its object key, prefix included"),
		req("bucket", tString, "the bucket"),
		req("bytes", tInt, "size of the sealed object"),
		req("already", tBool, "an earlier run had sent this same file: nothing was uploaded"),
		opt("etag", tString, "the object's ETag (already)"),
		opt("parts", tInt, "parts uploaded (not already)"),
		opt("resumed_bytes", tInt, "bytes an earlier, interrupted run had uploaded (not already)"),
		opt("cipher", tString, "age or aes256 (not already)"),
		opt("rows", tInt, "data rows sealed (not already, unless resumed from an earlier run's spool)"),
		opt("sha256", tString, "SHA-256 of the CSV as sealed, hex (with rows)"),
		{name: "source", typ: tObject, optional: true, doc: "the dialect the CSV came in (with rows)", fields: sourceFields},
	}, screenFields...)},
	{name: "would_send", commands: "send --dry-run", doc: "What send would upload: the CSV was read, checked, screened and sealed into nothing; nothing was uploaded or kept.", fields: append([]eventField{
		req("file", tString, "the file given (- for standard input)"),
		req("name", tString, "the name it would have in the exchange"),
		req("key", tString, "the object key, prefix included"),
		req("bucket", tString, "the bucket"),
		req("exists", tBool, "an object of that name is in the exchange: send would refuse it without --overwrite"),
		req("cipher", tString, "age or aes256"),
		req("recipients", tStrings, "check codes of the recipients (age) or the key IDs (aes256), as 'xfer doctor' shows them; empty with a passphrase"),
		req("zip_password_check_code", tString, "the check code of the zip password"),
		req("rows", tInt, "data rows that would be sealed"),
		req("columns", tInt, "fields per row"),
		req("input_bytes", tInt, "size of the CSV"),
		req("bytes", tInt, "size of the sealed object (the compression level given)"),
		req("sha256", tString, "SHA-256 of the CSV as it would be sealed, hex"),
		{name: "source", typ: tObject, doc: "the dialect the CSV came in", fields: sourceFields},
	}, screenFields...)},
	{name: "fetched", commands: "fetch", doc: "A sealed object was downloaded and verified.", fields: []eventField{
		req("name", tString, "its name in the exchange"),
		req("key", tString, "its object key"),
		req("output", tString, "the file written"),
		req("bytes", tInt, "its size"),
		req("resumed_bytes", tInt, "bytes an earlier run had downloaded"),
		req("etag", tString, "the object's ETag"),
		req("checksum", tString, "the server's checksum, when it keeps one"),
		req("verified", tBool, "the bytes matched the server's SHA-256"),
	}},
	{name: "pulled", commands: "pull", doc: "A file was fetched, opened and written as a CSV.", fields: append([]eventField{
		req("name", tString, "its name in the exchange"),
		req("key", tString, "its object key"),
		req("output", tString, "the CSV written"),
		req("bytes", tInt, "size of the CSV"),
		req("object_bytes", tInt, "size of the sealed object"),
		req("resumed_bytes", tInt, "bytes an earlier run had downloaded"),
		req("etag", tString, "the object's ETag"),
		req("verified", tBool, "the download matched the server's SHA-256"),
		req("already", tBool, "the output already held this CSV byte for byte: nothing was written"),
	}, manifestFields...)},
	{name: "would_pull", commands: "pull --dry-run", doc: "What pull would download and write; nothing was downloaded, written or recorded.", fields: []eventField{
		req("name", tString, "its name in the exchange"),
		req("key", tString, "its object key"),
		req("output", tString, "the CSV it would write"),
		req("object_bytes", tInt, "size of the sealed object"),
		req("etag", tString, "the object's ETag"),
		req("output_exists", tBool, "a file is already there: pull would not overwrite it"),
		req("shred_after", tBool, "--shred-after would shred it from the exchange afterwards"),
	}},
	{name: "nothing_new", commands: "pull --all", doc: "Nothing under the prefix was new.", fields: []eventField{
		req("already_pulled", tInt, "files pulled before"),
		req("prefix", tString, "the prefix"),
	}},
	{name: "shred_pending", commands: "pull --all --shred-after", doc: "A file pulled before is still in the exchange; it is shredded now.", fields: []eventField{
		req("name", tString, "its name in the exchange"),
	}},
	{name: "skipped", commands: "pull, sweep", doc: "A file was left alone.", fields: []eventField{
		req("name", tString, "its name in the exchange"),
		req("reason", tString, "why"),
		opt("claimed_until", tTime, "when the claim of the puller holding it ends (pull --all --group)"),
	}},
	{name: "claimed", commands: "pull --all --group", doc: "A file another puller of the group holds was left to it (docs/pullers.md).", fields: []eventField{
		req("name", tString, "its name in the exchange"),
		req("by", tString, "the puller holding it"),
		req("host", tString, "the host it runs on"),
		req("pid", tInt, "its process id"),
		req("claimed_until", tTime, "when its claim ends unless renewed"),
	}},
	{name: "removed", commands: "shred, pull --shred-after, sweep", doc: "One item of a file was removed for good.", fields: removedFields},
	{name: "would_remove", commands: "shred --dry-run, pull --dry-run --all --shred-after", doc: "One item shred would remove; nothing was removed.", fields: removedFields},
	{name: "shredded", commands: "shred, pull --shred-after, sweep", doc: "Everything of a name that could be removed was.", fields: append(shredFields("removed"),
		req("complete", tBool, "nothing is left that should have gone"))},
	{name: "would_shred", commands: "shred --dry-run, pull --dry-run --all --shred-after", doc: "What shred would remove of a name; nothing was removed.", fields: shredFields("that would be removed")},
	{name: "object", commands: "list", doc: "A file in the exchange.", fields: []eventField{
		req("name", tString, "its name, relative to the prefix"),
		req("key", tString, "its object key"),
		req("size", tInt, "its size"),
		req("uploaded", tTime, "when it was uploaded"),
		req("etag", tString, "its ETag"),
		req("cipher", tString, "age or aes256, from its metadata (empty when none)"),
		req("sender", tString, "who sent it, from its metadata (empty when none)"),
		req("expired", tBool, "its expiry has passed"),
		opt("created", tString, "when it was sealed, from its metadata"),
		opt("expires", tTime, "its expiry"),
		opt("manifest_expires", tTime, "the expiry its manifest gave when it was pulled"),
		opt("expiry_disagrees", tBool, "metadata and manifest disagree on the expiry (with manifest_expires)"),
		opt("pulled_at", tTime, "when it was last pulled, from its receipt"),
		opt("pulled_by", tString, "who pulled it"),
		opt("pulled_this_version", tBool, "the receipt is of this upload, not of one it replaced"),
	}},
	{name: "upload", commands: "list --incomplete", doc: "An unfinished multipart upload.", fields: []eventField{
		req("name", tString, "the name it is for"),
		req("key", tString, "the object key"),
		req("upload_id", tString, "the upload's ID"),
		req("initiated", tTime, "when it was started"),
		req("age_seconds", tInt, "how long ago"),
	}},
	{name: "object_version", commands: "list --all-versions", doc: "A version or delete marker of an object.", fields: []eventField{
		req("name", tString, "the name"),
		req("key", tString, "the object key"),
		req("version_id", tString, "the version's ID (null on an unversioned bucket)"),
		req("latest", tBool, "it is the current one"),
		req("delete_marker", tBool, "it is a delete marker"),
		req("modified", tTime, "when it was written"),
		opt("size", tInt, "its size (not for a delete marker)"),
		opt("etag", tString, "its ETag (not for a delete marker)"),
	}},
	{name: "expired", commands: "sweep --dry-run", doc: "A file past its expiry, that sweep would shred (without --dry-run, removed and shredded events say what it did).", fields: []eventField{
		req("name", tString, "the name"),
		req("key", tString, "the object key"),
		req("expires", tTime, "its expiry"),
		req("expiry_from", tString, "where the expiry came from: metadata, manifest, ..."),
		req("size", tInt, "its size"),
	}},
	{name: "swept", commands: "sweep", doc: "What a sweep did.", fields: []eventField{
		req("expired", tInt, "files past their expiry"),
		req("shredded", tInt, "of those, shredded"),
		req("skipped", tInt, "of those, skipped (replaced since the listing)"),
		req("unexpired", tInt, "files not yet expired"),
		req("no_expiry", tInt, "files without a readable expiry, kept until the maximum retention"),
		req("too_young", tInt, "expired files younger than the minimum age, kept"),
		req("dry_run", tBool, "--dry-run: nothing was shredded"),
	}},
	{name: "check", commands: "doctor", doc: "One check of the set-up.", fields: []eventField{
		req("check", tString, "what was checked"),
		req("status", tString, "ok, info, warn, fail or skip"),
		req("message", tString, "what was found"),
		opt("hint", tString, "what to do"),
		opt("exit_code", tInt, "the exit code of the problem (status fail)"),
	}},
	{name: "setting", commands: "bucket init", doc: "One setting of the bucket.", fields: []eventField{
		req("setting", tString, "the setting"),
		req("status", tString, "applied, already, created, would_apply, skipped, refused, unverified or failed"),
		req("want", tString, "the value wanted, in words"),
		req("got", tString, "the value read back (empty when none)"),
		req("code", tString, "the store's error code (refused, unverified, failed)"),
		req("detail", tString, "why (every status but applied and already)"),
	}},
	{name: "bucket_init", commands: "bucket init", doc: "What bucket init did, after one setting event per setting.", fields: []eventField{
		req("bucket", tString, "the bucket"),
		req("dry_run", tBool, "--dry-run: nothing was written"),
		req("settings", tInt, "settings looked at"),
		req("as_wanted", tInt, "of those, as wanted"),
		req("applied", tInt, "settings with that status (see setting)"),
		req("already", tInt, "idem"),
		req("created", tInt, "idem"),
		req("would_apply", tInt, "idem"),
		req("skipped", tInt, "idem"),
		req("refused", tInt, "idem"),
		req("unverified", tInt, "idem"),
		req("failed", tInt, "idem"),
	}},
	{name: "policy", commands: "bucket policy", doc: "An IAM or bucket policy for a client.", fields: []eventField{
		req("client", tString, "the client's name"),
		req("bucket_policy", tBool, "a bucket policy (with a principal), not an IAM policy"),
		req("policy", tFreeform, "the policy document, as AWS reads it"),
	}},
	{name: "suppress_hash", commands: "suppress hash", doc: "A suppression list was hashed.", fields: []eventField{
		req("file", tString, "the hashed list written"),
		req("key", tString, "the key columns hashed"),
		req("entries", tInt, "entries written"),
		req("duplicates", tInt, "duplicates collapsed"),
		req("empty", tInt, "entries with an empty key, left out"),
		req("variants", tInt, "spelling variants added"),
	}},
	{name: "audit_verified", commands: "audit verify", doc: "The audit log's chain is intact.", fields: []eventField{
		req("log", tString, "the audit log"),
		req("events", tInt, "events in it"),
		req("head_lagging", tBool, "the last event is not yet anchored in the .head file"),
	}},
	{name: "audit_broken", commands: "audit verify", doc: "The audit log's chain is broken (exit code 4).", fields: []eventField{
		req("log", tString, "the audit log"),
		req("events", tInt, "events read"),
		req("line", tInt, "the line where it breaks"),
		req("reason", tString, "how"),
	}},
	{name: "audit_exported", commands: "audit export", doc: "Audit events were exported as CSV.", fields: []eventField{
		req("log", tString, "the audit log"),
		req("file", tString, "the CSV written"),
		req("since", tTime, "the start of the period"),
		req("exported", tInt, "events exported"),
		req("events", tInt, "events in the log"),
		req("verified", tBool, "the chain was intact"),
		opt("line", tInt, "where the chain breaks (not verified)"),
		opt("reason", tString, "how (not verified)"),
	}},
	{name: "version", commands: "version", doc: "Which build this is.", fields: []eventField{
		req("version", tString, "the release version"),
		req("go", tString, "the Go version it was built with"),
		req("os", tString, "the operating system"),
		req("arch", tString, "the architecture"),
		opt("commit", tString, "the commit it was built from"),
		opt("modified", tBool, "built from a work tree with changes (with commit)"),
		opt("date", tString, "the build or commit date"),
	}},
}

// removedFields are the fields of removed and would_remove.
var removedFields = []eventField{
	req("kind", tString, "upload (an unfinished upload), version, delete_marker or local (a spool or journal file)"),
	req("name", tString, "the name"),
	req("key", tString, "the object key"),
	opt("upload_id", tString, "the upload's ID (upload)"),
	opt("initiated", tTime, "when the upload was started (upload)"),
	opt("version_id", tString, "the version's ID (version, delete_marker)"),
	opt("size", tInt, "the version's size (version)"),
	opt("etag", tString, "the version's ETag (version)"),
	opt("modified", tTime, "when the version was written (version)"),
	opt("path", tString, "the local file (local)"),
}

func shredFields(what string) []eventField {
	return []eventField{
		req("name", tString, "the name"),
		req("key", tString, "the object key"),
		req("versions", tInt, "versions "+what),
		req("delete_markers", tInt, "delete markers "+what),
		req("uploads", tInt, "unfinished uploads "+what),
		req("local_files", tInt, "local spool and journal files "+what),
	}
}

// eventWord spells a word used as a name or value in events in
// snake_case: "would-apply" is "would_apply".
func eventWord(s string) string { return strings.ReplaceAll(s, "-", "_") }

// checkEvent checks one NDJSON line against the event format: a known
// event type, the version, every field known and of its type, every
// field that is not optional present.
func checkEvent(line []byte) error {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var ev map[string]any
	if err := d.Decode(&ev); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if d.More() {
		return errors.New("more than one JSON value on the line")
	}
	name, _ := ev["event"].(string)
	spec := findEvent(name)
	if spec == nil {
		return fmt.Errorf("unknown event type %q", ev["event"])
	}
	if err := checkFields(ev, append(append([]eventField(nil), commonFields...), spec.fields...)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if v, _ := ev["v"].(json.Number); v.String() != fmt.Sprint(EventVersion) {
		return fmt.Errorf("%s: v is %v, want %d", name, ev["v"], EventVersion)
	}
	return nil
}

func findEvent(name string) *eventSpec {
	for i := range eventSpecs {
		if eventSpecs[i].name == name {
			return &eventSpecs[i]
		}
	}
	return nil
}

func checkFields(obj map[string]any, fields []eventField) error {
	known := map[string]eventField{}
	for _, f := range fields {
		known[f.name] = f
		if _, ok := obj[f.name]; !ok && !f.optional {
			return fmt.Errorf("field %s missing", f.name)
		}
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f, ok := known[k]
		if !ok {
			return fmt.Errorf("unknown field %s", k)
		}
		if err := checkValue(obj[k], f); err != nil {
			return fmt.Errorf("field %s: %w", k, err)
		}
	}
	return nil
}

func checkValue(v any, f eventField) error {
	bad := fmt.Errorf("%v is not of type %s", v, f.typ)
	switch f.typ {
	case tString:
		if _, ok := v.(string); !ok {
			return bad
		}
	case tTime:
		s, ok := v.(string)
		if !ok {
			return bad
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return bad
		}
	case tInt:
		if !isInt(v) {
			return bad
		}
	case tBool:
		if _, ok := v.(bool); !ok {
			return bad
		}
	case tStrings, tInts, tObjects:
		arr, ok := v.([]any)
		if !ok {
			return bad
		}
		for i, e := range arr {
			var err error
			switch f.typ {
			case tStrings:
				if _, ok := e.(string); !ok {
					err = fmt.Errorf("%v is not a string", e)
				}
			case tInts:
				if !isInt(e) {
					err = fmt.Errorf("%v is not an integer", e)
				}
			default:
				err = checkValue(e, eventField{typ: tObject, fields: f.fields})
			}
			if err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case tCounts:
		obj, ok := v.(map[string]any)
		if !ok {
			return bad
		}
		for k, e := range obj {
			if !isInt(e) {
				return fmt.Errorf("%s: %v is not an integer", k, e)
			}
		}
	case tObject, tFreeform:
		obj, ok := v.(map[string]any)
		if !ok {
			return bad
		}
		if f.typ == tObject {
			return checkFields(obj, f.fields)
		}
	default:
		return fmt.Errorf("the schema names an unknown type %q", f.typ)
	}
	return nil
}

func isInt(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	_, err := n.Int64()
	return err == nil
}

// EventsMarkdown returns docs/events.md, generated from the event format
// (go run ./internal/cmd/gendocs -events docs/events.md).
func EventsMarkdown() []byte {
	var b strings.Builder
	b.WriteString(eventsIntro)
	for _, s := range eventSpecs {
		fmt.Fprintf(&b, "\n### %s\n\n%s Printed by: %s.\n\n| field | type | presence | meaning |\n|---|---|---|---|\n", s.name, s.doc, s.commands)
		writeFieldRows(&b, "", s.fields)
	}
	b.WriteString(eventsOutro)
	return []byte(b.String())
}

func writeFieldRows(b *strings.Builder, prefix string, fields []eventField) {
	for _, f := range fields {
		presence := "always"
		if f.optional {
			presence = "optional"
		}
		fmt.Fprintf(b, "| `%s%s` | %s | %s | %s |\n", prefix, f.name, f.typ, presence, strings.ReplaceAll(f.doc, "|", `\|`))
		if len(f.fields) > 0 {
			sub := prefix + f.name + "."
			if f.typ == tObjects {
				sub = prefix + f.name + "[]."
			}
			writeFieldRows(b, sub, f.fields)
		}
	}
}

const eventsIntro = `# Events: the NDJSON output of --json

<!-- Generated from cmd/events.go by 'go run ./internal/cmd/gendocs -events docs/events.md'; do not edit. -->

With ` + "`--json`" + ` every command prints one JSON object per line on standard output
(NDJSON) and nothing else there; messages and warnings stay on standard error.
The last line of every run is a ` + "`summary`" + ` event carrying the exit code
([exit-codes.md](exit-codes.md)).

Every event has these fields:

| field | type | presence | meaning |
|---|---|---|---|
| ` + "`event`" + ` | string | always | the event type, one of those below |
| ` + "`v`" + ` | integer | always | the version of the event format, now 1 |

Types: *string*; *integer* (a JSON number without a fraction); *boolean*;
*time* (a string, RFC 3339, in UTC or with an offset); *array of strings*;
*array of integers*; *object of integers* (names to counts); *object* and
*array of objects* with the fields listed below them (` + "`source.encoding`" + `);
*JSON object*: a document described in words. A field marked *optional*
may be absent; its meaning says when it is there. Names (event types,
fields, and words used as values such as ` + "`would_apply`" + `) are snake_case.

## What stays stable

Within one version (` + "`\"v\":1`" + `):

- an event type keeps its name and meaning, and a field keeps its name, type
  and meaning; a field marked *always* is always there;
- new event types and new optional fields may be added in any release, so a
  script should ignore event types and fields it does not know;
- the ` + "`summary`" + ` line stays last, and its ` + "`exit_code`" + ` follows
  [exit-codes.md](exit-codes.md);
- text meant for people (` + "`error`" + `, ` + "`message`" + `, ` + "`hint`" + `, ` + "`reason`" + `,
  ` + "`detail`" + `) may change wording in any release: match on the event type,
  fields with fixed values and exit codes, not on these.

Renaming or removing an event type or a field, or changing a field's type,
makes a new version, and ` + "`v`" + ` says which one a line follows. The tests check
every event that any test run prints against this table: an unknown event
type, an unknown field, a missing field or a wrong type fails them.

## Changes from the output before versions

Before ` + "`v`" + ` existed, the events had no version and mixed names. Version 1
breaks scripts written for them in these places:

| before | version 1 |
|---|---|
| ` + "`bucket-init`" + ` | ` + "`bucket_init`" + ` |
| ` + "`bucket-init`" + ` count ` + "`would-apply`" + `, counts only when not 0 | ` + "`would_apply`" + `, every status count always there |
| ` + "`setting`" + ` status ` + "`would-apply`" + ` | ` + "`would_apply`" + ` |
| ` + "`version`" + ` from ` + "`list --all-versions`" + ` | ` + "`object_version`" + ` (` + "`version`" + ` is ` + "`xfer version`" + `'s alone) |
| ` + "`keygen`" + ` ` + "`kind`" + ` ` + "`zip-password`" + `, no ` + "`kind`" + ` otherwise, ` + "`cipher`" + ` for AES keys | ` + "`kind`" + ` always: ` + "`age`" + `, ` + "`aes256`" + ` or ` + "`zip_password`" + `; no ` + "`cipher`" + ` |
| ` + "`sent`" + `, ` + "`pulled`" + `: ` + "`already`" + ` only when true | ` + "`already`" + ` always |

## Event types
`

const eventsOutro = ""
