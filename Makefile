# Developer entry points. The work is done by the scripts in .ci/, so CI
# (.ci/run) and people run the same steps. `make help` lists the targets.

.DEFAULT_GOAL := help
.PHONY: help run test build token pg-start pg-stop pg-status clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## build, start PostgreSQL if needed, migrate, print a dev token and serve on 127.0.0.1:8080
	@bash .ci/dev.sh

test: ## go vet and go test -race ./... against PostgreSQL (a private one if none answers)
	@bash .ci/test.sh

build: ## build bin/roster
	@bash .ci/dev.sh build

token: ## print a fresh development token for dev-owner (owner@example.com)
	@bash .ci/dev.sh token

pg-start: ## start the private PostgreSQL (if no other answers) and leave it running
	@bash .ci/postgres.sh start

pg-stop: ## stop the private PostgreSQL (never any other server)
	@bash .ci/postgres.sh stop

pg-status: ## say which PostgreSQL make run and make test would use
	@bash .ci/postgres.sh status

clean: ## stop the private PostgreSQL and delete its data and bin/
	@bash .ci/postgres.sh clean
	rm -rf bin
