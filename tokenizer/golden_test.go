package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/sotasystems/sota/internal/testmodels"
)

// goldenFile is one testdata/tokenizer/*.json file written by
// scripts/gen_tokenizer_golden.py from the Python tokenizers package.
type goldenFile struct {
	Base  string                     `json:"base"`
	Patch map[string]json.RawMessage `json:"patch"`
	Cases []struct {
		Text        string  `json:"text"`
		IDs         []int32 `json:"ids"`
		IDsSpecial  []int32 `json:"ids_special"`
		Decoded     string  `json:"decoded"`
		DecodedSkip string  `json:"decoded_skip"`
	} `json:"cases"`
	Decode []struct {
		IDs         []int32 `json:"ids"`
		Decoded     string  `json:"decoded"`
		DecodedSkip string  `json:"decoded_skip"`
	} `json:"decode"`
}

func goldenNames(t testing.TB) []string {
	dir := filepath.Dir(testmodels.Testdata(t, "tokenizer", "README.md"))
	matches, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no golden files in %s: %v", dir, err)
	}
	var names []string
	for _, m := range matches {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".json"))
	}
	sort.Strings(names)
	return names
}

func readGolden(t testing.TB, name string) *goldenFile {
	data, err := os.ReadFile(testmodels.Testdata(t, "tokenizer", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &g
}

var (
	loadedMu sync.Mutex
	loaded   = map[string]*Tokenizer{}
)

// loadGolden loads the tokenizer a golden file was made with: the shared
// directory, with the file's patch applied to tokenizer.json. Tokenizers are
// cached across tests.
func loadGolden(t testing.TB, name string, g *goldenFile) *Tokenizer {
	t.Helper()
	dir := testmodels.Shared(t, strings.Split(g.Base, "/")...)
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if tok, ok := loaded[name]; ok {
		return tok
	}
	var tok *Tokenizer
	var err error
	if len(g.Patch) == 0 {
		tok, err = Load(dir)
	} else {
		tok, err = LoadFS(patchedFS(t, dir, g.Patch))
	}
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	loaded[name] = tok
	return tok
}

func patchedFS(t testing.TB, dir string, patch map[string]json.RawMessage) fstest.MapFS {
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	for k, v := range patch {
		top[k] = v
	}
	if data, err = json.Marshal(top); err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{"tokenizer.json": {Data: data}}
	if cfg, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		fsys["tokenizer_config.json"] = &fstest.MapFile{Data: cfg}
	}
	return fsys
}

// TestGolden compares Encode and Decode with the Python tokenizers package
// on every golden case, exactly.
func TestGolden(t *testing.T) {
	for _, name := range goldenNames(t) {
		t.Run(name, func(t *testing.T) {
			g := readGolden(t, name)
			tok := loadGolden(t, name, g)
			fails := 0
			fail := func(format string, args ...any) {
				t.Helper()
				if fails++; fails <= 20 {
					t.Errorf(format, args...)
				}
			}
			for _, c := range g.Cases {
				if got := tok.Encode(c.Text, false); !slices.Equal(got, c.IDs) {
					fail("Encode(%q, false)\n got %v\nwant %v", c.Text, got, c.IDs)
				}
				if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDsSpecial) {
					fail("Encode(%q, true)\n got %v\nwant %v", c.Text, got, c.IDsSpecial)
				}
				if got := tok.Decode(c.IDsSpecial, false); got != c.Decoded {
					fail("Decode(%v, false) = %q, want %q", c.IDsSpecial, got, c.Decoded)
				}
				if got := tok.Decode(c.IDsSpecial, true); got != c.DecodedSkip {
					fail("Decode(%v, true) = %q, want %q", c.IDsSpecial, got, c.DecodedSkip)
				}
			}
			for _, c := range g.Decode {
				if got := tok.Decode(c.IDs, false); got != c.Decoded {
					fail("Decode(%v, false) = %q, want %q", c.IDs, got, c.Decoded)
				}
				if got := tok.Decode(c.IDs, true); got != c.DecodedSkip {
					fail("Decode(%v, true) = %q, want %q", c.IDs, got, c.DecodedSkip)
				}
			}
			if fails > 0 {
				t.Errorf("%d mismatches in %d cases", fails, len(g.Cases)+len(g.Decode))
			}
		})
	}
}

// streamDecode feeds ids through a Decoder one at a time, checking that
// every chunk is valid UTF-8, and returns the concatenation.
func streamDecode(t testing.TB, tok *Tokenizer, ids []int32, skip bool) string {
	t.Helper()
	d := tok.NewDecoder(skip)
	var b strings.Builder
	for _, id := range ids {
		s := d.Add(id)
		if !utf8.ValidString(s) {
			t.Fatalf("Add(%d) in %v returned invalid UTF-8 %q", id, ids, s)
		}
		b.WriteString(s)
	}
	s := d.Flush()
	if !utf8.ValidString(s) {
		t.Fatalf("Flush after %v returned invalid UTF-8 %q", ids, s)
	}
	b.WriteString(s)
	return b.String()
}

// TestGoldenStream checks that streaming every golden case through a
// Decoder gives exactly what Decode gives.
func TestGoldenStream(t *testing.T) {
	for _, name := range goldenNames(t) {
		t.Run(name, func(t *testing.T) {
			g := readGolden(t, name)
			tok := loadGolden(t, name, g)
			for _, c := range g.Cases {
				for _, skip := range []bool{false, true} {
					want := tok.Decode(c.IDsSpecial, skip)
					if got := streamDecode(t, tok, c.IDsSpecial, skip); got != want {
						t.Errorf("stream %v skip=%v = %q, want %q", c.IDsSpecial, skip, got, want)
					}
				}
			}
			for _, c := range g.Decode {
				for _, skip := range []bool{false, true} {
					got := streamDecode(t, tok, c.IDs, skip)
					if want := tok.Decode(c.IDs, skip); got != want && tok.model.byteLevel {
						t.Errorf("stream %v skip=%v = %q, want %q", c.IDs, skip, got, want)
					}
				}
			}
		})
	}
}
