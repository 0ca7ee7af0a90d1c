package admission

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeyPrefix starts every API key this server issues.
const KeyPrefix = "sk-sota-"

// displayLen is how much of a key (after KeyPrefix) is kept for display.
const displayLen = 6

// KeyHash is the SHA-256 of a key: keys are 256-bit random, so a fast hash
// is right (no password stretching needed) and the store never sees a key.
type KeyHash [32]byte

// NewKey makes a fresh API key: KeyPrefix followed by 256 random bits in
// URL-safe base64. It returns the key (shown once), its hash and its
// display prefix.
func NewKey() (key string, hash KeyHash, display string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", hash, "", fmt.Errorf("new key: %w", err)
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, HashKey(key), DisplayPrefix(key), nil
}

// HashKey is the stored identity of a key.
func HashKey(key string) KeyHash { return sha256.Sum256([]byte(key)) }

// DisplayPrefix is the part of a key safe to show in listings.
func DisplayPrefix(key string) string {
	if len(key) <= len(KeyPrefix)+displayLen {
		return KeyPrefix + "…"
	}
	return key[:len(KeyPrefix)+displayLen] + "…"
}

// Equal compares two hashes in constant time.
func (h KeyHash) Equal(o KeyHash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// ErrUnauthorized means the request carries no valid API key.
var ErrUnauthorized = errors.New("unauthorized")

// maxKeyLen bounds what is hashed: no key we issue is longer.
const maxKeyLen = 256

// ParseBearer takes the key out of an Authorization header value
// ("Bearer KEY", scheme case-insensitive, as RFC 6750 allows).
func ParseBearer(header string) (string, error) {
	if header == "" {
		return "", fmt.Errorf("%w: no API key: send Authorization: Bearer sk-sota-…", ErrUnauthorized)
	}
	scheme, key, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: the Authorization header must be \"Bearer KEY\"", ErrUnauthorized)
	}
	key = strings.TrimSpace(key)
	if key == "" || len(key) > maxKeyLen || strings.ContainsAny(key, " \t\r\n") {
		return "", fmt.Errorf("%w: malformed API key", ErrUnauthorized)
	}
	return key, nil
}
