import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` every `everyMs` until it holds or `withinMs` pass, and once more at the deadline;
 * returns whether it held. A wait with a deadline, never a fixed sleep and never a timer assertion.
 */
export async function within(
  withinMs: number,
  check: () => boolean | Promise<boolean>,
  everyMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}

/** Waits for `check` to hold, failing with `what` when it has not within `withinMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, withinMs = 10_000): Promise<void> {
  if (!(await within(withinMs, check))) throw new Error(`${what}: not within ${withinMs} ms`);
}
