/**
 * Runs `work` on the items of `source`, up to `concurrency` at once, and
 * hands each result to `each` in the source's order. One log's steps replay
 * one after another, so certifying logs one at a time leaves the sandbox's
 * workers waiting; several at a time keep them busy, and the reports still
 * come out in the order the logs were listed (certificates and output stay
 * the same). A rejected `work` rejects this when its turn comes; work
 * already started for later items is then left to finish unobserved.
 */
export async function inOrder<T, R>(
  source: AsyncIterable<T>,
  concurrency: number,
  work: (item: T) => Promise<R>,
  each: (item: T, result: R) => void,
): Promise<void> {
  const window: { item: T; result: Promise<R> }[] = [];
  const start = (item: T) => {
    const result = work(item);
    // Observed when its turn comes; until then a rejection is not unhandled.
    result.catch(() => {});
    window.push({ item, result });
  };
  for await (const item of source) {
    start(item);
    if (window.length >= concurrency) {
      const head = window.shift()!;
      each(head.item, await head.result);
    }
  }
  for (const head of window) each(head.item, await head.result);
}
