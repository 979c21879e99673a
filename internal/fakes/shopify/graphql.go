package shopify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"patchbay/internal/fakes/fakekit"
)

// gqlError is one entry of a GraphQL answer's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []string       `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func errorWith(code, msg string, path ...string) gqlError {
	return gqlError{Message: msg, Path: path, Extensions: map[string]any{"code": code}}
}

// connections are the root fields that page; objects are the fields that
// hold an object (1 point each in Shopify's cost calculation).
var (
	connections = map[string]string{"customers": "Customer", "orders": "Order", "products": "Product"}
	objectField = map[string]bool{"shop": true, "plan": true, "amountSpent": true, "totalPriceSet": true,
		"shopMoney": true, "presentmentMoney": true, "customer": true, "defaultEmailAddress": true, "defaultPhoneNumber": true}
	// deprecatedFields are the fields of a type Shopify has deprecated in
	// favour of others (Customer.email and .phone since 2025-04).
	deprecatedFields = map[string][]string{"Customer": {"email", "phone"}}
	mutationScope    = map[string]string{"customerCreate": "write_customers", "customerUpdate": "write_customers"}
	readScope        = map[string]string{"customers": "read_customers", "orders": "read_orders", "products": "read_products"}
)

// graphql is POST /admin/api/{version}/graphql.json.
func (f *Fake) graphql(w http.ResponseWriter, r *http.Request) {
	c, ok := f.kit.Guard(w, r)
	if !ok {
		return
	}
	served, retired, known := serveVersion(r.PathValue("version"))
	if !known {
		fakekit.WriteJSON(w, http.StatusNotFound, map[string]string{"errors": "Not Found"})
		return
	}
	w.Header().Set("X-Shopify-API-Version", served)
	if retired {
		w.Header().Set("X-Shopify-API-Deprecated-Reason", versioningDoc)
	}
	var in struct {
		Query         string         `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || in.Query == "" {
		fakekit.WriteJSON(w, http.StatusBadRequest, map[string]any{"errors": map[string]string{"query": "Required parameter missing or invalid"}})
		return
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: in.Query})
	if err != nil {
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{errorWith("PARSE_ERROR", err.Error())}})
		return
	}
	op := doc.Operations.ForName(in.OperationName)
	if op == nil && len(doc.Operations) > 0 && in.OperationName == "" {
		op = doc.Operations[0]
	}
	if op == nil {
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{errorWith("PARSE_ERROR", "No operation named "+in.OperationName)}})
		return
	}
	x := &exec{f: f, call: c, vars: in.Variables, mutation: op.Operation == ast.Mutation}
	requested, err := x.cost(op.SelectionSet, nil)
	if err != nil {
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{errorWith("argumentLiteralsIncompatible", err.Error())}})
		return
	}
	if requested > MaxQueryCost {
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{errorWith("MAX_COST_EXCEEDED",
			fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).", requested, MaxQueryCost))}})
		return
	}
	ok, left := f.take(c.Account, float64(requested))
	if !ok {
		e := errorWith("THROTTLED", "Throttled")
		e.Extensions["documentation"] = "https://shopify.dev/api/usage/limits"
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{e}, "extensions": map[string]any{"cost": map[string]any{
			"requestedQueryCost": requested, "actualQueryCost": nil, "throttleStatus": f.throttleStatus(left)}}})
		return
	}
	data := map[string]any{}
	for _, sel := range op.SelectionSet {
		fld, ok := sel.(*ast.Field)
		if !ok {
			x.errs = append(x.errs, errorWith("PARSE_ERROR", "fragments are not supported at the root"))
			continue
		}
		key := fld.Alias
		if key == "" {
			key = fld.Name
		}
		data[key] = x.root(fld)
	}
	actual := x.actual
	left = f.refund(c.Account, float64(requested), float64(actual))
	ext := map[string]any{"cost": map[string]any{
		"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": f.throttleStatus(left)}}
	if len(x.search) > 0 {
		ext["search"] = x.search
	}
	if len(x.deprecated) > 0 && !retired {
		w.Header().Set("X-Shopify-API-Deprecated-Reason", strings.Join(x.deprecated, ", "))
	}
	out := map[string]any{"data": data, "extensions": ext}
	if len(x.errs) > 0 {
		out["errors"] = x.errs
	}
	fakekit.WriteJSON(w, http.StatusOK, out)
}

// exec runs one operation.
type exec struct {
	f        *Fake
	call     fakekit.Call
	vars     map[string]any
	mutation bool
	errs     []gqlError
	actual   int
	// search are the extensions.search entries of queries with warnings;
	// deprecated the deprecated fields selected (Type.field).
	search     []map[string]any
	deprecated []string
}

func (x *exec) arg(fld *ast.Field, name string) (any, error) {
	a := fld.Arguments.ForName(name)
	if a == nil {
		return nil, nil
	}
	return a.Value.Value(x.vars)
}

// first reads a connection's page size: required, 1 to 250.
func (x *exec) first(fld *ast.Field) (int, error) {
	v, err := x.arg(fld, "first")
	if err != nil {
		return 0, err
	}
	if v == nil {
		if l, _ := x.arg(fld, "last"); l != nil {
			return 0, fmt.Errorf("the fake pages forwards only; use first")
		}
		return 0, fmt.Errorf("you must provide one of first or last")
	}
	n, err := toInt(v)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, fmt.Errorf("first must be between 1 and %d", MaxPageSize)
	}
	return n, nil
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case int64:
		return int(n), nil
	case float64:
		return int(n), nil
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	case int:
		return n, nil
	}
	return 0, fmt.Errorf("not a number: %v", v)
}

// cost is Shopify's calculated query cost: objects 1 point, scalars 0, a
// connection 2 plus its page size times the cost of one node, a mutation 10.
// With counts set it computes the actual cost from the nodes returned.
func (x *exec) cost(set ast.SelectionSet, counts map[*ast.Field]int) (int, error) {
	total := 0
	for _, sel := range set {
		fld, ok := sel.(*ast.Field)
		if !ok {
			if in, ok := sel.(*ast.InlineFragment); ok {
				c, err := x.cost(in.SelectionSet, counts)
				total += c
				if err != nil {
					return 0, err
				}
			}
			continue
		}
		switch {
		case x.mutation && mutationScope[fld.Name] != "":
			total += 10
		case connections[fld.Name] != "":
			n, err := x.first(fld)
			if err != nil {
				return 0, err
			}
			if counts != nil {
				n = counts[fld]
			}
			node, err := x.cost(nodeSelection(fld), counts)
			if err != nil {
				return 0, err
			}
			total += 2 + n*(1+node)
		case objectField[fld.Name]:
			c, err := x.cost(fld.SelectionSet, counts)
			if err != nil {
				return 0, err
			}
			total += 1 + c
		}
	}
	return total, nil
}

// nodeSelection is what a connection asks of each node, through edges.node or nodes.
func nodeSelection(fld *ast.Field) ast.SelectionSet {
	var out ast.SelectionSet
	for _, sel := range fld.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok {
			continue
		}
		switch f.Name {
		case "nodes":
			out = append(out, f.SelectionSet...)
		case "edges":
			for _, s := range f.SelectionSet {
				if n, ok := s.(*ast.Field); ok && n.Name == "node" {
					out = append(out, n.SelectionSet...)
				}
			}
		}
	}
	return out
}

func (x *exec) root(fld *ast.Field) any {
	if v, ok := x.webhookField(fld); ok {
		return v
	}
	if x.mutation {
		return x.mutate(fld)
	}
	switch fld.Name {
	case "shop":
		v, err := project(x.shop(), fld.SelectionSet, "Shop")
		if err != nil {
			x.errs = append(x.errs, errorWith("undefinedField", err.Error(), fld.Name))
			return nil
		}
		x.actual++
		return v
	case "customers", "orders", "products":
		if need := readScope[fld.Name]; !hasScope(x.call, need) {
			e := errorWith("ACCESS_DENIED", fmt.Sprintf("Access denied for %s field. Required access: `%s` access scope.", fld.Name, need), fld.Name)
			e.Extensions["requiredAccess"] = "`" + need + "` access scope."
			e.Extensions["documentation"] = "https://shopify.dev/api/usage/access-scopes"
			x.errs = append(x.errs, e)
			return nil
		}
		v, err := x.connection(fld)
		if err != nil {
			x.errs = append(x.errs, errorWith("BAD_REQUEST", err.Error(), fld.Name))
			return nil
		}
		return v
	}
	x.errs = append(x.errs, errorWith("undefinedField", fmt.Sprintf("Field '%s' doesn't exist on type 'QueryRoot'", fld.Name), fld.Name))
	return nil
}

func (x *exec) shop() map[string]any {
	shop := x.call.Account
	return map[string]any{
		"__typename": "Shop", "id": fmt.Sprintf("gid://shopify/Shop/%d", ShopID(shop)), "name": ShopName(shop),
		"email": ShopEmail(shop), "myshopifyDomain": shop, "currencyCode": "USD",
		"plan": map[string]any{"displayName": "Basic", "partnerDevelopment": false, "shopifyPlus": false},
	}
}

// cursorKey is what a cursor holds: the sort value and id of a record.
type cursorKey struct {
	K  string `json:"k"`
	ID string `json:"id"`
}

func encodeCursor(k cursorKey) string {
	b, _ := json.Marshal(k)
	return base64.StdEncoding.EncodeToString(b)
}

func (x *exec) connection(fld *ast.Field) (map[string]any, error) {
	n, err := x.first(fld)
	if err != nil {
		return nil, err
	}
	typ := connections[fld.Name]
	recs := x.f.kit.Records(x.call.Account, fld.Name).All()
	if q, _ := x.arg(fld, "query"); q != nil {
		query := fmt.Sprint(q)
		node, warnings, err := parseSearch(query, typ)
		if err != nil {
			return nil, err
		}
		if len(warnings) > 0 {
			x.search = append(x.search, map[string]any{"path": []string{fld.Name}, "query": query, "warnings": warnings})
		}
		recs = slices.DeleteFunc(recs, func(r fakekit.Record) bool { return !node.match(r, typ) })
	}
	x.noteDeprecated(typ, nodeSelection(fld))
	sortKey, _ := x.arg(fld, "sortKey")
	key := func(r fakekit.Record) string { return fmt.Sprintf("%020s", r.ID) }
	switch sortKey {
	case nil, "ID":
	case "UPDATED_AT":
		key = func(r fakekit.Record) string {
			return r.UpdatedAt.UTC().Format(time.RFC3339Nano) + fmt.Sprintf("|%020s", r.ID)
		}
	case "CREATED_AT":
		key = func(r fakekit.Record) string {
			return r.CreatedAt.UTC().Format(time.RFC3339Nano) + fmt.Sprintf("|%020s", r.ID)
		}
	default:
		return nil, fmt.Errorf("sortKey %v is not one of ID, UPDATED_AT, CREATED_AT", sortKey)
	}
	slices.SortStableFunc(recs, func(a, b fakekit.Record) int { return strings.Compare(key(a), key(b)) })
	if rev, _ := x.arg(fld, "reverse"); rev == true {
		slices.Reverse(recs)
	}
	if after, _ := x.arg(fld, "after"); after != nil {
		raw, err := base64.StdEncoding.DecodeString(fmt.Sprint(after))
		var ck cursorKey
		if err != nil || json.Unmarshal(raw, &ck) != nil {
			return nil, fmt.Errorf("invalid cursor for the after argument")
		}
		i := slices.IndexFunc(recs, func(r fakekit.Record) bool { return key(r) == ck.K })
		if i < 0 {
			// The record moved (updated) or is gone: resume after its old place.
			i = slices.IndexFunc(recs, func(r fakekit.Record) bool { return strings.Compare(key(r), ck.K) > 0 }) - 1
			if i < -1 {
				i = len(recs) - 1
			}
		}
		recs = recs[i+1:]
	}
	more := len(recs) > n
	recs = recs[:min(n, len(recs))]
	var edges, nodes []any
	for _, r := range recs {
		full := x.render(typ, r)
		edges = append(edges, map[string]any{"cursor": encodeCursor(cursorKey{K: key(r), ID: r.ID}), "node": full})
		nodes = append(nodes, full)
	}
	pageInfo := map[string]any{"hasNextPage": more, "hasPreviousPage": false, "startCursor": nil, "endCursor": nil}
	if len(recs) > 0 {
		pageInfo["startCursor"] = edges[0].(map[string]any)["cursor"]
		pageInfo["endCursor"] = edges[len(edges)-1].(map[string]any)["cursor"]
	}
	full := map[string]any{"edges": orEmpty(edges), "nodes": orEmpty(nodes), "pageInfo": pageInfo}
	c, err := x.cost(ast.SelectionSet{fld}, map[*ast.Field]int{fld: len(recs)})
	if err != nil {
		return nil, err
	}
	x.actual += c
	out, err := project(full, fld.SelectionSet, typ+"Connection")
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// noteDeprecated records the deprecated fields a selection of typ asks for.
func (x *exec) noteDeprecated(typ string, set ast.SelectionSet) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if slices.Contains(deprecatedFields[typ], s.Name) && !slices.Contains(x.deprecated, typ+"."+s.Name) {
				x.deprecated = append(x.deprecated, typ+"."+s.Name)
			}
		case *ast.InlineFragment:
			x.noteDeprecated(typ, s.SelectionSet)
		}
	}
}

func gid(typ, id string) string { return "gid://shopify/" + typ + "/" + id }

// render is the whole object a record stands for, as the schema shapes it.
func (x *exec) render(typ string, r fakekit.Record) map[string]any {
	f := r.Fields
	base := map[string]any{"__typename": typ, "id": gid(typ, r.ID),
		"createdAt": r.CreatedAt.UTC().Format(time.RFC3339), "updatedAt": r.UpdatedAt.UTC().Format(time.RFC3339)}
	str := func(k string) any {
		if v, ok := f[k]; ok {
			return v
		}
		return nil
	}
	money := func(amount, currency string) map[string]any {
		if amount == "" {
			amount = "0.0"
		}
		if currency == "" {
			currency = "USD"
		}
		return map[string]any{"amount": amount, "currencyCode": currency}
	}
	switch typ {
	case "Customer":
		maps.Copy(base, map[string]any{"defaultEmailAddress": nil, "defaultPhoneNumber": nil})
		if e := f["email"]; e != "" {
			base["defaultEmailAddress"] = map[string]any{"emailAddress": e, "marketingState": cmpOr(f["emailMarketingState"], "NOT_SUBSCRIBED")}
		}
		if p := f["phone"]; p != "" {
			base["defaultPhoneNumber"] = map[string]any{"phoneNumber": p, "marketingState": cmpOr(f["smsMarketingState"], "NOT_SUBSCRIBED")}
		}
		maps.Copy(base, map[string]any{"email": str("email"), "firstName": str("firstName"), "lastName": str("lastName"),
			"phone": str("phone"), "note": str("note"), "state": cmpOr(f["state"], "ENABLED"), "tags": tags(f["tags"]),
			"numberOfOrders": cmpOr(f["numberOfOrders"], "0"), "amountSpent": money(f["amountSpent"], f["currencyCode"]),
			"displayName": strings.TrimSpace(f["firstName"] + " " + f["lastName"])})
	case "Order":
		maps.Copy(base, map[string]any{"name": cmpOr(f["name"], "#"+r.ID), "email": str("email"),
			"displayFinancialStatus": cmpOr(f["displayFinancialStatus"], "PAID"), "displayFulfillmentStatus": cmpOr(f["displayFulfillmentStatus"], "UNFULFILLED"),
			"currencyCode":  cmpOr(f["currencyCode"], "USD"),
			"totalPriceSet": map[string]any{"shopMoney": money(f["totalPrice"], f["currencyCode"]), "presentmentMoney": money(f["totalPrice"], f["currencyCode"])},
			"customer":      nil})
		if id := f["customerId"]; id != "" {
			base["customer"] = map[string]any{"__typename": "Customer", "id": gid("Customer", strings.TrimPrefix(id, "gid://shopify/Customer/"))}
		}
	case "Product":
		inv, _ := strconv.Atoi(f["totalInventory"])
		maps.Copy(base, map[string]any{"title": str("title"), "handle": cmpOr(f["handle"], strings.ToLower(strings.ReplaceAll(f["title"], " ", "-"))),
			"status": cmpOr(f["status"], "ACTIVE"), "vendor": str("vendor"), "productType": cmpOr(f["productType"], ""), "tags": tags(f["tags"]),
			"totalInventory": inv})
	}
	return base
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func tags(s string) []string {
	out := []string{}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// project keeps what a selection asks of a rendered value, and refuses
// fields the type does not have, as a GraphQL server does.
func project(v any, set ast.SelectionSet, typ string) (any, error) {
	switch val := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		if len(set) == 0 {
			return nil, fmt.Errorf("Field of type '%s' must have a selection of subfields", typ)
		}
		out := map[string]any{}
		for _, sel := range set {
			var fields ast.SelectionSet
			switch s := sel.(type) {
			case *ast.Field:
				fields = ast.SelectionSet{s}
			case *ast.InlineFragment:
				if s.TypeCondition != "" && s.TypeCondition != val["__typename"] {
					continue
				}
				fields = s.SelectionSet
			default:
				return nil, fmt.Errorf("named fragments are not supported by the fake")
			}
			for _, fs := range fields {
				fld := fs.(*ast.Field)
				sub, ok := val[fld.Name]
				if !ok {
					return nil, fmt.Errorf("Field '%s' doesn't exist on type '%s'", fld.Name, typ)
				}
				key := fld.Alias
				if key == "" {
					key = fld.Name
				}
				p, err := project(sub, fld.SelectionSet, fld.Name)
				if err != nil {
					return nil, err
				}
				out[key] = p
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(val))
		for _, item := range val {
			p, err := project(item, set, typ)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, nil
	default:
		if len(set) > 0 {
			return nil, fmt.Errorf("Selections can't be made on scalars (field '%s')", typ)
		}
		return v, nil
	}
}

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// customerInput are the CustomerInput fields the fake stores.
var customerInput = []string{"email", "firstName", "lastName", "phone", "note", "tags"}

// mutate runs customerCreate or customerUpdate.
func (x *exec) mutate(fld *ast.Field) any {
	need, ok := mutationScope[fld.Name]
	if !ok {
		x.errs = append(x.errs, errorWith("undefinedField", fmt.Sprintf("Field '%s' doesn't exist on type 'Mutation'", fld.Name), fld.Name))
		return nil
	}
	x.actual += 10
	if !hasScope(x.call, need) {
		e := errorWith("ACCESS_DENIED", fmt.Sprintf("Access denied for %s field. Required access: `%s` access scope.", fld.Name, need), fld.Name)
		e.Extensions["requiredAccess"] = "`" + need + "` access scope."
		x.errs = append(x.errs, e)
		return nil
	}
	raw, err := x.arg(fld, "input")
	input, ok := raw.(map[string]any)
	if err != nil || !ok {
		x.errs = append(x.errs, errorWith("argumentLiteralsIncompatible", "input is required and must be a CustomerInput", fld.Name))
		return nil
	}
	fields := map[string]string{}
	for k, v := range input {
		switch {
		case k == "id":
		case k == "tags":
			switch t := v.(type) {
			case []any:
				var parts []string
				for _, p := range t {
					parts = append(parts, fmt.Sprint(p))
				}
				fields["tags"] = strings.Join(parts, ",")
			default:
				fields["tags"] = fmt.Sprint(v)
			}
		case slices.Contains(customerInput, k):
			fields[k] = fakekit.Stringify(v)
		default:
			x.errs = append(x.errs, errorWith("argumentLiteralsIncompatible",
				fmt.Sprintf("Variable $input of type CustomerInput! was provided invalid value for %s (Field is not defined on CustomerInput)", k), fld.Name))
			return nil
		}
	}
	var userErrors []map[string]any
	uerr := func(field, msg string) {
		userErrors = append(userErrors, map[string]any{"field": []string{field}, "message": msg})
	}
	if e := fields["email"]; e != "" && !emailPattern.MatchString(e) {
		uerr("email", "Email is invalid")
	}
	var rec fakekit.Record
	store := x.f.kit.Records(x.call.Account, "customers")
	_ = store.Tx(func(tx *fakekit.Tx) error {
		if len(userErrors) > 0 {
			return nil
		}
		id := strings.TrimPrefix(fmt.Sprint(input["id"]), "gid://shopify/Customer/")
		if e := fields["email"]; e != "" {
			if other, dup := tx.Find(func(r fakekit.Record) bool { return strings.EqualFold(r.Fields["email"], e) && r.ID != id }); dup && other.ID != "" {
				uerr("email", "Email has already been taken")
				return nil
			}
		}
		if fld.Name == "customerCreate" {
			if fields["email"] == "" && fields["phone"] == "" && fields["firstName"] == "" && fields["lastName"] == "" {
				uerr("email", "A name, phone number, or email address must be present")
				return nil
			}
			rec = tx.Create(fields)
			return nil
		}
		if input["id"] == nil {
			uerr("id", "Customer id is required")
			return nil
		}
		var found bool
		if rec, found = tx.Update(id, fields); !found {
			uerr("id", "Customer does not exist")
		}
		return nil
	})
	payload := map[string]any{"customer": nil, "userErrors": orEmptyMaps(userErrors)}
	if rec.ID != "" {
		payload["customer"] = x.render("Customer", rec)
	}
	out, err := project(payload, fld.SelectionSet, fld.Name+"Payload")
	if err != nil {
		x.errs = append(x.errs, errorWith("undefinedField", err.Error(), fld.Name))
		return nil
	}
	return out
}

func orEmptyMaps(v []map[string]any) []any {
	out := []any{}
	for _, m := range v {
		out = append(out, m)
	}
	return out
}
