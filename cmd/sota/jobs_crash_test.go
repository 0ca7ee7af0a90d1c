package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sotasystems/sota/store"
)

// TestMain lets a test start this binary as `sota` in a child process
// (SOTA_TEST_AS_SOTA=1): the crash test SIGKILLs a real server.
func TestMain(m *testing.M) {
	if os.Getenv("SOTA_TEST_AS_SOTA") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// serveProcess is `sota serve` in a child process.
type serveProcess struct {
	cmd *exec.Cmd
	url string
	log *strings.Builder
}

func startServeProcess(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--port", "0"}, args...)...)
	cmd.Env = append(os.Environ(), "SOTA_TEST_AS_SOTA=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, log: &strings.Builder{}}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.log.WriteString(line + "\n") // read only after the process ended
			if m := servingURL.FindStringSubmatch(line); m != nil {
				urls <- m[1]
			}
		}
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("serve exited before serving")
		}
		p.url = u
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

func getJSONErr(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return resp.StatusCode
}

type crashJob struct {
	ID       string          `json:"job_id"`
	Status   string          `json:"status"`
	Attempts int             `json:"attempts"`
	Output   []string        `json:"output"`
	Result   json.RawMessage `json:"result"`
}

// A real server SIGKILLed with 50 async jobs in flight: every job was
// stored before its 202; after a restart all 50 run again and finish with
// the result their stored seed gives, and a finished job is served as it was.
func TestJobsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	db := filepath.Join(t.TempDir(), "sota.db")
	args := []string{"--backend", "fake", "--fake-step-delay", "50ms", "--db", db}
	srv := startServeProcess(t, args...)
	// One job finished before the crash.
	code, done := postJSON(t, srv.url+"/v1/stories260k/generate", `{"prompt": "before", "max_tokens": 3}`)
	if code != 200 || done["status"] != "FINISHED" {
		t.Fatalf("sync job: %d %v", code, done)
	}
	bodies := map[string]string{}
	for i := range 50 {
		body := fmt.Sprintf(`{"prompt": "job %d of the crash test", "max_tokens": 60, "temperature": 1}`, i)
		code, out := postJSON(t, srv.url+"/v1/stories260k/generate", strings.Replace(body, "{", `{"async": true, `, 1))
		if code != http.StatusAccepted {
			t.Fatalf("submit %d: %d %v", i, code, out)
		}
		bodies[out["job_id"].(string)] = body
	}
	// Kill it while they stream.
	for deadline := time.Now().Add(30 * time.Second); ; {
		var page struct{ Data []crashJob }
		getJSON(t, srv.url+"/v1/jobs?status=streaming&limit=100", &page)
		if len(page.Data) >= 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d jobs streaming", len(page.Data))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.cmd.Wait()

	// What the store holds after the kill: all 50, none finished.
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	left, err := st.UnfinishedJobs(context.Background())
	st.Close()
	if err != nil || len(left) != 50 {
		t.Fatalf("%d unfinished jobs in the store after SIGKILL (%v), want 50", len(left), err)
	}

	srv = startServeProcess(t, args...)
	st, err = store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	type outcome struct {
		id        string
		job       crashJob
		got, want string
		err       error
	}
	results := make(chan outcome, len(bodies))
	for id, body := range bodies {
		go func() {
			o := outcome{id: id}
			defer func() { results <- o }()
			for deadline := time.Now().Add(60 * time.Second); ; {
				o.job = crashJob{}
				if err := getJSONErr(srv.url+"/v1/jobs/"+id, &o.job); err != nil {
					o.err = err
					return
				}
				if o.job.Status == "FINISHED" || o.job.Status == "FAILED" {
					break
				}
				if time.Now().After(deadline) {
					o.err = fmt.Errorf("still %s after the restart", o.job.Status)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			// The same request with the seed stored at submission gives the
			// same choices on the endpoint itself.
			var seed struct{ Seed int64 }
			rec, err := st.Job(context.Background(), "default", id)
			if err != nil || json.Unmarshal(rec.Body, &seed) != nil || seed.Seed == 0 {
				o.err = fmt.Errorf("stored body %s: %v", rec.Body, err)
				return
			}
			resp, err := http.Post(srv.url+"/v1/completions", "application/json",
				strings.NewReader(strings.Replace(body, "{", fmt.Sprintf(`{"seed": %d, `, seed.Seed), 1)))
			if err != nil {
				o.err = err
				return
			}
			defer resp.Body.Close()
			var direct, got struct{ Choices json.RawMessage }
			if err := json.NewDecoder(resp.Body).Decode(&direct); err != nil {
				o.err = err
				return
			}
			_ = json.Unmarshal(o.job.Result, &got)
			o.got, o.want = string(got.Choices), string(direct.Choices)
		}()
	}
	for range bodies {
		o := <-results
		switch {
		case o.err != nil:
			t.Errorf("job %s: %v", o.id, o.err)
		case o.job.Status != "FINISHED" || o.job.Attempts < 1 || o.job.Attempts > 2:
			t.Errorf("job %s: %s after %d attempts", o.id, o.job.Status, o.job.Attempts)
		case o.got != o.want:
			t.Errorf("job %s: %s\nendpoint: %s", o.id, o.got, o.want)
		}
	}
	var before crashJob
	if getJSON(t, srv.url+"/v1/jobs/"+done["job_id"].(string), &before); before.Status != "FINISHED" || before.Attempts != 1 {
		t.Fatalf("the job finished before the crash: %+v", before)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, srv.log)
	}
}
