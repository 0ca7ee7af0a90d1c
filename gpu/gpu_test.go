package gpu

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// On a machine without a GPU (CI, developers) Probe fails softly with
// ErrNoGPU and a reason; on a GPU machine it reports every device.
func TestProbe(t *testing.T) {
	devs, err := Probe()
	if err != nil {
		if !errors.Is(err, ErrNoGPU) {
			t.Fatalf("Probe: %v, want ErrNoGPU", err)
		}
		t.Logf("no GPU: %v", err)
		return
	}
	for _, d := range devs {
		if d.Name == "" || d.MemoryTotal == 0 {
			t.Errorf("device %d: %+v", d.Index, d)
		}
	}
}

func TestLogStartupNeverFails(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	devs := LogStartup(logger)
	if len(devs) == 0 && !strings.Contains(buf.String(), "no GPU telemetry") {
		t.Errorf("no notice logged: %q", buf.String())
	}
}
