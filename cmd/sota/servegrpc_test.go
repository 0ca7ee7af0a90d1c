package main

import (
	"io"
	"net"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	sotav1 "github.com/sotasystems/sota/proto/sota/v1"
)

// freePort is a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serve --grpc-port serves the models over gRPC beside HTTP, and a stream
// running when serve is stopped finishes (the drain waits for it).
func TestServeGRPC(t *testing.T) {
	port := freePort(t)
	_, stop := startServe(t, "--backend", "fake", "--fake-step-delay", "2ms", "--served-model-name", "demo", "--grpc-port", strconv.Itoa(port))
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cli := sotav1.NewInferenceServiceClient(conn)
	lm, err := cli.ListModels(t.Context(), &sotav1.ListModelsRequest{})
	if err != nil || len(lm.Models) != 1 || lm.Models[0].Id != "demo" {
		t.Fatalf("ListModels: %v %v", lm, err)
	}
	if r, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", r, err)
	}
	n := int32(40)
	s, err := cli.Generate(t.Context(), &sotav1.GenerateRequest{Input: &sotav1.GenerateRequest_Prompt{Prompt: "Once upon a time"},
		Sampling: &sotav1.SamplingParams{MaxTokens: &n, IgnoreEos: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	exit := make(chan int, 1)
	go func() { exit <- stop() }()
	var usage *sotav1.Usage
	for {
		m, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("stream during the drain: %v", err)
		}
		if m.Usage != nil {
			usage = m.Usage
		}
	}
	if usage == nil || usage.CompletionTokens != n {
		t.Errorf("usage %v", usage)
	}
	if c := <-exit; c != 0 {
		t.Fatalf("exit code %d", c)
	}
}
