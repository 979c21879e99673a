package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// defaultFields are read when a List names none.
var defaultFields = map[string][]string{
	"Contact": {"Id", "FirstName", "LastName", "Email", "Phone", "Title", "AccountId", "LeadSource", "CreatedDate", "LastModifiedDate", "SystemModstamp"},
	"Lead":    {"Id", "FirstName", "LastName", "Email", "Phone", "Title", "Company", "Status", "LeadSource", "Industry", "CreatedDate", "LastModifiedDate", "SystemModstamp"},
	"Account": {"Id", "Name", "Website", "Industry", "Phone", "BillingCity", "NumberOfEmployees", "Type", "CreatedDate", "LastModifiedDate", "SystemModstamp"},
}

// readOnly are fields Salesforce computes; writes leave them out.
var readOnly = []string{"Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "CreatedById", "LastModifiedById", "IsDeleted"}

var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// soqlTime is the SOQL datetime literal form.
const soqlTime = "2006-01-02T15:04:05Z"

// List returns a page of records by SOQL. Incremental reads (Since set) ask
// for records whose SystemModstamp (changed by any change, including system
// ones) is at or after Since, oldest first. The cursor is the query's
// nextRecordsUrl.
func (c *Connector) List(ctx context.Context, s connector.Session, req connector.ListRequest) (connector.Page, error) {
	if !namePattern.MatchString(req.Object) {
		return connector.Page{}, invalid("%q is not a Salesforce object name", req.Object)
	}
	header := http.Header{}
	if req.Limit > 0 {
		header.Set("Sforce-Query-Options", "batchSize="+strconv.Itoa(min(max(req.Limit, batchMin), batchMax)))
	}
	var out struct {
		Done           bool             `json:"done"`
		NextRecordsURL string           `json:"nextRecordsUrl"`
		Records        []map[string]any `json:"records"`
	}
	cl := call{method: http.MethodGet, header: header, out: &out}
	if req.Cursor != "" {
		// The cursor is a path Salesforce gave; anything else is refused so a
		// stored cursor can never point the session elsewhere.
		if !strings.HasPrefix(req.Cursor, "/services/data/") || strings.Contains(req.Cursor, "..") {
			return connector.Page{}, invalid("the read cursor is not a Salesforce nextRecordsUrl")
		}
		cl.url = strings.TrimRight(s.BaseURL, "/") + req.Cursor
	} else {
		soql, err := buildQuery(req)
		if err != nil {
			return connector.Page{}, err
		}
		cl.path = "/query?" + url.Values{"q": {soql}}.Encode()
	}
	if _, err := c.do(ctx, s, cl); err != nil {
		return connector.Page{}, err
	}
	page := connector.Page{Records: make([]connector.Record, 0, len(out.Records))}
	for _, raw := range out.Records {
		page.Records = append(page.Records, record(raw))
	}
	if !out.Done {
		page.Next = out.NextRecordsURL
	}
	return page, nil
}

func buildQuery(req connector.ListRequest) (string, error) {
	fields := req.Fields
	if len(fields) == 0 {
		fields = defaultFields[req.Object]
	}
	if len(fields) == 0 {
		fields = []string{"Id", "SystemModstamp"}
	}
	for _, need := range []string{"Id", "SystemModstamp"} {
		if !slices.ContainsFunc(fields, func(f string) bool { return strings.EqualFold(f, need) }) {
			fields = append(slices.Clone(fields), need)
		}
	}
	for _, f := range fields {
		if !namePattern.MatchString(f) {
			return "", invalid("%q is not a Salesforce field name", f)
		}
	}
	q := "SELECT " + strings.Join(fields, ", ") + " FROM " + req.Object
	if !req.Since.IsZero() {
		q += " WHERE SystemModstamp >= " + req.Since.UTC().Format(soqlTime)
	}
	return q + " ORDER BY SystemModstamp ASC, Id ASC", nil
}

// record turns a query record into a connector record.
func record(raw map[string]any) connector.Record {
	r := connector.Record{Fields: map[string]any{}}
	for k, v := range raw {
		if k == "attributes" {
			continue
		}
		r.Fields[k] = v
	}
	r.ID, _ = raw["Id"].(string)
	if ts, ok := raw["SystemModstamp"].(string); ok {
		r.UpdatedAt, _ = time.Parse("2006-01-02T15:04:05.000-0700", ts)
	}
	return r
}

// saveResult is one element of a collection answer.
type saveResult struct {
	ID      string     `json:"id"`
	Success bool       `json:"success"`
	Errors  []apiError `json:"errors"`
	Created *bool      `json:"created"`
}

// Write creates and updates records with sObject Collections, 200 records a
// request, allOrNone=false so one bad record does not sink the others:
//   - records with an ID (or an Id field) are updated;
//   - with a custom MatchField (Name__c, an external id) records are upserted by it;
//   - with another MatchField (Email) the records holding those values are
//     found by SOQL, updated, and the rest created;
//   - without a MatchField, records are created.
//
// Failures of single records land in their results; failures of the
// connection stop the write and are returned with the results so far.
func (c *Connector) Write(ctx context.Context, s connector.Session, req connector.WriteRequest) ([]connector.WriteResult, error) {
	if !namePattern.MatchString(req.Object) {
		return nil, invalid("%q is not a Salesforce object name", req.Object)
	}
	if req.MatchField != "" && !namePattern.MatchString(req.MatchField) {
		return nil, invalid("%q is not a Salesforce field name", req.MatchField)
	}
	results := make([]connector.WriteResult, len(req.Records))
	ids := make([]string, len(req.Records))
	var updates, creates, upserts, matches []int
	for i, r := range req.Records {
		results[i].Index = i
		id := r.ID
		if id == "" {
			id = str(r.Fields["Id"])
		}
		switch {
		case id != "":
			ids[i] = id
			updates = append(updates, i)
		case req.MatchField == "" || req.MatchField == "Id":
			creates = append(creates, i)
		case str(r.Fields[req.MatchField]) == "":
			results[i].Err = invalid("the record has no %s to match it with a Salesforce %s", req.MatchField, req.Object)
		case strings.HasSuffix(req.MatchField, "__c"):
			upserts = append(upserts, i)
		default:
			matches = append(matches, i)
		}
	}
	if len(matches) > 0 {
		if err := c.match(ctx, s, req, matches, ids); err != nil {
			return results, err
		}
		for _, i := range matches {
			if ids[i] != "" {
				updates = append(updates, i)
			} else {
				creates = append(creates, i)
			}
		}
	}
	steps := []struct {
		method, path string
		idx          []int
	}{
		{http.MethodPatch, "/composite/sobjects", updates},
		{http.MethodPost, "/composite/sobjects", creates},
		{http.MethodPatch, "/composite/sobjects/" + req.Object + "/" + req.MatchField, upserts},
	}
	for _, st := range steps {
		for chunk := range slices.Chunk(st.idx, collectionMax) {
			body := map[string]any{"allOrNone": false, "records": c.body(req, chunk, ids)}
			var out []saveResult
			// Updates and upserts are idempotent; a create retried after a 5xx could duplicate.
			_, err := c.do(ctx, s, call{method: st.method, path: st.path, in: body, out: &out, idempotent: st.method == http.MethodPatch})
			if err != nil {
				return results, err
			}
			if len(out) != len(chunk) {
				return results, &connector.Error{Class: connector.ClassUnknown, Message: fmt.Sprintf("Salesforce answered %d results for %d records", len(out), len(chunk))}
			}
			for k, i := range chunk {
				res := out[k]
				if !res.Success {
					results[i].Err = recordError(res.Errors, s)
					continue
				}
				results[i].ID = res.ID
				results[i].Created = st.method == http.MethodPost || res.Created != nil && *res.Created
			}
		}
	}
	return results, nil
}

// body renders records of a collection request: the type attribute, the id
// for updates, the fields without the computed ones.
func (c *Connector) body(req connector.WriteRequest, idx []int, ids []string) []map[string]any {
	out := make([]map[string]any, 0, len(idx))
	for _, i := range idx {
		rec := map[string]any{"attributes": map[string]string{"type": req.Object}}
		for k, v := range req.Records[i].Fields {
			if !slices.Contains(readOnly, k) && k != "attributes" {
				rec[k] = v
			}
		}
		if ids[i] != "" {
			rec["id"] = ids[i]
		}
		out = append(out, rec)
	}
	return out
}

// match finds, by SOQL, the ids of the records whose MatchField holds the
// values of records idx; the last record with a value wins.
func (c *Connector) match(ctx context.Context, s connector.Session, req connector.WriteRequest, idx []int, ids []string) error {
	byValue := map[string][]int{}
	var values []string
	for _, i := range idx {
		v := strings.ToLower(str(req.Records[i].Fields[req.MatchField]))
		if _, seen := byValue[v]; !seen {
			values = append(values, v)
		}
		byValue[v] = append(byValue[v], i)
	}
	for chunk := range slices.Chunk(values, 200) {
		quoted := make([]string, len(chunk))
		for k, v := range chunk {
			quoted[k] = quote(v)
		}
		soql := fmt.Sprintf("SELECT Id, %s FROM %s WHERE %s IN (%s) ORDER BY Id ASC", req.MatchField, req.Object, req.MatchField, strings.Join(quoted, ", "))
		next := "/query?" + url.Values{"q": {soql}}.Encode()
		for next != "" {
			var out struct {
				Done           bool             `json:"done"`
				NextRecordsURL string           `json:"nextRecordsUrl"`
				Records        []map[string]any `json:"records"`
			}
			cl := call{method: http.MethodGet, path: next, out: &out}
			if strings.HasPrefix(next, "/services/data/") {
				cl.path, cl.url = "", strings.TrimRight(s.BaseURL, "/")+next
			}
			if _, err := c.do(ctx, s, cl); err != nil {
				return err
			}
			for _, r := range out.Records {
				id, _ := r["Id"].(string)
				for _, i := range byValue[strings.ToLower(str(r[req.MatchField]))] {
					if ids[i] == "" {
						ids[i] = id
					}
				}
			}
			next = ""
			if !out.Done {
				next = out.NextRecordsURL
			}
		}
	}
	return nil
}

// quote renders a SOQL string literal.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func recordError(errs []apiError, s connector.Session) error {
	if len(errs) == 0 {
		return &connector.Error{Class: connector.ClassUnknown, Message: "Salesforce refused the record without saying why"}
	}
	e := errs[0]
	msg := e.Message
	if len(e.Fields) > 0 {
		msg += " (fields: " + strings.Join(e.Fields, ", ") + ")"
	}
	return &connector.Error{Class: classFor(200, e.code()), Code: e.code(), Message: redact(msg, s.Creds)}
}

// str renders a field value as Salesforce would compare it.
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}
