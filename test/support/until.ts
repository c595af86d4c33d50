// The one polling helper of the tests: waits for a state the system reports
// (an order's status, a row, an event), never for a fixed time.

/**
 * Polls `fn` until it answers something truthy and returns that; after `timeoutMs` fails with `what`
 * and, when given, what `show` reads (the state the wait never saw change).
 */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, show?: () => Promise<unknown>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${show ? `: ${JSON.stringify(await show())}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
