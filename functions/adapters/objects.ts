// S3 reads: the whole output of SSM commands, which GetCommandInvocation truncates.
import { call, errorName } from './aws-errors.js';

type Sdk = typeof import('@aws-sdk/client-s3');

let loaded: Promise<{ sdk: Sdk; client: InstanceType<Sdk['S3Client']> }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: InstanceType<Sdk['S3Client']> }> {
  return (loaded ??= import('@aws-sdk/client-s3').then((module) => ({ sdk: module, client: new module.S3Client({}) })));
}

/** The object's text, or undefined when it does not exist (yet: the agent uploads after the command ends). */
export async function readObjectText(bucket: string, key: string): Promise<string | undefined> {
  const { sdk: aws, client } = await sdk();
  try {
    const answer = await call('s3:GetObject', () => client.send(new aws.GetObjectCommand({ Bucket: bucket, Key: key })));
    return await answer.Body?.transformToString('utf8');
  } catch (error: unknown) {
    if (errorName(error) === 'NoSuchKey') return undefined;
    throw error;
  }
}
