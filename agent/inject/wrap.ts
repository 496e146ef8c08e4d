// SPDX-License-Identifier: Apache-2.0
/**
 * Wrapping a container's process in vigil-trace without changing what it runs. Docker, ECS and
 * Kubernetes share one rule: the process is ENTRYPOINT + CMD, where an explicit entrypoint
 * (`entryPoint` in ECS, `command` in Kubernetes) replaces the image's ENTRYPOINT *and drops the
 * image's CMD* unless a command (`command` / `args`) is given too. So:
 *   - entrypoint given: new entrypoint = tracer + entrypoint; the command stays as it is.
 *   - no entrypoint: the image's ENTRYPOINT must be known (image config); new entrypoint =
 *     tracer + image ENTRYPOINT, and the command becomes the given one or else the image's CMD.
 */
import { InjectError } from "./errors.js";

/** ENTRYPOINT and CMD of an image (its config, as `docker image inspect` or OCI config shows). */
export interface ImageProcess {
  entrypoint: readonly string[] | null;
  cmd: readonly string[] | null;
}

/** Where the tracer lives in the workload container and where it sends frames. */
export interface TracerLocation {
  /** Path of vigil-trace inside the workload container (shared volume). */
  binary: string;
  /** The agent's socket inside the workload container (shared volume). */
  socket: string;
}

/** The argv prefix that runs a program under the tracer. */
export function tracerPrefix(t: TracerLocation): string[] {
  return [t.binary, "--socket", t.socket, "--"];
}

/** True when an entrypoint already starts with the tracer (never wrap twice). */
export function isWrapped(entrypoint: readonly string[] | undefined | null, t: TracerLocation): boolean {
  return !!entrypoint && entrypoint[0] === t.binary;
}

export interface Wrapped {
  entrypoint: string[];
  /** undefined: leave the command unset (nothing was given and nothing is needed). */
  command: string[] | undefined;
}

/**
 * The new entrypoint/command for a container. `entrypoint`/`command` are the container's own
 * settings (undefined = not set); `image` is needed only when `entrypoint` is not set.
 */
export function wrapProcess(
  name: string,
  entrypoint: readonly string[] | undefined,
  command: readonly string[] | undefined,
  image: ImageProcess | undefined,
  t: TracerLocation,
): Wrapped {
  const prefix = tracerPrefix(t);
  if (entrypoint !== undefined && entrypoint.length > 0) {
    return { entrypoint: [...prefix, ...entrypoint], command: command === undefined ? undefined : [...command] };
  }
  if (image === undefined) {
    throw new InjectError(
      "IMAGE_CONFIG_NEEDED",
      `container ${JSON.stringify(name)} sets no entrypoint: the image's ENTRYPOINT/CMD must be given (image config) to wrap it without changing what it runs`,
    );
  }
  const ep = image.entrypoint ?? [];
  const cmd = command !== undefined && command.length > 0 ? [...command] : [...(image.cmd ?? [])];
  if (ep.length === 0 && cmd.length === 0) throw new InjectError("UNSUPPORTED", `container ${JSON.stringify(name)}: the image has neither ENTRYPOINT nor CMD`);
  return { entrypoint: [...prefix, ...ep], command: cmd };
}

/** The argv a container runs (entrypoint + command), for checks and tests. */
export function effectiveArgv(entrypoint: readonly string[] | undefined, command: readonly string[] | undefined, image: ImageProcess | undefined): string[] {
  if (entrypoint !== undefined && entrypoint.length > 0) return [...entrypoint, ...(command ?? [])];
  const cmd = command !== undefined && command.length > 0 ? command : (image?.cmd ?? []);
  return [...(image?.entrypoint ?? []), ...cmd];
}

/** Reads `docker image inspect` output, an OCI image config, or `{entrypoint, cmd}`. */
export function parseImageConfig(doc: unknown): ImageProcess {
  const d = Array.isArray(doc) ? doc[0] : doc;
  if (typeof d !== "object" || d === null) throw new InjectError("INVALID_JSON", "image config: expected an object");
  const o = d as Record<string, unknown>;
  const cfg = (o["Config"] ?? o["config"] ?? o) as Record<string, unknown>;
  const list = (v: unknown, what: string): string[] | null => {
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new InjectError("INVALID_JSON", `image config: ${what} must be a list of strings`);
    return v as string[];
  };
  return { entrypoint: list(cfg["Entrypoint"] ?? cfg["entrypoint"], "Entrypoint"), cmd: list(cfg["Cmd"] ?? cfg["cmd"], "Cmd") };
}
