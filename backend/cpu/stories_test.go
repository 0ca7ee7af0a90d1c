package cpu

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/tokenizer"
)

type storiesReference struct {
	Cases []struct {
		Prompt     string  `json:"prompt"`
		InputIDs   []int32 `json:"input_ids"`
		NewTokens  int     `json:"new_tokens"`
		GreedyIDs  []int32 `json:"greedy_ids"`
		GreedyText string  `json:"greedy_text"`
		Last       struct {
			Position int          `json:"position"`
			Top5     [][2]float64 `json:"top5"`
			First8   []float64    `json:"first8"`
		} `json:"last_prompt_position_logits"`
	} `json:"cases"`
}

// TestStories260KGreedy: the trained stories260K model reproduces its
// reference greedy generations exactly (ids and text), and its logits at the
// last prompt position match the float64 reference.
func TestStories260KGreedy(t *testing.T) {
	dir := testmodels.Shared(t, "stories260k", "hf")
	data, err := os.ReadFile(testmodels.Shared(t, "stories260k", "reference", "greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref storiesReference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, dir)
	for _, c := range ref.Cases {
		t.Run(c.Prompt, func(t *testing.T) {
			if ids := tok.Encode(c.Prompt, true); !slices.Equal(ids, c.InputIDs) {
				t.Fatalf("prompt ids %v, want %v", ids, c.InputIDs)
			}
			be := newTestBackend(t, m, Options{NumBlocks: 32})
			logits := logitsOf(t, be, makeBatch(seqSpec{tokens: c.InputIDs, blocks: seqBlocks(0, 1, 32)}))
			row := logits[c.Last.Position*512 : (c.Last.Position+1)*512]
			for i, want := range c.Last.First8 {
				if math.Abs(float64(row[i])-want) > 1e-3 {
					t.Errorf("logit[%d] = %v, reference %v", i, row[i], want)
				}
			}
			for _, p := range c.Last.Top5 {
				if math.Abs(float64(row[int(p[0])])-p[1]) > 1e-3 {
					t.Errorf("logit[%d] = %v, reference %v", int(p[0]), row[int(p[0])], p[1])
				}
			}

			be = newTestBackend(t, m, Options{NumBlocks: 32})
			got := greedy(t, be, c.InputIDs, c.NewTokens)
			if !slices.Equal(got, c.GreedyIDs) {
				t.Fatalf("greedy ids differ from the reference\n got %v\nwant %v", got, c.GreedyIDs)
			}
			// The reference text is what the continuation adds to the decoded prompt.
			full := tok.Decode(append(slices.Clone(c.InputIDs), got...), true)
			if text := strings.TrimPrefix(full, tok.Decode(c.InputIDs, true)); text != c.GreedyText {
				t.Fatalf("greedy text %q\nwant %q", text, c.GreedyText)
			}
		})
	}
}
