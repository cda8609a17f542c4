/**
 * Who owns the account-and-region-wide API Gateway setting (the CloudWatch role its
 * logging uses): one account stack per account and region, shared by every environment
 * there, so no environment's destroy removes what the others' logging needs.
 *
 * Environments count as one account when their `awsAccountId`s are equal; where no id is
 * set, environments in one region count as sharing an account (the safe guess: two stacks
 * setting one account's role would undo each other).
 */
import type { AccountConfig, BackendKind, EnvironmentConfig } from "./environment";

/** Stack name of the account stack, e.g. `chatbot-account-ap-northeast-2` or `chatbot-account-123456789012-ap-northeast-2`. */
export function accountStackName(region: string, awsAccountId?: string): string {
  return awsAccountId === undefined ? `chatbot-account-${region}` : `chatbot-account-${awsAccountId}-${region}`;
}

/** Where the account stack of an environment keeps its state: beside the environment's. */
function accountState(e: EnvironmentConfig, stackName: string): Pick<AccountConfig, "backend" | "stateBucket" | "stateKey" | "stateRegion" | "tfcOrganization" | "tfcWorkspace" | "tfcHostname"> {
  const common = { backend: e.backend as BackendKind, stateKey: `chatbot/${stackName}/terraform.tfstate`, stateRegion: e.stateRegion, tfcHostname: e.tfcHostname };
  if (e.backend === "s3") return { ...common, stateBucket: e.stateBucket };
  if (e.backend === "cloud") return { ...common, tfcOrganization: e.tfcOrganization, tfcWorkspace: stackName };
  return common;
}

/** The state place of an account stack, in words, to compare and to name in messages. */
function describeState(a: Omit<AccountConfig, "environments">): string {
  if (a.backend === "s3") return `S3 state s3://${a.stateBucket}/${a.stateKey} (${a.stateRegion})`;
  if (a.backend === "cloud") return `Terraform Cloud workspace ${a.tfcOrganization}/${a.tfcWorkspace} on ${a.tfcHostname}`;
  return `local state terraform.${a.stackName}.tfstate`;
}

const idOf = (e: EnvironmentConfig) => (e.awsAccountId === undefined ? "awsAccountId unset" : `awsAccountId ${e.awsAccountId}`);

/**
 * The account stacks `selected` environments need, checked against every configured
 * environment (`all`): a configuration in which two stacks would manage one account's
 * setting in one region is a problem naming both and what to change.
 */
export function resolveAccounts(selected: readonly EnvironmentConfig[], all: readonly EnvironmentConfig[], problems: string[]): AccountConfig[] {
  // By name, so the account stack is the same whichever environments are selected.
  const managing = all.filter((e) => e.manageApiGatewayAccount).sort((a, b) => a.name.localeCompare(b.name));
  const groups = new Map<string, { account: Omit<AccountConfig, "environments">; first: EnvironmentConfig; members: EnvironmentConfig[] }>();
  for (const e of managing) {
    const stackName = accountStackName(e.region, e.awsAccountId);
    const account = { stackName, region: e.region, awsAccountId: e.awsAccountId, awsEndpointUrl: e.awsEndpointUrl, ...accountState(e, stackName) };
    const group = groups.get(stackName);
    if (group === undefined) {
      groups.set(stackName, { account, first: e, members: [e] });
      continue;
    }
    group.members.push(e);
    const [theirs, ours] = [describeState(group.account), describeState(account)];
    if (theirs !== ours || group.account.awsEndpointUrl !== account.awsEndpointUrl) {
      problems.push(
        `environments ${group.first.name} and ${e.name} share the API Gateway account setting of ${idOf(e)} in ${e.region} (stack ${stackName}), ` +
          `but would keep its state in two places (${theirs}; ${ours}), so two copies of the stack would manage it: ` +
          `give both the same backend, set awsAccountId if they are different accounts, or set manageApiGatewayAccount false on one of them`,
      );
    }
  }
  // An environment without an account id may be in the account another one names.
  for (const e of managing.filter((x) => x.awsAccountId === undefined)) {
    const named = managing.find((x) => x.region === e.region && x.awsAccountId !== undefined);
    if (named === undefined) continue;
    problems.push(
      `environments ${e.name} (awsAccountId unset) and ${named.name} (awsAccountId ${named.awsAccountId}) in ${e.region} would get two account stacks, ` +
        `${accountStackName(e.region)} and ${accountStackName(e.region, named.awsAccountId)}, which manage the same API Gateway setting if they are one account: ` +
        `set awsAccountId on ${e.name} too, or manageApiGatewayAccount false on one of them`,
    );
  }
  const needed = new Set(selected.filter((e) => e.manageApiGatewayAccount).map((e) => accountStackName(e.region, e.awsAccountId)));
  return [...groups.values()]
    .filter((g) => needed.has(g.account.stackName))
    .map((g) => ({ ...g.account, environments: g.members.map((m) => m.name) }))
    .sort((a, b) => a.stackName.localeCompare(b.stackName));
}

/** The account stack an environment's API Gateway logging relies on, if it manages the setting. */
export function accountOf(accounts: readonly AccountConfig[], environment: string): AccountConfig | undefined {
  return accounts.find((a) => a.environments.includes(environment));
}
