package archtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

const module = "github.com/sotasystems/sota/"

// allowed maps a package (or a prefix ending in "/") to the packages of this
// module its non-test code may import. Packages not listed may import
// anything of ours except cmd/; every package may import internal/ helpers
// only where listed.
var allowed = map[string][]string{
	"kvcache":        {},
	"admission":      {},
	"store":          {},
	"sample":         {},
	"backend":        {"sample"},
	"backend/":       {"backend", "model", "sample"},
	"model":          {},
	"scheduler":      {"kvcache", "backend", "sample"},
	"engine":         {"scheduler", "kvcache", "backend", "sample", "metrics"},
	"tokenizer":      {},
	"grammar":        {"tokenizer"},
	"bench":          {},
	"server/":        {"admission", "engine", "tokenizer", "metrics", "store", "sample", "grammar"},
	"server/grpcapi": {"admission", "engine", "tokenizer", "metrics", "store", "sample", "grammar", "proto/sota/v1"},
	"proto/":         {}, // generated code: imports nothing of ours
	"cmd/sota-bench": {"bench"},
}

// cgoAllowed lists the only package that may import "C".
const cgoAllowed = "backend/cuda"

func TestImportDirections(t *testing.T) {
	root := testmodels.RepoRoot(t)
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		rule, ruled := ruleFor(pkg)
		for _, imp := range fields[1:] {
			if imp == "C" && pkg != cgoAllowed {
				t.Errorf("%s imports \"C\": only %s may", pkg, cgoAllowed)
			}
			dep, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			if strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s imports %s: nothing imports a command", pkg, dep)
			}
			if ruled && !permits(rule, dep) && !strings.HasPrefix(dep, pkg+"/") {
				t.Errorf("%s imports %s: DESIGN.md §2 allows only %v", pkg, dep, rule)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no imports checked: go list gave nothing")
	}
}

// ruleFor finds the most specific rule for pkg.
func ruleFor(pkg string) ([]string, bool) {
	if r, ok := allowed[pkg]; ok {
		return r, true
	}
	best := ""
	for k := range allowed {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(pkg, k) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return nil, false
	}
	return allowed[best], true
}

// permits reports whether dep is one of rule's packages or inside one
// (backend/cpu/internal/... counts as backend/cpu's own).
func permits(rule []string, dep string) bool {
	for _, r := range rule {
		if dep == r || strings.HasPrefix(dep, r+"/internal/") {
			return true
		}
	}
	return false
}
