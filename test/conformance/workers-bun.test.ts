/** `workers: 2` on Bun, from the outside: see workers-suite.ts. */
import { describeWorkers } from "./workers-suite.ts";

describeWorkers("bun");
