// SPDX-License-Identifier: Apache-2.0
/**
 * The event assembler: wire frames in, {@link SyscallEvent}s out. It is the one place where the
 * frame decoder (decode/), the process and fd state (state/) and container enrichment (the
 * resolver the process table calls on exec, clone and unknown processes) are put together; the
 * kernel probe source, the Fargate tracer source (one assembler per tracer connection) and the
 * JIT warm-up each feed their frames to an {@link EventAssembler}. Replayed captures carry
 * events that were assembled when they were recorded, and join the pipeline where an assembler's
 * events do (its `onEvent`).
 *
 * Per frame: decoder → `state.build` (process table, fd table, wall clock; the resolver for new
 * containers) → `onEvent`. The event object is reused (state/event-state.ts), nothing is allocated
 * per event here, and an event that cannot be built is counted and handed to `onBuildError`
 * instead of throwing into the source. Control frames set the state's clock before the source
 * sees them.
 */
import type { SyscallEvent } from "../rules/event.js";
import { DecodeErrorCode, FrameDecoder, type ControlInfo, type PreventInfo, type RawEvent } from "./decode/index.js";
import { EventState, type ContainerResolver, type ProcessTableOptions } from "./state/index.js";

/** Options of {@link EventAssembler}. */
export interface AssemblerOptions {
  /** Every assembled event; the object is reused, so a consumer that keeps it must copy it. */
  onEvent: (e: SyscallEvent) => void;
  /** Container enrichment: cgroup → container (default: everything is the host). */
  resolveContainer?: ContainerResolver | undefined;
  /** Process table options (size, /proc use) for a state of its own. */
  state?: Omit<ProcessTableOptions, "resolveContainer">;
  /** A state shared with other assemblers instead (then `state` and `resolveContainer` are unused). */
  sharedState?: EventState;
  /** Loader control frames (ready, stats), after the state took their clock. */
  onControl?: (c: ControlInfo) => void;
  onPrevent?: (p: PreventInfo) => void;
  onSync?: (seq: number) => void;
  /** An event the state could not build (counted in `event_errors` first). */
  onBuildError?: (err: unknown) => void;
}

/** Frames → decode → state and enrichment → events, for one stream of frames. */
export class EventAssembler {
  readonly state: EventState;
  private readonly decoder: FrameDecoder;
  private readonly onEvent: (e: SyscallEvent) => void;
  private readonly onBuildError: ((err: unknown) => void) | undefined;
  private readonly onControlOut: ((c: ControlInfo) => void) | undefined;
  /** Events handed to `onEvent`, and frames whose event could not be built. */
  readonly counters = { events: 0, event_errors: 0 };

  constructor(o: AssemblerOptions) {
    this.onEvent = o.onEvent;
    this.onBuildError = o.onBuildError;
    this.onControlOut = o.onControl;
    if (o.sharedState !== undefined) this.state = o.sharedState;
    else {
      const st: ProcessTableOptions = { ...o.state };
      if (o.resolveContainer !== undefined) st.resolveContainer = o.resolveContainer;
      this.state = new EventState(st);
    }
    const dec: ConstructorParameters<typeof FrameDecoder>[0] = { onEvent: this.onRaw, onControl: this.onControl };
    if (o.onPrevent !== undefined) dec.onPrevent = o.onPrevent;
    if (o.onSync !== undefined) dec.onSync = o.onSync;
    this.decoder = new FrameDecoder(dec);
  }

  /** Takes a chunk of the frame stream (any boundary). */
  push(chunk: Uint8Array): void {
    this.decoder.push(chunk);
  }

  /** Forgets a partial frame (a new stream starts: a restarted probe). */
  reset(): void {
    this.decoder.reset();
  }

  /** Fills the process table from /proc; returns the processes read. */
  seed(): number {
    return this.state.seed();
  }

  /** Drops exited processes past their grace period. */
  sweep(now?: number): void {
    this.state.sweep(now);
  }

  /** The decoder's counters (frames, bytes, errors by code). */
  decodeStats(): Record<string, number> {
    return this.decoder.stats();
  }

  /** Frames the decoder rejected, all error codes together. */
  decodeErrors(): number {
    const st = this.decoder.stats();
    let n = 0;
    for (const code of Object.values(DecodeErrorCode)) n += st[code] ?? 0;
    return n;
  }

  private readonly onRaw = (r: RawEvent): void => {
    let e: SyscallEvent;
    try {
      e = this.state.build(r);
    } catch (err) {
      this.counters.event_errors++;
      this.onBuildError?.(err);
      return;
    }
    this.counters.events++;
    this.onEvent(e);
  };

  private readonly onControl = (c: ControlInfo): void => {
    this.state.clock(c);
    this.onControlOut?.(c);
  };
}
