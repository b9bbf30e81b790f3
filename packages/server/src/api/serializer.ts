import fastJsonStringify from "fast-json-stringify";
import { serializerCompiler as zodSerializerCompiler } from "fastify-type-provider-zod";
import { z } from "zod";

type CompilerInput = Parameters<typeof zodSerializerCompiler>[0];

/**
 * Response serialization: each route's zod response schema is turned into JSON Schema once
 * and compiled with fast-json-stringify, which writes only the declared fields (nothing
 * undeclared leaks into a response) and is several times faster than validating every
 * response with zod and then calling JSON.stringify. A schema JSON Schema cannot express
 * falls back to the zod serializer.
 */
export function serializerCompiler(input: CompilerInput): (data: unknown) => string {
  const schema = input.schema as unknown;
  if (schema instanceof z.ZodType) {
    try {
      const json = z.toJSONSchema(schema, { io: "output", target: "draft-7", unrepresentable: "throw" }) as Record<
        string,
        unknown
      >;
      return fastJsonStringify(json as unknown as Parameters<typeof fastJsonStringify>[0]);
    } catch {
      // fall through to zod
    }
  }
  return zodSerializerCompiler(input);
}
