import { type ParseError, parse } from 'jsonc-parser';

/**
 * Where a JSON text first goes wrong, or -1. V8's JSON.parse messages carry no offset on Node 20+
 * ("Unexpected token '}', ... is not valid JSON"), so jsonc-parser (strict: no comments, no trailing commas)
 * finds it for the diagnostic.
 */
export function jsonErrorOffset(text: string): number {
  const errors: ParseError[] = [];
  parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  return errors[0]?.offset ?? -1;
}
