package mailchimp

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// upsert is one member write: the PUT body and the tags to add.
type upsert struct {
	index int
	hash  string
	body  map[string]any
	tags  []string
}

// Write upserts members of the connection's audience by subscriber hash.
// A record's email_address (or, matching by id, its subscriber hash) names
// the member; status (default subscribed for new members), upper-case
// merge-field tags (FNAME, LNAME…), email_type, language, vip and tags are
// written. Up to DirectMax records go as parallel calls, at most 10 at once;
// more go as one batch operation whose results are read back per record.
// Mailchimp's upsert does not say whether a member was new, so Created is
// always false (a creation is counted as an update).
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
	if email == "" {
		return upsert{}, &connector.Error{Class: connector.ClassInvalid, Message: "a Mailchimp member needs an email_address"}
	}
	u := upsert{index: i, hash: SubscriberHash(email), body: map[string]any{"email_address": email, "status_if_new": "subscribed"}}
	if rec.ID != "" && !strings.EqualFold(rec.ID, u.hash) {
		return upsert{}, &connector.Error{Class: connector.ClassInvalid,
			Message: fmt.Sprintf("member id %s is not the subscriber hash of %s; Mailchimp ids follow the address", rec.ID, email)}
	}
	merge := map[string]any{}
	for k, v := range rec.Fields {
		switch {
		case k == "email_address":
		case k == "status":
			st, _ := v.(string)
			if st != "" {
				u.body["status"], u.body["status_if_new"] = st, st
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
				err := c.do(ctx, s, "", call{method: http.MethodPut, path: memberPath(list, u.hash), in: u.body})
				if err == nil && len(u.tags) > 0 {
					err = c.do(ctx, s, "", call{method: http.MethodPost, path: memberPath(list, u.hash) + "/tags", in: tagsBody(u.tags)})
				}
				results[u.index].Err = err
			}
		})
	}
	for _, u := range ups {
		work <- u
	}
	close(work)
	wg.Wait()
}

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

// batch sends the upserts as one batch operation, waits for it to finish and
// reads each operation's outcome from the results archive.
func (c *Connector) batch(ctx context.Context, s connector.Session, list string, ups []upsert, results []connector.WriteResult) error {
	type op struct {
		Method      string `json:"method"`
		Path        string `json:"path"`
		Body        string `json:"body"`
		OperationID string `json:"operation_id"`
	}
	ops := make([]op, 0, len(ups))
	for _, u := range ups {
		body, _ := json.Marshal(u.body)
		ops = append(ops, op{Method: http.MethodPut, Path: memberPath(list, u.hash), Body: string(body), OperationID: strconv.Itoa(u.index)})
		if len(u.tags) > 0 {
			tb, _ := json.Marshal(tagsBody(u.tags))
			ops = append(ops, op{Method: http.MethodPost, Path: memberPath(list, u.hash) + "/tags", Body: string(tb), OperationID: strconv.Itoa(u.index) + "/tags"})
		}
	}
	var st batchStatus
	if err := c.do(ctx, s, "", call{method: http.MethodPost, path: "/batches", in: map[string]any{"operations": ops}, out: &st}); err != nil {
		return err
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
			return ctx.Err()
		case <-t.C:
		}
		id := st.ID
		if err := c.do(ctx, s, "", call{method: http.MethodGet, path: "/batches/" + url.PathEscape(id), out: &st}); err != nil {
			return err
		}
	}
	outcome, err := c.download(ctx, st.ResponseBodyURL)
	if err != nil {
		return err
	}
	for _, u := range ups {
		id := strconv.Itoa(u.index)
		for _, opID := range []string{id, id + "/tags"} {
			r, ok := outcome[opID]
			if !ok {
				if opID == id || len(u.tags) > 0 {
					results[u.index].Err = &connector.Error{Class: connector.ClassUnknown, Message: "Mailchimp's batch results say nothing about this member"}
				}
				continue
			}
			if r.StatusCode >= 300 && results[u.index].Err == nil {
				results[u.index].Err = classify(r.StatusCode, nil, []byte(r.Response), s.Creds)
			}
		}
	}
	return nil
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
