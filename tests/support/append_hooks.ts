import type { LogRecord, Store } from "../../src/store/mod.ts";

/** What a test is told of each append (`withAppendHooks`). */
export interface AppendHooks {
  /** Before the append reaches the store: it may wait, or throw in its place. */
  before?: (records: readonly LogRecord[]) => Promise<void> | void;
  /** Once the append resolved. */
  after?: (records: readonly LogRecord[]) => void;
}

/** `store` with `hooks` around every append; everything else as it is. */
export function withAppendHooks(store: Store, hooks: AppendHooks): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === "append") {
        return async (
          records: readonly LogRecord[],
          options?: Parameters<Store["append"]>[1],
        ) => {
          await hooks.before?.(records);
          await target.append(records, options);
          hooks.after?.(records);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
