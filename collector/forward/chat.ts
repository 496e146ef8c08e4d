// SPDX-License-Identifier: Apache-2.0
/**
 * What the chat destinations (Slack, Teams) share: the webhook URL as a rotating secret (its
 * file or variable re-read per send), the template compiled once, one message per alert posted
 * in order, and the URL's secret parts kept out of every error.
 */
import type { Logger } from "pino";
import type { CompiledTemplate } from "./format.js";
import { compileTemplate } from "./format.js";
import { type DeliveryItem, type DeliveryOutcome, type Destination, postInOrder } from "./destination.js";
import { HttpClient } from "./http.js";
import { RotatingSecret, urlProblem, urlSecrets } from "./secrets.js";

/** A chat forwarder's settings this needs. */
interface ChatSettings {
  url: string;
  url_file: string;
  url_env: string;
  template: string;
  timeout_ms: number;
  tls: { ca_file: string; cert_file: string; key_file: string };
}

/**
 * A chat destination posting `body(item, template)` per alert; `check` may turn a 2xx answer's
 * body into the error it reports (Teams connectors answer 200 with the error text).
 */
export function chatDestination(
  cfg: ChatSettings,
  ctx: { logger: Logger },
  missingUrl: string,
  body: (item: DeliveryItem, template: CompiledTemplate | undefined) => string,
  check?: (answer: string, secrets: readonly string[]) => Error | undefined,
): Destination {
  const url = new RotatingSecret("url", cfg.url_file, cfg.url_env, cfg.url, ctx.logger, urlProblem);
  if (!url.present) throw new Error(missingUrl);
  const template = cfg.template !== "" ? compileTemplate(cfg.template) : undefined;
  const http = new HttpClient(url.get(), cfg.timeout_ms, cfg.tls, ctx.logger);
  const headers = { "content-type": "application/json; charset=utf-8", "user-agent": "vigil-forwarder" };
  return {
    maxBatch: 1,
    send(items: readonly DeliveryItem[], signal: AbortSignal): Promise<DeliveryOutcome | undefined> {
      return postInOrder(
        items.map((item, index) => ({
          indices: [index],
          send: async () => {
            const u = url.get();
            const secrets = urlSecrets(u);
            const answer = await http.request(u, { headers, body: body(item, template), signal, secrets });
            const failure = check?.(answer.body, secrets);
            if (failure !== undefined) throw failure;
          },
        })),
      );
    },
    close: () => http.close(),
  };
}
