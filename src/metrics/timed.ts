/**
 * A view of `target` whose listed methods report how long each call took
 * (until its promise settles, for async ones) to `observe`. Everything else,
 * including methods added to the target's type later, passes through
 * untouched, and methods run with the target itself as `this`, so classes
 * with private fields work.
 */
export function timed<T extends object, K extends keyof T & string>(
  target: T,
  methods: readonly K[],
  observe: (method: K, seconds: number) => void,
): T {
  const names = new Set<string | symbol>(methods);
  // One wrapper per method, made on first use: the hot path allocates nothing.
  const wrappers = new Map<string | symbol, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== "function") return value;
      let wrapper = wrappers.get(property);
      if (wrapper === undefined) {
        wrapper = names.has(property)
          ? timedMethod(
            object,
            value as Method,
            (seconds) => observe(property as K, seconds),
          )
          : value.bind(object);
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

type Method = (...args: unknown[]) => unknown;

function timedMethod(
  object: object,
  method: Method,
  observe: (seconds: number) => void,
): (...args: unknown[]) => unknown {
  return (...args) => {
    const started = performance.now();
    const done = () => observe((performance.now() - started) / 1000);
    let result: unknown;
    try {
      result = method.apply(object, args);
    } catch (error) {
      done();
      throw error;
    }
    if (result instanceof Promise) return result.finally(done);
    done();
    return result;
  };
}
