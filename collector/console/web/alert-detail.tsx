// SPDX-License-Identifier: Apache-2.0
/**
 * One alert in full: what happened (rule, priority, time, node, source, whether prevention
 * blocked it, the output line), MITRE ATT&CK tactics and techniques linked to attack.mitre.org,
 * the process ancestry, the container and Kubernetes context, the audit capture (size, events,
 * download, and the syscall trace: capture-view.tsx), and every output field.
 */
import { useEffect, useState } from "preact/hooks";
import { ApiError, type CaptureInfo, getAlert, getCaptureInfo } from "./api.js";
import { CaptureView } from "./capture-view.js";
import { ancestry, type ConsoleAlert, context, mitre, priorityWord, shortTime } from "./model.js";

/** The alert's process ID (proc.pid), to find its event in the capture. */
function pidOf(a: ConsoleAlert): number | undefined {
  const n = Number(a.output_fields["proc.pid"] ?? Number.NaN);
  return Number.isInteger(n) ? n : undefined;
}

function Pairs(props: { rows: [string, string][] }) {
  return <dl class="pairs">{props.rows.map(([k, v]) => [<dt key={`k${k}`}>{k}</dt>, <dd key={`v${k}`}>{v}</dd>])}</dl>;
}

/** The detail panel of the alert `id` (`known`: the list's copy, shown while the collector's is read). */
export function AlertDetail(props: { id: string; known: ConsoleAlert | undefined; onClose(): void; onUnauthorized(): void }) {
  const [alert, setAlert] = useState<ConsoleAlert | undefined>(props.known);
  const [error, setError] = useState<string | undefined>();
  const [capture, setCapture] = useState<CaptureInfo | null | undefined>();

  useEffect(() => {
    const ac = new AbortController();
    setAlert(props.known);
    setError(undefined);
    setCapture(undefined);
    const failed = (err: unknown) => {
      if (ac.signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) return props.onUnauthorized();
      setError(
        err instanceof ApiError && err.status === 404 ? "No such alert (it may have passed retention)." : String(err instanceof Error ? err.message : err),
      );
    };
    getAlert(props.id, ac.signal).then((a) => !ac.signal.aborted && setAlert(a), failed);
    getCaptureInfo(props.id, ac.signal).then(
      (c) => !ac.signal.aborted && setCapture(c ?? null),
      () => !ac.signal.aborted && setCapture(null),
    );
    return () => ac.abort();
  }, [props.id]);

  if (alert === undefined)
    return (
      <aside class="detail" aria-label="Alert detail">
        <header class="detail-head">
          <button type="button" class="close" onClick={props.onClose} title="Close (Esc)">
            ×
          </button>
        </header>
        <p class={error !== undefined ? "error" : "muted"}>{error ?? "Loading…"}</p>
      </aside>
    );

  const chain = ancestry(alert);
  const ctx = context(alert);
  const refs = mitre(alert.tags);
  const fieldNames = Object.keys(alert.output_fields).sort();
  return (
    <aside class="detail" aria-label="Alert detail">
      <header class="detail-head">
        <span class={`prio p-${priorityWord(alert.priority)}`}>{alert.priority}</span>
        <h2>{alert.rule}</h2>
        <button type="button" class="close" onClick={props.onClose} title="Close (Esc)">
          ×
        </button>
      </header>
      {alert.blocked === true && <p class="blocked-note">Prevention blocked this action: the process was killed in the kernel.</p>}
      <Pairs
        rows={[
          ["Time (UTC)", shortTime(alert.time)],
          ["Node", alert.hostname],
          ["Source", alert.source],
          ["Alert ID", alert.id],
        ]}
      />
      <pre class="output">{alert.output}</pre>

      {(refs.length > 0 || alert.tags.length > 0) && (
        <section>
          <h3>MITRE ATT&CK and tags</h3>
          <ul class="mitre">
            {refs.map((r) => (
              <li key={r.id}>
                <a href={r.href} target="_blank" rel="noopener noreferrer" class={`mitre-${r.kind}`}>
                  {r.kind === "tactic" ? `${r.label} (${r.id})` : r.label}
                </a>
              </li>
            ))}
          </ul>
          <p class="tags">
            {alert.tags.map((t) => (
              <span key={t} class="tag">
                {t}
              </span>
            ))}
          </p>
        </section>
      )}

      {chain.length > 0 && (
        <section>
          <h3>Process ancestry</h3>
          <ol class="ancestry">
            {chain.map((p) => (
              <li key={p.level} class={p.level === 0 ? "self" : ""}>
                <span class="proc-name">{p.name || "?"}</span>
                {p.pid !== "" && <span class="proc-pid">pid {p.pid}</span>}
                {p.exe !== "" && <span class="proc-exe">{p.exe}</span>}
                {p.cmdline !== "" && <code class="proc-cmd">{p.cmdline}</code>}
              </li>
            ))}
          </ol>
        </section>
      )}

      {ctx.container.length > 0 && (
        <section>
          <h3>Container</h3>
          <Pairs rows={ctx.container} />
        </section>
      )}
      {ctx.kubernetes.length > 0 && (
        <section>
          <h3>Kubernetes</h3>
          <Pairs rows={ctx.kubernetes} />
        </section>
      )}

      <section>
        <h3>Capture</h3>
        {capture === undefined ? (
          <p class="muted">Looking for a capture…</p>
        ) : capture === null ? (
          <p class="muted">No capture was taken for this alert.</p>
        ) : (
          <CaptureView info={capture} alertId={alert.id} alertPid={pidOf(alert)} />
        )}
      </section>

      <section>
        <h3>Output fields ({fieldNames.length})</h3>
        <table class="fields">
          <tbody>
            {fieldNames.map((k) => {
              const v = alert.output_fields[k];
              return (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td class={v === null ? "muted" : ""}>{v === null ? "<NA>" : String(v)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
    </aside>
  );
}
