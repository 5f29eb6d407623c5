/** The smallest app: one route, a short text. What the wrapper costs at its most visible. */
import { Hono } from "hono";

export const app = new Hono();
app.get("/", (c) => c.text("Hello, bench!"));
