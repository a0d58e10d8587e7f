package httpapi

import (
	"net/http"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/emailaddr"
)

// maxImportBodyBytes bounds an import's body: a thousand rows of an
// account ID and an address at their longest are about 520 KiB, and
// the rows real systems export are a tenth of that.
const maxImportBodyBytes = 640 << 10

type importRow struct {
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
}

// importedMember is a member as an import's answer shows it.
type importedMember struct {
	AccountID string      `json:"account_id"`
	Email     string      `json:"email"`
	Role      domain.Role `json:"role"`
}

// importMembers is POST /v1/properties/{pid}/members/import: the owner adds
// existing accounts as members in one request, all or nothing.
func (s *server) importMembers(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Members []importRow `json:"members"`
	}
	m, err := readCommandUpTo(w, r, &b, maxImportBodyBytes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows := make([]commands.ImportRow, len(b.Members))
	for i, row := range b.Members {
		rows[i] = commands.ImportRow{AccountID: row.AccountID, Email: emailaddr.ToASCII(row.Email), Role: row.Role}
	}
	res, err := s.cmd.ImportMembers.Handle(r.Context(), m, commands.ImportMembers{PropertyID: vars(r)["pid"], Rows: rows})
	if err != nil {
		writeError(w, r, err)
		return
	}
	members := []importedMember{}
	for _, e := range res.Events {
		if j, ok := e.(domain.MemberJoined); ok {
			members = append(members, importedMember{AccountID: j.AccountID, Email: j.Email, Role: j.Role})
		}
	}
	writeResult(w, http.StatusCreated, res, struct {
		commandResponse
		Members []importedMember `json:"members"`
	}{newCommandResponse(res), members})
}
