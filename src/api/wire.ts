// Shapes for building replies: a generated message type with every field
// optional (protobufjs fills defaults when encoding), recursively.
export type Msg<T> = {
  [K in keyof T]?: T[K] extends Uint8Array
    ? Uint8Array
    : T[K] extends (infer U)[]
      ? [U] extends [object]
        ? Msg<U>[]
        : U[]
      : T[K] extends object | null
        ? Msg<NonNullable<T[K]>> | null
        : T[K];
};
