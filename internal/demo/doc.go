// Package demo embeds the built-in demo model: stories260K, a 260K-parameter
// Llama-architecture model trained on TinyStories (MIT, see
// stories260k/LICENSE), in Hugging Face layout. It lets `sota` generate text
// with no download.
package demo
