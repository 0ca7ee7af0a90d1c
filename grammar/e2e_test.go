package grammar

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/sotasystems/sota/backend/cpu"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/model"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

// TestStoriesUnderMask runs the trained stories260K model on the CPU
// backend through the engine with a schema constraint: greedy and sampled
// outputs of a model that has never seen JSON parse and match the schema.
func TestStoriesUnderMask(t *testing.T) {
	m, err := model.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	be, err := cpu.New(m, cpu.Options{NumBlocks: 256, MaxBatchTokens: 256, MaxSeqs: 16, MemoryAvailable: -1})
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	e, err := engine.New(be, engine.Config{EOSTokenIDs: []int32{2}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVocab(tok)
	if err != nil {
		t.Fatal(err)
	}
	schema := `{"type":"object","properties":{"hero":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":1,"maximum":99},
		"mood":{"enum":["happy","sad"]},"friends":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":2}},
		"required":["hero","age","mood","friends"],"additionalProperties":false}`
	g, err := CompileSchema([]byte(schema), v, Options{Whitespace: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []sample.Params{{}, {Temperature: 1, Seed: 7}, {Temperature: 0.8, TopP: 0.9, Seed: 3}} {
		st, err := e.Generate(context.Background(), engine.Request{Prompt: tok.Encode("Once upon a time", true), Params: p, N: 3, MaxTokens: 200,
			NewConstraint: func() sample.Constraint { return g.NewMatcher() }})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([][]int32, st.N())
		finish := make([]engine.FinishReason, st.N())
		for {
			c, err := st.Recv(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.StopToken {
				ids[c.Index] = append(ids[c.Index], c.Token)
			}
			if c.Finish != "" {
				finish[c.Index] = c.Finish
			}
		}
		for i := range ids {
			text := tok.Decode(ids[i], true)
			var out struct {
				Hero    string   `json:"hero"`
				Age     int      `json:"age"`
				Mood    string   `json:"mood"`
				Friends []string `json:"friends"`
			}
			if finish[i] != engine.FinishReason("stop") {
				t.Fatalf("%+v seq %d: finish %q after %q", p, i, finish[i], text)
			}
			if err := json.Unmarshal([]byte(text), &out); err != nil || len([]rune(out.Hero)) > 12 || out.Age < 1 || out.Age > 99 ||
				(out.Mood != "happy" && out.Mood != "sad") || len(out.Friends) > 2 {
				t.Fatalf("%+v seq %d: %q (%v)", p, i, text, err)
			}
			t.Logf("%+v seq %d: %s", p, i, text)
		}
	}
}
