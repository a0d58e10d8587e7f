package postgres_test

import (
	"testing"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store { return postgres.New(pgtest.NewPool(t)) })
}
