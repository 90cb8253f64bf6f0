// Runs before every test file: the environment serverless.yml would give the Lambda functions,
// dummy credentials so no SDK client ever looks for real ones, and quiet logs.
import { afterEach, beforeEach } from 'vitest';
import { setLogSink } from '../functions/core/log.js';

process.env.KUBEHA_DOCUMENT_PREFIX = 'kubeha-test-';
// The simulated fleet's stage (sim/fleet.ts LOCAL_STAGE), so secret names agree with and without a control plane.
process.env.KUBEHA_STAGE = 'local';
process.env.AWS_REGION = 'eu-west-1';
process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY = 'test-secret-access-key-not-real';

export const capturedLogs: string[] = [];
let restore: (() => void) | undefined;

beforeEach(() => {
  capturedLogs.length = 0;
  restore = setLogSink((line) => capturedLogs.push(line));
});

afterEach(() => {
  restore?.();
});
