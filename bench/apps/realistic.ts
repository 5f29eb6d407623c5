/**
 * An app shaped like a small API: middleware on every request (request id, secure headers, CORS
 * on /api, a bearer-token check), path parameters, query parsing, JSON parsed and serialized.
 * bench/apps/realistic.lua drives it with a mix of these requests. GET / answers like the
 * one-route app, so the idle-connection holder works against either.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";

interface User {
  id: number;
  name: string;
  email: string;
  roles: string[];
}

const users = new Map<number, User>(
  Array.from(
    { length: 100 },
    (_, i) => [i, { id: i, name: `user ${i}`, email: `user${i}@example.test`, roles: i % 7 === 0 ? ["admin"] : ["reader"] }],
  ),
);
let requestCount = 0;

export const app = new Hono();
app.use("*", async (c, next) => {
  c.header("X-Request-Id", String(++requestCount));
  await next();
});
app.use("*", secureHeaders());
app.use("/api/*", cors({ origin: "https://example.test" }));
app.use("/api/*", async (c, next) => {
  if (c.req.header("Authorization") !== "Bearer bench") return c.json({ error: "unauthorized" }, 401);
  await next();
});

app.get("/", (c) => c.text("Hello, bench!"));
app.get("/api/users/:id", (c) => {
  const user = users.get(Number(c.req.param("id")));
  return user ? c.json(user) : c.json({ error: "not found" }, 404);
});
app.get("/api/users", (c) => {
  const limit = Math.min(Number(c.req.query("limit") ?? 10), 50);
  const role = c.req.query("role");
  const list = [...users.values()].filter((u) => !role || u.roles.includes(role)).slice(0, limit);
  return c.json({ count: list.length, users: list });
});
app.post("/api/users", async (c) => {
  const body = await c.req.json<Partial<User>>();
  if (typeof body.name !== "string" || typeof body.email !== "string") return c.json({ error: "name and email required" }, 400);
  return c.json({ id: 1000 + (requestCount % 1000), name: body.name, email: body.email, roles: body.roles ?? ["reader"] }, 201);
});
app.notFound((c) => c.json({ error: "no such route" }, 404));
