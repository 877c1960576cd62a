// Validates a batch of Amazon States Language definitions with asl-validator (npm; Apache-2.0, a
// test-time tool). Reads a JSON array of definitions on stdin, writes a JSON array of
// {isValid, errors: [text]} in the same order. One process per batch.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const aslValidator = require('asl-validator')

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const definitions = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const results = definitions.map((definition) => {
  const { isValid, errors } = aslValidator(definition)
  return {
    isValid,
    errors: (errors ?? []).map((e) => e.Message ?? e.message ?? JSON.stringify(e)),
  }
})
process.stdout.write(JSON.stringify(results))
