package config

// CSV is the [csv] table: what xfer is told about the dialect of the files
// it sends (docs/excel.md). Empty values mean "detect"; the names are
// checked where they are used (package csvcheck).
type CSV struct {
	// Encoding of files without a byte-order mark: utf-8 (the default),
	// windows-1252, iso-8859-1, iso-8859-15, utf-16le or utf-16be.
	Encoding string `toml:"encoding"`
	// Delimiter is , ; | or tab; empty detects it from the header.
	Delimiter string `toml:"delimiter"`
	// AllowEmpty sends a file with a header and no rows, which is
	// refused otherwise.
	AllowEmpty bool `toml:"allow_empty"`
}
