/**
 * `s3://<bucket>/<prefix>/` split into bucket and prefix, or undefined when it is not one.
 *
 * The prefix must end in `/`: SageMaker copies every object under an `S3Prefix` model data
 * source into /opt/ml/model, and without the slash `s3://b/falcon3` would also match
 * `s3://b/falcon3-old/...` (the execution role's `prefix*` grant too).
 */
export function parseS3Prefix(uri: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/((?:[^\s/*?]+\/)+)$/.exec(uri);
  if (match === null) return undefined;
  return { bucket: match[1], prefix: match[2] };
}
