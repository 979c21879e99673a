package connector

// Op is a comparison a provider may apply on its side (filter push-down).
type Op string

// Filter operators. Comparisons with a record that has no value for the
// field are false; OpEmpty and OpNotEmpty test for that.
const (
	OpEq       Op = "eq"
	OpNeq      Op = "neq"
	OpLt       Op = "lt"
	OpLte      Op = "lte"
	OpGt       Op = "gt"
	OpGte      Op = "gte"
	OpIn       Op = "in"
	OpNotIn    Op = "not_in"
	OpEmpty    Op = "empty"
	OpNotEmpty Op = "not_empty"
)

// Condition is one test on a field. Values are strings, float64 numbers or
// time.Time instants; text compares without regard to case.
type Condition struct {
	Field  string
	Op     Op
	Values []any
}

// Filter is a provider-neutral filter in disjunctive normal form: the groups
// are ORed, the conditions of a group ANDed. Nil means every record.
type Filter [][]Condition

// Filterer is implemented by connectors whose provider can filter records
// (a search API). CanFilter says whether List honours f for object exactly;
// when it does, List returns only matching records for a request carrying f.
type Filterer interface {
	CanFilter(object string, f Filter) bool
}

// Change is a provider's notice (a webhook) that a record of an account changed.
type Change struct {
	Account string // the provider account id, as Identity reports it
	Object  string
	ID      string
}
