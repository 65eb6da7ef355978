# Deployment manifests: deploy/kubernetes (kustomize) and the Helm chart deploy/helm/llm-node-exporter,
# validated by the Go tests of deploy/ (its own module, so that helm, kustomize and the Kubernetes API
# types never enter the exporter's go.mod): helm lint, helm template with default and non-default
# values, kustomize builds, strict decoding against the API types, and the DaemonSet's invariants.
HELM := $(TOOLBIN)/helm

.PHONY: deploy-test deploy-vet

# helm from the version pinned in deploy/go.mod (`tool` directive); a file target, built once
# (~1.5-4 min cold on 2 cores, then cached).
$(HELM): deploy/go.mod deploy/go.sum
	@mkdir -p $(TOOLBIN)
	cd deploy && $(GO) build -o ../$(HELM) helm.sh/helm/v3/cmd/helm

deploy-vet:
	cd deploy && $(GO) vet ./...

deploy-test: $(HELM) $(BINARY) deploy-vet
	cd deploy && HELM=$(abspath $(HELM)) LLM_NODE_EXPORTER=$(abspath $(BINARY)) $(GO) test -count=1 ./...

TEST_TARGETS += deploy-test
