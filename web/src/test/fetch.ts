import { vi } from "vitest";

export interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

/** Answers fetch() from a table of handlers by "METHOD /path" prefix, recording every call. */
export function mockGateway(routes: Record<string, (call: Call) => [number, unknown]>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: string, init: RequestInit = {}) => {
    const call: Call = {
      method: init.method ?? "GET",
      path: String(input),
      headers: (init.headers ?? {}) as Record<string, string>,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    const key = Object.keys(routes)
      .sort((a, b) => b.length - a.length)
      .find((k) => `${call.method} ${call.path}`.startsWith(k));
    const [status, body] = key ? routes[key](call) : [404, { code: 5, message: `no mock for ${call.method} ${call.path}`, details: [] }];
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetch);
  return calls;
}
