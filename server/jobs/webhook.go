package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sotasystems/sota/store"
)

// Webhook request headers.
const (
	HeaderSignature = "X-Sota-Signature" // "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">"
	HeaderEvent     = "X-Sota-Event"     // job.finished, job.failed, job.timeout, job.cancelled
	HeaderDelivery  = "X-Sota-Delivery"  // the delivery's id: the same on each retry
)

// NewWebhookSecret makes a signing secret: "whsec_" and 256 random bits.
func NewWebhookSecret() (string, error) {
	var b [32]byte
	if _, err := crand.Read(b[:]); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Sign is the X-Sota-Signature value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + signature(secret, ts, body)
}

func signature(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks an X-Sota-Signature header against body: the signature
// must match and its time be within tolerance of now.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range bytes.Split([]byte(header), []byte(",")) {
		k, v, _ := bytes.Cut(bytes.TrimSpace(part), []byte("="))
		switch string(k) {
		case "t":
			ts = string(v)
		case "v1":
			sig = string(v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("malformed %s header", HeaderSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature time %s is outside the tolerance", time.Unix(sec, 0).UTC())
	}
	if !hmac.Equal([]byte(sig), []byte(signature(secret, ts, body))) {
		return fmt.Errorf("signature does not match")
	}
	return nil
}

// webhookLoop sends due deliveries, retrying failures with doubling delays.
func (s *Service) webhookLoop() {
	for {
		s.deliverDue()
		wait := time.Minute
		if next, err := s.db.NextDelivery(s.ctx); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(s.cfg.Now()), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.kickWH:
			t.Stop()
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
}

// deliverDue attempts every due delivery, a few at a time.
func (s *Service) deliverDue() {
	for s.ctx.Err() == nil {
		due, err := s.db.DueDeliveries(s.ctx, s.cfg.Now(), 64)
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Error("jobs: webhook deliveries unreadable", "err", err)
			}
			return
		}
		if len(due) == 0 {
			return
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, d := range due {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				s.attempt(d)
			})
		}
		wg.Wait()
	}
}

// attempt sends one delivery and records the outcome.
func (s *Service) attempt(d store.Delivery) {
	secret, err := s.db.WebhookSecret(s.ctx, d.Tenant, NewWebhookSecret)
	if err != nil {
		s.log.Error("jobs: webhook secret unavailable", "tenant", d.Tenant, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.WebhookClient.Timeout+time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	d.Attempts++
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "sota-webhooks")
		req.Header.Set(HeaderEvent, d.Event)
		req.Header.Set(HeaderDelivery, d.ID)
		req.Header.Set(HeaderSignature, Sign(secret, s.cfg.Now(), d.Payload))
		var resp *http.Response
		if resp, err = s.cfg.WebhookClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			d.LastStatus = resp.StatusCode
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				err = fmt.Errorf("the receiver answered %d", resp.StatusCode)
			}
		}
	}
	if s.ctx.Err() != nil {
		return // shutting down: the attempt does not count; the next start sends it
	}
	now := s.cfg.Now()
	if err == nil {
		d.Delivered, d.LastError = now, ""
	} else {
		d.LastError = err.Error()
		if d.Attempts >= s.cfg.WebhookAttempts {
			d.Failed = true
			s.log.Warn("jobs: webhook given up", "job", d.JobID, "url", d.URL, "attempts", d.Attempts, "err", err)
		} else {
			d.NextAt = now.Add(s.cfg.WebhookBackoff << (d.Attempts - 1))
		}
	}
	if err := s.db.RecordDelivery(context.WithoutCancel(s.ctx), d); err != nil {
		s.log.Error("jobs: webhook delivery not recorded", "delivery", d.ID, "err", err)
	}
}
