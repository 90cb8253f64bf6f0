// The patterns SSM documents declare as allowedPattern (ssm-documents/parameter-patterns.json), applied
// on the Lambda side as well: a value is checked before it is sent, and SSM checks it again on arrival.
import { z } from 'zod';
import patterns from '../../ssm-documents/parameter-patterns.json' with { type: 'json' };

export type PatternedParameter = Exclude<keyof typeof patterns, '$comment'>;

export function parameterPattern(parameter: PatternedParameter): RegExp {
  return new RegExp(patterns[parameter]);
}

/** A string that the named document parameter accepts; the message names the parameter's pattern. */
export function documentParameter(parameter: PatternedParameter): z.ZodString {
  const pattern = parameterPattern(parameter);
  return z.string().regex(pattern, `must match the ${parameter} document parameter pattern ${pattern.source}`);
}

/** A list whose comma-joined form the named document parameter accepts (addresses, SANs); empty until known. */
export function documentParameterList(parameter: PatternedParameter) {
  const pattern = parameterPattern(parameter);
  return z.array(z.string()).refine((values) => values.length === 0 || pattern.test(values.join(',')), {
    message: `joined with commas, must match the ${parameter} document parameter pattern ${pattern.source}`,
  });
}
