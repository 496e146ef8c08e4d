// SPDX-License-Identifier: Apache-2.0
/**
 * A grpc-js server interceptor counting refused calls by status code. Calls that grpc-js ends
 * itself before a handler answers (a message over the transport receive limit is refused with
 * RESOURCE_EXHAUSTED there) bypass the responder chain and reach interceptors only as a cancel;
 * those, together with client-side cancels, are counted as `refused_transport_or_cancelled`.
 */
import { ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder, status, type ServerInterceptor } from "@grpc/grpc-js";

/** Refusal counters filled by {@link statusCounter}. */
export interface RefusalCounters {
  refused_unauthenticated: number;
  refused_too_large: number;
  refused_malformed: number;
  refused_other: number;
  refused_transport_or_cancelled: number;
}

/** Adds one call's final status to `c` (OK and CANCELLED are not refusals). */
export function countRefusal(c: RefusalCounters, code: status): void {
  switch (code) {
    case status.OK:
    case status.CANCELLED:
      break;
    case status.UNAUTHENTICATED:
      c.refused_unauthenticated++;
      break;
    case status.RESOURCE_EXHAUSTED:
      c.refused_too_large++;
      break;
    case status.INVALID_ARGUMENT:
      c.refused_malformed++;
      break;
    default:
      c.refused_other++;
  }
}

/** An interceptor adding each non-OK status to `c`. */
export function statusCounter(c: RefusalCounters): ServerInterceptor {
  return (_method, call) => {
    let answered = false;
    return new ServerInterceptingCall(
      call,
      new ResponderBuilder()
        .withStart((next) =>
          next(
            new ServerListenerBuilder()
              .withOnCancel(() => {
                if (!answered) c.refused_transport_or_cancelled++;
              })
              .build(),
          ),
        )
        .withSendStatus((st, next) => {
          answered = true;
          countRefusal(c, st.code);
          next(st);
        })
        .build(),
    );
  };
}
