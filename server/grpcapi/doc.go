// Package grpcapi serves the models over gRPC (proto/sota/v1): Generate
// (server-streamed deltas of text, token ids and logprobs), Abort,
// ListModels, Tokenize and Detokenize, with grpc.health.v1 and server
// reflection beside them.
//
// It owns the protobuf edge only. A Generate runs through the HTTP API's
// own request path (validation, chat templates, tokenization, admission,
// sampling, usage) behind the Generator interface, which cmd/sota
// implements with openai.Server.Do: the package builds the OpenAI request
// body from the protobuf one and turns the handler's deltas and reply back
// into messages and status codes (one table, errors.go).
//
// Concurrency: every RPC runs on its own goroutine (grpc-go's). The
// running-request table (Abort's) is guarded by a mutex; a Generator's
// Deltas hook is called from one goroutine at a time, which is the RPC's
// stream's only sender.
//
// Invariants: every Generate authenticates through the same
// admission.Authenticator as HTTP and takes its slot through the same
// Admitter (inside the Generator); an RPC's context ending (client cancel,
// deadline, Abort, server stop) aborts its sequences and frees the slot;
// after Drain no new RPC starts (UNAVAILABLE) and health is NOT_SERVING.
package grpcapi
