package mailchimp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// List returns a page of audiences, members, merge fields or tags. Members,
// merge fields and tags belong to the audience of the connection's config
// (audience_id), or to the account's only audience. The cursor is the offset
// of the next page. Members are read oldest change first, and an incremental
// read (Since) asks only for members changed since then.
func (c *Connector) List(ctx context.Context, s connector.Session, req connector.ListRequest) (connector.Page, error) {
	offset := 0
	if req.Cursor != "" {
		n, err := strconv.Atoi(req.Cursor)
		if err != nil || n < 0 {
			return connector.Page{}, &connector.Error{Class: connector.ClassInvalid, Message: "the read cursor is not one of a Mailchimp read"}
		}
		offset = n
	}
	count := req.Limit
	if count <= 0 || count > maxCount {
		count = maxCount
	}
	q := url.Values{"count": {strconv.Itoa(count)}, "offset": {strconv.Itoa(offset)}}
	switch req.Object {
	case "audiences":
		var out struct {
			Lists      []audience `json:"lists"`
			TotalItems int        `json:"total_items"`
		}
		if err := c.do(ctx, s, "", call{method: http.MethodGet, path: "/lists?" + q.Encode(), out: &out}); err != nil {
			return connector.Page{}, err
		}
		page := connector.Page{Records: make([]connector.Record, 0, len(out.Lists))}
		for _, l := range out.Lists {
			page.Records = append(page.Records, l.record())
		}
		page.Next = next(offset, len(out.Lists), out.TotalItems)
		return page, nil
	case "members":
		list, err := c.audienceID(ctx, s)
		if err != nil {
			return connector.Page{}, err
		}
		q.Set("sort_field", "last_changed")
		q.Set("sort_dir", "ASC")
		if !req.Since.IsZero() {
			q.Set("since_last_changed", req.Since.UTC().Format(time.RFC3339))
		}
		var out struct {
			Members    []member `json:"members"`
			TotalItems int      `json:"total_items"`
		}
		if err := c.do(ctx, s, "", call{method: http.MethodGet, path: "/lists/" + url.PathEscape(list) + "/members?" + q.Encode(), out: &out}); err != nil {
			return connector.Page{}, err
		}
		page := connector.Page{Records: make([]connector.Record, 0, len(out.Members))}
		for _, m := range out.Members {
			page.Records = append(page.Records, m.record())
		}
		page.Next = next(offset, len(out.Members), out.TotalItems)
		return page, nil
	case "merge_fields":
		list, err := c.audienceID(ctx, s)
		if err != nil {
			return connector.Page{}, err
		}
		var out struct {
			MergeFields []struct {
				MergeID      int    `json:"merge_id"`
				Tag          string `json:"tag"`
				Name         string `json:"name"`
				Type         string `json:"type"`
				Required     bool   `json:"required"`
				DefaultValue string `json:"default_value"`
			} `json:"merge_fields"`
			TotalItems int `json:"total_items"`
		}
		if err := c.do(ctx, s, "", call{method: http.MethodGet, path: "/lists/" + url.PathEscape(list) + "/merge-fields?" + q.Encode(), out: &out}); err != nil {
			return connector.Page{}, err
		}
		page := connector.Page{}
		for _, mf := range out.MergeFields {
			page.Records = append(page.Records, connector.Record{ID: strconv.Itoa(mf.MergeID), Fields: map[string]any{
				"tag": mf.Tag, "name": mf.Name, "type": mf.Type, "required": mf.Required, "default_value": mf.DefaultValue}})
		}
		page.Next = next(offset, len(out.MergeFields), out.TotalItems)
		return page, nil
	case "tags":
		list, err := c.audienceID(ctx, s)
		if err != nil {
			return connector.Page{}, err
		}
		// tag-search answers every matching tag at once; it has no paging.
		var out struct {
			Tags []struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"tags"`
		}
		if err := c.do(ctx, s, "", call{method: http.MethodGet, path: "/lists/" + url.PathEscape(list) + "/tag-search", out: &out}); err != nil {
			return connector.Page{}, err
		}
		page := connector.Page{}
		for _, t := range out.Tags {
			page.Records = append(page.Records, connector.Record{ID: strconv.FormatInt(t.ID, 10), Fields: map[string]any{"name": t.Name}})
		}
		return page, nil
	}
	return connector.Page{}, &connector.Error{Class: connector.ClassInvalid,
		Message: fmt.Sprintf("Mailchimp has no object %q; choose audiences, members, merge_fields or tags", req.Object)}
}

func next(offset, got, total int) string {
	if got == 0 || offset+got >= total {
		return ""
	}
	return strconv.Itoa(offset + got)
}

// audienceID is the audience the connection works on: the configured one,
// or the account's only audience.
func (c *Connector) audienceID(ctx context.Context, s connector.Session) (string, error) {
	if id := s.Config["audience_id"]; id != "" {
		return id, nil
	}
	var out struct {
		Lists []audience `json:"lists"`
	}
	if err := c.do(ctx, s, "", call{method: http.MethodGet, path: "/lists?count=" + strconv.Itoa(maxCount), out: &out}); err != nil {
		return "", err
	}
	switch len(out.Lists) {
	case 1:
		return out.Lists[0].ID, nil
	case 0:
		return "", &connector.Error{Class: connector.ClassInvalid, Message: "the Mailchimp account has no audience; create one in Mailchimp first"}
	}
	names := make([]string, 0, len(out.Lists))
	for _, l := range out.Lists {
		names = append(names, l.ID+" ("+l.Name+")")
	}
	return "", &connector.Error{Class: connector.ClassInvalid,
		Message: "the Mailchimp account has several audiences; set audience_id in the connection's config to one of " + strings.Join(names, ", ")}
}

type audience struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	DateCreated        string `json:"date_created"`
	PermissionReminder string `json:"permission_reminder"`
	Stats              struct {
		MemberCount int `json:"member_count"`
	} `json:"stats"`
}

func (a audience) record() connector.Record {
	return connector.Record{ID: a.ID, Fields: map[string]any{
		"name": a.Name, "member_count": a.Stats.MemberCount, "date_created": a.DateCreated, "permission_reminder": a.PermissionReminder}}
}

type member struct {
	ID              string                  `json:"id"`
	EmailAddress    string                  `json:"email_address"`
	Status          string                  `json:"status"`
	MergeFields     map[string]any          `json:"merge_fields"`
	Tags            []struct{ Name string } `json:"tags"`
	LastChanged     string                  `json:"last_changed"`
	TimestampSignup string                  `json:"timestamp_signup"`
}

func (m member) record() connector.Record {
	fields := map[string]any{"email_address": m.EmailAddress, "status": m.Status,
		"last_changed": m.LastChanged, "timestamp_signup": m.TimestampSignup}
	for k, v := range m.MergeFields {
		fields[k] = v
	}
	tags := make([]string, 0, len(m.Tags))
	for _, t := range m.Tags {
		tags = append(tags, t.Name)
	}
	fields["tags"] = strings.Join(tags, ",")
	rec := connector.Record{ID: m.ID, Fields: fields}
	if t, err := time.Parse(time.RFC3339, m.LastChanged); err == nil {
		rec.UpdatedAt = t.UTC()
	}
	return rec
}
