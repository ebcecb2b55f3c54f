#!/usr/bin/env bash
# Deploy one Pace service to fly.io: bash deploy/flydeploy.sh NAME (make deploy-NAME).
#
# Builds services/NAME/Dockerfile with the repository root as the context (the
# shared packages live there) and applies services/NAME/fly.toml. Checks first
# that flyctl is installed and logged in, and says what to do when it is not.
# Extra arguments after NAME go to `flyctl deploy` (for example --remote-only).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${1:-}"
if [[ -z "$name" ]]; then
  echo "usage: bash deploy/flydeploy.sh NAME   (or: make deploy-NAME)" >&2
  exit 2
fi
shift

config="services/$name/fly.toml"
dockerfile="services/$name/Dockerfile"
for file in "$config" "$dockerfile"; do
  if [[ ! -f "$root/$file" ]]; then
    echo "no $file: is '$name' a service under services/? (make new-service NAME=$name creates one)" >&2
    exit 2
  fi
done

# flyctl installs itself as both `flyctl` and `fly`; accept either.
flyctl="${FLYCTL:-}"
if [[ -z "$flyctl" ]]; then
  flyctl="$(command -v flyctl || command -v fly || true)"
fi
if [[ -z "$flyctl" ]]; then
  cat >&2 <<'MSG'
flyctl is not installed, so nothing was deployed.
Install it, then run this again:
  curl -L https://fly.io/install.sh | sh     # Linux, macOS (or: brew install flyctl)
  export PATH="$HOME/.fly/bin:$PATH"
See https://fly.io/docs/flyctl/install/ and docs/deploy.md.
MSG
  exit 127
fi

if ! "$flyctl" auth whoami >/dev/null 2>&1; then
  cat >&2 <<'MSG'
flyctl is not logged in to fly.io, so nothing was deployed.
Log in interactively:      flyctl auth login
or, in CI, set a token:    export FLY_API_TOKEN=$(flyctl tokens create deploy)
Then run this again. See docs/deploy.md.
MSG
  exit 3
fi

cd "$root"
echo "deploying $name with $config"
exec "$flyctl" deploy --config "$config" --dockerfile "$dockerfile" "$@" .
