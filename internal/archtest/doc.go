// Package archtest holds the test that keeps the import graph to the
// directions DESIGN.md §2 allows. It has no code of its own.
package archtest
