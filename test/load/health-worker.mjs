// SPDX-License-Identifier: Apache-2.0
// The /healthz prober of the load harness (harness.ts), in a worker thread so that the attack
// traffic the test process itself generates does not delay the probes it measures. Every
// `intervalMs` it opens a fresh connection from `localAddress`, asks GET /healthz and posts one
// result per probe: { t (wall-clock start), ms, ok, err? }. A probe unanswered after
// `timeoutMs` counts as failed at that latency. Message "stop": no new probes; the worker posts
// "done" once the probes in flight have settled.
import { request } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

const { host, port, intervalMs, timeoutMs, localAddress } = workerData;
let inFlight = 0;
let stopping = false;

function settleIfDone() {
  if (stopping && inFlight === 0) parentPort.postMessage({ done: true });
}

function probe() {
  const t = Date.now();
  const t0 = performance.now();
  let settled = false;
  inFlight++;
  const finish = (ok, err) => {
    if (settled) return;
    settled = true;
    clearTimeout(deadline);
    inFlight--;
    parentPort.postMessage({ t, ms: performance.now() - t0, ok, ...(err === undefined ? {} : { err }) });
    settleIfDone();
  };
  const req = request({ host, port, path: "/healthz", method: "GET", agent: false, localAddress, headers: { connection: "close" } }, (res) => {
    res.on("data", () => undefined);
    res.on("end", () => finish(res.statusCode === 200, res.statusCode === 200 ? undefined : `status ${res.statusCode}`));
    res.on("error", (e) => finish(false, e.code ?? e.message));
  });
  const deadline = setTimeout(() => {
    finish(false, "timeout");
    req.destroy();
  }, timeoutMs);
  req.on("error", (e) => finish(false, e.code ?? e.message));
  req.end();
}

const timer = setInterval(probe, intervalMs);
probe();
parentPort.on("message", (m) => {
  if (m === "stop") {
    stopping = true;
    clearInterval(timer);
    settleIfDone();
  }
});
