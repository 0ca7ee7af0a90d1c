package fakeoai

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// Pipe serves a handler over in-memory connections (net.Pipe). Client
// returns an http.Client that dials it; Close stops the server and waits
// for its goroutines, so a synctest bubble can end.
type Pipe struct {
	srv    *http.Server
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
	served chan struct{}
	tr     *http.Transport
}

// NewPipe starts serving h.
func NewPipe(h http.Handler) *Pipe {
	p := &Pipe{srv: &http.Server{Handler: h}, conns: make(chan net.Conn), done: make(chan struct{}), served: make(chan struct{})}
	p.tr = &http.Transport{DialContext: p.dial, MaxIdleConnsPerHost: 1 << 16, DisableCompression: true}
	go func() {
		defer close(p.served)
		_ = p.srv.Serve(pipeListener{p})
	}()
	return p
}

// Client returns a client whose every connection goes to the pipe's server,
// whatever the URL's host.
func (p *Pipe) Client() *http.Client { return &http.Client{Transport: p.tr} }

// Close shuts the server and the client's connections down.
func (p *Pipe) Close() {
	p.tr.CloseIdleConnections()
	_ = p.srv.Close()
	p.once.Do(func() { close(p.done) })
	<-p.served
}

func (p *Pipe) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case p.conns <- s:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeListener struct{ p *Pipe }

func (l pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.p.conns:
		return c, nil
	case <-l.p.done:
		return nil, net.ErrClosed
	}
}

func (l pipeListener) Close() error {
	l.p.once.Do(func() { close(l.p.done) })
	return nil
}

func (pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
