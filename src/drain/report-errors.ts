/**
 * The report's error messages, bounded: the first few are kept (the first failures usually say
 * what went wrong; the rest are mostly the same one again), each cut to a length that lets all of
 * them share one log line, and the others are only counted. Every failure is also logged as it
 * happens, so nothing is lost from the logs.
 */
import { clip } from "../log/log-bounds.ts";

/** Messages a report keeps; further ones are counted in `errorsOmitted`. */
export const MAX_REPORTED_ERRORS = 10;

/** Characters kept of each message; the line's bound (log-bounds.ts) shortens them further when ten do not fit. */
export const MAX_ERROR_CHARS = 1_000;

export class ReportErrors {
  readonly #messages: string[] = [];
  #omitted = 0;

  add(message: string): void {
    if (this.#messages.length < MAX_REPORTED_ERRORS) this.#messages.push(clip(message, MAX_ERROR_CHARS));
    else this.#omitted++;
  }

  /** The kept messages, a copy. */
  get messages(): string[] {
    return [...this.#messages];
  }

  /** Messages counted but not kept. */
  get omitted(): number {
    return this.#omitted;
  }

  /** Both, as the report names them. */
  get forReport(): { errors: string[]; errorsOmitted: number } {
    return { errors: this.messages, errorsOmitted: this.#omitted };
  }
}
