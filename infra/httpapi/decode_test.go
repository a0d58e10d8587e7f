package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rosterhq/roster/domain"
)

// wantDomainError checks err's kind and code, and that its message holds every part.
func wantDomainError(t *testing.T, err error, kind domain.Kind, code string, parts ...string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T), want a *domain.Error %s/%s", err, err, kind, code)
	}
	if de.Kind != kind || de.Code != code {
		t.Errorf("error %s/%s %q, want %s/%s", de.Kind, de.Code, de.Message, kind, code)
	}
	for _, p := range parts {
		if !strings.Contains(de.Message, p) {
			t.Errorf("message %q does not name %q", de.Message, p)
		}
	}
}

func TestDecodeStrictRefusesWhatIsNotOneKnownObject(t *testing.T) {
	type body struct {
		Name string   `json:"name"`
		IDs  []string `json:"ids"`
	}
	tests := []struct {
		name  string
		body  string
		code  string
		parts []string
	}{
		{"an empty body is refused", "", domain.CodeMalformedJSON, []string{"empty"}},
		{"a blank body is refused", " \n\t", domain.CodeMalformedJSON, []string{"empty"}},
		{"broken JSON names the byte", `{"name":}`, domain.CodeMalformedJSON, []string{"byte 9"}},
		{"a body that ends early says so", `{"name":"x"`, domain.CodeMalformedJSON, []string{"ends early"}},
		{"an unknown field is named", `{"name":"x","nmae":"y"}`, domain.CodeUnknownField, []string{`"nmae"`}},
		{"a wrong type names the field and both types", `{"name":5}`, domain.CodeMalformedJSON, []string{"name", "string", "number"}},
		{"a wrong element type names the field", `{"ids":[1]}`, domain.CodeMalformedJSON, []string{"ids", "string"}},
		{"an array for an object is refused", `[]`, domain.CodeMalformedJSON, []string{"object", "array"}},
		{"data after the value is refused", `{"name":"x"} {"name":"y"}`, domain.CodeMalformedJSON, []string{"after"}},
		{"garbage after the value is refused", `{"name":"x"}garbage`, domain.CodeMalformedJSON, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b body
			wantDomainError(t, decodeStrict([]byte(tt.body), &b), domain.KindMalformed, tt.code, tt.parts...)
		})
	}
}

func TestDecodeStrictAcceptsOneObject(t *testing.T) {
	for _, raw := range []string{`{"name":"x"}`, " {\"name\":\"x\"} \n", `{"name":"x","ids":null}`} {
		var b struct {
			Name string   `json:"name"`
			IDs  []string `json:"ids"`
		}
		if err := decodeStrict([]byte(raw), &b); err != nil || b.Name != "x" {
			t.Errorf("decodeStrict(%q) = %v, name %q; want name x", raw, err, b.Name)
		}
	}
}

func TestReadBodyChecksTypeAndSize(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		size        int
		kind        domain.Kind // "" when the body is accepted
		code        string
	}{
		{"no content type is read as JSON", "", 10, "", ""},
		{"application/json is JSON", "application/json", 10, "", ""},
		{"parameters do not matter", "application/json; charset=utf-8", 10, "", ""},
		{"a +json type is JSON", "application/merge-patch+json", 10, "", ""},
		{"the type is case-insensitive", "Application/JSON", 10, "", ""},
		{"text is refused", "text/plain", 10, domain.KindMalformed, domain.CodeInvalidHeader},
		{"a form is refused", "application/x-www-form-urlencoded", 10, domain.KindMalformed, domain.CodeInvalidHeader},
		{"an unparsable type is refused", "json;;=", 10, domain.KindMalformed, domain.CodeInvalidHeader},
		{"a body of exactly 64 KiB is read", "application/json", maxBodyBytes, "", ""},
		{"a body one byte over 64 KiB is too large", "application/json", maxBodyBytes + 1, domain.KindTooLarge, domain.CodeBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/properties", strings.NewReader(strings.Repeat(" ", tt.size)))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			body, err := readBody(httptest.NewRecorder(), r)
			if tt.kind == "" {
				if err != nil || len(body) != tt.size {
					t.Errorf("readBody = %d bytes, %v; want %d bytes", len(body), err, tt.size)
				}
				return
			}
			wantDomainError(t, err, tt.kind, tt.code)
		})
	}
}

func TestRequiredNamesTheField(t *testing.T) {
	err := required("account_id", "  ")
	wantDomainError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, "account_id")
	var de *domain.Error
	if errors.As(err, &de) && (len(de.Problems) != 1 || de.Problems[0].Field != "account_id" || de.Problems[0].Index != -1) {
		t.Errorf("problems %+v, want one for field account_id outside any row", de.Problems)
	}
	if err := required("account_id", "a1"); err != nil {
		t.Errorf("required(a1) = %v, want nil", err)
	}
}
