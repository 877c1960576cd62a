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
//       "taskFailures": [{"state", "error"}, ...]}

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
function lambdaInvoke(client) {
  return async (parameters) => {
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

function overrides(definition, config, client) {
  const taskResourceLocalHandlers = {};
  const waitTimeOverrides = {};
  const retryIntervalOverrides = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type === 'Task') {
      if (state.Resource !== LAMBDA_INVOKE) {
        throw new Error(`state ${name}: Task resource ${state.Resource} has no binding in this runner`);
      }
      taskResourceLocalHandlers[name] = lambdaInvoke(client);
    }
    if (state.Type === 'Wait' && config.waitOverrideMs != null) waitTimeOverrides[name] = config.waitOverrideMs;
    if (state.Retry && config.retryOverrideMs != null) retryIntervalOverrides[name] = config.retryOverrideMs;
  }
  return { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides };
}

async function runOne(machine, runOverrides, request) {
  const execution = machine.run(request.input, { overrides: runOverrides, context: request.context });
  const taskFailures = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateFailed' && event.state?.type === 'Task') {
        taskFailures.push({ state: event.state.name, error: event.Error });
      }
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
  return { ...outcome, taskFailures };
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
      // Validates the definition (the library's own checks); throws if it is invalid.
      machine = new StateMachine(definition);
      const client = new LambdaClient({
        endpoint: message.endpoint,
        region: message.region,
        credentials: message.credentials,
        // Step Functions makes one Invoke per task attempt: retries belong to the ASL's Retry.
        maxAttempts: 1,
      });
      runOverrides = overrides(definition, message, client);
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
