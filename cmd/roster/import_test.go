package main

import (
	"fmt"
	"net/http"
	"testing"
)

// TestImportMembers imports members over HTTP and finds them in the
// members list, the audit trail and their own property lists; the same
// request sent again with its Idempotency-Key is answered with the first
// one's result and imports nobody twice.
func TestImportMembers(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner := app.user(t, "owner")
	pid := app.createProperty(t, owner, "Imported").PropertyID
	p := "/v1/properties/" + pid
	x := app.user(t, "x")
	rows := []map[string]string{{"account_id": x.ID, "email": x.Email, "role": "admin"}}
	for i := range 9 {
		rows = append(rows, map[string]string{"account_id": fmt.Sprintf("acc-imp-%d", i), "email": fmt.Sprintf("imp%d@example.com", i), "role": "agent"})
	}
	key := map[string]string{"Idempotency-Key": "import-1"}
	first := app.do(t, http.MethodPost, p+"/members/import", owner.Token, map[string]any{"members": rows}, key).want(t, http.StatusCreated)
	var res struct {
		Revision uint64 `json:"revision"`
		Position string `json:"position"`
		Changed  bool   `json:"changed"`
		Members  []struct {
			AccountID string `json:"account_id"`
			Role      string `json:"role"`
		} `json:"members"`
	}
	first.into(t, &res)
	if !res.Changed || len(res.Members) != 10 || res.Members[0].AccountID != x.ID || res.Members[0].Role != "admin" || res.Revision != 11 {
		t.Fatalf("answer %s, want ten members imported at revision 11", first.Raw)
	}
	again := app.do(t, http.MethodPost, p+"/members/import", owner.Token, map[string]any{"members": rows}, key).want(t, http.StatusCreated)
	if again.Body["repeated"] != true || again.Body["revision"] != first.Body["revision"] {
		t.Errorf("the repeat answered %s, want the first answer, marked repeated", again.Raw)
	}

	members := app.read(t, p+"/members?limit=200", owner.Token, res.Position).want(t, http.StatusOK)
	if list, _ := members.Body["members"].([]any); len(list) != 11 {
		t.Errorf("members %s, want the owner and ten imported", members.Raw)
	}
	audit := app.read(t, p+"/audit?type=MemberJoined", owner.Token, res.Position).want(t, http.StatusOK)
	entries, _ := audit.Body["entries"].([]any)
	if len(entries) != 11 {
		t.Errorf("audit %s, want eleven MemberJoined entries", audit.Raw)
	}
	mine := app.read(t, "/v1/me/properties", x.Token, res.Position).want(t, http.StatusOK)
	if list, _ := mine.Body["properties"].([]any); len(list) != 1 {
		t.Errorf("the imported admin's properties %s, want the one imported into", mine.Raw)
	}
	// The imported admin acts at once.
	app.do(t, http.MethodPost, p+"/invitations", x.Token, map[string]string{"email": "new@example.com", "role": "agent"}, nil).want(t, http.StatusCreated)
	// But only the owner imports.
	app.do(t, http.MethodPost, p+"/members/import", x.Token, map[string]any{"members": []map[string]string{{"account_id": "acc-z", "email": "z@example.com", "role": "agent"}}}, nil).
		wantProblem(t, http.StatusForbidden, "import_owner_only")
}
