/**
 * D-Bus values as plain data, for code that builds messages without loading the binding
 * (sd-bus.ts): a value is written against a signature ("t", "s", "ay", "a(ss)", "v", ...).
 * Integers of 64 bits are bigints; "ay" takes a Buffer; a struct is an array of its fields;
 * a variant is a Variant.
 */
export type DBusValue = string | number | bigint | boolean | Buffer | Variant | DBusValue[];

export interface Variant {
  sig: string;
  value: DBusValue;
}
