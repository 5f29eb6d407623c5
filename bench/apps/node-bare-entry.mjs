// @ts-nocheck: plain JavaScript, run by `node` as it is.
// The same app served bare on Node, as @hono/node-server's README does: the cold start's baseline
// beside serve-gracefully-entry.mjs, both without tsx.
import { serve } from "@hono/node-server";
import app from "./export-default.mjs";

serve({ fetch: app.fetch, hostname: "127.0.0.1", port: Number(process.env.PORT) });
