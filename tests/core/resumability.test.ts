// Resumability (2025-11-25): SSE events carry ids, and a client that lost a stream reconnects with
// Last-Event-ID and is sent what it missed, from its own session only. Raw HTTP against a served gateway
// where the exact wire matters, the SDK client where a user's view matters, and the store's bounds
// directly.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { createEventStore } from "../../core/mcp/event-store.ts";
import { ALICE_KEY, BOB_KEY, NOTES, startGateway, stdio, testAuth, waitFor } from "../fixtures/helpers.ts";

const test = suite("resumability");
const ACCEPT = "application/json, text/event-stream";
let gw: Awaited<ReturnType<typeof startGateway>>;
const clients: Client[] = [];

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** Parses complete SSE events out of `text`; returns them and what is left of an unfinished one. */
function parseSse(text: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const blocks = text.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    const ev: SseEvent = { data: "" };
    const data: string[] = [];
    let fields = 0;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      fields++;
      if (name === "id") ev.id = value;
      else if (name === "event") ev.event = value;
      else if (name === "data") data.push(value);
    }
    if (fields === 0) continue; // a keep-alive comment
    ev.data = data.join("\n");
    events.push(ev);
  }
  return { events, rest };
}

function headers(key: string, session?: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "x-team-key": key,
    accept: ACCEPT,
    "content-type": "application/json",
    "mcp-protocol-version": "2025-11-25",
    ...(session ? { "mcp-session-id": session } : {}),
    ...extra,
  };
}

/** One JSON-RPC message POSTed; every SSE event of the answer. */
async function post(key: string, message: Record<string, unknown>, session?: string, version = "2025-11-25"): Promise<{ status: number; session: string | null; events: SseEvent[] }> {
  const res = await fetch(`${gw.url}/mcp`, {
    method: "POST",
    headers: headers(key, session, { "mcp-protocol-version": version }),
    body: JSON.stringify({ jsonrpc: "2.0", ...message }),
  });
  const text = await res.text();
  // A server may answer a POST with one JSON message or with an SSE stream: the same message either way.
  const json = res.headers.get("content-type")?.startsWith("application/json") === true;
  return { status: res.status, session: res.headers.get("mcp-session-id"), events: json ? [{ data: text }] : parseSse(text + "\n\n").events };
}

/** A raw 2025-era session: initialize, then notifications/initialized. */
async function open(key: string, version = "2025-11-25"): Promise<{ session: string; init: SseEvent[] }> {
  const r = await post(key, { id: 1, method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "1" } } }, undefined, version);
  assert.is(r.status, 200);
  assert.ok(r.session);
  const done = await fetch(`${gw.url}/mcp`, { method: "POST", headers: headers(key, r.session!, { "mcp-protocol-version": version }), body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  await done.text();
  assert.is(done.status, 202);
  return { session: r.session!, init: r.events };
}

/**
 * A GET stream of a session, read event by event. `answer` settles with the status once headers are in,
 * with the body when it is an error. Bun's fetch resolves only with the first byte of the body, and a
 * standalone GET stream sends nothing until there is a message: tests wait for `attached` instead.
 */
interface Stream {
  answer: Promise<{ status: number; body: string }>;
  next(ms?: number): Promise<SseEvent>;
  close(): Promise<void>;
}

function getStream(key: string, session: string, lastEventId?: string): Stream {
  const abort = new AbortController();
  const response = fetch(`${gw.url}/mcp`, {
    method: "GET",
    headers: { "x-team-key": key, accept: "text/event-stream", "mcp-protocol-version": "2025-11-25", "mcp-session-id": session, ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
    signal: abort.signal,
  });
  const answer = response.then(async (res) => ({ status: res.status, body: res.ok ? "" : await res.text() }));
  answer.catch(() => undefined);
  let reader: ReadableStreamDefaultReader<string> | undefined;
  const pending: SseEvent[] = [];
  let buffer = "";
  return {
    answer,
    async next(ms = 10_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no SSE event within ${ms} ms`)), ms);
      });
      try {
        if (!reader) {
          const res = await Promise.race([response, timeout]);
          if (!res.ok || !res.body) throw new Error(`no stream: ${res.status}`);
          reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        }
        while (pending.length === 0) {
          const { value, done } = await Promise.race([reader.read(), timeout]);
          if (done) throw new Error("the stream ended");
          const parsed = parseSse(buffer + value);
          buffer = parsed.rest;
          pending.push(...parsed.events);
        }
        return pending.shift()!;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      abort.abort();
      await reader?.cancel().catch(() => undefined);
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until the session has a GET stream attached: then another one is refused with 409. */
async function attached(key: string, session: string): Promise<void> {
  await sleep(50);
  await waitFor(async () => {
    const probe = getStream(key, session);
    const { status } = await probe.answer;
    // The probe itself became the session's stream: the one it checks for never arrived.
    if (status === 200) throw new Error("no GET stream was attached");
    return status === 409;
  }, 5_000);
}

/**
 * Reconnects the GET stream with Last-Event-ID and waits until it is attached. The server learns of a
 * dropped connection asynchronously; until it has, the SDK answers 409 (the old stream is still
 * attached), so that is retried.
 */
async function resume(key: string, session: string, lastEventId: string): Promise<Stream> {
  const end = Date.now() + 5_000;
  for (;;) {
    const stream = getStream(key, session, lastEventId);
    const answer = await Promise.race([stream.answer, sleep(500).then(() => undefined)]);
    if (answer?.status === 409 && Date.now() < end) {
      await sleep(50);
      continue;
    }
    if (answer) assert.is(answer.status, 200, answer.body);
    await attached(key, session);
    return stream;
  }
}

/** Asserts that `fn` rejects, with a message matching `pattern` when given. */
async function rejects(fn: () => Promise<unknown>, pattern?: RegExp): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error, "expected a rejection");
  if (pattern) assert.match(String((error as Error).message), pattern);
}

/** An event id's stream key and sequence number. */
function partsOf(id: string | undefined): { key: string; seq: number } {
  assert.ok(id, "the event has an id");
  const m = /^(.+)_(\d+)$/.exec(id!);
  assert.ok(m, `event id ${id} is <stream key>_<sequence>`);
  return { key: m![1]!, seq: Number(m![2]) };
}

const isListChanged = (ev: SseEvent): boolean => ev.data !== "" && (JSON.parse(ev.data) as { method?: string }).method === "notifications/tools/list_changed";

async function toggle(key: string, session: string, id: number): Promise<void> {
  const r = await post(key, { id, method: "tools/call", params: { name: "notes__toggle_shout", arguments: {} } }, session);
  assert.is(r.status, 200);
  assert.ok(r.events.some((e) => /shout (en|dis)abled/.test(e.data)), JSON.stringify(r.events));
}

test.before(async () => {
  gw = await startGateway({
    auth: [await testAuth()],
    servers: { notes: stdio({ script: NOTES, stderr: "ignore" }) },
  });
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await gw.close();
});

test("SSE answers start with a priming event (an id, no data) and every message has an id of the same stream", async () => {
  const { session, init } = await open(ALICE_KEY);
  // The initialize answer: priming, then the result, both ids of one stream in order.
  assert.is(init.length, 2, JSON.stringify(init));
  assert.is(init[0]!.data, "", "the priming event carries no message");
  const prime = partsOf(init[0]!.id);
  const result = partsOf(init[1]!.id);
  assert.is(result.key, prime.key);
  assert.ok(result.seq > prime.seq);
  assert.ok(prime.key.length >= 32, "stream keys are long random strings");
  assert.is(JSON.parse(init[1]!.data).result.protocolVersion, "2025-11-25");
  // Each request's answer is a stream of its own, with a key of its own.
  const list = await post(ALICE_KEY, { id: 2, method: "tools/list" }, session);
  assert.is(list.events[0]!.data, "");
  const listed = list.events.map((e) => partsOf(e.id));
  assert.is(listed[0]!.key, listed[1]!.key);
  assert.is.not(listed[0]!.key, prime.key);
  assert.ok(JSON.parse(list.events[1]!.data).result.tools.length > 0);
});

test("clients before 2025-11-25 get ids but no priming event (their SSE parsers choke on empty data)", async () => {
  const { init } = await open(ALICE_KEY, "2025-06-18");
  assert.is(init.length, 1, JSON.stringify(init));
  assert.ok(JSON.parse(init[0]!.data).result);
  partsOf(init[0]!.id);
});

test("the GET stream: a client that reconnects with Last-Event-ID gets the notification it missed, then live ones", async () => {
  const { session } = await open(ALICE_KEY);
  const get = getStream(ALICE_KEY, session);
  await attached(ALICE_KEY, session);
  await toggle(ALICE_KEY, session, 2);
  // The SDK primes POST answers only: the GET stream's first event is the notification, with an id.
  const seen = await get.next();
  assert.ok(isListChanged(seen), JSON.stringify(seen));
  const first = partsOf(seen.id);
  await get.close();

  // While no GET stream is open, the tool list changes again.
  await toggle(ALICE_KEY, session, 3);
  const again = await resume(ALICE_KEY, session, seen.id!);
  const missed = await again.next();
  assert.ok(isListChanged(missed), JSON.stringify(missed));
  const second = partsOf(missed.id);
  assert.is(second.key, first.key, "the same stream");
  assert.ok(second.seq > first.seq);

  // The reconnected stream is the session's GET stream from now on.
  await toggle(ALICE_KEY, session, 4);
  const live = await again.next();
  assert.ok(isListChanged(live));
  assert.ok(partsOf(live.id).seq > second.seq);
  await again.close();

  // Resuming from the newest id replays nothing and keeps the stream open.
  const quiet = await resume(ALICE_KEY, session, live.id!);
  await rejects(() => quiet.next(300), /no SSE event/);
  await quiet.close();
});

test("an event id of another session replays nothing: 400, and the session's own stream is untouched", async () => {
  const alice = await open(ALICE_KEY);
  const get = getStream(ALICE_KEY, alice.session);
  await attached(ALICE_KEY, alice.session);
  await toggle(ALICE_KEY, alice.session, 2);
  const seen = await get.next();
  assert.ok(isListChanged(seen));
  await get.close();
  await toggle(ALICE_KEY, alice.session, 3);

  for (const [key, session] of [[BOB_KEY, (await open(BOB_KEY)).session], [ALICE_KEY, (await open(ALICE_KEY)).session]] as const) {
    const foreign = await getStream(key, session, seen.id!).answer;
    assert.is(foreign.status, 400, foreign.body);
    assert.is(JSON.parse(foreign.body).error.code, -32000);
    // Ids the session never issued, and forms of a real id, are refused the same way.
    for (const forged of ["0", "x_1", `${partsOf(seen.id).key}_0${partsOf(seen.id).seq}`, `${seen.id}0`]) {
      const bad = await getStream(key, session, forged).answer;
      assert.is(bad.status, 400, `${forged}: ${bad.body}`);
    }
    const own = getStream(key, session);
    await attached(key, session);
    await own.close();
  }

  // Another credential cannot even name the session the id belongs to.
  const borrowed = await getStream(BOB_KEY, alice.session, seen.id!).answer;
  assert.is(borrowed.status, 404);

  // The owner still gets what it missed.
  const back = await resume(ALICE_KEY, alice.session, seen.id!);
  assert.ok(isListChanged(await back.next()));
  await back.close();
});

test("the SDK client resumes its GET stream with Last-Event-ID and gets the notification sent while it was away", async () => {
  // The client's fetch, with a handle on the GET stream: the test breaks the connection, and holds the
  // client's reconnection back until the upstream has changed its tools.
  let gets = 0;
  let breakStream: (() => void) | undefined;
  let lastEventIdSent: string | null = null;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const fetchWith = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if ((init?.method ?? "GET") !== "GET") return fetch(input, init);
    const n = ++gets;
    if (n > 1) {
      lastEventIdSent = new Headers(init?.headers).get("last-event-id");
      await released;
    }
    const res = await fetch(input, init);
    if (n > 1 || !res.body) return res;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        breakStream = () => {
          reader.cancel().catch(() => undefined);
          controller.error(new Error("connection lost"));
        };
      },
      async pull(controller) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done || !value) controller.close();
        else controller.enqueue(value);
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  const c = new Client({ name: "resumer", version: "1" }, { versionNegotiation: { mode: "legacy" } });
  c.onerror = () => undefined; // the broken stream is reported here; it is what this test does
  const notified: number[] = [];
  c.setNotificationHandler("notifications/tools/list_changed", () => void notified.push(Date.now()));
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
    fetch: fetchWith,
    requestInit: { headers: { "x-team-key": ALICE_KEY } },
    reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 200, reconnectionDelayGrowFactor: 1.5, maxRetries: 5 },
  });
  await c.connect(transport);
  clients.push(c);
  await waitFor(() => gets === 1);
  await attached(ALICE_KEY, transport.sessionId!);

  // A first notification gives the client an event id to resume from.
  await c.callTool({ name: "notes__toggle_shout", arguments: {} });
  await waitFor(() => notified.length === 1 && breakStream !== undefined);
  breakStream!();
  await waitFor(() => gets === 2);
  await c.callTool({ name: "notes__toggle_shout", arguments: {} });
  await new Promise((r) => setTimeout(r, 200));
  assert.is(notified.length, 1, "nothing arrives while the stream is down");
  release();
  await waitFor(() => notified.length === 2);
  assert.ok(lastEventIdSent, "the client reconnected with Last-Event-ID");
  partsOf(lastEventIdSent!);
});

test("the store: only the newest maxEvents are kept, an evicted id is refused, a kept one replays in order", async () => {
  const store = createEventStore({ maxEvents: 5 });
  const note = (n: number): JSONRPCMessage => ({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: n } });
  const ids: string[] = [];
  for (let n = 0; n < 12; n++) ids.push(await store.storeEvent("_GET_stream", note(n)));
  assert.is(store.size().events, 5);
  // Ids are ordered within the stream, and unique.
  assert.equal(ids.map((id) => partsOf(id).seq), [...ids.keys()]);
  assert.is(new Set(ids.map((id) => partsOf(id).key)).size, 1);
  // Resuming needs everything after the id: the newest five are 7..11, so resuming after 6 works, after 5 does not.
  assert.is(await store.getStreamIdForEventId(ids[5]!), undefined);
  await rejects(() => store.replayEventsAfter(ids[5]!, { send: async () => undefined }));
  assert.is(await store.getStreamIdForEventId(ids[6]!), "_GET_stream");
  const replayed: Array<[string, unknown]> = [];
  const streamId = await store.replayEventsAfter(ids[6]!, { send: async (id, m) => void replayed.push([id, (m as unknown as { params: { data: number } }).params.data]) });
  assert.is(streamId, "_GET_stream");
  assert.equal(replayed, [7, 8, 9, 10, 11].map((n) => [ids[n], n]));
  // The newest id: nothing to replay, and no error.
  const none: unknown[] = [];
  assert.is(await store.replayEventsAfter(ids[11]!, { send: async (_, m) => void none.push(m) }), "_GET_stream");
  assert.equal(none, []);
  // Never issued, and not an id at all.
  assert.is(await store.getStreamIdForEventId(`${partsOf(ids[0]).key}_12`), undefined);
  assert.is(await store.getStreamIdForEventId("nonsense"), undefined);
});

test("the store: the byte bound, streams kept apart, priming events never replayed", async () => {
  const store = createEventStore({ maxBytes: 1000 });
  const big = (n: number): JSONRPCMessage => ({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: String(n).padEnd(240, ".") } });
  const prime = await store.storeEvent("post-1", {} as JSONRPCMessage);
  const a = [await store.storeEvent("post-1", big(1)), await store.storeEvent("post-1", big(2))];
  const g = [await store.storeEvent("_GET_stream", big(3)), await store.storeEvent("_GET_stream", big(4))];
  assert.ok(store.size().bytes <= 1000, `${store.size().bytes} bytes held`);
  assert.is(store.size().events, 3, "the oldest went");
  assert.is.not(partsOf(a[0]).key, partsOf(g[0]).key);
  // post-1 lost its first message: resuming from its priming event would skip it, so it is refused.
  assert.is(await store.getStreamIdForEventId(prime), undefined);
  const sent: string[] = [];
  assert.is(await store.replayEventsAfter(a[0]!, { send: async (id) => void sent.push(id) }), "post-1");
  assert.equal(sent, [a[1]]);
  sent.length = 0;
  // A stream's replay never includes another stream's events.
  assert.is(await store.replayEventsAfter(g[0]!, { send: async (id) => void sent.push(id) }), "_GET_stream");
  assert.equal(sent, [g[1]]);

  // A priming event gives an id to resume from and is never sent as a message.
  const other = createEventStore();
  const p = await other.storeEvent("post-2", {} as JSONRPCMessage);
  const r = await other.storeEvent("post-2", { jsonrpc: "2.0", id: 7, result: {} });
  const got: unknown[] = [];
  await other.replayEventsAfter(p, { send: async (_, m) => void got.push(m) });
  assert.equal(got, [{ jsonrpc: "2.0", id: 7, result: {} }]);
  assert.is(other.size().events, 1);
  assert.ok(partsOf(r).seq > partsOf(p).seq);
});

test("the store: a message larger than maxBytes is sent but not held; events expire after ttlMs", async () => {
  const store = createEventStore({ maxBytes: 500, ttlMs: 150 });
  const msg = (size: number): JSONRPCMessage => ({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x".repeat(size) } });
  const kept = await store.storeEvent("_GET_stream", msg(10));
  const before = await store.storeEvent("s", msg(10));
  const huge = await store.storeEvent("s", msg(1000));
  const after = await store.storeEvent("s", msg(10));
  assert.ok(store.size().bytes <= 500);
  assert.is(await store.getStreamIdForEventId(before), undefined, "the huge message can no longer be replayed");
  assert.is(await store.getStreamIdForEventId(huge), "s", "resuming after it works");
  const sent: string[] = [];
  await store.replayEventsAfter(huge, { send: async (id) => void sent.push(id) });
  assert.equal(sent, [after]);
  assert.is(await store.getStreamIdForEventId(kept), "_GET_stream", "another stream keeps its events");
  await new Promise((r) => setTimeout(r, 200));
  const late = await store.storeEvent("t", msg(10));
  assert.is(store.size().events, 1, "only the fresh event is left");
  assert.ok(late);
  // All of the GET stream's messages expired, but the client had seen the last: nothing was lost.
  assert.is(await store.getStreamIdForEventId(kept), "_GET_stream");
  assert.is(await store.getStreamIdForEventId(before), undefined);
  assert.throws(() => createEventStore({ maxEvents: 0 }), /maxEvents/);
  assert.throws(() => createEventStore({ ttlMs: 1.5 }), /ttlMs/);
});

test.run();
