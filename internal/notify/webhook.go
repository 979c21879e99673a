package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"patchbay/internal/signing"
)

// Headers of a webhook delivery (package signing has the scheme).
const (
	HeaderSignature = signing.HeaderSignature // sha256=<hex>
	HeaderTimestamp = signing.HeaderTimestamp // Unix seconds
	HeaderEvent     = signing.HeaderEvent
	HeaderDelivery  = signing.HeaderDelivery
)

// Sign returns the signature header value of body sent at ts.
func Sign(secret []byte, ts int64, body []byte) string { return signing.Sign(secret, ts, body) }

// Verify checks a signature header for body sent at ts (receivers' side; tests).
func Verify(secret []byte, ts int64, body []byte, signature string) bool {
	return signing.Verify(secret, ts, body, signature)
}

// WebhookConfig tunes webhook deliveries.
type WebhookConfig struct {
	// AllowPrivate lets webhooks reach loopback and private networks. Off by
	// default: webhook URLs are user input, and Patchbay must not become a way
	// into the network it runs in. Tests and the demo turn it on.
	AllowPrivate bool
	// Attempts per delivery, the first included. Default 5.
	Attempts int
	// Timeout of one attempt. Default 10 s.
	Timeout time.Duration
	// BackoffBase is the first retry's wait before jitter. Default 1 s.
	BackoffBase time.Duration
}

func (c *WebhookConfig) defaults() {
	if c.Attempts <= 0 {
		c.Attempts = 5
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
}

// ErrForbiddenAddress is returned when a webhook URL resolves to a network
// Patchbay may not call.
var ErrForbiddenAddress = errors.New("the webhook address is on a loopback, private or otherwise internal network; Patchbay only calls public addresses (set PATCHBAY_NOTIFY_ALLOW_PRIVATE=true to allow internal ones)")

// publicOnly is a net.Dialer Control function: it runs after name resolution,
// on the address actually dialled, so DNS tricks cannot slip past it.
func publicOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrForbiddenAddress)
	}
	if !publicAddr(ip) {
		return fmt.Errorf("dial %s: %w", address, ErrForbiddenAddress)
	}
	return nil
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !cgnat.Contains(ip)
}

// CheckURL validates a webhook URL given by a user: absolute http(s) with a
// host, and, unless private networks are allowed, not a literal internal IP.
// Names are checked again at dial time.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http:// or https:// URL, like https://hooks.slack.com/services/…")
	}
	if u.User != nil {
		return errors.New("put no credentials in the URL; the signature header authenticates Patchbay")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate && !publicAddr(ip) {
		return ErrForbiddenAddress
	}
	if !allowPrivate && u.Hostname() == "localhost" {
		return ErrForbiddenAddress
	}
	return nil
}

// poster delivers signed JSON with retries.
type poster struct {
	c      WebhookConfig
	client *http.Client
	now    func() time.Time
}

func newPoster(c WebhookConfig, now func() time.Time) *poster {
	c.defaults()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !c.AllowPrivate {
		d.Control = publicOnly
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us and bypass the guard
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: c.Timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
	}
	return &poster{c: c, now: now, client: &http.Client{Transport: tr, Timeout: c.Timeout,
		// A redirect would lead somewhere the user did not configure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// post sends body to target, retrying network failures, 429 and 5xx with
// jittered exponential backoff (honouring Retry-After), and gives up on other
// answers at once. It returns the number of attempts made.
func (p *poster) post(ctx context.Context, target, event, delivery string, secret, body []byte) (int, error) {
	var last error
	for attempt := 1; ; attempt++ {
		retry, wait, err := p.attempt(ctx, target, event, delivery, secret, body)
		if err == nil {
			return attempt, nil
		}
		last = err
		if !retry || attempt >= p.c.Attempts {
			return attempt, last
		}
		d := p.c.BackoffBase << (attempt - 1)
		d = d/2 + rand.N(d/2+1)
		d = max(d, wait)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt, errors.Join(last, ctx.Err())
		case <-t.C:
		}
	}
}

func (p *poster) attempt(ctx context.Context, target, event, delivery string, secret, body []byte) (retry bool, wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false, 0, fmt.Errorf("webhook: %w", err)
	}
	signing.SetHeaders(req.Header, secret, p.now().Unix(), body, event, delivery)
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrForbiddenAddress) {
			return false, 0, fmt.Errorf("webhook: %w", ErrForbiddenAddress)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a secret path (Slack): keep it out of logs
		}
		return true, 0, fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		wait := time.Duration(0)
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = min(time.Duration(s)*time.Second, time.Minute)
		}
		return true, wait, fmt.Errorf("webhook: the receiver answered %d", resp.StatusCode)
	}
	return false, 0, fmt.Errorf("webhook: the receiver answered %d", resp.StatusCode)
}
