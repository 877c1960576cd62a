// Evaluates a batch of IAM requests with @cloud-copilot/iam-simulate (AGPL: a test-time tool,
// run from the tests, never shipped). Reads a JSON array of simulations on stdin, writes a JSON
// array of {decision} or {errors} in the same order on stdout. One process per batch.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const results = []
for (const c of cases) {
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.resourceAccount },
      contextVariables: c.context ?? {},
    },
    identityPolicies: (c.identityPolicies ?? []).map((policy, i) => ({ name: `identity-${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: c.resourcePolicy ?? undefined,
  }
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    results.push({ errors: response.errors })
  } else {
    const ignored = response.resultType === 'single'
      ? response.result.ignoredContextKeys ?? []
      : response.results.flatMap((r) => r.ignoredContextKeys ?? [])
    results.push({ decision: response.overallResult, ignoredContextKeys: ignored })
  }
}
process.stdout.write(JSON.stringify(results))
