// Package sse reads server-sent events (the text/event-stream format of the
// WHATWG HTML standard) from a response body, one event at a time, so the
// caller can timestamp each event as it arrives.
//
// Lines end in "\n", "\r\n" or "\r"; "data:" lines are joined with "\n";
// lines starting with ":" are comments; an empty line dispatches the event.
// Unlike the standard, data still pending at the end of the stream is
// dispatched rather than dropped, since some servers omit the last blank
// line. A Reader is not safe for concurrent use.
package sse
