package memory_test

import (
	"testing"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store { return memory.New() })
}
