// Package sotav1 is the generated Go code of proto/sota/v1/inference.proto:
// the sota.v1.InferenceService messages and gRPC stubs (Generate, Abort,
// ListModels, Tokenize, Detokenize). Only the .proto is written by hand;
// `make proto` regenerates the .pb.go files and `make proto-check` (in CI)
// fails when they are stale. It imports nothing of this module; server/grpcapi
// implements the service.
package sotav1
