package model

// Arch is a supported decoder architecture.
type Arch string

// Supported architectures and the Hugging Face class names that select them.
const (
	Llama   Arch = "llama"   // LlamaForCausalLM
	Mistral Arch = "mistral" // MistralForCausalLM
	Qwen2   Arch = "qwen2"   // Qwen2ForCausalLM
)

// Config is the architecture of a checkpoint, read from config.json (or made
// by hand for --random-weights). Fields are in Hugging Face's vocabulary.
type Config struct {
	Architecture          string // e.g. "LlamaForCausalLM"
	Arch                  Arch
	HiddenSize            int
	IntermediateSize      int
	NumLayers             int
	NumHeads              int
	NumKVHeads            int
	HeadDim               int // explicit head_dim, else HiddenSize/NumHeads
	VocabSize             int
	MaxPositionEmbeddings int
	RMSNormEps            float64
	RopeTheta             float64
	RopeScaling           *RopeScaling // nil = plain RoPE
	// SlidingWindow is the attention window in tokens (a query at position i
	// sees keys at positions > i-SlidingWindow); 0 = full attention.
	// WindowLayers, when non-nil, says per layer whether the window applies
	// (Qwen2's use_sliding_window/max_window_layers); nil = every layer.
	SlidingWindow     int
	WindowLayers      []bool
	AttentionBias     bool // q/k/v projections have biases (Qwen2 always; Llama attention_bias)
	AttentionOutBias  bool // o_proj has a bias (Llama attention_bias)
	MLPBias           bool // gate/up/down have biases (Llama mlp_bias)
	TieWordEmbeddings bool
	BOSTokenID        int32   // -1 when absent
	EOSTokenIDs       []int32 // all of config.json's eos_token_id
	TorchDType        string  // "float32", "float16", "bfloat16" as declared
}

// RopeScaling is config.json's rope_scaling (or transformers v5's rope_parameters).
type RopeScaling struct {
	Type                          string  // "llama3" or "linear"
	Factor                        float64 // both types
	LowFreqFactor                 float64 // llama3
	HighFreqFactor                float64 // llama3
	OriginalMaxPositionEmbeddings int     // llama3
}

// GenerationConfig is generation_config.json: the defaults a model ships with.
type GenerationConfig struct {
	BOSTokenID  int32   // -1 when absent
	EOSTokenIDs []int32 // every id that ends generation
	Temperature *float64
	TopP        *float64
	TopK        *int
	DoSample    bool
	MaxLength   int // 0 when absent

	MaxNewTokens      int      // 0 when absent
	RepetitionPenalty *float64 // nil when absent
}

// Layer holds the tensors of one decoder layer. Shapes are Hugging Face's
// [out, in] row-major; optional tensors are nil when the config has none.
type Layer struct {
	AttnNorm *Tensor // [hidden]
	Q        *Tensor // [heads*headDim, hidden]
	K        *Tensor // [kvHeads*headDim, hidden]
	V        *Tensor // [kvHeads*headDim, hidden]
	O        *Tensor // [hidden, heads*headDim]
	QBias    *Tensor // [heads*headDim]
	KBias    *Tensor // [kvHeads*headDim]
	VBias    *Tensor // [kvHeads*headDim]
	OBias    *Tensor // [hidden]
	MLPNorm  *Tensor // [hidden] (post_attention_layernorm)
	Gate     *Tensor // [intermediate, hidden]
	Up       *Tensor // [intermediate, hidden]
	Down     *Tensor // [hidden, intermediate]
	GateBias *Tensor // [intermediate]
	UpBias   *Tensor // [intermediate]
	DownBias *Tensor // [hidden]
}

// Weights are all tensors of a checkpoint, by role.
type Weights struct {
	Embed  *Tensor // [vocab, hidden]
	Layers []Layer
	Norm   *Tensor // [hidden]
	LMHead *Tensor // [vocab, hidden]; the same *Tensor as Embed when tied
}
