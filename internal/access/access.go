// Package access defines the roles people and API tokens act with in a
// workspace, and how they compare.
package access

import (
	"fmt"
	"strings"
)

// Role is what a member (or a token) may do in a workspace. Each role
// includes everything the roles below it may do.
type Role string

// The roles, lowest first.
const (
	Viewer Role = "viewer" // reads everything in the workspace
	Member Role = "member" // also edits tables and syncs and runs them
	Admin  Role = "admin"  // also connects, reconnects and disconnects integrations, manages members and tokens
	Owner  Role = "owner"  // also appoints owners; a workspace keeps at least one
)

// Roles lists every role, lowest first.
func Roles() []Role { return []Role{Viewer, Member, Admin, Owner} }

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Member:
		return 2
	case Admin:
		return 3
	case Owner:
		return 4
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r includes min. An unknown role includes nothing.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// Lower returns the lesser of a and b (a token never acts above its owner).
func Lower(a, b Role) Role {
	if a.rank() <= b.rank() {
		return a
	}
	return b
}

// Parse reads a role name, with an error that lists the valid ones.
func Parse(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q; use one of viewer, member, admin, owner", s)
	}
	return r, nil
}
