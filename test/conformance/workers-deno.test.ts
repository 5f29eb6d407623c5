/** `workers: 2` on Deno, from the outside: see workers-suite.ts. */
import { describeWorkers } from "./workers-suite.ts";

describeWorkers("deno");
