package fakekit

import (
	"bytes"
	"net/http"
	"sync"
	"time"
)

// DefaultRetryWaits are the waits before each redelivery of a failed
// webhook. Providers spread theirs over hours (Shopify: 8 tries in 4 hours);
// a fake compresses them so that a test or the demo sees the retries.
var DefaultRetryWaits = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}

// Hook is one webhook delivery: the same URL, headers and body on every
// attempt (so the delivery id in a header stays the same across retries).
type Hook struct {
	URL    string
	Header http.Header
	Body   []byte
	// Method defaults to POST.
	Method string
	// Done, when set, is told how the delivery ended: delivered (2xx) or
	// given up after the last retry.
	Done func(delivered bool)
}

// DeliveryStats count a Deliverer's work.
type DeliveryStats struct {
	Attempts  int64 `json:"attempts"`
	Delivered int64 `json:"delivered"`
	Retried   int64 `json:"retried"`
	GaveUp    int64 `json:"gave_up"`
}

// Deliverer posts webhooks the way providers do: in the background, retried
// with backoff on a transport error or a non-2xx answer.
type Deliverer struct {
	client *http.Client
	waits  []time.Duration

	mu    sync.Mutex
	stats DeliveryStats
	wg    sync.WaitGroup
}

// NewDeliverer returns a Deliverer; nil client: one with a 10 s timeout,
// nil waits: DefaultRetryWaits.
func NewDeliverer(client *http.Client, waits []time.Duration) *Deliverer {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if waits == nil {
		waits = DefaultRetryWaits
	}
	return &Deliverer{client: client, waits: waits}
}

// Send delivers h in the background.
func (d *Deliverer) Send(h Hook) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ok := d.deliver(h)
		if h.Done != nil {
			h.Done(ok)
		}
	}()
}

func (d *Deliverer) deliver(h Hook) bool {
	method := h.Method
	if method == "" {
		method = http.MethodPost
	}
	for attempt := 0; ; attempt++ {
		if d.attempt(method, h) {
			return true
		}
		if attempt >= len(d.waits) {
			d.count(func(s *DeliveryStats) { s.GaveUp++ })
			return false
		}
		d.count(func(s *DeliveryStats) { s.Retried++ })
		time.Sleep(d.waits[attempt])
	}
}

func (d *Deliverer) attempt(method string, h Hook) bool {
	d.count(func(s *DeliveryStats) { s.Attempts++ })
	req, err := http.NewRequest(method, h.URL, bytes.NewReader(h.Body))
	if err != nil {
		return false
	}
	for k, v := range h.Header {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return false
	}
	d.count(func(s *DeliveryStats) { s.Delivered++ })
	return true
}

// Post delivers one request now, without retries, and returns its status
// (a provider's check of a URL before it accepts it, as Mailchimp's).
func (d *Deliverer) Post(method string, h Hook) (int, error) {
	req, err := http.NewRequest(method, h.URL, bytes.NewReader(h.Body))
	if err != nil {
		return 0, err
	}
	for k, v := range h.Header {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *Deliverer) count(f func(*DeliveryStats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}

// Stats returns the counters.
func (d *Deliverer) Stats() DeliveryStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Wait returns once every delivery sent so far has ended.
func (d *Deliverer) Wait() { d.wg.Wait() }
