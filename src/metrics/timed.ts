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
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object);
      if (typeof value !== "function") return value;
      if (!names.has(property)) return value.bind(object);
      return (...args: unknown[]) => {
        const started = performance.now();
        const done = () =>
          observe(property as K, (performance.now() - started) / 1000);
        let result: unknown;
        try {
          result = value.apply(object, args);
        } catch (error) {
          done();
          throw error;
        }
        if (result instanceof Promise) return result.finally(done);
        done();
        return result;
      };
    },
  });
}
