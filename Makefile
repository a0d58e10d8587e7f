# Developer entry points. The work is done by the scripts in .ci/, so CI
# (.ci/run) and people run the same steps. `make help` lists the targets.

.DEFAULT_GOAL := help
.PHONY: help run test screenshots bench build token pg-start pg-stop pg-status nats-start nats-stop nats-status clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## build, start PostgreSQL if needed, migrate and serve the API and the dashboard on http://127.0.0.1:8080/
	@bash .ci/dev.sh

test: ## go vet and go test -race ./... against PostgreSQL and NATS JetStream, the dashboard in chromium (installed if missing)
	@bash .ci/test.sh

screenshots: ## walk the dashboard's browser story and save its screens to docs/img
	@ROSTER_UPDATE_SCREENSHOTS=1 ROSTER_TEST_PKGS=./cmd/roster ROSTER_TEST_RUN=TestDashboardSeedStory ROSTER_TEST_EVENT_STORES=postgres bash .ci/test.sh

bench: ## serve on a database of its own and run roster bench against it (BENCH_ARGS='-scale 0.1' passes flags)
	@bash .ci/bench.sh $(BENCH_ARGS)

build: ## build bin/roster
	@bash .ci/dev.sh build

token: ## print a fresh development token for owner@example.com, the account the dashboard signs that email in as
	@bash .ci/dev.sh token

pg-start: ## start the private PostgreSQL (if no other answers) and leave it running
	@bash .ci/postgres.sh start

pg-stop: ## stop the private PostgreSQL (never any other server)
	@bash .ci/postgres.sh stop

pg-status: ## say which PostgreSQL make run and make test would use
	@bash .ci/postgres.sh status

nats-start: ## start the private NATS JetStream server (if none answers at 127.0.0.1:4222) and leave it running
	@bash .ci/nats.sh start

nats-stop: ## stop the private NATS server (never any other server)
	@bash .ci/nats.sh stop

nats-status: ## say which NATS server make test would use
	@bash .ci/nats.sh status

clean: ## stop the private PostgreSQL and NATS servers, delete their data and bin/
	@bash .ci/postgres.sh clean
	@bash .ci/nats.sh clean
	rm -rf bin
