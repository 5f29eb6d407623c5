/** `workers: 2` on Node, from the outside: see workers-suite.ts. */
import { describeWorkers } from "./workers-suite.ts";

describeWorkers("node");
