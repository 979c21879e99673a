// Package signing is the one HMAC scheme of Patchbay's webhooks, both ways:
// notification webhooks and webhook destinations sign what they send with
// it, and the webhook bridge checks what it receives with it. The signature
// is HMAC-SHA256 over "<timestamp>.<body>", hex-encoded, so a receiver can
// check both who sent a request and that it is fresh (reject old timestamps).
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
)

// Headers of a signed request.
const (
	HeaderSignature = "X-Patchbay-Signature" // sha256=<hex>
	HeaderTimestamp = "X-Patchbay-Timestamp" // Unix seconds
	HeaderEvent     = "X-Patchbay-Event"     // what the body is about (row.created, connection.red…)
	HeaderDelivery  = "X-Patchbay-Delivery"  // unique per delivery, the same across its retries
)

// Sign returns the signature header value of body sent at ts (Unix seconds).
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header for body sent at ts, in constant time.
func Verify(secret []byte, ts int64, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}

// SetHeaders puts the timestamp, the signature, the event and the delivery id
// of a JSON body sent at ts on h.
func SetHeaders(h http.Header, secret []byte, ts int64, body []byte, event, delivery string) {
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Patchbay-Webhook/1")
	h.Set(HeaderEvent, event)
	h.Set(HeaderDelivery, delivery)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(secret, ts, body))
}
