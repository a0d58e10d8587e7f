package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/rosterhq/roster/domain"
)

// maxBodyBytes bounds a request body: a bulk invite of 50 rows is a few KiB.
const maxBodyBytes = 64 << 10

// readBody reads the whole body within the limit. Errors: KindTooLarge,
// KindMalformed for a content type other than JSON.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return readBodyUpTo(w, r, maxBodyBytes)
}

// readBodyUpTo is readBody with a limit of its own, for a route whose
// bodies are larger (a bulk check).
func readBodyUpTo(w http.ResponseWriter, r *http.Request, maxBodyBytes int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := readBodyInto(w, r, maxBodyBytes, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readBodyInto is readBodyUpTo into buf, which the caller may keep in a
// pool: the access-check API reads every body this way.
func readBodyInto(w http.ResponseWriter, r *http.Request, maxBodyBytes int64, buf *bytes.Buffer) error {
	// The plain value most clients send is taken without parsing it.
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return domain.Errorf(domain.KindMalformed, domain.CodeInvalidHeader,
				"Content-Type %q is not application/json", ct)
		}
	}
	if r.ContentLength > 0 && r.ContentLength <= maxBodyBytes {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return domain.Errorf(domain.KindTooLarge, domain.CodeBodyTooLarge,
			"the request body is larger than %d bytes", maxBodyBytes)
	case err != nil:
		return domain.Errorf(domain.KindMalformed, domain.CodeMalformedJSON, "the request body could not be read: %v", err)
	}
	return nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, with errors that say where the JSON went wrong.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return domain.Errorf(domain.KindMalformed, domain.CodeMalformedJSON, "the request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return domain.Errorf(domain.KindMalformed, domain.CodeMalformedJSON, "the request body has data after its JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return domain.Errorf(domain.KindMalformed, domain.CodeMalformedJSON, "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "the body"
		}
		return domain.Errorf(domain.KindMalformed, domain.CodeMalformedJSON, "%s must be a JSON %s, not %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.KindMalformed, domain.CodeMalformedJSON, "malformed JSON: the body ends early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return domain.Errorf(domain.KindMalformed, domain.CodeUnknownField, "unknown field %s", field)
	}
	return domain.Errorf(domain.KindMalformed, domain.CodeMalformedJSON, "malformed JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	}
	return fmt.Sprintf("value of kind %s", goKind)
}

// required refuses an empty required field, naming it.
func required(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidRequest,
			Message:  field + " is required",
			Problems: []domain.Problem{{Index: -1, Field: field, Value: value, Code: domain.CodeInvalidRequest, Message: field + " is required"}}}
	}
	return nil
}
