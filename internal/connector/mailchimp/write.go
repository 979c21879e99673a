package mailchimp

import (
	"archive/tar"
	"compress/gzip"
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
	"sync"
	"time"

	"patchbay/internal/connector"
)

var mergeTag = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// memberTop are member fields that sit beside merge_fields in the body.
var memberTop = []string{"email_type", "language", "vip"}

// upsert is one member write: the member's hash, the fields to set, and
// the tags to add. A record without an id is added (POST, and a PATCH when
// Mailchimp answers that the address is already a member); a record with
// one is updated in place (PATCH), so unchanged fields, the address
// included, need not be sent.
type upsert struct {
	index  int
	hash   string
	add    bool
	body   map[string]any // PATCH body: only what the record sets
	status string         // status for a new member
	tags   []string
}

// addBody is the POST body of a new member: the record's fields and a status.
func (u upsert) addBody() map[string]any {
	b := maps.Clone(u.body)
	if _, ok := b["status"]; !ok {
		b["status"] = u.status
	}
	return b
}

// memberExists is the title of Mailchimp's answer to adding an address that
// is already in the audience.
const memberExists = "Member Exists"

// Write adds or updates members of the connection's audience. A record's
// email_address (or, matching by id, its subscriber hash) names the member;
// status (default subscribed for new members), upper-case merge-field tags
// (FNAME, LNAME…), email_type, language, vip and tags are written. Up to
// DirectMax records go as parallel calls, at most 10 at once; more go as
// batch operations whose results are read back per record. Created is true
// only for members Mailchimp added.
func (c *Connector) Write(ctx context.Context, s connector.Session, req connector.WriteRequest) ([]connector.WriteResult, error) {
	if req.Object != "members" {
		return nil, &connector.Error{Class: connector.ClassInvalid, Message: fmt.Sprintf("Patchbay writes Mailchimp members only, not %q", req.Object)}
	}
	list, err := c.audienceID(ctx, s)
	if err != nil {
		return nil, err
	}
	results := make([]connector.WriteResult, len(req.Records))
	var ups []upsert
	for i, rec := range req.Records {
		results[i].Index = i
		u, err := buildUpsert(i, rec)
		if err != nil {
			results[i].Err = err
			continue
		}
		results[i].ID = u.hash
		ups = append(ups, u)
	}
	if len(ups) == 0 {
		return results, nil
	}
	if len(ups) <= max(c.DirectMax, 1) {
		c.direct(ctx, s, list, ups, results)
		return results, nil
	}
	if err := c.batch(ctx, s, list, ups, results); err != nil {
		return nil, err
	}
	return results, nil
}

func buildUpsert(i int, rec connector.Record) (upsert, error) {
	email, _ := rec.Fields["email_address"].(string)
	email = strings.TrimSpace(email)
	u := upsert{index: i, add: rec.ID == "", body: map[string]any{}, status: "subscribed"}
	switch {
	case email != "":
		u.hash, u.body["email_address"] = SubscriberHash(email), email
		if rec.ID != "" && !strings.EqualFold(rec.ID, u.hash) {
			return upsert{}, &connector.Error{Class: connector.ClassInvalid,
				Message: fmt.Sprintf("member id %s is not the subscriber hash of %s; Mailchimp ids follow the address", rec.ID, email)}
		}
	case rec.ID != "":
		u.hash = strings.ToLower(rec.ID)
	default:
		return upsert{}, &connector.Error{Class: connector.ClassInvalid, Message: "a new Mailchimp member needs an email_address"}
	}
	merge := map[string]any{}
	for k, v := range rec.Fields {
		switch {
		case k == "email_address":
		case k == "status":
			if st, _ := v.(string); st != "" {
				u.body["status"] = st
			}
		case k == "tags":
			u.tags = tagList(v)
		case slices.Contains(memberTop, k):
			u.body[k] = v
		case mergeTag.MatchString(k):
			if v == nil {
				v = ""
			}
			merge[k] = v
		case slices.Contains([]string{"last_changed", "timestamp_signup"}, k):
			// read-only at Mailchimp
		default:
			return upsert{}, &connector.Error{Class: connector.ClassInvalid,
				Message: fmt.Sprintf("%q is not a Mailchimp member field; merge fields are upper-case tags such as FNAME", k)}
		}
	}
	if len(merge) > 0 {
		u.body["merge_fields"] = merge
	}
	return u, nil
}

func tagList(v any) []string {
	var raw []string
	switch t := v.(type) {
	case string:
		raw = strings.Split(t, ",")
	case []string:
		raw = t
	case []any:
		for _, x := range t {
			raw = append(raw, fmt.Sprint(x))
		}
	}
	var out []string
	for _, t := range raw {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func memberPath(list, hash string) string {
	return "/lists/" + url.PathEscape(list) + "/members/" + hash
}

func tagsBody(tags []string) map[string]any {
	out := make([]map[string]string, 0, len(tags))
	for _, t := range tags {
		out = append(out, map[string]string{"name": t, "status": "active"})
	}
	return map[string]any{"tags": out}
}

// direct writes each member with its own calls, at most maxConnections at once.
func (c *Connector) direct(ctx context.Context, s connector.Session, list string, ups []upsert, results []connector.WriteResult) {
	work := make(chan upsert)
	var wg sync.WaitGroup
	for range min(maxConnections, len(ups)) {
		wg.Go(func() {
			for u := range work {
				results[u.index].Created, results[u.index].Err = c.writeMember(ctx, s, list, u)
			}
		})
	}
	for _, u := range ups {
		work <- u
	}
	close(work)
	wg.Wait()
}

// writeMember adds or updates one member, then adds its tags; it reports
// whether Mailchimp added the member.
func (c *Connector) writeMember(ctx context.Context, s connector.Session, list string, u upsert) (bool, error) {
	added := false
	var err error
	if u.add {
		err = c.do(ctx, s, "", call{method: http.MethodPost, path: membersPath(list), in: u.addBody()})
		added = err == nil
		var ce *connector.Error
		if errors.As(err, &ce) && ce.Code == memberExists {
			err = c.patchMember(ctx, s, list, u)
		}
	} else {
		err = c.patchMember(ctx, s, list, u)
	}
	if err == nil && len(u.tags) > 0 {
		err = c.do(ctx, s, "", call{method: http.MethodPost, path: memberPath(list, u.hash) + "/tags", in: tagsBody(u.tags)})
	}
	return added, err
}

func (c *Connector) patchMember(ctx context.Context, s connector.Session, list string, u upsert) error {
	if len(u.body) == 0 {
		return nil // only tags change
	}
	return c.do(ctx, s, "", call{method: http.MethodPatch, path: memberPath(list, u.hash), in: u.body})
}

func membersPath(list string) string { return "/lists/" + url.PathEscape(list) + "/members" }

type batchStatus struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	TotalOperations    int    `json:"total_operations"`
	ErroredOperations  int    `json:"errored_operations"`
	ResponseBodyURL    string `json:"response_body_url"`
	FinishedOperations int    `json:"finished_operations"`
}

type opResult struct {
	StatusCode  int    `json:"status_code"`
	OperationID string `json:"operation_id"`
	Response    string `json:"response"`
}

// batchOp is one operation of a batch.
type batchOp struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Body        string `json:"body"`
	OperationID string `json:"operation_id"`
}

func opOf(method, path string, body any, id string) batchOp {
	b, _ := json.Marshal(body)
	return batchOp{Method: method, Path: path, Body: string(b), OperationID: id}
}

// batch sends the writes as batch operations and reads each operation's
// outcome from the results archive: first the adds and updates (with their
// tags), then, in a second batch, updates of the added addresses Mailchimp
// already had as members.
func (c *Connector) batch(ctx context.Context, s connector.Session, list string, ups []upsert, results []connector.WriteResult) error {
	ops := make([]batchOp, 0, len(ups))
	for _, u := range ups {
		id := strconv.Itoa(u.index)
		switch {
		case u.add:
			ops = append(ops, opOf(http.MethodPost, membersPath(list), u.addBody(), id))
		case len(u.body) > 0:
			ops = append(ops, opOf(http.MethodPatch, memberPath(list, u.hash), u.body, id))
		}
		if len(u.tags) > 0 {
			ops = append(ops, opOf(http.MethodPost, memberPath(list, u.hash)+"/tags", tagsBody(u.tags), id+"/tags"))
		}
	}
	outcome, err := c.runBatch(ctx, s, ops)
	if err != nil {
		return err
	}
	var again []batchOp
	for _, u := range ups {
		id := strconv.Itoa(u.index)
		for _, opID := range []string{id, id + "/tags"} {
			expected := opID == id && (u.add || len(u.body) > 0) || opID != id && len(u.tags) > 0
			if !expected {
				continue
			}
			r, ok := outcome[opID]
			if !ok {
				results[u.index].Err = &connector.Error{Class: connector.ClassUnknown, Message: "Mailchimp's batch results say nothing about this member"}
				continue
			}
			if opID == id && u.add && r.StatusCode < 300 {
				results[u.index].Created = true
			}
			if r.StatusCode < 300 || results[u.index].Err != nil {
				continue
			}
			ce := classify(r.StatusCode, nil, []byte(r.Response), s.Creds)
			if opID == id && u.add && ce.Code == memberExists {
				if len(u.body) > 0 {
					again = append(again, opOf(http.MethodPatch, memberPath(list, u.hash), u.body, id))
				}
				continue
			}
			results[u.index].Err = ce
		}
	}
	if len(again) == 0 {
		return nil
	}
	outcome, err = c.runBatch(ctx, s, again)
	if err != nil {
		return err
	}
	for _, op := range again {
		i, _ := strconv.Atoi(op.OperationID)
		r, ok := outcome[op.OperationID]
		switch {
		case !ok:
			results[i].Err = &connector.Error{Class: connector.ClassUnknown, Message: "Mailchimp's batch results say nothing about this member"}
		case r.StatusCode >= 300 && results[i].Err == nil:
			results[i].Err = classify(r.StatusCode, nil, []byte(r.Response), s.Creds)
		}
	}
	return nil
}

// runBatch starts one batch operation, waits for it to finish and returns
// each operation's outcome by operation id.
func (c *Connector) runBatch(ctx context.Context, s connector.Session, ops []batchOp) (map[string]opResult, error) {
	var st batchStatus
	if err := c.do(ctx, s, "", call{method: http.MethodPost, path: "/batches", in: map[string]any{"operations": ops}, out: &st}); err != nil {
		return nil, err
	}
	// Small batches finish within a second or so: the first status read
	// comes after an eighth of PollInterval and the wait doubles up to it,
	// rather than every batch costing at least two full intervals.
	wait := max(c.PollInterval/8, time.Millisecond)
	for st.Status != "finished" {
		t := time.NewTimer(wait)
		wait = min(2*wait, c.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		id := st.ID
		if err := c.do(ctx, s, "", call{method: http.MethodGet, path: "/batches/" + url.PathEscape(id), out: &st}); err != nil {
			return nil, err
		}
	}
	return c.download(ctx, st.ResponseBodyURL)
}

// download reads a finished batch's gzipped tar of JSON result files. The
// link is pre-signed storage, so it is fetched without Mailchimp credentials.
func (c *Connector) download(ctx context.Context, link string) (map[string]opResult, error) {
	if link == "" {
		return nil, &connector.Error{Class: connector.ClassUnknown, Message: "Mailchimp finished the batch without a results link"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, &connector.Error{Class: connector.ClassUnknown, Message: "Mailchimp sent a results link Patchbay cannot use"}
	}
	resp, err := c.Download.Do(req)
	if err != nil {
		return nil, connector.TransportError(ctx, err, "Mailchimp")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &connector.Error{Class: connector.ClassForStatus(resp.StatusCode), Status: resp.StatusCode, Message: "the batch results could not be downloaded"}
	}
	gz, err := gzip.NewReader(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, &connector.Error{Class: connector.ClassUnknown, Message: "the batch results are not gzipped", Err: err}
	}
	out := map[string]opResult{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, &connector.Error{Class: connector.ClassUnknown, Message: "the batch results archive is damaged", Err: err}
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".json") {
			continue
		}
		var rs []opResult
		if err := json.NewDecoder(tr).Decode(&rs); err != nil {
			return nil, &connector.Error{Class: connector.ClassUnknown, Message: "a batch results file is not JSON", Err: err}
		}
		for _, r := range rs {
			out[r.OperationID] = r
		}
	}
}
