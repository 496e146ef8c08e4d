// SPDX-License-Identifier: Apache-2.0
/**
 * Value types of fields and the getter shape, in a module of their own so that field modules
 * registered by fields.ts (fields-behaviour-*.ts) can name them without importing fields.ts back.
 */
import type { SyscallEvent } from "../event.js";

/** Value types of fields (Falco's PT_* families). */
export const FieldType = {
  String: "string",
  Int: "int",
  Uint: "uint",
  Bool: "bool",
  AbsTime: "abstime",
  RelTime: "reltime",
  IpAddr: "ipaddr",
  IpNet: "ipnet",
  Port: "port",
  Bytes: "bytes",
} as const;
export type FieldType = (typeof FieldType)[keyof typeof FieldType];

/** A field's value: strings for text/IP types, numbers for numeric/time/port types. */
export type FieldValue = string | number | boolean | Uint8Array | undefined;
export type Getter = (e: SyscallEvent) => FieldValue;
