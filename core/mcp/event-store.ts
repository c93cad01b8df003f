import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server";

/** Bounds of one session's event store. */
export interface EventStoreOptions {
  /** Most events kept for replay; the oldest go first. Default 1,000. */
  maxEvents?: number;
  /**
   * Most message text kept for replay, counted as the length of each message's JSON (UTF-16 code units,
   * the bytes of ASCII text); the oldest go first. Default 1 MiB.
   */
  maxBytes?: number;
  /** How long an event stays replayable, ms. Default 5 minutes. */
  ttlMs?: number;
}

/**
 * The bounds a store gets for each option left out.
 *
 * @example
 * createEventStore({ maxEvents: EVENT_STORE_DEFAULTS.maxEvents * 2 });
 */
export const EVENT_STORE_DEFAULTS: Readonly<Required<EventStoreOptions>> = Object.freeze({
  maxEvents: 1_000,
  // Small on purpose: every open session may hold this much (16 sessions per caller, up to server.maxSessions).
  maxBytes: 256 << 10,
  ttlMs: 5 * 60_000,
});

/** The SDK's `EventStore` for one 2025-11-25 session, with the stream lookup it always answers. */
export interface SessionEventStore extends EventStore {
  getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined>;
  /** What is held now: events counted against `maxEvents`, text counted against `maxBytes`. */
  size(): { events: number; bytes: number };
}

/** One stored message. */
interface Stored {
  stream: Cursor;
  seq: number;
  /** The message as sent, serialized: immutable, measured, and parsed afresh for each replay. */
  json: string;
  at: number;
}

/** What the store knows of one SDK stream (a POST's response stream, or the standalone GET stream). */
interface Cursor {
  /** Random, the prefix of the stream's event ids. */
  key: string;
  streamId: StreamId;
  /** The sequence number the stream's next event gets. */
  next: number;
  /** The highest sequence number whose message is gone (evicted, expired or too large); -1 for none. */
  lost: number;
  /** Retained messages from `head` on, in sequence order. */
  kept: Stored[];
  head: number;
  /** A response went out on it: the SDK sends nothing after that on this stream. */
  finished: boolean;
}

// Removed items are spliced off a list's front only once they are half of it: shifts are O(1) amortized.
const COMPACT_AFTER = 64;

function checkBound(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`event store: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** The SDK primes a stream by storing `{}`: an id for the client to resume from, no message to replay. */
function isPriming(message: JSONRPCMessage): boolean {
  return (message as { jsonrpc?: unknown }).jsonrpc === undefined;
}

// A structural check, not the SDK's schema guards: those validate the whole result, on every message.
function isResponse(message: JSONRPCMessage): boolean {
  return "id" in message && !("method" in message) && ("result" in message || "error" in message);
}

/**
 * Creates the event store of ONE 2025-11-25 session, so a client that lost an SSE stream can reconnect
 * with `Last-Event-ID` and get what it missed. One store per session (per transport): no session can
 * ever name, let alone replay, another's events.
 *
 * Event ids are `<random stream key>_<sequence>`: unguessable, and ordered within their stream. A
 * client resumes from an id when every message of that stream after it is still held; otherwise, and
 * for ids the store never issued, `getStreamIdForEventId` answers `undefined` and the SDK refuses the
 * GET with a 400 rather than replaying a stream with a hole in it. Bounded by `maxEvents`, `maxBytes` and
 * `ttlMs` (checked on each use; no timers): the oldest messages go first. A message larger than
 * `maxBytes` is sent but never held, so a client can resume from it but not from before it.
 *
 * @example
 * const transport = new WebStandardStreamableHTTPServerTransport({
 *   sessionIdGenerator: () => crypto.randomUUID(),
 *   eventStore: createEventStore({ maxEvents: 1000, maxBytes: 256 << 10, ttlMs: 300_000 }),
 * });
 */
export function createEventStore(options: EventStoreOptions = {}): SessionEventStore {
  const maxEvents = checkBound("maxEvents", options.maxEvents ?? EVENT_STORE_DEFAULTS.maxEvents);
  const maxBytes = checkBound("maxBytes", options.maxBytes ?? EVENT_STORE_DEFAULTS.maxBytes);
  const ttlMs = checkBound("ttlMs", options.ttlMs ?? EVENT_STORE_DEFAULTS.ttlMs);

  const byKey = new Map<string, Cursor>();
  const byStream = new Map<StreamId, Cursor>();
  // Streams holding no message, least recently used first. Their cursors stay (a client that saw a
  // stream's last event can still resume it: an in-flight request's stream, a quiet GET stream), but
  // only up to maxEvents of them, so streams nobody resumes cannot pile up.
  const idle = new Set<Cursor>();
  // Every held message, oldest first, across the session's streams.
  let queue: Stored[] = [];
  let first = 0;
  let bytes = 0;

  function open(streamId: StreamId): Cursor {
    const cursor: Cursor = { key: crypto.randomUUID(), streamId, next: 0, lost: -1, kept: [], head: 0, finished: false };
    byKey.set(cursor.key, cursor);
    byStream.set(streamId, cursor);
    return cursor;
  }

  function forget(cursor: Cursor): void {
    byKey.delete(cursor.key);
    if (byStream.get(cursor.streamId) === cursor) byStream.delete(cursor.streamId);
    idle.delete(cursor);
  }

  /** A stream holding no message: dropped when finished, else kept among the most recently used. */
  function settle(cursor: Cursor): void {
    cursor.kept = [];
    cursor.head = 0;
    // A finished stream's client got the response and will not resume it; one that did not, lost it.
    if (cursor.finished) return forget(cursor);
    idle.delete(cursor);
    idle.add(cursor);
    while (idle.size > maxEvents) forget(idle.values().next().value!);
  }

  function touch(cursor: Cursor): void {
    if (cursor.head === cursor.kept.length) settle(cursor);
  }

  function evictOldest(): void {
    const oldest = queue[first++]!;
    bytes -= oldest.json.length;
    // The session's oldest message is also its stream's oldest: streams only ever lose a prefix.
    const cursor = oldest.stream;
    cursor.head++;
    if (oldest.seq > cursor.lost) cursor.lost = oldest.seq;
    if (first >= COMPACT_AFTER && first * 2 >= queue.length) {
      queue = queue.slice(first);
      first = 0;
    }
    if (cursor.head === cursor.kept.length) settle(cursor);
    else if (cursor.head >= COMPACT_AFTER && cursor.head * 2 >= cursor.kept.length) {
      cursor.kept = cursor.kept.slice(cursor.head);
      cursor.head = 0;
    }
  }

  function expire(now: number): void {
    while (first < queue.length && queue[first]!.at <= now - ttlMs) evictOldest();
  }

  /** The stream and position an event id names, when everything after it can still be replayed. */
  function resolve(eventId: EventId): { cursor: Cursor; seq: number } | undefined {
    const cut = eventId.lastIndexOf("_");
    if (cut <= 0) return undefined;
    const cursor = byKey.get(eventId.slice(0, cut));
    const digits = eventId.slice(cut + 1);
    // One spelling per id: "_07" or "_7.0" would otherwise name the same event as "_7".
    if (!cursor || !/^(0|[1-9][0-9]{0,14})$/.test(digits)) return undefined;
    const seq = Number(digits);
    if (seq >= cursor.next || seq < cursor.lost) return undefined;
    return { cursor, seq };
  }

  /** The first held message of `cursor` after `seq`, by binary search over its retained ones. */
  function firstAfter(cursor: Cursor, seq: number): Stored | undefined {
    let lo = cursor.head;
    let hi = cursor.kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cursor.kept[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return cursor.kept[lo];
  }

  return {
    async storeEvent(streamId, message) {
      const now = Date.now();
      expire(now);
      const cursor = byStream.get(streamId) ?? open(streamId);
      const seq = cursor.next++;
      const eventId = `${cursor.key}_${seq}`;
      if (isPriming(message)) {
        touch(cursor);
        return eventId;
      }
      if (isResponse(message)) cursor.finished = true;
      const json = JSON.stringify(message);
      if (json.length > maxBytes) {
        // Holding it would push out every other stream's messages and then itself; what came before it
        // on this stream can no longer be replayed in full, so its text is released now.
        cursor.lost = seq;
        for (let i = cursor.head; i < cursor.kept.length; i++) {
          bytes -= cursor.kept[i]!.json.length;
          cursor.kept[i]!.json = "";
        }
        touch(cursor);
        return eventId;
      }
      const stored: Stored = { stream: cursor, seq, json, at: now };
      cursor.kept.push(stored);
      idle.delete(cursor);
      queue.push(stored);
      bytes += json.length;
      while (queue.length - first > maxEvents || bytes > maxBytes) evictOldest();
      return eventId;
    },

    async getStreamIdForEventId(eventId) {
      expire(Date.now());
      return resolve(eventId)?.cursor.streamId;
    },

    async replayEventsAfter(lastEventId, { send }) {
      expire(Date.now());
      const found = resolve(lastEventId);
      // Reached only when the id went stale since the SDK's lookup a moment ago: the SDK answers 500.
      if (!found) throw new Error("event id unknown, or the events after it are no longer held");
      const { cursor } = found;
      let after = found.seq;
      if (idle.has(cursor)) touch(cursor);
      // Read the stream live, not a snapshot: a message stored while `send` awaits is replayed too,
      // because the SDK attaches the reconnected stream only after this returns.
      for (;;) {
        if (cursor.lost > after) throw new Error("events after the client's last event were dropped during the replay");
        const next = firstAfter(cursor, after);
        if (!next) break;
        after = next.seq;
        await send(`${cursor.key}_${next.seq}`, JSON.parse(next.json) as JSONRPCMessage);
      }
      return cursor.streamId;
    },

    size: () => ({ events: queue.length - first, bytes }),
  };
}
