// SPDX-License-Identifier: Apache-2.0
/**
 * The gRPC ingest's gate, a grpc-js server interceptor that decides on a call from its metadata
 * alone, before a byte of the message is read: grpc-js keeps a new stream paused until the
 * handler asks for the message, and a call refused here never gets that far, so its body is
 * discarded as it arrives. In order:
 *
 * 1. the client IP (the public port's proxy tells which IP a loopback connection stands for)
 *    over its failed-auth limit → RESOURCE_EXHAUSTED with `retry-after` (seconds) metadata;
 * 2. a missing or bad bearer token → UNAUTHENTICATED (one failure for the limiter);
 * 3. no room in the in-flight byte budget for `max_message_bytes` → UNAVAILABLE (retryable).
 *
 * An accepted call must be answered within `callTimeoutMs` (`request_timeout_ms`), else it ends
 * with DEADLINE_EXCEEDED (`grpc_call_timeouts`) and its reservation is given back: a client that
 * stalls in the middle of a message while answering keepalive pings holds nothing for long.
 *
 * Every status is counted here by code (the refusal counters of proto/grpc-status-counter.ts plus
 * `auth_rate_limited`, `inflight_refused`, `grpc_internal_errors`); a call that ends with no
 * status (transport refusal such as a message over the receive limit, or a client cancel)
 * counts as `refused_transport_or_cancelled`.
 */
import { Metadata, ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder, status, type ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { AuthFailureLimiter } from "./auth-limiter.js";
import type { ByteBudget } from "./byte-budget.js";
import { BurstLog } from "./burst-log.js";
import { countRefusal, type RefusalCounters, type TokenCheck } from "../proto/index.js";

/** Counters the gate fills (refusals by code plus its own). */
export interface GrpcGuardCounters extends RefusalCounters {
  auth_rate_limited: number;
  inflight_refused: number;
  grpc_internal_errors: number;
  grpc_call_timeouts: number;
}

/** What the gate needs. */
export interface GrpcGuardDeps {
  auth: TokenCheck;
  limiter: AuthFailureLimiter;
  budget: ByteBudget;
  /** Bytes reserved per accepted call (the receive limit). */
  reserveBytes: number;
  /** An accepted call not answered within this ends with DEADLINE_EXCEEDED. */
  callTimeoutMs: number;
  /** The client IP behind a grpc-js peer string (`127.0.0.1:port` of the proxy's connection). */
  clientIp(peer: string): string;
  counters: GrpcGuardCounters;
  logger: Logger;
}

/** Builds the interceptor (install it last, so it is the outermost). */
export function grpcGuard(d: GrpcGuardDeps): ServerInterceptor {
  const c = d.counters;
  const busyLog = new BurstLog(d.logger, "in-flight byte budget full: gRPC pushes refused with UNAVAILABLE");
  const limitedLog = new BurstLog(d.logger, "failed-auth rate limit reached: gRPC calls refused with RESOURCE_EXHAUSTED");
  let internalLogged = false;

  return (_method, call) => {
    let answered = false;
    let reserved = 0;
    let timer: NodeJS.Timeout | undefined;
    const release = () => {
      if (reserved > 0) d.budget.release(reserved);
      reserved = 0;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    const refuse = (code: status, details: string, metadata?: Metadata) => {
      answered = true;
      release();
      call.sendStatus({ code, details, metadata: metadata ?? null });
    };
    const count = (code: status) => countRefusal(c, code);

    const onMetadata = (md: Metadata, next: (md: Metadata) => void) => {
      const ip = d.clientIp(call.getPeer());
      const wait = d.limiter.retryAfterMs(ip);
      if (wait > 0) {
        c.auth_rate_limited++;
        limitedLog.hit({ ip });
        const m = new Metadata();
        m.set("retry-after", String(Math.ceil(wait / 1000)));
        return refuse(status.RESOURCE_EXHAUSTED, "too many failed authentications from this address, retry later", m);
      }
      const authz = md.get("authorization")[0];
      if (!d.auth.ok(typeof authz === "string" ? authz : undefined)) {
        d.limiter.fail(ip);
        c.refused_unauthenticated++;
        return refuse(status.UNAUTHENTICATED, "missing or bad bearer token");
      }
      if (!d.budget.tryReserve(d.reserveBytes)) {
        c.inflight_refused++;
        busyLog.hit({ inUseBytes: d.budget.inUse, limitBytes: d.budget.limit });
        return refuse(status.UNAVAILABLE, "collector busy: in-flight byte budget full, retry later");
      }
      reserved = d.reserveBytes;
      timer = setTimeout(() => {
        if (answered) return;
        c.grpc_call_timeouts++;
        refuse(status.DEADLINE_EXCEEDED, "request not received in time");
      }, d.callTimeoutMs);
      timer.unref();
      next(md);
    };

    return new ServerInterceptingCall(
      call,
      new ResponderBuilder()
        .withStart((next) =>
          next(
            new ServerListenerBuilder()
              .withOnReceiveMetadata((md, mdNext) => {
                try {
                  onMetadata(md, mdNext);
                } catch (err) {
                  c.grpc_internal_errors++;
                  if (!internalLogged) {
                    internalLogged = true;
                    d.logger.error({ err }, "gRPC gate failed (logged once)");
                  }
                  if (!answered) refuse(status.INTERNAL, "internal error");
                }
              })
              .withOnCancel(() => {
                release();
                if (!answered) c.refused_transport_or_cancelled++;
                answered = true;
              })
              .build(),
          ),
        )
        .withSendStatus((st, next) => {
          if (!answered) count(st.code);
          answered = true;
          release();
          next(st);
        })
        .build(),
    );
  };
}
