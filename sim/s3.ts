// The simulated S3 reads, beside functions/adapters/objects.ts: command output the SSM agent uploaded.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsError, type SimulatedFleet } from './fleet.js';
import { route } from './service.js';

export function installS3(fleet: SimulatedFleet) {
  const s3 = mockClient(S3Client);
  s3.onAnyCommand().rejects(new AwsError('NotModelled', 'the simulated fleet does not model this call'));
  s3.on(GetObjectCommand).callsFake(
    route(fleet, 's3', 'GetObject', (input: { Bucket?: string; Key?: string }) => {
      const text = fleet.objects.get(`${input.Bucket}/${input.Key}`);
      if (text === undefined) throw new AwsError('NoSuchKey', 'The specified key does not exist.');
      // The SDK's stream body; kubeha reads it only with transformToString.
      return { Body: { transformToString: async () => text }, ContentLength: Buffer.byteLength(text) };
    }),
  );
  return s3;
}
