package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// object is a decoded JSON object whose fields are read one at a time with
// typed getters, so that "absent", "null" and "wrong type" can be told apart
// the way transformers tells them apart. what names the file in errors.
type object struct {
	what string
	m    map[string]json.RawMessage
}

// parseObject decodes data, which must be a JSON object.
func parseObject(what string, data []byte) (object, error) {
	o := object{what: what}
	if err := json.Unmarshal(data, &o.m); err != nil {
		return o, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, what, err)
	}
	if o.m == nil {
		return o, fmt.Errorf("%w: %s: not a JSON object", ErrInvalidConfig, what)
	}
	return o, nil
}

// present reports whether key is there at all (null included).
func (o object) present(key string) bool {
	_, ok := o.m[key]
	return ok
}

// isNull reports whether key is there with the value null.
func (o object) isNull(key string) bool {
	raw, ok := o.m[key]
	return ok && bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// set reports whether key is there with a value other than null.
func (o object) set(key string) bool { return o.present(key) && !o.isNull(key) }

func (o object) errf(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s: %s", ErrInvalidConfig, o.what, key, fmt.Sprintf(format, args...))
}

// snippet shortens a raw value for an error message.
func snippet(raw json.RawMessage) string {
	const max = 40
	s := string(bytes.TrimSpace(raw))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// float reads a number; absent or null gives def.
func (o object) float(key string, def float64) (float64, error) {
	if !o.set(key) {
		return def, nil
	}
	var f float64
	if err := json.Unmarshal(o.m[key], &f); err != nil {
		return 0, o.errf(key, "want a number, got %s", snippet(o.m[key]))
	}
	return f, nil
}

// maxJSONInt bounds integers read from JSON: every size and token id fits
// far below it, and it keeps arithmetic on them free of overflow.
const maxJSONInt = 1 << 40

func toInt(f float64) (int, bool) {
	if f != math.Trunc(f) || math.Abs(f) > maxJSONInt {
		return 0, false
	}
	return int(f), true
}

// int reads an integral number (4096 or 4096.0); absent or null gives def.
func (o object) int(key string, def int) (int, error) {
	if !o.set(key) {
		return def, nil
	}
	var f float64
	if err := json.Unmarshal(o.m[key], &f); err != nil {
		return 0, o.errf(key, "want an integer, got %s", snippet(o.m[key]))
	}
	n, ok := toInt(f)
	if !ok {
		return 0, o.errf(key, "want an integer, got %s", snippet(o.m[key]))
	}
	return n, nil
}

// bool reads a boolean; absent or null gives def.
func (o object) bool(key string, def bool) (bool, error) {
	if !o.set(key) {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(o.m[key], &b); err != nil {
		return false, o.errf(key, "want true or false, got %s", snippet(o.m[key]))
	}
	return b, nil
}

// string reads a string; absent or null gives def.
func (o object) string(key, def string) (string, error) {
	if !o.set(key) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(o.m[key], &s); err != nil {
		return "", o.errf(key, "want a string, got %s", snippet(o.m[key]))
	}
	return s, nil
}

// strings reads a list of strings; absent or null gives nil.
func (o object) strings(key string) ([]string, error) {
	if !o.set(key) {
		return nil, nil
	}
	var s []string
	if err := json.Unmarshal(o.m[key], &s); err != nil {
		return nil, o.errf(key, "want a list of strings, got %s", snippet(o.m[key]))
	}
	return s, nil
}

// tokenIDs reads an id or a list of ids (eos_token_id); absent or null gives
// nil, false.
func (o object) tokenIDs(key string) ([]int32, bool, error) {
	if !o.set(key) {
		return nil, false, nil
	}
	raw := o.m[key]
	var list []float64
	if err := json.Unmarshal(raw, &list); err != nil {
		var one float64
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, false, o.errf(key, "want a token id or a list of them, got %s", snippet(raw))
		}
		list = []float64{one}
	}
	ids := make([]int32, 0, len(list))
	for _, f := range list {
		n, ok := toInt(f)
		if !ok || n < 0 || n > math.MaxInt32 {
			return nil, false, o.errf(key, "bad token id in %s", snippet(raw))
		}
		ids = append(ids, int32(n))
	}
	return ids, true, nil
}

// tokenID reads a single id (bos_token_id); absent or null gives def.
func (o object) tokenID(key string, def int32) (int32, error) {
	if !o.set(key) {
		return def, nil
	}
	n, err := o.int(key, 0)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, o.errf(key, "bad token id %d", n)
	}
	return int32(n), nil
}

// object reads a nested object; absent, null or empty gives ok == false.
func (o object) object(key string) (object, bool, error) {
	if !o.set(key) {
		return object{}, false, nil
	}
	sub := object{what: o.what + ": " + key}
	if err := json.Unmarshal(o.m[key], &sub.m); err != nil || sub.m == nil {
		return object{}, false, o.errf(key, "want an object, got %s", snippet(o.m[key]))
	}
	return sub, len(sub.m) > 0, nil
}
