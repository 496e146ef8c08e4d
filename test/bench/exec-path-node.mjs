// SPDX-License-Identifier: Apache-2.0
// Agent CPU per fork+exec without the kernel: replays recorded probe frames of an exec-heavy
// workload through the agent's decode → state → rules path in this process (warm, back to back)
// and prints the time per exec and per event. Record the frames first (root), with the syscall
// set of the rules (test/bench/probe-overhead.sh writes Falco's to /tmp/vigil-bench-syscalls):
//   native-bridge/build/vigil-probe --syscalls "$(cat /tmp/vigil-bench-syscalls)" > /tmp/fe-frames.bin &
//   sleep 5; native-bridge/build/bench-forkexec 2000; kill %1
// then: npx tsc -p tsconfig.json && node test/bench/exec-path-node.mjs /tmp/fe-frames.bin [rules.yaml]
import { readFileSync } from "node:fs";
import { pino } from "pino";
import { FrameDecoder } from "../../dist/agent/decode/index.js";
import { EventState } from "../../dist/agent/state/index.js";
import { RuleEngine } from "../../dist/agent/engine/rule-engine.js";

const file = process.argv[2] ?? "/tmp/fe-frames.bin";
const rules = process.argv[3] ?? "../shared/corpus/falco/falco_rules.yaml";
const data = readFileSync(file);
const chunks = [];
for (let o = 0; o < data.length; o += 16384) chunks.push(data.subarray(o, o + 16384));
const rs = new RuleEngine({ files: [rules], logger: pino({ level: "silent" }) }).load();
const state = new EventState({ readUnknownFromProc: false });
let execs = 0;
let events = 0;
let matches = 0;
const onMatch = () => matches++;
const dec = new FrameDecoder({
  onEvent: (r) => {
    const e = state.build(r);
    events++;
    if (r.type === 1 && r.res === 0) execs++;
    rs.evaluate(e, onMatch);
  },
  onControl: (c) => state.clock(c),
});
const pass = () => {
  for (const c of chunks) dec.push(c);
  state.sweep(Date.now() + 60_000);
};
for (let w = 0; w < 5; w++) pass();
const perPass = { execs: execs / 5, events: events / 5 };
const R = Number(process.env.PASSES ?? 30);
const t = process.hrtime.bigint();
for (let r = 0; r < R; r++) pass();
const ns = Number(process.hrtime.bigint() - t);
console.log(`${file}: ${perPass.execs} execs, ${perPass.events} events per pass; ${R} passes`);
console.log(`rule matches per pass ${matches / (R + 5)}`);
console.log(`per exec ${(ns / R / perPass.execs / 1000).toFixed(1)} µs, per event ${(ns / R / perPass.events).toFixed(0)} ns`);
