// Package tokenizer turns text into token ids and back for the models sota
// serves. It reads Hugging Face tokenizer.json files (byte-level BPE as in
// Llama 3 and Qwen, and SentencePiece-style BPE with byte fallback as in
// Llama 2 and Mistral) plus the optional tokenizer_config.json, and gives the
// same ids and text as the Hugging Face `tokenizers` library.
//
// What it owns:
//   - Load/LoadFS: parsing tokenizer.json into a pipeline of added tokens,
//     normalizer, pre-tokenizer, BPE model, post-processor and decoder. Every
//     component type, option or Split pattern it does not implement is a load
//     error (ErrUnsupported) naming the component; it never guesses.
//   - Encode/Decode with the semantics of tokenizers' encode(text,
//     add_special_tokens) and decode(ids, skip_special_tokens).
//   - Decoder: incremental detokenization for streaming, emitting only
//     complete UTF-8.
//
// Regular expressions: the Split patterns of GPT-2, Llama 3 and Qwen 2/3 use
// look-ahead and Unicode classes that Go's regexp lacks, so each known
// pattern string is recognised exactly and run by a hand-written scanner
// (scan.go) that reproduces Oniguruma's leftmost-first backtracking result.
// Letter/number classes follow Unicode 16 as the reference library does.
//
// Concurrency: a *Tokenizer is immutable after Load and safe for concurrent
// use by any number of goroutines (the BPE word cache is a concurrent map). A
// *Decoder holds one stream's state and must not be shared between
// goroutines.
//
// Invariants:
//   - Encode never panics and accepts any string; invalid UTF-8 is first
//     replaced the way Rust's String::from_utf8_lossy does (one U+FFFD per
//     maximal ill-formed subsequence).
//   - Decode skips ids outside the vocabulary, like the reference library.
//   - Every string a Decoder returns is valid UTF-8, and for id streams whose
//     byte tokens form valid UTF-8 the concatenation of Add results and Flush
//     equals Decode of all the ids.
package tokenizer
