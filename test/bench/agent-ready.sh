# SPDX-License-Identifier: Apache-2.0
# Sourced by the benchmark scripts that start `vigil agent` in the background:
#   wait_agent_ready AGENT_PID LOG   waits (60 s) for the agent's "vigil agent ready" line, failing
#                                    with the log's tail if the agent exits first; then sets PROBEPID
#                                    to its vigil-probe child.
wait_agent_ready() {
  local agent=$1 log=$2
  for _ in $(seq 120); do
    grep -q '"vigil agent ready"' "$log" 2>/dev/null && break
    kill -0 "$agent" 2>/dev/null || { echo "agent exited:"; tail -5 "$log"; exit 1; }
    sleep 0.5
  done
  grep -q '"vigil agent ready"' "$log" || { echo "agent not ready after 60 s"; exit 1; }
  PROBEPID=$(pgrep -P "$agent" -f vigil-probe | head -1)
  [ -n "$PROBEPID" ] || { echo "vigil-probe child not found"; exit 1; }
}
