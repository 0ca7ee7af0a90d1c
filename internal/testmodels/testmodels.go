package testmodels

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	rootOnce sync.Once
	rootDir  string
)

// RepoRoot is the directory holding go.mod, found by walking up from the
// working directory (go test runs in the package directory).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	})
	if rootDir == "" {
		tb.Fatal("testmodels: no go.mod above the working directory")
	}
	return rootDir
}

// SharedDir is ../shared/models beside the repository, or $SOTA_SHARED_MODELS.
// It skips the test when the directory is absent.
func SharedDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("SOTA_SHARED_MODELS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(tb), "..", "shared", "models")
	}
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("shared test models not found at %s (set SOTA_SHARED_MODELS): %v", dir, err)
	}
	return dir
}

// Shared joins elem onto SharedDir and skips the test when that path is absent.
func Shared(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{SharedDir(tb)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared test file %s not found: %v", p, err)
	}
	return p
}

// Testdata joins elem onto the repository's testdata/ directory. Files there
// are committed, so a missing one fails the test.
func Testdata(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{RepoRoot(tb), "testdata"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("testdata file missing: %v", err)
	}
	return p
}
