// @ts-nocheck: a Bun preload, plain JavaScript (Bun.serve is typed nowhere here).
// Loaded with `bun --preload`: prints when the first Bun.serve() returned (performance.now(), ms
// since the process started), then ends the process. Used by bench/probe/bun-start.ts.
const serve = Bun.serve;
Bun.serve = function (...args) {
  const server = serve.apply(this, args);
  const at = performance.now();
  setTimeout(() => {
    console.error(`LISTENING_AT ${at.toFixed(2)}`);
    process.exit(0);
  }, 30);
  return server;
};
