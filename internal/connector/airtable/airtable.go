// Package airtable is Patchbay's Airtable API client: whoami and the list of
// shared bases for identity (checked against the bases the connection was
// set up with), records read with offset paging and filterByFormula, and
// writes of 10 records a request (create, update, upsert with
// performUpsert). Airtable limits each base to 5 requests a second and
// punishes a 429 with 30 seconds of refusals, so every request is tagged with
// its base: the session's transport spends that base's own budget.
//
// An object is named "<base id>/<table id or name>", or just the table when
// the connection has one base. Airtable offers no revocation endpoint for
// OAuth grants; users remove the integration in their Airtable account.
package airtable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/transport"
)

// Airtable's documented sizes.
const (
	pageMax  = 100 // records per page
	writeMax = 10  // records per write request
)

// ConfigBases is the connection setting that lists the bases Patchbay uses.
const ConfigBases = "base_ids"

// Connector is Airtable's API client; one value serves every connection.
type Connector struct{}

var _ connector.Connector = (*Connector)(nil)

// New returns the Airtable connector.
func New() *Connector { return &Connector{} }

var basePattern = regexp.MustCompile(`^app[A-Za-z0-9]{14}$`)

// Bases are the base ids of a connection's settings.
func Bases(cfg map[string]string) []string {
	var out []string
	for _, b := range strings.Split(cfg[ConfigBases], ",") {
		if b = strings.TrimSpace(b); b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// Identity asks who the token's user is, then checks that every base of the
// connection's settings is still shared: one that is not makes the account
// Limited with the fix (re-select the bases at Airtable's consent page).
func (c *Connector) Identity(ctx context.Context, s connector.Session) (connector.Account, error) {
	var who struct {
		ID     string   `json:"id"`
		Email  string   `json:"email"`
		Scopes []string `json:"scopes"`
	}
	if err := c.do(ctx, s, call{method: http.MethodGet, path: "/v0/meta/whoami", out: &who}); err != nil {
		return connector.Account{}, err
	}
	acct := connector.Account{ID: who.ID, Email: who.Email, Scopes: who.Scopes}
	want := Bases(s.Config)
	if len(want) == 0 {
		return acct, nil
	}
	shared := map[string]string{}
	offset := ""
	for {
		var out struct {
			Bases []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"bases"`
			Offset string `json:"offset"`
		}
		path := "/v0/meta/bases"
		if offset != "" {
			path += "?" + url.Values{"offset": {offset}}.Encode()
		}
		if err := c.do(ctx, s, call{method: http.MethodGet, path: path, out: &out}); err != nil {
			return connector.Account{}, err
		}
		for _, b := range out.Bases {
			shared[b.ID] = b.Name
		}
		if offset = out.Offset; offset == "" {
			break
		}
	}
	var names, lost []string
	for _, b := range want {
		if name, ok := shared[b]; ok {
			names = append(names, name)
		} else {
			lost = append(lost, b)
		}
	}
	acct.Name = strings.Join(names, ", ")
	if len(lost) > 0 {
		acct.Limited = fmt.Sprintf("Patchbay cannot access base %s any more: reconnect and, on Airtable's page, re-select which bases Patchbay can access (include %s), or remove it from the connection's bases.",
			strings.Join(lost, ", "), strings.Join(lost, ", "))
	}
	return acct, nil
}

// table resolves an object name to its base and table.
func table(s connector.Session, object string) (base, tbl string, err error) {
	bases := Bases(s.Config)
	if b, t, ok := strings.Cut(object, "/"); ok {
		base, tbl = b, t
	} else if len(bases) == 1 {
		base, tbl = bases[0], object
	} else {
		return "", "", &connector.Error{Class: connector.ClassInvalid, Message: fmt.Sprintf("name the Airtable table as <base id>/<table>; the connection has bases %s", strings.Join(bases, ", "))}
	}
	switch {
	case !basePattern.MatchString(base):
		return "", "", &connector.Error{Class: connector.ClassInvalid, Message: fmt.Sprintf("%q is not an Airtable base id (app followed by 14 letters and digits)", base)}
	case len(bases) > 0 && !slices.Contains(bases, base):
		return "", "", &connector.Error{Class: connector.ClassInvalid, Message: fmt.Sprintf("base %s is not one of the connection's bases (%s); add it to the connection's bases and reconnect", base, strings.Join(bases, ", "))}
	case tbl == "":
		return "", "", &connector.Error{Class: connector.ClassInvalid, Message: "no Airtable table given"}
	}
	return base, tbl, nil
}

// formulaTime is how instants are written in formulas.
const formulaTime = "2006-01-02T15:04:05.000Z"

// List returns a page of a table's records; an incremental read (Since set)
// filters by the records' last modification time.
func (c *Connector) List(ctx context.Context, s connector.Session, req connector.ListRequest) (connector.Page, error) {
	base, tbl, err := table(s, req.Object)
	if err != nil {
		return connector.Page{}, err
	}
	size := req.Limit
	if size <= 0 || size > pageMax {
		size = pageMax
	}
	q := url.Values{"pageSize": {strconv.Itoa(size)}}
	if req.Cursor != "" {
		q.Set("offset", req.Cursor)
	}
	var conds []string
	if len(req.Filter) > 0 {
		conds = append(conds, formula(req.Filter))
	}
	if !req.Since.IsZero() {
		conds = append(conds, fmt.Sprintf("NOT(IS_BEFORE(LAST_MODIFIED_TIME(), '%s'))", req.Since.UTC().Format(formulaTime)))
	}
	switch len(conds) {
	case 1:
		q.Set("filterByFormula", conds[0])
	case 2:
		q.Set("filterByFormula", "AND("+conds[0]+", "+conds[1]+")")
	}
	for _, f := range req.Fields {
		q.Add("fields[]", f)
	}
	var out struct {
		Records []apiRecord `json:"records"`
		Offset  string      `json:"offset"`
	}
	if err := c.do(ctx, s, call{method: http.MethodGet, base: base, path: "/v0/" + base + "/" + url.PathEscape(tbl) + "?" + q.Encode(), out: &out}); err != nil {
		return connector.Page{}, err
	}
	page := connector.Page{Records: make([]connector.Record, 0, len(out.Records)), Next: out.Offset}
	for _, r := range out.Records {
		page.Records = append(page.Records, connector.Record{ID: r.ID, Fields: r.Fields})
	}
	return page, nil
}

type apiRecord struct {
	ID          string         `json:"id,omitempty"`
	CreatedTime string         `json:"createdTime,omitempty"`
	Fields      map[string]any `json:"fields"`
}

// Write creates and updates records, 10 a request: records with an ID are
// updated, others created, or upserted on MatchField with performUpsert.
// Airtable refuses a whole request for one bad record; such a batch is sent
// again record by record so that the good ones land and the bad one is named.
func (c *Connector) Write(ctx context.Context, s connector.Session, req connector.WriteRequest) ([]connector.WriteResult, error) {
	base, tbl, err := table(s, req.Object)
	if err != nil {
		return nil, err
	}
	results := make([]connector.WriteResult, len(req.Records))
	var updates, creates, upserts []int
	for i, r := range req.Records {
		results[i].Index = i
		switch {
		case r.ID != "":
			updates = append(updates, i)
		case req.MatchField == "" || req.MatchField == "id":
			creates = append(creates, i)
		case r.Fields[req.MatchField] == nil || r.Fields[req.MatchField] == "":
			results[i].Err = &connector.Error{Class: connector.ClassInvalid, Message: fmt.Sprintf("the record has no %s to match it on", req.MatchField)}
		default:
			upserts = append(upserts, i)
		}
	}
	w := &writer{c: c, s: s, req: req, base: base, path: "/v0/" + base + "/" + url.PathEscape(tbl), results: results}
	for _, kind := range []struct {
		method string
		idx    []int
		upsert bool
	}{{http.MethodPatch, updates, false}, {http.MethodPost, creates, false}, {http.MethodPatch, upserts, true}} {
		for chunk := range slices.Chunk(kind.idx, writeMax) {
			if err := w.batch(ctx, kind.method, chunk, kind.upsert); err != nil {
				return results, err
			}
		}
	}
	return results, nil
}

type writer struct {
	c          *Connector
	s          connector.Session
	req        connector.WriteRequest
	base, path string
	results    []connector.WriteResult
}

func (w *writer) batch(ctx context.Context, method string, idx []int, upsert bool) error {
	body := map[string]any{"typecast": false}
	recs := make([]apiRecord, len(idx))
	for k, i := range idx {
		fields := maps.Clone(w.req.Records[i].Fields)
		delete(fields, "id") // the record id travels beside the fields
		recs[k] = apiRecord{ID: w.req.Records[i].ID, Fields: fields}
	}
	body["records"] = recs
	if upsert {
		body["performUpsert"] = map[string]any{"fieldsToMergeOn": []string{w.req.MatchField}}
	}
	var out struct {
		Records        []apiRecord `json:"records"`
		CreatedRecords []string    `json:"createdRecords"`
	}
	err := w.c.do(ctx, w.s, call{method: method, base: w.base, path: w.path, in: body, out: &out, idempotent: method == http.MethodPatch})
	switch class := connector.ClassOf(err); {
	case err == nil:
	case (class == connector.ClassInvalid || class == connector.ClassNotFound) && len(idx) > 1:
		for _, i := range idx { // find the record Airtable refused
			if err := w.batch(ctx, method, []int{i}, upsert); err != nil {
				return err
			}
		}
		return nil
	case class == connector.ClassInvalid || class == connector.ClassNotFound:
		w.results[idx[0]].Err = err
		return nil
	default:
		return err
	}
	if len(out.Records) != len(idx) {
		return &connector.Error{Class: connector.ClassUnknown, Message: fmt.Sprintf("Airtable answered %d records for %d", len(out.Records), len(idx))}
	}
	for k, i := range idx {
		w.results[i].ID = out.Records[k].ID
		w.results[i].Created = method == http.MethodPost || slices.Contains(out.CreatedRecords, out.Records[k].ID)
	}
	return nil
}

// call is one request to api.airtable.com; base tags it with its base's budget.
type call struct {
	method, path, base string
	in, out            any
	idempotent         bool
}

func (c *Connector) do(ctx context.Context, s connector.Session, cl call) error {
	var body io.Reader
	if cl.in != nil {
		b, err := json.Marshal(cl.in)
		if err != nil {
			return &connector.Error{Class: connector.ClassInvalid, Message: "cannot encode the request: " + err.Error()}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, strings.TrimRight(s.BaseURL, "/")+cl.path, body)
	if err != nil {
		return &connector.Error{Class: connector.ClassInvalid, Message: "bad Airtable API URL"}
	}
	req.Header.Set("Accept", "application/json")
	if cl.in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.base != "" {
		req = transport.WithBudgetKey(req, cl.base)
	}
	if cl.idempotent {
		req = transport.Idempotent(req)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		var ce *connector.Error
		switch {
		case errors.As(err, &ce):
			return ce
		case ctx.Err() != nil:
			return ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &connector.Error{Class: connector.ClassUnavailable, Message: "Airtable could not be reached", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return classify(resp, s)
	}
	if cl.out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(cl.out); err != nil {
		return &connector.Error{Class: connector.ClassUnknown, Status: resp.StatusCode, Message: "Airtable sent a response Patchbay cannot read", Err: err}
	}
	return nil
}

// classify reads Airtable's error body: {"error":{"type","message"}}, or
// {"error":"NOT_FOUND"} on some 404s.
func classify(resp *http.Response, s connector.Session) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb struct {
		Error json.RawMessage `json:"error"`
	}
	_ = json.Unmarshal(raw, &eb)
	var detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	if json.Unmarshal(eb.Error, &detail) != nil {
		_ = json.Unmarshal(eb.Error, &detail.Type)
	}
	ce := &connector.Error{Class: connector.ClassForStatus(resp.StatusCode), Status: resp.StatusCode, Code: detail.Type, Message: detail.Message}
	if ce.Message == "" {
		ce.Message = http.StatusText(resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		ce.RetryAfter = transport.RetryAfter(resp.Header, 30*time.Second)
	case ce.Code == "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND" || ce.Code == "INVALID_PERMISSIONS":
		ce.Class = connector.ClassForbidden
	}
	for _, secret := range []string{s.Creds.AccessToken, s.Creds.RefreshToken} {
		if len(secret) >= 8 {
			ce.Message = strings.ReplaceAll(ce.Message, secret, "[redacted]")
		}
	}
	return ce
}
