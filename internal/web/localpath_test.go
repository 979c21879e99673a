package web

import "testing"

// TestLocalPathRefusesOtherOrigins: the known open-redirect bypass forms all
// fall back; same-site paths stay as they were (cleaned).
func TestLocalPathRefusesOtherOrigins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/tables/tbl_1?x=1", "/tables/tbl_1?x=1"},
		{"/connections/con_1/", "/connections/con_1/"},
		{"/a/../tables", "/tables"},
		{"", "F"},
		{"tables", "F"},
		{"//evil.example/", "F"},
		{"/\\evil.example/", "F"},
		{"\\\\evil.example", "F"},
		{"/a/../%5Cevil.example/", "F"},
		{"/%5Cevil.example", "F"},
		{"/%2F/evil.example", "F"},
		{"/%2f%2fevil.example", "F"},
		{"/\t/evil.example", "F"},
		{"/\n/evil.example", "F"},
		{"/\r\n/evil.example", "F"},
		{"/ /evil.example", "F"},
		{"https://evil.example/", "F"},
		{"http:evil.example", "F"},
		{"javascript:alert(1)", "F"},
		{"///evil.example", "F"},
		{"/.//evil.example", "F"},
		{"/a/..//evil.example", "F"},
		{"/\u2215\u2215evil.example", "F"},
		{"/\uff0f\uff0fevil.example", "F"},
		{"/%00", "F"},
	} {
		if got := localPath(tc.in, "F"); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
