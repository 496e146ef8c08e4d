// SPDX-License-Identifier: Apache-2.0
/**
 * Just enough ELF, BTF and .BTF.ext reading for the build checks (test/cross/): the header's
 * machine, the section table, the shared libraries a program needs, and the CO-RE relocations of a
 * BPF object rendered as field paths (`pt_regs.di`, `user_pt_regs.regs[1]`), which no tool on
 * Debian 12 prints (bpftool 7.1 and LLVM 14 show the BTF but not the .BTF.ext relocations).
 * Little-endian 64-bit ELF only (x86_64, aarch64 and BPF objects as built here); anything else is
 * refused with an error.
 */

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_BPF = 247;

export interface ElfHeader {
  machine: number;
  /** ET_REL 1, ET_EXEC 2, ET_DYN 3. */
  type: number;
}

export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
}

function check(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(`ELF: ${msg}`);
}

function cstr(buf: Buffer, off: number): string {
  const end = buf.indexOf(0, off);
  check(end >= 0, `unterminated string at ${off}`);
  return buf.toString("latin1", off, end);
}

/** The ELF header of a little-endian 64-bit file. */
export function elfHeader(buf: Buffer): ElfHeader {
  check(buf.length >= 64 && buf.readUInt32BE(0) === 0x7f454c46, "not an ELF file");
  check(buf[4] === 2 && buf[5] === 1, "not a little-endian 64-bit ELF file");
  return { type: buf.readUInt16LE(16), machine: buf.readUInt16LE(18) };
}

/** The section table, by name. */
export function elfSections(buf: Buffer): Map<string, ElfSection> {
  elfHeader(buf);
  const shoff = Number(buf.readBigUInt64LE(40));
  const shentsize = buf.readUInt16LE(58);
  const shnum = buf.readUInt16LE(60);
  const shstrndx = buf.readUInt16LE(62);
  check(shentsize === 64 && shoff + shnum * 64 <= buf.length && shstrndx < shnum, "bad section table");
  const raw = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * 64;
    return {
      nameOff: buf.readUInt32LE(o),
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 24)),
      size: Number(buf.readBigUInt64LE(o + 32)),
    };
  });
  const strtab = raw[shstrndx]!;
  const out = new Map<string, ElfSection>();
  for (const s of raw) {
    check(s.type === 8 /* SHT_NOBITS */ || s.offset + s.size <= buf.length, "section beyond the end of the file");
    const name = cstr(buf, strtab.offset + s.nameOff);
    out.set(name, { name, type: s.type, offset: s.offset, size: s.size });
  }
  return out;
}

function section(buf: Buffer, sections: Map<string, ElfSection>, name: string): Buffer {
  const s = sections.get(name);
  check(s !== undefined, `no ${name} section`);
  return buf.subarray(s.offset, s.offset + s.size);
}

/** DT_NEEDED entries of a dynamically linked program; [] for a static one. */
export function elfNeeded(buf: Buffer): string[] {
  const sections = elfSections(buf);
  if (!sections.has(".dynamic")) return [];
  const dyn = section(buf, sections, ".dynamic");
  const dynstr = section(buf, sections, ".dynstr");
  const out: string[] = [];
  for (let o = 0; o + 16 <= dyn.length; o += 16) {
    const tag = dyn.readBigInt64LE(o);
    if (tag === 0n) break;
    if (tag === 1n /* DT_NEEDED */) out.push(cstr(dynstr, Number(dyn.readBigUInt64LE(o + 8))));
  }
  return out;
}

// ------------------------------------------------------------------ BTF

const BTF_MAGIC = 0xeb9f;
const KIND = { int: 1, ptr: 2, array: 3, struct: 4, union: 5, enum: 6, fwd: 7, typedef: 8, volatile: 9, const: 10, restrict: 11 } as const;
const TYPE_TAG = 18;

interface BtfType {
  kind: number;
  name: string;
  /** Referenced type (pointer, typedef, modifiers; element type for arrays). */
  ref: number;
  members: { name: string; type: number }[];
}

function parseBtf(btf: Buffer): { types: BtfType[]; str: (off: number) => string } {
  check(btf.length >= 24 && btf.readUInt16LE(0) === BTF_MAGIC, "no BTF magic");
  const hdrLen = btf.readUInt32LE(4);
  const typeOff = hdrLen + btf.readUInt32LE(8);
  const typeLen = btf.readUInt32LE(12);
  const strOff = hdrLen + btf.readUInt32LE(16);
  const strLen = btf.readUInt32LE(20);
  check(typeOff + typeLen <= btf.length && strOff + strLen <= btf.length, "BTF sections beyond the end");
  const str = (off: number) => {
    check(off < strLen, `BTF string offset ${off} out of range`);
    return cstr(btf, strOff + off);
  };
  const types: BtfType[] = [{ kind: 0, name: "void", ref: 0, members: [] }];
  let o = typeOff;
  const end = typeOff + typeLen;
  while (o < end) {
    const name = str(btf.readUInt32LE(o));
    const info = btf.readUInt32LE(o + 4);
    const sizeOrType = btf.readUInt32LE(o + 8);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    o += 12;
    const t: BtfType = { kind, name, ref: 0, members: [] };
    switch (kind) {
      case KIND.int:
      case 14 /* VAR */:
      case 17 /* DECL_TAG */:
        o += 4;
        break;
      case KIND.array:
        t.ref = btf.readUInt32LE(o);
        o += 12;
        break;
      case KIND.struct:
      case KIND.union:
        for (let i = 0; i < vlen; i++, o += 12) t.members.push({ name: str(btf.readUInt32LE(o)), type: btf.readUInt32LE(o + 4) });
        break;
      case KIND.enum:
      case 13 /* FUNC_PROTO */:
        o += 8 * vlen;
        break;
      case 15 /* DATASEC */:
      case 19 /* ENUM64 */:
        o += 12 * vlen;
        break;
      case KIND.ptr:
      case KIND.typedef:
      case KIND.volatile:
      case KIND.const:
      case KIND.restrict:
      case TYPE_TAG:
      case 12 /* FUNC */:
        t.ref = sizeOrType;
        break;
      case KIND.fwd:
      case 16 /* FLOAT */:
        break;
      default:
        throw new Error(`ELF: unknown BTF kind ${kind}`);
    }
    types.push(t);
  }
  return { types, str };
}

export interface CoreRelocation {
  /** ELF section of the program (`tracepoint/syscalls/sys_exit_openat`). */
  section: string;
  /** bpf_core_relo_kind: 0-5 field relocations, 6-9 type, 10-11 enum value, 12 type match. */
  kind: number;
  /** Field relocations: the access as a path from the root type's name with its ___flavor suffix
   * dropped, as libbpf matches it (`pt_regs.orig_x0`, `user_pt_regs.regs[2]`); other kinds: the
   * root type's name. */
  path: string;
}

/** The CO-RE relocations recorded in a BPF object's .BTF.ext. */
export function coreRelocations(buf: Buffer): CoreRelocation[] {
  const sections = elfSections(buf);
  const { types, str } = parseBtf(section(buf, sections, ".BTF"));
  const ext = section(buf, sections, ".BTF.ext");
  check(ext.length >= 32 && ext.readUInt16LE(0) === BTF_MAGIC, "no .BTF.ext magic");
  const hdrLen = ext.readUInt32LE(4);
  check(hdrLen >= 32, ".BTF.ext has no CO-RE relocation part");
  const reloOff = hdrLen + ext.readUInt32LE(24);
  const reloLen = ext.readUInt32LE(28);
  check(reloOff + reloLen <= ext.length, ".BTF.ext relocations beyond the end");
  const type = (id: number) => {
    const t = types[id];
    check(t !== undefined, `BTF type ${id} out of range`);
    return t;
  };
  const skipMods = (id: number) => {
    let t = type(id);
    for (let n = 0; n < 32 && [KIND.typedef, KIND.volatile, KIND.const, KIND.restrict, TYPE_TAG].includes(t.kind as 8); n++) t = type(t.ref);
    return t;
  };
  const essential = (name: string) => name.replace(/___.*$/, "");
  const out: CoreRelocation[] = [];
  if (reloLen === 0) return out;
  const recSize = ext.readUInt32LE(reloOff);
  check(recSize >= 16, "bad CO-RE record size");
  let o = reloOff + 4;
  const end = reloOff + reloLen;
  while (o < end) {
    const sec = str(ext.readUInt32LE(o));
    const n = ext.readUInt32LE(o + 4);
    o += 8;
    for (let i = 0; i < n; i++, o += recSize) {
      check(o + recSize <= end, "truncated CO-RE record");
      const typeId = ext.readUInt32LE(o + 4);
      const access = str(ext.readUInt32LE(o + 8));
      const kind = ext.readUInt32LE(o + 12);
      let t = skipMods(typeId);
      let path = essential(t.name);
      if (kind <= 5) {
        const idx = access.split(":").map(Number);
        for (const k of idx.slice(1)) {
          if (t.kind === KIND.struct || t.kind === KIND.union) {
            const m = t.members[k];
            check(m !== undefined, `member ${k} of ${t.name} out of range`);
            path += m.name === "" ? "" : `.${m.name}`;
            t = skipMods(m.type);
          } else if (t.kind === KIND.array) {
            path += `[${k}]`;
            t = skipMods(t.ref);
          } else throw new Error(`ELF: access ${access} goes through BTF kind ${t.kind}`);
        }
      }
      out.push({ section: sec, kind, path });
    }
  }
  return out;
}
