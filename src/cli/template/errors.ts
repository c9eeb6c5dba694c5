/**
 * A template that does not parse or fails while it runs. The message has the
 * shape Go's text/template gives (`template: :1:2: executing "" at <.Foo>: …`),
 * which docker prints after its own prefix.
 */
export class TemplateError extends Error {
  constructor(
    message: string,
    /** Parse errors: the template is wrong whatever the data (docker exits 64 for inspect). */
    readonly phase: 'parse' | 'exec' = 'parse',
  ) {
    super(message);
  }
}
