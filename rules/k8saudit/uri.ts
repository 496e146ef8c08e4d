// SPDX-License-Identifier: Apache-2.0
/**
 * Query parameters of a request URI as `ka.uri.param[NAME]` reads them: Go's `url.Parse` then
 * `url.ParseQuery` on its raw query. What makes Go fail makes the whole field missing (a control
 * character before any `#`, a bad `%` escape in the path, query or fragment, a `;` in the query, a colon in a
 * first relative path segment); `+` in the query is a space, a name's first value wins.
 *
 * Host validation of `//authority` forms is not reproduced: the API server's requestURI is always
 * a path.
 */

/** Parsed query: name → values in order; or undefined where Go returns an error. */
export type Query = ReadonlyMap<string, readonly string[]>;

/** Go's url.Parse + url.ParseQuery(u.RawQuery); undefined where either returns an error. */
export function parseQuery(uri: string): Query | undefined {
  const hash = uri.indexOf("#");
  const beforeFragment = hash < 0 ? uri : uri.slice(0, hash);
  for (let i = 0; i < beforeFragment.length; i++) {
    const c = beforeFragment.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return undefined;
  }
  if (hash >= 0 && urlUnescape(uri.slice(hash + 1), false) === undefined) return undefined;
  if (beforeFragment === "*") return new Map();
  let rest = beforeFragment;
  const scheme = schemeOf(rest);
  if (scheme === null) return undefined;
  if (scheme !== undefined) rest = rest.slice(scheme.length + 1);
  let rawQuery = "";
  const q = rest.indexOf("?");
  if (q >= 0) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith("/")) {
    if (scheme !== undefined) return queryOf(rawQuery); // opaque: mailto:x?y
    const slash = rest.indexOf("/");
    const first = slash < 0 ? rest : rest.slice(0, slash);
    if (first.includes(":")) return undefined;
  }
  if (rest.startsWith("//") && (scheme !== undefined || !rest.startsWith("///"))) {
    const end = rest.indexOf("/", 2);
    rest = end < 0 ? "" : rest.slice(end);
  }
  if (urlUnescape(rest, false) === undefined) return undefined;
  return queryOf(rawQuery);
}

/**
 * Go's getScheme: the scheme name before a `:` (undefined when there is none), or null for a URI
 * that starts with `:` ("missing protocol scheme").
 */
function schemeOf(s: string): string | undefined | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
    if (letter) continue;
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46) {
      if (i === 0) return undefined;
      continue;
    }
    if (c === 58) return i === 0 ? null : s.slice(0, i);
    return undefined;
  }
  return undefined;
}

/** Go's url.ParseQuery: undefined when any pair fails (Falco's extraction then fails). */
function queryOf(raw: string): Query | undefined {
  const m = new Map<string, string[]>();
  let failed = false;
  for (const part of raw.split("&")) {
    if (part.includes(";")) {
      failed = true;
      continue;
    }
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = urlUnescape(eq < 0 ? part : part.slice(0, eq), true);
    const v = urlUnescape(eq < 0 ? "" : part.slice(eq + 1), true);
    if (k === undefined || v === undefined) {
      failed = true;
      continue;
    }
    const list = m.get(k);
    if (list === undefined) m.set(k, [v]);
    else list.push(v);
  }
  return failed ? undefined : m;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Go's url unescape: `%XX` to a byte (the bytes read as UTF-8), `+` to a space in a query. */
function urlUnescape(s: string, query: boolean): string | undefined {
  if (!s.includes("%") && !(query && s.includes("+"))) return s;
  const src = Buffer.from(s, "utf8");
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as number;
    if (c === 37) {
      if (i + 2 >= src.length || !isHex(src[i + 1] as number) || !isHex(src[i + 2] as number)) return undefined;
      out[n++] = Number.parseInt(String.fromCharCode(src[i + 1] as number, src[i + 2] as number), 16);
      i += 2;
    } else if (c === 43 && query) {
      out[n++] = 32;
    } else {
      out[n++] = c;
    }
  }
  return out.toString("utf8", 0, n);
}
