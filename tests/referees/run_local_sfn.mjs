// Runs executions of a state machine on aws-local-stepfunctions, a Step Functions interpreter
// written independently of moto's (which is a port of LocalStack's), with every
// `arn:aws:states:::lambda:invoke` Task bound to the deployed functions on the embedded AWS.
//
// Protocol (JSON lines): stdin's first line configures the session, each further line is one
// execution; stdout gets one line per execution, in order. stderr is for diagnostics only.
//
//   {"definition": "<ASL text, as deployed>", "endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
//    "credentials": {"accessKeyId": ..., "secretAccessKey": ..., "sessionToken": ...},
//    "waitOverrideMs": null, "retryOverrideMs": null}
//   {"input": {...}, "context": {"Execution": {...}, "StateMachine": {...}}}
//   -> {"status": "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED", "output", "error", "cause",
//       "taskFailures": [{"state", "error"}, ...], "statesEntered": ["state", ...]}
//
// The definition runs as given, but for one adapter step (adaptStatePaths, below) standing in for
// the one Context Object field the library does not provide.

import { createRequire } from 'node:module';
import readline from 'node:readline';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';

// The AWS SDK the library itself depends on (resolved from the library, whatever npm hoists).
const requireFromLibrary = createRequire(createRequire(import.meta.url).resolve('aws-local-stepfunctions'));
const { LambdaClient, InvokeCommand } = requireFromLibrary('@aws-sdk/client-lambda');

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

// Every state of the definition, nested ones included (Map's ItemProcessor/Iterator, Parallel's
// Branches). State names are unique across a whole state machine, which is how the library keys
// its overrides.
function* allStates(machine) {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    yield [name, state];
    for (const nested of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) {
      if (nested) yield* allStates(nested);
    }
  }
}

// -- The one adapter step --------------------------------------------------------------------------
// AWS gives every state `$$.State` (Name, EnteredTime, RetryCount: the Context Object,
// https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html).
// aws-local-stepfunctions 3.0 does not: its Context Object holds what the caller passes, plus
// Execution.Input/StartTime and, inside a Map, Map.Item, so a `$$.State.*` path fails the state with
// States.Runtime ("does not point to a value"). This step rewrites each such path in a lambda:invoke
// Task's Parameters into a marker, which the binding resolves for each attempt from the library's own
// event log: Name is the state's, EnteredTime its latest StateEntered event's, RetryCount the number of
// StateRetried events since. A Map runs its iterations' states concurrently under one name, so there
// the log cannot tell attempts apart: a `$$.State` path inside a Map, or outside a lambda:invoke
// Task's Parameters, is refused (the runner exits naming the state) rather than guessed.
const STATE_PATH = /^\$\$\.State\.(Name|EnteredTime|RetryCount)$/;
const STATE_MARKER = '__contextObjectState';

function markStatePaths(template) {
  if (Array.isArray(template)) return template.map(markStatePaths);
  if (template === null || typeof template !== 'object') return template;
  const marked = {};
  for (const [key, value] of Object.entries(template)) {
    const field = key.endsWith('.$') && typeof value === 'string' ? STATE_PATH.exec(value)?.[1] : undefined;
    if (field) marked[key.slice(0, -2)] = { [STATE_MARKER]: field };
    else marked[key] = markStatePaths(value);
  }
  return marked;
}

function adaptStatePaths(machine, insideMap = false) {
  const marked = new Set();
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    if (state.Type === 'Task' && state.Resource === LAMBDA_INVOKE && state.Parameters && !insideMap) {
      const before = JSON.stringify(state.Parameters);
      state.Parameters = markStatePaths(state.Parameters);
      if (JSON.stringify(state.Parameters) !== before) marked.add(name);
    }
    if (JSON.stringify({ ...state, ItemProcessor: undefined, Iterator: undefined, Branches: undefined }).includes('$$.State.')) {
      throw new Error(`state ${name}: a $$.State path here has no stand-in (only in lambda:invoke Parameters outside a Map)`);
    }
    for (const branch of state.Branches ?? []) adaptStatePaths(branch, insideMap).forEach((n) => marked.add(n));
    for (const nested of [state.ItemProcessor, state.Iterator]) {
      if (nested) adaptStatePaths(nested, true);
    }
  }
  return marked;
}

// What the library's event log says about a state's latest entry, in the current execution.
class ExecutionLog {
  events = [];

  stateField(stateName, field) {
    let retries = 0;
    for (let i = this.events.length - 1; i >= 0; i--) {
      const event = this.events[i];
      if (event.state?.name !== stateName || event.index !== undefined) continue;
      if (event.type === 'StateRetried') retries++;
      if (event.type === 'StateEntered') {
        if (field === 'Name') return stateName;
        if (field === 'EnteredTime') return new Date(event.timestamp).toISOString();
        return retries;
      }
    }
    throw new Error(`state ${stateName}: no StateEntered event to resolve $$.State.${field} from`);
  }
}

let currentLog = new ExecutionLog();

async function resolveStateMarkers(value, stateName) {
  // The library dispatches StateEntered/StateRetried just before calling the handler, and its log
  // is read asynchronously: one macrotask later, every event dispatched so far has been read.
  await new Promise((resolve) => setImmediate(resolve));
  const resolve = (node) => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    if (STATE_MARKER in node) return currentLog.stateField(stateName, node[STATE_MARKER]);
    return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, resolve(item)]));
  };
  return resolve(value);
}

class TaskError extends Error {
  constructor(name, cause) {
    // The library reports `message` as the Cause (Catch's {"Error", "Cause"}, ExecutionFailed).
    super(cause);
    this.name = name;
  }
}

// The `lambda:invoke` service integration, as Step Functions documents it
// (https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html): the state's
// Parameters are Lambda Invoke's request (FunctionName, Payload, Qualifier...); the task result
// is Invoke's response with Payload parsed; a function error fails the task with the error name
// Lambda reports (`errorType`) and the payload as the cause; an Invoke API error fails it with
// `Lambda.<error code>`. aws-local-stepfunctions has no service integrations: it would invoke a
// function named by the Resource field itself, so each such Task gets this as its local handler.
function lambdaInvoke(client, stateName, hasStateMarkers) {
  return async (effectiveParameters) => {
    const parameters = hasStateMarkers ? await resolveStateMarkers(effectiveParameters, stateName) : effectiveParameters;
    const request = { FunctionName: parameters.FunctionName, Payload: new TextEncoder().encode(JSON.stringify(parameters.Payload ?? {})) };
    for (const key of ['Qualifier', 'ClientContext', 'InvocationType', 'LogType']) {
      if (parameters[key] !== undefined) request[key] = parameters[key];
    }
    let response;
    try {
      response = await client.send(new InvokeCommand(request));
    } catch (error) {
      const code = error.name ?? 'SdkClientException';
      const status = error.$metadata?.httpStatusCode;
      if (status === undefined) {
        throw new TaskError('Lambda.SdkClientException', `Unable to execute HTTP request: ${error.message}`);
      }
      const details = [
        'Service: AWSLambda',
        `Status Code: ${status}`,
        `Error Code: ${code}`,
        `Request ID: ${error.$metadata?.requestId ?? ''}`,
        'Proxy: null',
      ].join('; ');
      throw new TaskError(`Lambda.${code}`, `${error.message} (${details})`);
    }
    const text = response.Payload ? new TextDecoder().decode(response.Payload) : '';
    let payload = text;
    try {
      payload = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: Step Functions passes the text on as a string.
    }
    if (response.FunctionError) {
      const errorType = payload && typeof payload === 'object' && typeof payload.errorType === 'string' ? payload.errorType : 'Lambda.Unknown';
      throw new TaskError(errorType, text);
    }
    return {
      ExecutedVersion: response.ExecutedVersion,
      Payload: payload,
      SdkHttpMetadata: { HttpStatusCode: response.StatusCode },
      SdkResponseMetadata: { RequestId: response.$metadata?.requestId },
      StatusCode: response.StatusCode,
    };
  };
}

function overrides(definition, config, client, statesWithMarkers) {
  const taskResourceLocalHandlers = {};
  const waitTimeOverrides = {};
  const retryIntervalOverrides = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type === 'Task') {
      if (state.Resource !== LAMBDA_INVOKE) {
        throw new Error(`state ${name}: Task resource ${state.Resource} has no binding in this runner`);
      }
      taskResourceLocalHandlers[name] = lambdaInvoke(client, name, statesWithMarkers.has(name));
    }
    if (state.Type === 'Wait' && config.waitOverrideMs != null) waitTimeOverrides[name] = config.waitOverrideMs;
    if (state.Retry && config.retryOverrideMs != null) retryIntervalOverrides[name] = config.retryOverrideMs;
  }
  return { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides };
}

async function runOne(machine, runOverrides, request) {
  const execution = machine.run(request.input, { overrides: runOverrides, context: request.context });
  const taskFailures = [];
  const statesEntered = [];
  const log = new ExecutionLog();
  currentLog = log; // executions run one at a time
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      log.events.push(event);
      if (event.type === 'StateFailed' && event.state?.type === 'Task') {
        taskFailures.push({ state: event.state.name, error: event.Error });
      }
      if (event.type === 'StateEntered') statesEntered.push(event.state.name);
    }
  })();
  let outcome;
  try {
    outcome = { status: 'SUCCEEDED', output: await execution.result, error: null, cause: null };
  } catch (error) {
    if (error instanceof ExecutionTimeoutError) {
      outcome = { status: 'TIMED_OUT', output: null, error: 'States.Timeout', cause: null };
    } else if (error instanceof ExecutionAbortedError) {
      outcome = { status: 'ABORTED', output: null, error: null, cause: null };
    } else if (error instanceof ExecutionError) {
      outcome = { status: 'FAILED', output: null, error: error.cause?.name ?? null, cause: error.cause?.message ?? null };
    } else {
      throw error;
    }
  }
  await collecting;
  return { ...outcome, taskFailures, statesEntered };
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let machine;
  let runOverrides;
  for await (const line of lines) {
    if (!line.trim()) continue;
    const message = JSON.parse(line);
    if (machine === undefined) {
      const definition = JSON.parse(message.definition);
      // The library's own checks, on the definition as given; throws if it is invalid.
      new StateMachine(definition);
      const statesWithMarkers = adaptStatePaths(definition);
      machine = new StateMachine(definition);
      const client = new LambdaClient({
        endpoint: message.endpoint,
        region: message.region,
        credentials: message.credentials,
        // Step Functions makes one Invoke per task attempt: retries belong to the ASL's Retry.
        maxAttempts: 1,
      });
      runOverrides = overrides(definition, message, client, statesWithMarkers);
      process.stdout.write(JSON.stringify({ ready: true }) + '\n');
      continue;
    }
    process.stdout.write(JSON.stringify(await runOne(machine, runOverrides, message)) + '\n');
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  },
);
