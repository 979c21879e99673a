package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"patchbay/internal/connector"
)

type pageResponse struct {
	Results []apiObject `json:"results"`
	Paging  *struct {
		Next *struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

func (p pageResponse) next() string {
	if p.Paging == nil || p.Paging.Next == nil {
		return ""
	}
	return p.Paging.Next.After
}

func (p pageResponse) records() []connector.Record {
	out := make([]connector.Record, 0, len(p.Results))
	for _, o := range p.Results {
		out = append(out, o.record())
	}
	return out
}

// modifiedProperty is the last-modified property of an object: contacts
// have their own name for it, every other object uses hs_lastmodifieddate.
func modifiedProperty(object string) string {
	if object == "contacts" {
		return "lastmodifieddate"
	}
	return "hs_lastmodifieddate"
}

// List returns a page of records. A full read pages through GET
// /crm/v3/objects/{object}; an incremental read (Since set) searches for
// records modified at or after Since, oldest first.
func (c *Connector) List(ctx context.Context, s connector.Session, req connector.ListRequest) (connector.Page, error) {
	if req.Object == "" {
		return connector.Page{}, &connector.Error{Class: connector.ClassInvalid, Message: "no HubSpot object given to read"}
	}
	if !req.Since.IsZero() || len(req.Filter) > 0 {
		return c.listSince(ctx, s, req)
	}
	limit := req.Limit
	if limit <= 0 || limit > listMax {
		limit = listMax
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if req.Cursor != "" {
		q.Set("after", req.Cursor)
	}
	if len(req.Fields) > 0 {
		q.Set("properties", strings.Join(req.Fields, ","))
	}
	var out pageResponse
	err := c.do(ctx, s, call{method: http.MethodGet, path: "/crm/v3/objects/" + url.PathEscape(req.Object) + "?" + q.Encode(), out: &out})
	if err != nil {
		return connector.Page{}, err
	}
	return connector.Page{Records: out.records(), Next: out.next()}, nil
}

// listSince searches by last-modified date, with the request's filter
// pushed down in every filter group. Its cursor is
// "<since ms>:<offset>": HubSpot stops paging a search at 10,000 results, so
// before that point the cursor restarts the search from the last record's
// modification time (records at that instant are read twice, which an
// idempotent sync absorbs).
func (c *Connector) listSince(ctx context.Context, s connector.Session, req connector.ListRequest) (connector.Page, error) {
	since, offset := max(req.Since.UnixMilli(), 0), 0 // a filtered full read searches from the epoch
	if req.Cursor != "" {
		a, b, ok := strings.Cut(req.Cursor, ":")
		var errA, errB error
		since, errA = strconv.ParseInt(a, 10, 64)
		offset, errB = strconv.Atoi(b)
		if !ok || errA != nil || errB != nil || offset < 0 {
			return connector.Page{}, &connector.Error{Class: connector.ClassInvalid, Message: "the read cursor is not one of an incremental HubSpot read"}
		}
	}
	limit := req.Limit
	if limit <= 0 || limit > searchMax {
		limit = searchMax
	}
	prop := modifiedProperty(req.Object)
	body := map[string]any{
		"filterGroups": filterGroups(req.Filter, map[string]any{"propertyName": prop, "operator": "GTE", "value": strconv.FormatInt(since, 10)}),
		"sorts":        []any{map[string]any{"propertyName": prop, "direction": "ASCENDING"}},
		"limit":        limit,
	}
	if offset > 0 {
		body["after"] = strconv.Itoa(offset)
	}
	if len(req.Fields) > 0 {
		body["properties"] = req.Fields
	}
	var out pageResponse
	err := c.do(ctx, s, call{method: http.MethodPost, path: "/crm/v3/objects/" + url.PathEscape(req.Object) + "/search",
		in: body, out: &out, idempotent: true, budget: "search"})
	if err != nil {
		return connector.Page{}, err
	}
	page := connector.Page{Records: out.records()}
	after := out.next()
	if after == "" {
		return page, nil
	}
	n, err := strconv.Atoi(after)
	if err != nil {
		return connector.Page{}, &connector.Error{Class: connector.ClassUnknown, Message: "HubSpot sent a search cursor Patchbay cannot read"}
	}
	page.Next = fmt.Sprintf("%d:%d", since, n)
	if len(page.Records) == 0 {
		// A next cursor on an empty page would walk forever (and has no last record to move the window to).
		return connector.Page{}, &connector.Error{Class: connector.ClassUnknown, Message: "HubSpot sent an empty search page with a next cursor"}
	}
	if last := page.Records[len(page.Records)-1].UpdatedAt.UnixMilli(); n+limit > c.searchDepth && last > since {
		page.Next = fmt.Sprintf("%d:0", last)
	}
	return page, nil
}
