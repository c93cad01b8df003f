/**
 * Lets the process exit while a background timer (reconnect, sweep, flush) is pending, on every runtime.
 *
 * @example
 * unrefTimer(setInterval(flush, 5000));
 */
export function unrefTimer(timer: unknown): void {
  const deno = (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno;
  if (deno && typeof timer === "number") deno.unrefTimer(timer);
  else (timer as { unref?: () => void }).unref?.();
}
