#!/usr/bin/env bash
# `make e2e`: the end-to-end tests alone. Starts the test servers when they are not
# running (and stops them at the end; a developer's running servers are left
# running), then runs pytest on tests/e2e; arguments go to pytest, e.g.
#   bash tests/e2e/run.sh -k images -x
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash deploy/local/install-deps.sh --test || exit 1
already=0
bash deploy/local/servers.sh status >/dev/null 2>&1 && already=1
bash deploy/local/servers.sh start || exit 1
[ "$already" = 1 ] || trap 'bash deploy/local/servers.sh stop' EXIT
# shellcheck source=../../deploy/local/env.sh
. deploy/local/env.sh
python3 -m pytest -p no:cacheprovider -v -rfE tests/e2e "$@"
