package consumers_test

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rosterhq/roster/infra/consumers"
)

// addFollower adds BenchmarkFollow's consumer as the application adds the
// consumers that are no projection.
func addFollower(c *consumers.Consumers, name string, h message.NoPublishHandlerFunc) {
	c.AddPersistent(name, h, consumers.InBatches(0))
}
