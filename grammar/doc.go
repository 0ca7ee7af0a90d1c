// Package grammar owns structured outputs: it compiles a JSON Schema (or
// "any JSON object") into an automaton over bytes and, step by step, the
// mask of the tokens a model may sample next so that its output stays a
// prefix of a document the schema accepts.
//
// # Automaton
//
// A Grammar is a set of rules, each a nondeterministic byte automaton whose
// transitions may also call another rule (a recursive transition network,
// so recursive $refs and nested values are context-free, not bounded). The
// schema compiler (schema.go, compose.go, strings.go) turns every object,
// array or combinator schema into a rule; scalars are laid out in place.
// Objects are written with their properties in the schema's order
// (optional ones skippable, additional properties after them under keys
// that differ from the declared ones), arrays within minItems..maxItems,
// strings within minLength..maxLength or by pattern (Go's regexp/syntax
// parser, compiled here to bytes of JSON-escaped UTF-8), integers within
// their bounds exactly. Whitespace between tokens is bounded by
// Options.Whitespace so a model cannot emit it forever.
//
// Keywords are in three classes. Enforced: type, enum, const, properties,
// required, additionalProperties, items, prefixItems, additionalItems,
// minItems/maxItems, minLength/maxLength, pattern, the formats in
// formats (date, time, date-time, uuid, ipv4, email, hostname),
// integer minimum/maximum/exclusive*, anyOf, allOf (merged), local $ref.
// Relaxed (accepted, not enforced, listed in Grammar.Relaxed): oneOf's
// exclusivity, uniqueItems, multipleOf, dependencies, non-integer bounds
// (only the sign), min/maxProperties beyond what the layout implies, other
// formats, counts above the unrolling limits. Unsupported (compile error
// wrapping ErrUnsupported): not, if/then/else, contains, propertyNames,
// patternProperties, unevaluated*, remote $refs, left recursion.
//
// # Masks
//
// The parser state is a set of configurations (a consuming node and an
// interned return stack). A node's mask is computed once per grammar, on
// first use, by walking the Vocab's token trie from that node alone on an
// empty stack: tokens whose bytes stay inside the node's rule are accepted
// or rejected for good; tokens that end the rule part way ("uncertain",
// typically a closing quote followed by more bytes) are recorded with the
// offset at which they leave it. At run time Allowed ORs the cached masks
// of the current configurations and checks only the uncertain tokens'
// remaining bytes against the real stack, so a step costs a few bitset
// ORs plus a check per uncertain token, not a walk of the vocabulary.
//
// # Concurrency
//
// Vocab and Grammar are immutable apart from the mask cache, which is
// filled with atomic pointers (a race computes a mask twice, harmlessly):
// both are safe for concurrent use. A Matcher follows one output and
// belongs to one goroutine (the engine loop).
//
// # Invariants
//
//   - Allowed is exact: a token's bit is set iff Accept would accept it
//     (EOS iff the output so far is complete); it is never empty (a
//     matcher with no way forward allows EOS).
//   - A sentence of the grammar is valid JSON accepted by the schema,
//     except for the keywords listed in Relaxed.
//   - Nothing here starts goroutines or reads clocks; the package imports
//     only tokenizer of ours.
package grammar
