// Package testmodels locates the shared test checkpoints and tokenizers
// (../shared/models beside the repository) and the repository's testdata/.
//
// Tests call Dir or Path; when the shared directory is absent they skip with
// a message saying where it was looked for. SOTA_SHARED_MODELS overrides the
// location.
package testmodels
