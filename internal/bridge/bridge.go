// Package bridge is the webhook bridge (the Zapier / Make route): each table
// can have inbound URLs that create rows, or update them matched by a
// column, from posted JSON. A URL carries a secret token (stored hashed,
// shown once); a URL made "signed" also demands an HMAC-SHA256 signature of
// the body with a timestamp, so a leaked URL alone cannot write and a
// captured request cannot be replayed later.
package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/signing"
	"patchbay/internal/store"
	"patchbay/internal/tables"
	"patchbay/internal/vault"
)

// Request headers of signed hooks.
const (
	TimestampHeader = signing.HeaderTimestamp // Unix seconds
	SignatureHeader = signing.HeaderSignature // sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
	// IdempotencyHeader names a delivery: a second request with the same key
	// within IdempotencyWindow writes nothing (signed or not).
	IdempotencyHeader = "Idempotency-Key"
)

// Limits.
const (
	MaxBody = 1 << 20 // bytes of one request
	MaxSkew = 5 * time.Minute
	// IdempotencyWindow is how long an idempotency key is remembered.
	IdempotencyWindow = 24 * time.Hour
	// maxIdempotencyKey bounds the header's length.
	maxIdempotencyKey = 255
	// SourceID names the bridge in row sources: rows it matched or created are
	// linked to their match value under the match column's name.
	SourceID = "bridge"
)

// Errors of Receive; the API maps them to statuses.
var (
	ErrUnknownHook  = errors.New("no webhook with this URL; it may have been deleted")
	ErrBadSignature = errors.New("the request's signature does not verify: send " + TimestampHeader + " (Unix seconds, within 5 minutes) and " +
		SignatureHeader + ": sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\" keyed with the signing secret>")
	// ErrReplayed: the same signed request, or the same idempotency key, was
	// accepted before; nothing was written again.
	ErrReplayed   = errors.New("this request was accepted before (same signature or " + IdempotencyHeader + "); nothing was written again")
	ErrBadIdemKey = errors.New(IdempotencyHeader + " must be at most 255 printable characters")
)

// PayloadError says the body is not JSON the bridge reads.
type PayloadError struct{ Msg string }

func (e *PayloadError) Error() string { return e.Msg }

// Service creates hooks and receives their requests.
type Service struct {
	Store *store.Store
	Vault *vault.Vault
	// RowsChanged is told about the tables a request wrote (enrichment and
	// outbound realtime syncs react).
	RowsChanged func(tableID string)
	Now         func() time.Time // default time.Now
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Created is a new hook with its secrets, which are shown only this once.
type Created struct {
	Hook          *store.Hook
	Token         string
	SigningSecret string // "" when unsigned
}

// Create makes an inbound URL for a table.
func (s *Service) Create(ctx context.Context, ws *store.Workspace, tableID, matchColumn string, signed bool) (*Created, error) {
	tb, err := s.Store.GetTable(ctx, ws.ID, tableID)
	if err != nil {
		return nil, err
	}
	if matchColumn != "" && !slices.ContainsFunc(tb.Columns, func(c store.Column) bool { return c.Name == matchColumn }) {
		return nil, &connection.ValidationError{Fields: []catalog.FieldError{{Field: "match_column", Message: fmt.Sprintf("no column %q in the table", matchColumn)}}}
	}
	out := &Created{Token: "pbh_" + random()}
	h := &store.Hook{WorkspaceID: ws.ID, TableID: tb.ID, TokenHash: connection.HashToken(out.Token), MatchColumn: matchColumn}
	h.ID = store.NewID("hook")
	if signed {
		out.SigningSecret = "pbs_" + random()
		if h.Secret, err = s.Vault.Seal([]byte(out.SigningSecret), []byte(h.ID)); err != nil {
			return nil, err
		}
	}
	if err := s.Store.CreateHook(ctx, h); err != nil {
		return nil, err
	}
	out.Hook = h
	return out, nil
}

func random() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Sign computes the signature header value of a body sent at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	return signing.Sign([]byte(secret), ts.Unix(), body)
}

// Result says what a request did.
type Result struct {
	Created   int      `json:"created"`
	Updated   int      `json:"updated"`
	Unchanged int      `json:"unchanged"`
	RowIDs    []string `json:"row_ids"`
}

// Receive checks a request to a hook URL and writes its rows: all of them,
// or none when anything is wrong.
func (s *Service) Receive(ctx context.Context, token string, header http.Header, body []byte) (*Result, error) {
	h, err := s.Store.HookByTokenHash(ctx, connection.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknownHook
	}
	if err != nil {
		return nil, err
	}
	var deliveries []delivery
	if h.Secret != nil {
		if err := s.verify(h, header, body); err != nil {
			return nil, err
		}
		// A signature is good for MaxSkew around its timestamp: remember it
		// that long, so a captured request cannot be sent again.
		sec, _ := strconv.ParseInt(header.Get(TimestampHeader), 10, 64)
		deliveries = append(deliveries, delivery{key: "sig:" + strings.ToLower(header.Get(SignatureHeader)), until: time.Unix(sec, 0).Add(MaxSkew)})
	}
	if k := header.Get(IdempotencyHeader); k != "" {
		if len(k) > maxIdempotencyKey || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, ErrBadIdemKey
		}
		deliveries = append(deliveries, delivery{key: "idem:" + k, until: s.now().Add(IdempotencyWindow)})
	}
	items, err := parse(body)
	if err != nil {
		return nil, err
	}
	tb, err := s.Store.TableByID(ctx, h.TableID)
	if err != nil {
		return nil, err
	}
	vals, err := convert(tb.Columns, h.MatchColumn, items)
	if err != nil {
		return nil, err
	}
	res, err := s.write(ctx, h, vals, deliveries)
	if err != nil {
		return nil, err
	}
	if err := s.Store.TouchHook(context.WithoutCancel(ctx), h.ID, s.now()); err != nil {
		return nil, err
	}
	if (res.Created > 0 || res.Updated > 0) && s.RowsChanged != nil {
		s.RowsChanged(h.TableID)
	}
	return res, nil
}

func (s *Service) verify(h *store.Hook, header http.Header, body []byte) error {
	secret, err := s.Vault.Open(h.Secret, []byte(h.ID))
	if err != nil {
		return fmt.Errorf("open signing secret of %s: %w", h.ID, err)
	}
	sec, err := strconv.ParseInt(header.Get(TimestampHeader), 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	ts := time.Unix(sec, 0)
	if d := s.now().Sub(ts); d > MaxSkew || d < -MaxSkew {
		return ErrBadSignature
	}
	if !signing.Verify(secret, sec, body, header.Get(SignatureHeader)) {
		return ErrBadSignature
	}
	return nil
}

// delivery names a request a hook must accept only once, until a time.
type delivery struct {
	key   string
	until time.Time
}

// parse reads a JSON object (one row) or an array of objects.
func parse(body []byte) ([]map[string]any, error) {
	body = bytes.TrimSpace(body)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var items []map[string]any
	var err error
	switch {
	case len(body) > 0 && body[0] == '[':
		err = dec.Decode(&items)
	default:
		var one map[string]any
		if err = dec.Decode(&one); err == nil {
			items = []map[string]any{one}
		}
	}
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err != nil {
		return nil, &PayloadError{Msg: "the body must be a JSON object (one row) or an array of objects: " + err.Error()}
	}
	if len(items) == 0 || len(items) > tables.MaxRowsPerAdd {
		return nil, &PayloadError{Msg: fmt.Sprintf("send from 1 to %d rows", tables.MaxRowsPerAdd)}
	}
	for i, it := range items {
		if it == nil {
			return nil, &PayloadError{Msg: fmt.Sprintf("item %d is not a JSON object", i)}
		}
	}
	return items, nil
}

// convert keeps the fields that are columns, converted to the columns'
// types as provider values are (strings become numbers where the column is
// a number); other fields are ignored.
func convert(cols []store.Column, match string, items []map[string]any) ([]map[string]any, error) {
	var errs []catalog.FieldError
	out := make([]map[string]any, len(items))
	for i, it := range items {
		vals := map[string]any{}
		for _, c := range cols {
			raw, ok := it[c.Name]
			if !ok {
				continue
			}
			if n, isNum := raw.(json.Number); isNum {
				raw = n.String()
				if c.Type == tables.JSON || c.Type == tables.Number {
					f, _ := n.Float64()
					raw = f
				}
			}
			v, err := tables.Convert(c.Type, raw)
			if err != nil {
				errs = append(errs, catalog.FieldError{Field: fmt.Sprintf("[%d].%s", i, c.Name), Message: err.Error()})
				continue
			}
			vals[c.Name] = v
		}
		if match != "" && strings.TrimSpace(tables.Render(vals[match])) == "" {
			errs = append(errs, catalog.FieldError{Field: fmt.Sprintf("[%d].%s", i, match), Message: "the hook upserts by " + match + "; every row needs it"})
		}
		out[i] = vals
	}
	if len(errs) > 0 {
		return nil, &connection.ValidationError{Fields: errs}
	}
	return out, nil
}

// write creates or updates the rows in one transaction.
func (s *Service) write(ctx context.Context, h *store.Hook, items []map[string]any, deliveries []delivery) (*Result, error) {
	res := &Result{}
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		*res = Result{}
		for _, d := range deliveries {
			if err := tx.RememberDelivery(ctx, h.ID, d.key, s.now(), d.until); errors.Is(err, store.ErrReplayed) {
				return ErrReplayed
			} else if err != nil {
				return err
			}
		}
		var existing map[string]store.SourcedRow
		if h.MatchColumn != "" {
			keys := make([]string, 0, len(items))
			for _, it := range items {
				keys = append(keys, tables.Render(it[h.MatchColumn]))
			}
			var err error
			if existing, err = tx.RowsByExternalID(ctx, h.TableID, SourceID, h.MatchColumn, keys); err != nil {
				return err
			}
			// A row that came another way (an inbound sync, the API, the
			// dashboard) with the same value is the same row, not a twin.
			byValue, err := tx.RowsByValue(ctx, h.TableID, h.MatchColumn, keys)
			if err != nil {
				return err
			}
			for k, row := range byValue {
				if _, ok := existing[k]; !ok {
					existing[k] = store.SourcedRow{Row: row}
				}
			}
		}
		for _, it := range items {
			key := ""
			if h.MatchColumn != "" {
				key = tables.Render(it[h.MatchColumn])
			}
			if ex, ok := existing[key]; ok && key != "" {
				row := ex.Row
				for k, v := range it {
					if v == nil {
						delete(row.Values, k)
					} else {
						row.Values[k] = v
					}
				}
				wasDeleted := !row.DeletedAt.IsZero()
				row.DeletedAt = time.Time{}
				if store.RowHash(row.Values) == row.Hash && !wasDeleted {
					res.Unchanged++
				} else {
					if err := tx.UpdateRow(ctx, row); err != nil {
						return err
					}
					res.Updated++
				}
				res.RowIDs = append(res.RowIDs, row.ID)
				continue
			}
			row := &store.Row{TableID: h.TableID, Values: map[string]any{}}
			for k, v := range it {
				if v != nil {
					row.Values[k] = v
				}
			}
			if err := tx.InsertRow(ctx, row); err != nil {
				return err
			}
			res.Created++
			res.RowIDs = append(res.RowIDs, row.ID)
			if key != "" {
				src := &store.Source{TableID: h.TableID, RowID: row.ID, ConnectionID: SourceID, Object: h.MatchColumn, ExternalID: key}
				if err := tx.PutSource(ctx, src); err != nil {
					return err
				}
				if existing == nil {
					existing = map[string]store.SourcedRow{}
				}
				existing[key] = store.SourcedRow{Source: src, Row: row}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write rows from webhook: %w", err)
	}
	return res, nil
}
