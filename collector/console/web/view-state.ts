// SPDX-License-Identifier: Apache-2.0
/**
 * The console's view as URL query parameters, so a view can be shared and a reload restores it:
 * the collector's alert filter (proto/tail.ts: since, until, rule, priority, tag, node,
 * namespace, pod, container, image, source: the collector applies every one of them, to the
 * stored alerts and the live tail alike), and `alert` (the alert whose detail is open).
 * Pure functions: no DOM.
 */
import { type AlertFilter, filterFromParams, filterToParams } from "../../../proto/tail.js";

/** What the URL holds. */
export interface View {
  filter: AlertFilter;
  /** The alert whose detail is open. */
  alert?: string;
}

/** The range a view without `since` or `until` shows. */
export const DEFAULT_SINCE = "24h";

/** Reads a view from a query string (`?priority=warning&tag=T1003`). */
export function readView(search: string): View {
  const p = new URLSearchParams(search);
  const v: View = { filter: filterFromParams(p) };
  const alert = p.get("alert");
  if (alert !== null && alert !== "") v.alert = alert;
  return v;
}

/** Writes a view as a query string ("" for the default view), keys in a stable order. */
export function viewToSearch(v: View): string {
  const p = filterToParams(v.filter);
  if (v.alert !== undefined) p.set("alert", v.alert);
  const s = p.toString();
  return s === "" ? "" : `?${s}`;
}

/** Whether the view follows new alerts (its range has no end). */
export function isLive(v: View): boolean {
  return v.filter.until === undefined;
}

/** The filter the list's query uses: the view's, with the default range when it names none. */
export function queryFilter(v: View): AlertFilter {
  if (v.filter.since !== undefined || v.filter.until !== undefined) return v.filter;
  return { ...v.filter, since: DEFAULT_SINCE };
}

/** The filter of the live tail: the view's without its range (a `since` would replay history). */
export function tailFilter(v: View): AlertFilter {
  const { since: _s, until: _u, ...rest } = v.filter;
  return rest;
}

/** Two views show the same alerts (the open detail aside). */
export function sameList(a: View, b: View): boolean {
  return viewToSearch({ ...a, alert: undefined } as View) === viewToSearch({ ...b, alert: undefined } as View);
}
