package httpapi

import (
	"net/http"
	"strconv"

	"github.com/rosterhq/roster/commands"
)

func (s *server) registerPropertyRoutes(r routes) {
	r.handle(http.MethodPost, "/properties", s.createProperty)
	r.handle(http.MethodGet, "/properties/{pid}", s.consistent(s.getProperty))
	r.handle(http.MethodPost, "/properties/{pid}/ownership", s.transferOwnership)
	r.handle(http.MethodPost, "/properties/{pid}/leave", s.leave)
}

func (s *server) createProperty(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	m, err := readCommand(w, r, &body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.cmd.CreateProperty.Handle(r.Context(), m, commands.CreateProperty{Name: body.Name})
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/properties/"+res.PropertyID)
	writeResult(w, http.StatusCreated, res, newCommandResponse(res))
}

func (s *server) getProperty(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.reads.Property(r.Context(), pid)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(p.Revision, 10)))
	writeJSON(w, http.StatusOK, p)
}

func (s *server) transferOwnership(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AccountID string `json:"account_id"`
	}
	simpleCommand(w, r, &body, func(m commands.Meta) (commands.Result, error) {
		if err := required("account_id", body.AccountID); err != nil {
			return commands.Result{}, err
		}
		return s.cmd.TransferOwnership.Handle(r.Context(), m,
			commands.TransferOwnership{PropertyID: vars(r)["pid"], AccountID: body.AccountID})
	})
}

func (s *server) leave(w http.ResponseWriter, r *http.Request) {
	simpleCommand(w, r, nil, func(m commands.Meta) (commands.Result, error) {
		return s.cmd.Remove.Handle(r.Context(), m, commands.Remove{PropertyID: vars(r)["pid"], Leave: true})
	})
}
