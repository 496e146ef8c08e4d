// SPDX-License-Identifier: Apache-2.0
/**
 * Hand-written recursive-descent parser for Falco's condition language.
 *
 * Grammar (EBNF; blanks between tokens are skipped unless noted):
 *
 *   Expr        ::= OrExpr
 *   OrExpr      ::= AndExpr ( 'or' AndExpr )*            'or' must be followed by a blank or '('
 *   AndExpr     ::= NotExpr ( 'and' NotExpr )*           'and' likewise
 *   NotExpr     ::= ( 'not' )* Check                     'not' likewise; each 'not' toggles
 *   Check       ::= '(' Expr ')'
 *                 | FieldExpr Condition
 *                 | Identifier                           a macro reference
 *   FieldExpr   ::= Transformer | Field
 *   Field       ::= FieldName ( '[' ( QuotedStr | FieldArgBare ) ']' )?
 *   Transformer ::= TransformerName '(' FieldExpr ( ',' FieldExpr )* ')'
 *   Condition   ::= 'exists'
 *                 | NumOp ( FieldOrVal | Scalar )                         NumOp ::= '<=' | '<' | '>=' | '>'
 *                 | StrOp Modifier ListValue                              Modifier ::= 'oneof' | 'anyof' | 'allof'
 *                 | StrOp ( FieldOrVal | Scalar )                         StrOp ::= '==' | '=' | '!=' | 'glob' | 'iglob'
 *                                                                                | 'contains' | 'icontains' | 'bcontains'
 *                                                                                | 'startswith' | 'bstartswith'
 *                                                                                | 'endswith' | 'regex'
 *                 | ListOp ( ListValue | FieldOrVal )                     ListOp ::= 'intersects' | 'in' | 'pmatch'
 *   FieldOrVal  ::= 'val' '(' Field ')' | Transformer
 *   ListValue   ::= '(' ( Scalar ( ',' Scalar )* )? ')' | Identifier
 *   Scalar      ::= QuotedStr | BareStr
 *   FieldName   ::= [a-zA-Z]+[a-zA-Z0-9_]* ( '.' [a-zA-Z]+[a-zA-Z0-9_]* )+
 *   Identifier  ::= [a-zA-Z]+[a-zA-Z0-9_]*
 *   BareStr     ::= [^()"'[:space:]=,]+
 *   QuotedStr   ::= '"' … '"' | "'" … "'"                 with backslash escapes (see lexer.ts)
 *
 * Limits: nesting depth (parentheses, `not`, transformers), total node count and list length are
 * bounded; going past a limit is a ParseError, never a stack overflow.
 */
import { ParseError } from "../errors.js";
import {
  TRANSFORMERS,
  type CheckNode,
  type Expr,
  type FieldExpr,
  type FieldRef,
  type ListValue,
  type Modifier,
  type Op,
  type ScalarValue,
  type TransformerName,
  type Value,
} from "./ast.js";
import { Lexer } from "./lexer.js";

/** Parser limits (cel-js style). */
export interface ParseLimits {
  /** Max nesting of `(`, `not` and transformers. Falco uses 1000 for rules. */
  maxDepth: number;
  /** Max AST nodes (list items excluded). */
  maxNodes: number;
  /** Max items in one list value. */
  maxListItems: number;
}

export const DEFAULT_LIMITS: Readonly<ParseLimits> = { maxDepth: 1000, maxNodes: 1_000_000, maxListItems: 2_000_000 };

const TRANSFORMER_SET: ReadonlySet<string> = new Set(TRANSFORMERS);
const LIST_OPS: ReadonlySet<Op> = new Set<Op>(["in", "intersects", "pmatch"]);
const NUM_OPS: ReadonlySet<Op> = new Set<Op>(["<", "<=", ">", ">="]);

/** Parses one condition. Throws {@link ParseError} with a position on any error. */
export function parseCondition(text: string, limits: Readonly<ParseLimits> = DEFAULT_LIMITS): Expr {
  return new Parser(text, limits).parseAll();
}

/**
 * Parses a field expression at the start of `text` (for output tokens `%field`, `%tolower(f)`).
 * Returns the expression and the number of chars it used, or undefined when none parses.
 */
export function parseFieldPrefix(text: string, limits: Readonly<ParseLimits> = DEFAULT_LIMITS): { field: FieldExpr; length: number } | undefined {
  const p = new Parser(text, limits);
  try {
    const f = p.fieldExpr();
    if (f === undefined) return undefined;
    return { field: f, length: p.lx.i };
  } catch (err) {
    if (err instanceof ParseError) return undefined;
    throw err;
  }
}

class Parser {
  readonly lx: Lexer;
  private depth = 0;
  private nodes = 0;

  constructor(
    text: string,
    private readonly limits: Readonly<ParseLimits>,
  ) {
    this.lx = new Lexer(text);
  }

  private enter(): void {
    if (++this.depth > this.limits.maxDepth) throw new ParseError("MAX_DEPTH", `exceeded max depth limit of ${this.limits.maxDepth}`, this.lx.pos());
  }

  private leave(): void {
    this.depth--;
  }

  private count(): void {
    if (++this.nodes > this.limits.maxNodes) throw new ParseError("MAX_NODES", `exceeded max node count of ${this.limits.maxNodes}`, this.lx.pos());
  }

  parseAll(): Expr {
    const lx = this.lx;
    lx.skipBlanks();
    if (lx.eof()) throw lx.error("empty condition");
    const e = this.expr();
    lx.skipBlanks();
    if (!lx.eof()) throw lx.error(`unexpected token after '${lx.src.slice(Math.max(0, lx.i - 10), lx.i).trim()}', expecting 'or', 'and'`);
    return e;
  }

  // Expr ::= OrExpr
  private expr(): Expr {
    return this.orExpr();
  }

  // OrExpr ::= AndExpr ( 'or' AndExpr )*
  private orExpr(): Expr {
    const lx = this.lx;
    lx.skipBlanks();
    const pos = lx.pos();
    const first = this.andExpr();
    let children: Expr[] | undefined;
    for (;;) {
      lx.skipBlanks();
      if (!lx.keyword("or")) break;
      (children ??= [first]).push(this.andExpr());
    }
    if (children === undefined) return first;
    this.count();
    return { kind: "or", children, pos };
  }

  // AndExpr ::= NotExpr ( 'and' NotExpr )*
  private andExpr(): Expr {
    const lx = this.lx;
    lx.skipBlanks();
    const pos = lx.pos();
    const first = this.notExpr();
    let children: Expr[] | undefined;
    for (;;) {
      lx.skipBlanks();
      if (!lx.keyword("and")) break;
      (children ??= [first]).push(this.notExpr());
    }
    if (children === undefined) return first;
    this.count();
    return { kind: "and", children, pos };
  }

  // NotExpr ::= ( 'not' )* Check
  private notExpr(): Expr {
    const lx = this.lx;
    lx.skipBlanks();
    const pos = lx.pos();
    let negations = 0;
    while (lx.keyword("not")) {
      negations++;
      lx.skipBlanks();
    }
    const inner = this.check();
    if (negations % 2 === 0) return inner;
    this.count();
    return { kind: "not", child: inner, pos };
  }

  // Check ::= '(' Expr ')' | FieldExpr Condition | Identifier
  private check(): Expr {
    const lx = this.lx;
    lx.skipBlanks();
    const pos = lx.pos();
    if (lx.char("(")) {
      this.enter();
      const e = this.expr();
      lx.skipBlanks();
      if (!lx.char(")")) throw lx.error("expected ')'");
      this.leave();
      return e;
    }
    if (lx.eof()) throw lx.error("unexpected end of condition, expecting a field, a macro or '('");
    const save = lx.i;
    const field = this.fieldExpr();
    if (field !== undefined) return this.condition(field, pos);
    lx.i = save;
    const id = lx.identifier();
    if (id !== undefined) {
      this.count();
      return { kind: "ident", name: id, pos };
    }
    throw lx.error(`unexpected character '${lx.src[lx.i] ?? ""}', expecting a field, a macro or '('`);
  }

  /** FieldExpr ::= Transformer | Field. Returns undefined (cursor unchanged) when neither starts here. */
  fieldExpr(): FieldExpr | undefined {
    const lx = this.lx;
    const start = lx.i;
    const pos = lx.pos();
    const fname = lx.fieldName();
    if (fname !== undefined) return this.fieldRest(fname, pos);
    const id = lx.identifier();
    if (id !== undefined && TRANSFORMER_SET.has(id)) {
      lx.skipBlanks();
      if (lx.char("(")) return this.transformerRest(id as TransformerName, pos);
    }
    lx.i = start;
    return undefined;
  }

  // Field ::= FieldName ( '[' ( QuotedStr | FieldArgBare ) ']' )?
  private fieldRest(name: string, pos: FieldRef["pos"]): FieldRef {
    const lx = this.lx;
    this.count();
    let arg: string | undefined;
    if (lx.char("[")) {
      arg = lx.fieldArg();
      if (arg === undefined) throw lx.error("expected a field argument after '['");
      if (!lx.char("]")) throw lx.error("expected ']' after field argument");
    }
    return { kind: "field", name, arg, pos };
  }

  // Transformer ::= TransformerName '(' FieldExpr ( ',' FieldExpr )* ')'
  private transformerRest(name: TransformerName, pos: FieldRef["pos"]): FieldExpr {
    const lx = this.lx;
    this.enter();
    this.count();
    const args: FieldExpr[] = [];
    for (;;) {
      lx.skipBlanks();
      const a = this.fieldExpr();
      if (a === undefined) throw lx.error(`expected a field inside ${name}()`);
      args.push(a);
      lx.skipBlanks();
      if (lx.char(",")) continue;
      if (lx.char(")")) break;
      throw lx.error(`expected ',' or ')' in ${name}()`);
    }
    this.leave();
    return { kind: "transformer", name, args, pos };
  }

  // Condition ::= 'exists' | NumOp … | StrOp … | ListOp …
  private condition(field: FieldExpr, pos: CheckNode["pos"]): CheckNode {
    const lx = this.lx;
    lx.skipBlanks();
    const opIdx = lx.i;
    const op = lx.operator();
    if (op === undefined) throw lx.error("expected an operator after the field");
    this.count();
    if (op === "exists") return { kind: "check", field, op, modifier: undefined, value: undefined, pos };
    lx.skipBlanks();
    if (LIST_OPS.has(op)) {
      const fv = this.fieldOrVal();
      if (fv !== undefined) return { kind: "check", field, op, modifier: undefined, value: fv, pos };
      return { kind: "check", field, op, modifier: undefined, value: this.listValue(), pos };
    }
    const fv = this.fieldOrVal();
    if (fv !== undefined) return { kind: "check", field, op, modifier: undefined, value: fv, pos };
    if (!NUM_OPS.has(op)) {
      const mod = this.modifier();
      if (mod !== undefined) return { kind: "check", field, op, modifier: mod, value: this.listValue(), pos };
    }
    const v = this.scalar();
    if (v === undefined) throw lx.error(`expected a value after '${lx.src.slice(opIdx, lx.i).trim()}'`);
    return { kind: "check", field, op, modifier: undefined, value: v, pos };
  }

  /** 'oneof' | 'anyof' | 'allof' when a list or identifier follows and it is not and/or/not. */
  private modifier(): Modifier | undefined {
    const lx = this.lx;
    const save = lx.i;
    for (const m of ["oneof", "anyof", "allof"] as const) {
      if (lx.word(m)) {
        lx.skipBlanks();
        const c = lx.peek();
        if (c === 40) return m;
        const at = lx.i;
        if (!(lx.keyword("and") || lx.keyword("or") || lx.keyword("not")) && lx.identifier() !== undefined) {
          lx.i = at;
          return m;
        }
        lx.i = save;
        return undefined;
      }
    }
    return undefined;
  }

  // FieldOrVal ::= 'val' '(' Field ')' | Transformer
  private fieldOrVal(): Value | undefined {
    const lx = this.lx;
    const save = lx.i;
    const pos = lx.pos();
    const id = lx.identifier();
    if (id === undefined) return undefined;
    lx.skipBlanks();
    if (lx.peek() !== 40) {
      lx.i = save;
      return undefined;
    }
    if (id === "val") {
      lx.char("(");
      lx.skipBlanks();
      const fpos = lx.pos();
      const name = lx.fieldName();
      if (name === undefined) throw lx.error("expected a field inside val()");
      const f = this.fieldRest(name, fpos);
      lx.skipBlanks();
      if (!lx.char(")")) throw lx.error("expected ')' after val(field");
      return { kind: "fieldvalue", field: f, pos };
    }
    if (TRANSFORMER_SET.has(id)) {
      lx.char("(");
      return { kind: "fieldvalue", field: this.transformerRest(id as TransformerName, pos), pos };
    }
    lx.i = save;
    return undefined;
  }

  // ListValue ::= '(' ( Scalar ( ',' Scalar )* )? ')' | Identifier
  private listValue(): ListValue {
    const lx = this.lx;
    const pos = lx.pos();
    const items: ScalarValue[] = [];
    if (!lx.char("(")) {
      const id = lx.identifier();
      if (id === undefined) throw lx.error("expected a list '(...)'");
      items.push({ kind: "value", value: id, pos });
      return { kind: "list", items, pos };
    }
    lx.skipBlanks();
    if (lx.char(")")) return { kind: "list", items, pos };
    for (;;) {
      lx.skipBlanks();
      const v = this.scalar();
      if (v === undefined) throw lx.error("expected a list item");
      if (items.length >= this.limits.maxListItems) throw new ParseError("MAX_LIST", `exceeded max list length of ${this.limits.maxListItems}`, v.pos);
      items.push(v);
      lx.skipBlanks();
      if (lx.char(",")) continue;
      if (lx.char(")")) break;
      throw lx.error("expected ',' or ')' in list");
    }
    return { kind: "list", items, pos };
  }

  // Scalar ::= QuotedStr | BareStr
  private scalar(): ScalarValue | undefined {
    const lx = this.lx;
    const idx = lx.i;
    const q = lx.quoted();
    const s = q ?? lx.bareString();
    if (s === undefined) return undefined;
    return { kind: "value", value: s, pos: lx.posAt(idx) };
  }
}
