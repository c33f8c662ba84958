package mmsim

import (
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"math/rand/v2"
)

// Mattermost ids are 26 characters of this base32 alphabet (16 random bytes, unpadded).
var idEncoding = base32.NewEncoding("ybndrfg8ejkmcpqxot1uwisza345h769").WithPadding(base32.NoPadding)

// newID returns a fresh 26-character id in Mattermost's format. Ids only need to be unique,
// not secret, so a fast generator is enough.
func newID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return idEncoding.EncodeToString(b[:])
}

// newToken returns a session token; these are credentials, so they come from crypto/rand.
func newToken() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // never fails on supported platforms (Go 1.24+)
	return idEncoding.EncodeToString(b[:])
}

// isID reports whether s looks like a Mattermost id.
func isID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// stableID derives an id from a name, for built-in objects whose id must not change.
func stableID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return idEncoding.EncodeToString(sum[:16])
}
