// Command testsummary reads `go test -json` on stdin and prints what a
// plain `go test` prints (a line per package, the output of failing tests),
// appending every skipped test and its reason to -skips. With -report it
// prints instead the skipped tests of those files grouped by reason, so that
// `make test` ends by saying what it did not run and why. It exits 1 when a
// test or a build failed, or when no package was tested.
//
// It is single-threaded and reads its input once; it imports only the
// standard library, so the Makefile can build it before anything else.
package main
