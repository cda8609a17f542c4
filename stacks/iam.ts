/** One IAM policy statement, in the JSON form IAM reads. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action: readonly string[];
  readonly Resource: readonly string[];
  readonly Principal?: Record<string, string | readonly string[]>;
  readonly Condition?: Record<string, Record<string, string | readonly string[] | boolean>>;
}

/**
 * An IAM policy document as a JSON string. Written out in the Terraform JSON (not
 * built by a data source at plan time) so a pull-request review sees the exact policy.
 */
export function policyDocument(statements: readonly PolicyStatement[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * Trust policy letting one AWS service assume a role. With `sourceAccount`, only on
 * behalf of that account (the confused-deputy guard services such as SageMaker honour).
 */
export function servicePrincipalTrust(service: string, sourceAccount?: string): string {
  const statement: Record<string, unknown> = { Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" };
  if (sourceAccount !== undefined) statement.Condition = { StringEquals: { "aws:SourceAccount": sourceAccount } };
  return JSON.stringify({ Version: "2012-10-17", Statement: [statement] });
}
