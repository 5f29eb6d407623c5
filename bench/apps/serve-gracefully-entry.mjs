// @ts-nocheck: dist/ exists only after the build, and `npm test` typechecks before it builds.
// Node's own way to serve the same app: serveGracefully called in the entry, run by `node`.
import { serveGracefully } from "../../dist/node.js";
import app from "./export-default.mjs";

serveGracefully(app, { hostname: "127.0.0.1", logger: false });
