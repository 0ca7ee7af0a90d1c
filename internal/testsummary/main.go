package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

// skip is one skipped test, as -skips stores it.
type skip struct {
	Package, Test, Reason, Run string
}

func main() {
	skips := flag.String("skips", "", "file to append skipped tests to (JSON lines)")
	report := flag.Bool("report", false, "print the skipped tests of the files named as arguments, by reason")
	label := flag.String("label", "", "name of this run in the skip records (e.g. race)")
	flag.Parse()
	if *report {
		os.Exit(printReport(os.Stdout, flag.Args()))
	}
	os.Exit(filter(os.Stdin, os.Stdout, *skips, *label))
}

// fileLine is the "x_test.go:12: " prefix t.Skip puts before its message.
var fileLine = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

func filter(in io.Reader, out io.Writer, skipsFile, label string) int {
	var sf *os.File
	if skipsFile != "" {
		var err error
		if sf, err = os.OpenFile(skipsFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			return 1
		}
		defer sf.Close()
	}
	outputs := map[string][]string{} // package/test → its output lines so far
	failed, packages := false, 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, sc.Text()) // not JSON: go's own messages
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			failed = true
		case "output":
			if e.Test == "" {
				// Package lines: ok, FAIL, "?   pkg [no test files]", panics.
				if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "PASS\n") && !strings.HasPrefix(e.Output, "--- ") {
					fmt.Fprint(out, e.Output)
				}
				continue
			}
			outputs[key] = append(outputs[key], e.Output)
		case "fail":
			if e.Test == "" {
				packages++
				failed = true
				continue
			}
			fmt.Fprint(out, strings.Join(outputs[key], ""))
			delete(outputs, key)
		case "pass":
			if e.Test == "" {
				packages++
			}
			delete(outputs, key)
		case "skip":
			if e.Test == "" {
				packages++
				continue
			}
			if sf != nil {
				b, _ := json.Marshal(skip{Package: e.Package, Test: e.Test, Reason: skipReason(outputs[key]), Run: label})
				fmt.Fprintf(sf, "%s\n", b)
			}
			delete(outputs, key)
		}
	}
	if failed || packages == 0 {
		return 1
	}
	return 0
}

// skipReason is the message of t.Skip: the test's last output line that is
// not a "--- SKIP" or "=== RUN" line, without its file:line prefix.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return strings.TrimSpace(fileLine.ReplaceAllString(lines[i], ""))
	}
	return "(no reason given)"
}

func printReport(out io.Writer, files []string) int {
	byReason := map[string][]skip{}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // that run did not happen
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var s skip
			if json.Unmarshal([]byte(line), &s) != nil {
				continue
			}
			byReason[s.Reason] = append(byReason[s.Reason], s)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(out, "skipped: none")
		return 0
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if len(byReason[reasons[i]]) != len(byReason[reasons[j]]) {
			return len(byReason[reasons[i]]) > len(byReason[reasons[j]])
		}
		return reasons[i] < reasons[j]
	})
	fmt.Fprintf(out, "skipped: %d tests, by reason\n", n)
	for _, r := range reasons {
		ss := byReason[r]
		names := []string{}
		for i, s := range ss {
			if i == 3 {
				names = append(names, fmt.Sprintf("and %d more", len(ss)-3))
				break
			}
			name := strings.TrimPrefix(s.Package, "github.com/sotasystems/sota/") + "." + s.Test
			if s.Run != "" {
				name += " (" + s.Run + ")"
			}
			names = append(names, name)
		}
		if len(r) > 200 {
			r = r[:200] + "…"
		}
		fmt.Fprintf(out, "  %4d  %s\n        %s\n", len(ss), r, strings.Join(names, ", "))
	}
	return 0
}
