package shopify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// objectQuery is how one object is read: its connection field, sort-key
// enum, the node selection and what one node costs (objects in it count 1).
type objectQuery struct {
	field, sortKeys, nodes string
	nodeCost               int
}

var objects = map[string]objectQuery{
	"customers": {"customers", "CustomerSortKeys",
		"id defaultEmailAddress { emailAddress } firstName lastName defaultPhoneNumber { phoneNumber } state tags note numberOfOrders createdAt updatedAt", 3},
	"orders": {"orders", "OrderSortKeys",
		"id name email displayFinancialStatus displayFulfillmentStatus currencyCode createdAt updatedAt totalPriceSet { shopMoney { amount currencyCode } } customer { id }", 4},
	"products": {"products", "ProductSortKeys",
		"id title handle status vendor productType tags totalInventory createdAt updatedAt", 1},
}

// pageSize is the largest page of an object whose query stays within the
// single-query cost limit.
func (o objectQuery) pageSize(limit int) int {
	most := min(pageMax, (maxQueryCost-2)/o.nodeCost)
	if limit <= 0 || limit > most {
		return most
	}
	return limit
}

// cost is Shopify's requested cost of a page: 2 for the connection and each
// node's cost times the page size.
func (o objectQuery) cost(first int) int { return 2 + first*o.nodeCost }

func (o objectQuery) document() string {
	return fmt.Sprintf(`query($first: Int!, $after: String, $query: String, $sortKey: %s) {
  %s(first: $first, after: $after, query: $query, sortKey: $sortKey) {
    nodes { %s }
    pageInfo { hasNextPage endCursor }
  }
}`, o.sortKeys, o.field, o.nodes)
}

// List reads a page of customers, orders or products in id order, or, for an
// incremental read, those updated at or after Since in update order. The
// cursor is Shopify's endCursor.
func (c *Connector) List(ctx context.Context, s connector.Session, req connector.ListRequest) (connector.Page, error) {
	o, ok := objects[req.Object]
	if !ok {
		return connector.Page{}, &connector.Error{Class: connector.ClassInvalid,
			Message: fmt.Sprintf("Shopify has no object %q; choose customers, orders or products", req.Object)}
	}
	first := o.pageSize(req.Limit)
	vars := map[string]any{"first": first, "sortKey": "ID"}
	if req.Cursor != "" {
		vars["after"] = req.Cursor
	}
	if !req.Since.IsZero() {
		vars["query"] = "updated_at:>='" + req.Since.UTC().Format(time.RFC3339) + "'"
		vars["sortKey"] = "UPDATED_AT"
	}
	var out map[string]struct {
		Nodes    []map[string]any `json:"nodes"`
		PageInfo struct {
			HasNextPage bool   `json:"hasNextPage"`
			EndCursor   string `json:"endCursor"`
		} `json:"pageInfo"`
	}
	if err := c.query(ctx, s, o.cost(first), o.document(), vars, &out); err != nil {
		return connector.Page{}, err
	}
	conn := out[o.field]
	page := connector.Page{Records: make([]connector.Record, 0, len(conn.Nodes))}
	for _, n := range conn.Nodes {
		page.Records = append(page.Records, flatten(n))
	}
	if conn.PageInfo.HasNextPage {
		page.Next = conn.PageInfo.EndCursor
	}
	return page, nil
}

// flatten turns a node into a record: tags joined with commas, an order's
// total and customer lifted to totalPrice and customerId.
func flatten(n map[string]any) connector.Record {
	rec := connector.Record{Fields: map[string]any{}}
	for k, v := range n {
		switch k {
		case "id":
			rec.ID, _ = v.(string)
		case "tags":
			var tags []string
			if list, ok := v.([]any); ok {
				for _, t := range list {
					tags = append(tags, fmt.Sprint(t))
				}
			}
			rec.Fields["tags"] = strings.Join(tags, ",")
		case "totalPriceSet":
			if set, ok := v.(map[string]any); ok {
				if shop, ok := set["shopMoney"].(map[string]any); ok {
					rec.Fields["totalPrice"] = shop["amount"]
				}
			}
		case "defaultEmailAddress":
			// Customer.email is deprecated; the record keeps the name users map.
			rec.Fields["email"] = nested(v, "emailAddress")
		case "defaultPhoneNumber":
			rec.Fields["phone"] = nested(v, "phoneNumber")
		case "customer":
			rec.Fields["customerId"] = nil
			if cu, ok := v.(map[string]any); ok {
				rec.Fields["customerId"] = cu["id"]
			}
		default:
			rec.Fields[k] = v
		}
	}
	if s, ok := n["updatedAt"].(string); ok {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			rec.UpdatedAt = t.UTC()
		}
	}
	return rec
}

// nested is a field of an object value, nil when the object is null.
func nested(v any, field string) any {
	if m, ok := v.(map[string]any); ok {
		return m[field]
	}
	return nil
}
