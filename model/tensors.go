package model

import (
	"fmt"
	"strings"
)

// TensorKind says what role a tensor plays, for initialisation and for
// backends that treat kinds differently (e.g. quantise only matrices).
type TensorKind int

// Tensor kinds.
const (
	KindMatrix    TensorKind = iota // a projection, [out, in]
	KindEmbedding                   // token embedding or LM head, [vocab, hidden]
	KindNorm                        // an RMSNorm weight, [hidden]
	KindBias                        // a projection bias, [out]
)

// role is which field of Weights (or of a Layer) a tensor fills.
type role int

const (
	roleEmbed role = iota
	roleNorm
	roleLMHead
	roleAttnNorm
	roleQ
	roleK
	roleV
	roleO
	roleQBias
	roleKBias
	roleVBias
	roleOBias
	roleMLPNorm
	roleGate
	roleUp
	roleDown
	roleGateBias
	roleUpBias
	roleDownBias
)

// TensorSpec names one tensor a checkpoint of the config must hold.
type TensorSpec struct {
	Name  string // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
	Shape []int  // row-major, [out, in] for matrices
	Kind  TensorKind
	Layer int // decoder layer, -1 for embed, final norm and LM head
	role  role
}

// ExpectedTensors lists every tensor a checkpoint of this config holds, in
// Hugging Face order (embedding, layers, final norm, LM head). Tied
// checkpoints have no lm_head.weight. The config must be valid.
func (c *Config) ExpectedTensors() []TensorSpec {
	if c.NumLayers < 0 || c.NumLayers > maxLayers {
		return nil
	}
	hidden, inter, vocab := c.HiddenSize, c.IntermediateSize, c.VocabSize
	qDim, kvDim := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	specs := make([]TensorSpec, 0, 2+c.NumLayers*16+1)
	add := func(name string, kind TensorKind, layer int, r role, shape ...int) {
		specs = append(specs, TensorSpec{Name: name, Shape: shape, Kind: kind, Layer: layer, role: r})
	}
	add("model.embed_tokens.weight", KindEmbedding, -1, roleEmbed, vocab, hidden)
	for i := 0; i < c.NumLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", KindNorm, i, roleAttnNorm, hidden)
		// proj adds a projection's weight [out, in] and, when the config has
		// one, its bias [out].
		proj := func(name string, weight, bias role, hasBias bool, out, in int) {
			add(p+name+".weight", KindMatrix, i, weight, out, in)
			if hasBias {
				add(p+name+".bias", KindBias, i, bias, out)
			}
		}
		proj("self_attn.q_proj", roleQ, roleQBias, c.AttentionBias, qDim, hidden)
		proj("self_attn.k_proj", roleK, roleKBias, c.AttentionBias, kvDim, hidden)
		proj("self_attn.v_proj", roleV, roleVBias, c.AttentionBias, kvDim, hidden)
		proj("self_attn.o_proj", roleO, roleOBias, c.AttentionOutBias, hidden, qDim)
		add(p+"post_attention_layernorm.weight", KindNorm, i, roleMLPNorm, hidden)
		proj("mlp.gate_proj", roleGate, roleGateBias, c.MLPBias, inter, hidden)
		proj("mlp.up_proj", roleUp, roleUpBias, c.MLPBias, inter, hidden)
		proj("mlp.down_proj", roleDown, roleDownBias, c.MLPBias, hidden, inter)
	}
	add("model.norm.weight", KindNorm, -1, roleNorm, hidden)
	if !c.TieWordEmbeddings {
		add("lm_head.weight", KindEmbedding, -1, roleLMHead, vocab, hidden)
	}
	return specs
}

// NumParams is the number of parameters of the model (the tied LM head
// counted once), as transformers' num_parameters() reports it.
func (c *Config) NumParams() int64 {
	var n int64
	for _, s := range c.ExpectedTensors() {
		e := int64(1)
		for _, d := range s.Shape {
			e *= int64(d)
		}
		n += e
	}
	return n
}

// harmlessExtra reports whether a tensor outside ExpectedTensors may be
// ignored: precomputed rotary frequencies, and the LM head of a checkpoint
// whose config ties it to the embedding.
func (c *Config) harmlessExtra(name string) bool {
	if name == "rotary_emb.inv_freq" || strings.HasSuffix(name, ".rotary_emb.inv_freq") {
		return true
	}
	return name == "lm_head.weight" && c.TieWordEmbeddings
}

// set stores t in the field s names; Layers must already have NumLayers entries.
func (w *Weights) set(s TensorSpec, t *Tensor) {
	switch s.role {
	case roleEmbed:
		w.Embed = t
		return
	case roleNorm:
		w.Norm = t
		return
	case roleLMHead:
		w.LMHead = t
		return
	}
	if s.Layer < 0 || s.Layer >= len(w.Layers) {
		return
	}
	l := &w.Layers[s.Layer]
	var f **Tensor
	switch s.role {
	case roleAttnNorm:
		f = &l.AttnNorm
	case roleQ:
		f = &l.Q
	case roleK:
		f = &l.K
	case roleV:
		f = &l.V
	case roleO:
		f = &l.O
	case roleQBias:
		f = &l.QBias
	case roleKBias:
		f = &l.KBias
	case roleVBias:
		f = &l.VBias
	case roleOBias:
		f = &l.OBias
	case roleMLPNorm:
		f = &l.MLPNorm
	case roleGate:
		f = &l.Gate
	case roleUp:
		f = &l.Up
	case roleDown:
		f = &l.Down
	case roleGateBias:
		f = &l.GateBias
	case roleUpBias:
		f = &l.UpBias
	case roleDownBias:
		f = &l.DownBias
	default:
		return
	}
	*f = t
}

// bind fills Weights from tensors by name; every spec must be present.
func bind(c *Config, specs []TensorSpec, byName map[string]*Tensor) Weights {
	w := Weights{Layers: make([]Layer, c.NumLayers)}
	for _, s := range specs {
		w.set(s, byName[s.Name])
	}
	if c.TieWordEmbeddings {
		w.LMHead = w.Embed
	}
	return w
}
