/**
 * Holds N idle keep-alive connections to 127.0.0.1:PORT in a process of its own, so that when the
 * server closes them, handling 1,000 socket closes does not delay the bench's own view of the
 * server's exit. Each connection sends one `GET /` (keep-alive) and reads the response, then idles.
 *
 *   node bench/idle-holder.mjs PORT N
 * stdout: {"ready":N} once every connection has its response; then, for each "status" line on
 * stdin, {"open":K}. Exits when stdin closes (or the bench kills it).
 */
import net from "node:net";

const port = Number(process.argv[2]);
const n = Number(process.argv[3]);
let open = 0;

function one() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no response within 10 s"));
    }, 10_000);
    let got = "";
    let counted = false;
    socket.on("error", () => {}); // a reset at shutdown is expected
    socket.once("close", () => counted && open--);
    socket.on("connect", () => socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`));
    const onData = (chunk) => {
      got += chunk.toString("latin1");
      if (!got.includes("Hello, bench!")) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.resume();
      counted = true;
      open++;
      resolve(socket);
    };
    socket.on("data", onData);
  });
}

try {
  for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: Math.min(100, n - i) }, one));
  process.stdout.write(JSON.stringify({ ready: open }) + "\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error?.message ?? error) }) + "\n");
  process.exit(1);
}
let buffer = "";
process.stdin.setEncoding("utf8").on("data", (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    buffer = buffer.slice(nl + 1);
    process.stdout.write(JSON.stringify({ open }) + "\n");
  }
});
process.stdin.on("end", () => process.exit(0));
