// SPDX-License-Identifier: Apache-2.0
/**
 * The condition lexer. Falco's grammar is context sensitive (after `contains` a bare word such as
 * `/etc/passwd` or `<NA>` is a string, not an operator), so instead of a token stream the lexer
 * offers one method per token kind and the parser asks for the kind it expects at each point.
 * Every method either consumes its token and returns it, or consumes nothing and returns
 * undefined/false. Patterns are compiled once, at module load.
 */
import { ParseError, type TextPos } from "../errors.js";
import type { Op } from "./ast.js";

const FIELD_NAME = /[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y;
const IDENTIFIER = /[a-zA-Z]+[a-zA-Z0-9_]*/y;
const BARE_STR = /[^()"'\s=,]+/y;
const FIELD_ARG_BARE = /[^\]["'\s]+/y;

/** Characters a word token may not be followed by (so `in` does not match `index`). */
function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46;
}

/** Blank per Falco (`isspace`). */
export function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

/** Lexer over one condition (or output token) text. */
export class Lexer {
  /** Current offset. */
  i = 0;
  private lineStarts: number[] | undefined;

  constructor(readonly src: string) {}

  /** Position (offset, line, col) of an offset, 1-based line and column. */
  posAt(idx: number): TextPos {
    if (this.lineStarts === undefined) {
      const starts = [0];
      for (let k = 0; k < this.src.length; k++) if (this.src.charCodeAt(k) === 10) starts.push(k + 1);
      this.lineStarts = starts;
    }
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= idx) lo = mid;
      else hi = mid - 1;
    }
    return { idx, line: lo + 1, col: idx - (starts[lo] as number) + 1 };
  }

  pos(): TextPos {
    return this.posAt(this.i);
  }

  error(message: string, idx = this.i): ParseError {
    return new ParseError("PARSE", message, this.posAt(idx));
  }

  eof(): boolean {
    return this.i >= this.src.length;
  }

  /** Char code at the cursor (NaN at the end). */
  peek(off = 0): number {
    return this.src.charCodeAt(this.i + off);
  }

  skipBlanks(): void {
    while (this.i < this.src.length && isBlank(this.src.charCodeAt(this.i))) this.i++;
  }

  /** Consumes one literal char. */
  char(c: string): boolean {
    if (this.src.charCodeAt(this.i) === c.charCodeAt(0)) {
      this.i++;
      return true;
    }
    return false;
  }

  /** A keyword (`and`, `or`, `not`) that must be followed by a blank or `(`. */
  keyword(w: string): boolean {
    if (!this.src.startsWith(w, this.i)) return false;
    const c = this.src.charCodeAt(this.i + w.length);
    if (!(isBlank(c) || c === 40)) return false;
    this.i += w.length;
    return true;
  }

  /** A word not followed by a word character (`exists`, `in`, `oneof`). */
  word(w: string): boolean {
    if (!this.src.startsWith(w, this.i)) return false;
    if (isWordChar(this.src.charCodeAt(this.i + w.length))) return false;
    this.i += w.length;
    return true;
  }

  private sticky(re: RegExp): string | undefined {
    re.lastIndex = this.i;
    const m = re.exec(this.src);
    if (m === null) return undefined;
    this.i = re.lastIndex;
    return m[0];
  }

  /** `proc.name`, `evt.arg.flags` (at least one dot). */
  fieldName(): string | undefined {
    return this.sticky(FIELD_NAME);
  }

  /** `[a-zA-Z]+[a-zA-Z0-9_]*` */
  identifier(): string | undefined {
    return this.sticky(IDENTIFIER);
  }

  /** A string not quoted: `/etc/passwd`, `-c`, `<NA>`, `runc:[0:PARENT]`. */
  bareString(): string | undefined {
    return this.sticky(BARE_STR);
  }

  /** The inside of `[...]` after a field name: quoted or bare. */
  fieldArg(): string | undefined {
    const c = this.peek();
    if (c === 34 || c === 39) return this.quoted();
    return this.sticky(FIELD_ARG_BARE);
  }

  /**
   * A quoted string with Falco's escapes: `\b \f \n \r \t \\ \/ \xHH`, the quote char itself,
   * and legacy `\ ` (a backslash; the blank is dropped). Anything else is an error.
   */
  quoted(): string | undefined {
    const q = this.src.charCodeAt(this.i);
    if (q !== 34 && q !== 39) return undefined;
    const start = this.i;
    let k = this.i + 1;
    let out = "";
    let runStart = k;
    const n = this.src.length;
    while (k < n) {
      const c = this.src.charCodeAt(k);
      if (c === q) {
        out += this.src.slice(runStart, k);
        this.i = k + 1;
        return out;
      }
      if (c !== 92) {
        k++;
        continue;
      }
      out += this.src.slice(runStart, k);
      const e = this.src.charCodeAt(k + 1);
      let adv = 2;
      switch (e) {
        case 98:
          out += "\b";
          break;
        case 102:
          out += "\f";
          break;
        case 110:
          out += "\n";
          break;
        case 114:
          out += "\r";
          break;
        case 116:
          out += "\t";
          break;
        case 92:
          out += "\\";
          break;
        case 47:
          out += "/";
          break;
        case 32:
          out += "\\";
          break;
        case 120: {
          const hex = this.src.slice(k + 2, k + 4);
          if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw this.error("invalid \\x escape in quoted string", k);
          out += String.fromCharCode(parseInt(hex, 16));
          adv = 4;
          break;
        }
        default:
          if (e === q) {
            out += String.fromCharCode(q);
            break;
          }
          throw this.error("invalid escape sequence in quoted string", k);
      }
      k += adv;
      runStart = k;
    }
    throw this.error("unterminated quoted string", start);
  }

  /**
   * A comparison operator. Symbols need no blank after them (`proc.name=bash`); words must not be
   * followed by a word character. Longer symbols are tried first (`<=` before `<`).
   */
  operator(): Op | undefined {
    const c = this.peek();
    switch (c) {
      case 60: // <
        if (this.peek(1) === 61) return this.take(2, "<=");
        return this.take(1, "<");
      case 62: // >
        if (this.peek(1) === 61) return this.take(2, ">=");
        return this.take(1, ">");
      case 61: // =
        if (this.peek(1) === 61) return this.take(2, "=");
        return this.take(1, "=");
      case 33: // !
        if (this.peek(1) === 61) return this.take(2, "!=");
        return undefined;
      case 98: // b
        return this.wordOp("bcontains") ?? this.wordOp("bstartswith");
      case 99: // c
        return this.wordOp("contains");
      case 101: // e
        return this.wordOp("endswith") ?? this.wordOp("exists");
      case 103: // g
        return this.wordOp("glob");
      case 105: // i
        return this.wordOp("icontains") ?? this.wordOp("iglob") ?? this.wordOp("intersects") ?? this.wordOp("in");
      case 112: // p
        return this.wordOp("pmatch");
      case 114: // r
        return this.wordOp("regex");
      case 115: // s
        return this.wordOp("startswith");
      default:
        return undefined;
    }
  }

  private take(n: number, op: Op): Op {
    this.i += n;
    return op;
  }

  private wordOp<W extends Op>(w: W): W | undefined {
    if (!this.src.startsWith(w, this.i)) return undefined;
    const c = this.src.charCodeAt(this.i + w.length);
    // a word operator ends at a non-word character (`in(a, b)` is valid, `index` is not `in`)
    if (isWordChar(c)) return undefined;
    this.i += w.length;
    return w;
  }
}
