// Package tokenizer turns text into token ids and back for the models sota
// serves, and renders chat messages into prompts. It reads Hugging Face
// tokenizer.json files (byte-level BPE as in Llama 3 and Qwen, and
// SentencePiece-style BPE with byte fallback as in Llama 2 and Mistral) plus
// the optional tokenizer_config.json, and gives the same ids and text as the
// Hugging Face `tokenizers` library. A folder without tokenizer.json may hold
// a SentencePiece tokenizer.model (or tokenizer.model.v3 and the like).
//
// What it owns:
//   - Load/LoadFS: parsing tokenizer.json into a pipeline of added tokens,
//     normalizer, pre-tokenizer, BPE model, post-processor and decoder. Every
//     component type, option or Split pattern it does not implement is a load
//     error (ErrUnsupported) naming the component; it never guesses.
//   - SentencePiece (spmproto.go, spm.go): the ModelProto is read with
//     protowire; BPE models encode with SentencePiece's own algorithm (merge
//     the highest-scoring adjacent pair, byte fallback, dummy prefix,
//     "▁" for spaces), with control pieces as special tokens cut out of the
//     text first and the dummy prefix only at the start of the input, as
//     transformers' LlamaTokenizer (legacy=False) and mistral-common do.
//     Unigram models and normalization rules are ErrUnsupported.
//   - Chat templates (chat*.go): LoadTemplate reads chat_template.jinja,
//     additional_chat_templates/ or tokenizer_config.json's chat_template and
//     Template.Render renders like transformers' apply_chat_template, with
//     gonja set up like its Jinja2 environment: trim_blocks, lstrip_blocks,
//     loop controls, tojson = json.dumps, dicts in insertion order, Python's
//     str/dict methods, str + Markup escaping (|safe), raise_exception as a
//     *TemplateError (ErrTemplateException), strftime_now on an injected
//     clock. Parse and render failures, panics included, are ErrTemplate.
//     Python None and an undefined variable are the same here ("is defined"
//     is false for both), which the real templates never tell apart.
//   - Encode/Decode with the semantics of tokenizers' encode(text,
//     add_special_tokens) and decode(ids, skip_special_tokens).
//   - Decoder: incremental detokenization for streaming, emitting only
//     complete UTF-8.
//
// Regular expressions: the Split patterns of GPT-2, Llama 3 and Qwen 2/3 use
// look-ahead and Unicode classes that Go's regexp lacks, so each known
// pattern string is recognised exactly and run by a hand-written scanner
// (scan.go) that reproduces Oniguruma's leftmost-first backtracking result.
//
// Unicode data: the reference's regex engine classifies letters and numbers
// by Unicode 16, and its normalizer uses older tables than Go's; unicode.go
// and normalizer.go adjust Go's Unicode 15 tables to both (a test fails when
// Go's tables change, as the adjustments must then be derived again).
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
//   - Added tokens get the ids the reference library gives them on load (the
//     id of the same text in the vocabulary, else the next free id), whatever
//     id tokenizer.json writes for them.
//   - Decode skips ids outside the vocabulary, like the reference library.
//   - Every string a Decoder returns is valid UTF-8. The concatenation of its
//     Add results and Flush equals Decode of all the ids for byte-level
//     tokenizers and for any ids that Encode produced; it can differ only
//     where a run of <0xNN> byte tokens is not UTF-8: Decode then turns every
//     byte of the whole run into U+FFFD, while the stream may already have
//     emitted the run's valid characters.
//
// Tests: differential tests run the Python reference (testdata/oracle.py with
// tokenizers, sentencepiece and jinja2 from the project's .venv, made by
// `make pyenv`) on 5,000 generated strings per tokenizer and on every real
// chat template; without the venv they skip, except under CI, where they fail.
//
// Files: Load reads tokenizer.json, and when present tokenizer_config.json
// (bos_token, eos_token, and add_bos_token/add_eos_token for files without a
// post-processor) and generation_config.json (eos_token_id, added to EOS).
package tokenizer
