package access

import "testing"

func TestRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r, min Role
		want   bool
	}{
		{Owner, Admin, true}, {Admin, Admin, true}, {Member, Admin, false}, {Viewer, Member, false},
		{Member, Viewer, true}, {Role("root"), Viewer, false}, {Role(""), Viewer, false},
	}
	for _, tc := range tests {
		if got := tc.r.AtLeast(tc.min); got != tc.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tc.r, tc.min, got, tc.want)
		}
	}
	if Lower(Owner, Member) != Member || Lower(Viewer, Admin) != Viewer {
		t.Error("Lower picks the wrong role")
	}
	if r, err := Parse(" Admin "); err != nil || r != Admin {
		t.Errorf("Parse(Admin) = %q, %v", r, err)
	}
	if _, err := Parse("superuser"); err == nil {
		t.Error("Parse accepted an unknown role")
	}
}
