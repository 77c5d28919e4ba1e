package cmd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/secret"
)

// Default key file names in the configuration directory, used by keygen
// when no -o is given and by decrypt when no identity is given.
const (
	defaultIdentityFile = "identity.txt"
	defaultAESKeyFile   = "aes.key"
)

// keyFlags are the flags choosing how a file is sealed.
type keyFlags struct {
	recipients      []string
	recipientsFiles []string
	cipher          string
	keyFile         string
	passphraseFile  string
	zipPasswordFile string
	// recipientTexts are the age recipients encryptOptions found, as
	// written, for their check codes.
	recipientTexts []string
}

func (k *keyFlags) addSealFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringArrayVarP(&k.recipients, "recipient", "r", nil, "age recipient: age1…, ssh-ed25519 … or ssh-rsa … (repeatable)")
	f.StringArrayVarP(&k.recipientsFiles, "recipients-file", "R", nil, "file of age recipients, one per line (repeatable)")
	f.StringVar(&k.cipher, "cipher", "", "outer layer: age or aes256 (env XFER_CIPHER; default age)")
	f.StringVar(&k.keyFile, "key-file", "", "AES-256 key file for --cipher aes256 (env XFER_KEY_FILE)")
	k.addSecretFlags(c)
}

func (k *keyFlags) addSecretFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&k.passphraseFile, "passphrase-file", "", "file holding the passphrase (env XFER_PASSPHRASE holds the passphrase itself)")
	f.StringVar(&k.zipPasswordFile, "zip-password-file", "", "file holding the zip password (env XFER_ZIP_PASSWORD holds the password itself)")
}

func (a *app) passphraseSpec(cfg *config.File) secretSpec {
	return secretSpec{what: "passphrase", fileFlag: "passphrase-file", env: "XFER_PASSPHRASE", cfgFile: cfg.PassphraseFile}
}

func (a *app) zipPasswordSpec(cfg *config.File, confirm bool) secretSpec {
	return secretSpec{what: "zip password", fileFlag: "zip-password-file", env: "XFER_ZIP_PASSWORD", cfgFile: cfg.ZipPasswordFile, confirm: confirm}
}

// zipPassword resolves the zip password; when sealing it must pass the
// policy (exit 6 otherwise).
func (a *app) zipPassword(c *cobra.Command, cfg *config.File, sealing bool) ([]byte, error) {
	spec := a.zipPasswordSpec(cfg, sealing)
	pw, err := a.secret(c, spec)
	if err != nil {
		return nil, err
	}
	if pw == nil {
		return nil, errNoSecret(spec)
	}
	if sealing {
		if cfg.ZipPasswordMinLength != 0 && cfg.ZipPasswordMinLength < seal.MinPasswordLength {
			return nil, usagef("zip_password_min_length %d is below the minimum of %d", cfg.ZipPasswordMinLength, seal.MinPasswordLength)
		}
		if err := secret.CheckZipPassword(pw, cfg.ZipPasswordMinLength); err != nil {
			return nil, withHint(err, "%s", zipPasswordHint)
		}
	}
	return pw, nil
}

// encryptOptions resolves the outer layer from flags, environment and
// configuration.
func (a *app) encryptOptions(c *cobra.Command, k *keyFlags, cfg *config.File) (crypt.EncryptOptions, error) {
	var opts crypt.EncryptOptions
	cipher := a.setting(c, "cipher", "XFER_CIPHER", cfg.Cipher, string(crypt.CipherAge))
	recips, rfiles := k.recipients, k.recipientsFiles
	if len(recips) == 0 && len(rfiles) == 0 {
		recips = cfg.Recipients
		if cfg.RecipientsFile != "" {
			rfiles = []string{cfg.RecipientsFile}
		}
	}
	switch crypt.Cipher(cipher) {
	case crypt.CipherAge:
		opts.Cipher = crypt.CipherAge
		for _, r := range recips {
			rec, err := crypt.ParseRecipient(r)
			if err != nil {
				return opts, usagef("recipient %s: %w", showRecipient(r), err)
			}
			opts.Recipients = append(opts.Recipients, rec)
			k.recipientTexts = append(k.recipientTexts, r)
		}
		for _, path := range rfiles {
			rs, texts, err := readRecipientsFile(path)
			if err != nil {
				return opts, err
			}
			opts.Recipients = append(opts.Recipients, rs...)
			k.recipientTexts = append(k.recipientTexts, texts...)
		}
		if len(opts.Recipients) > 0 {
			if c.Flags().Changed("passphrase-file") {
				return opts, usagef("give recipients or a passphrase, not both")
			}
			return opts, nil
		}
	case crypt.CipherAES256:
		opts.Cipher = crypt.CipherAES256
		if len(k.recipients)+len(k.recipientsFiles) > 0 {
			return opts, usagef("--recipient and --recipients-file are for --cipher age; aes256 takes --key-file or a passphrase")
		}
		if path := a.setting(c, "key-file", "XFER_KEY_FILE", cfg.KeyFile, ""); path != "" {
			key, err := loadAESKeyFile(path)
			if err != nil {
				return opts, err
			}
			a.warnExposed("key file", path)
			opts.AESKey = key
			return opts, nil
		}
	default:
		return opts, usagef("unknown cipher %q (age or aes256)", cipher)
	}
	spec := a.passphraseSpec(cfg)
	spec.confirm = true
	pass, err := a.secret(c, spec)
	if err != nil {
		return opts, err
	}
	if pass == nil {
		hint := "give -r age1… (see 'xfer keygen'), -R FILE, or a passphrase (--passphrase-file or XFER_PASSPHRASE)"
		if opts.Cipher == crypt.CipherAES256 {
			hint = "give --key-file FILE (see 'xfer keygen --aes') or a passphrase (--passphrase-file or XFER_PASSPHRASE)"
		}
		return opts, withHint(usagef("nobody to encrypt to"), "%s", hint)
	}
	opts.Passphrase = pass
	return opts, nil
}

// showRecipient names a recipient in a message: public keys as they are
// (long SSH keys shortened), never something that looks like a secret key.
func showRecipient(r string) string {
	r = strings.TrimSpace(r)
	up := strings.ToUpper(r)
	if strings.HasPrefix(up, "AGE-SECRET-KEY-") || strings.HasPrefix(up, "XFER-AES256-KEY-") || strings.Contains(up, "PRIVATE KEY") {
		return "(a secret key, not shown)"
	}
	if len(r) > 72 {
		r = r[:40] + "…" + r[len(r)-16:]
	}
	return fmt.Sprintf("%q", r)
}

// zipPasswordHint is the advice for a zip password the policy refuses.
const zipPasswordHint = "let xfer make one that is strong and easy to read out: xfer keygen --zip-password -o FILE; give the other side the same password"

// readRecipientsFile reads a recipients file as any editor saved it (BOM,
// UTF-16, CRLF; secret.ReadKeyFile) and returns its recipients and, for
// check codes, the text of each.
func readRecipientsFile(path string) ([]age.Recipient, []string, error) {
	b, err := secret.ReadKeyFile(path)
	if err != nil {
		return nil, nil, usagef("recipients file: %w", err)
	}
	rs, err := crypt.ParseRecipientsFile(bytes.NewReader(b))
	if err != nil {
		return nil, nil, usagef("recipients file %s: %w", path, err)
	}
	// The lines crypt parsed: blank lines and # comments are not recipients.
	var texts []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			texts = append(texts, line)
		}
	}
	return rs, texts, nil
}

// loadKeyFile reads an identity or AES key file as any editor saved it.
// The caller warns (warnExposed) when others may read it.
func loadKeyFile(what, path string) (crypt.Identities, error) {
	b, err := secret.ReadKeyFile(path)
	if err != nil {
		return crypt.Identities{}, usagef("%s: %w", what, err)
	}
	ids, err := crypt.ParseIdentityFile(b)
	if err != nil {
		return ids, usagef("%s %s: %w", what, path, err)
	}
	return ids, nil
}

func loadAESKeyFile(path string) (*crypt.AESKey, error) {
	ids, err := loadKeyFile("key file", path)
	if err != nil {
		return nil, err
	}
	if len(ids.AES) != 1 || len(ids.Age) != 0 {
		return nil, usagef("key file %s does not hold exactly one AES-256 key", path)
	}
	return &ids.AES[0], nil
}

// identities gathers what may open a sealed file: -i files, else the
// configured identities, else the default key files; plus a passphrase.
func (a *app) identities(c *cobra.Command, files []string, cfg *config.File) (crypt.Identities, error) {
	var ids crypt.Identities
	if len(files) == 0 {
		files = cfg.Identities
	}
	if len(files) == 0 {
		for _, name := range []string{defaultIdentityFile, defaultAESKeyFile} {
			p := filepath.Join(config.Dir(), name)
			if _, err := os.Stat(p); err == nil {
				files = append(files, p)
			}
		}
	}
	for _, path := range files {
		got, err := loadKeyFile("identity file", path)
		if err != nil {
			return ids, err
		}
		a.warnExposed("identity file", path)
		ids.Age = append(ids.Age, got.Age...)
		ids.AES = append(ids.AES, got.AES...)
	}
	spec := a.passphraseSpec(cfg)
	if len(ids.Age)+len(ids.AES) > 0 && !c.Flags().Changed(spec.fileFlag) && a.env.Getenv(spec.env) == "" && cfg.PassphraseFile == "" {
		return ids, nil // keys given: do not prompt for a passphrase too
	}
	pass, err := a.secret(c, spec)
	if err != nil {
		return ids, err
	}
	if pass == nil && len(ids.Age)+len(ids.AES) == 0 {
		return ids, withHint(usagef("no identity to decrypt with"),
			"give -i FILE (an age identity or AES key file), or a passphrase (--passphrase-file or XFER_PASSPHRASE)")
	}
	ids.Passphrase = pass
	return ids, nil
}
