package githubhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
)

// SignatureHeader carries the HMAC-SHA256 of the raw body, hex-encoded
// after "sha256=", keyed with the webhook secret.
const SignatureHeader = "X-Hub-Signature-256"

// Signature errors; none of them reveals a secret or the expected value.
var (
	ErrNoSignature  = errors.New("no X-Hub-Signature-256 header")
	ErrBadSignature = errors.New("X-Hub-Signature-256 matches no configured webhook secret")
)

// Verifier checks X-Hub-Signature-256 against a list of secrets, so a
// secret can be rotated without downtime: configure the new one next to
// the old one, change it on GitHub, then drop the old one.
type Verifier struct {
	secrets [][]byte
	macs    []*sync.Pool // per secret: HMAC-SHA256 states keyed with it, reset and reused
}

// NewVerifier returns a verifier accepting a signature made with any of secrets.
func NewVerifier(secrets ...string) *Verifier {
	v := &Verifier{}
	for _, s := range secrets {
		if s != "" {
			key := []byte(s)
			v.secrets = append(v.secrets, key)
			v.macs = append(v.macs, &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }})
		}
	}
	return v
}

// Len is how many secrets are configured.
func (v *Verifier) Len() int { return len(v.secrets) }

// Verify checks header (the X-Hub-Signature-256 value) against body. The
// comparison is constant-time, and every secret is tried whatever the
// outcome, so timing tells nothing about which one matched.
func (v *Verifier) Verify(header string, body []byte) error {
	if header == "" {
		return ErrNoSignature
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	match := false
	var sum [sha256.Size]byte
	for _, p := range v.macs {
		// A pooled state keyed with the secret: hmac.New per request
		// was three allocations and the key schedule each time.
		mac := p.Get().(hash.Hash)
		mac.Reset()
		mac.Write(body)
		if hmac.Equal(got, mac.Sum(sum[:0])) {
			match = true
		}
		p.Put(mac)
	}
	if !match {
		return ErrBadSignature
	}
	return nil
}

// Sign is the HMAC-SHA256 of body keyed with secret, as GitHub computes it.
func Sign(secret, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return mac.Sum(nil)
}

// SignatureValue is the X-Hub-Signature-256 value GitHub sends for body.
func SignatureValue(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(Sign([]byte(secret), body))
}
