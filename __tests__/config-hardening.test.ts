import { loadConfig } from "../stacks/config";
import { problemOf } from "./helpers";
import { closestName } from "../stacks/config/env-names";

describe("CHATBOT_* environment variables", () => {
  it("refuses an unknown CHATBOT_* variable, naming it and the closest known setting", () => {
    expect(problemOf({}, { CHATBOT_MODEL_DEPLY: "true" })).toMatch(/unknown environment variable CHATBOT_MODEL_DEPLY; did you mean CHATBOT_MODEL_DEPLOY \(modelDeploy\)\?/);
    expect(problemOf({}, { CHATBOT_ENVIROMENTS: "prod" })).toMatch(/did you mean CHATBOT_ENVIRONMENTS \(the environments to build\)\?/);
  });

  it("accepts every variable a setting reads, and ignores variables of other programs", () => {
    expect(() => loadConfig({}, { CHATBOT_ENVIRONMENTS: "dev", CHATBOT_MODEL_DEPLOY: "true", CHATBOT_REGION: "us-east-1", CHECKPOINT_DISABLE: "1", CHAT: "x" })).not.toThrow();
  });

  it("picks the candidate with the fewest edits", () => {
    expect(closestName("CHATBOT_WAF_RATE_LIMT", ["CHATBOT_WAF", "CHATBOT_WAF_RATE_LIMIT", "CHATBOT_STAGE"])).toBe("CHATBOT_WAF_RATE_LIMIT");
  });
});

describe("the /chat origin's response timeout and CloudFront's quota", () => {
  it("refuses an integration timeout CloudFront cannot wait for, naming both settings and the quota to raise", () => {
    const message = problemOf({ integrationTimeoutMs: 120_000, allowLongIntegrationTimeout: true });
    expect(message).toMatch(/integrationTimeoutMs = 120000 .*at most 59000 ms while cloudFrontResponseTimeoutQuota is 60 s \(CloudFront's default quota\): CloudFront must wait 121 s for \/chat/);
    expect(message).toMatch(/"Response timeout per origin"/);
    expect(problemOf({ integrationTimeoutMs: 200_000, allowLongIntegrationTimeout: true, cloudFrontResponseTimeoutQuota: 180 })).toMatch(/at most 179000 ms while cloudFrontResponseTimeoutQuota is 180 s \(the quota declared\)/);
    expect(problemOf({ cloudFrontResponseTimeoutQuota: 30 })).toMatch(/cloudFrontResponseTimeoutQuota = 30 .*a whole number from 60 to 600/);
  });

  it("accepts a long integration timeout once both quotas are declared raised", () => {
    const [env] = loadConfig({ integrationTimeoutMs: 120_000, allowLongIntegrationTimeout: true, cloudFrontResponseTimeoutQuota: 180 }, {}).environments;
    expect(env.cloudFrontResponseTimeoutQuota).toBe(180);
  });
});

describe("allow-lists that could be walked around", () => {
  it("refuses allow-lists when the APIs answer without CloudFront, saying why", () => {
    const message = problemOf({ cloudFrontOnly: false, allowedIpRanges: ["203.0.113.0/24"], allowedCountries: ["KR"] });
    expect(message).toMatch(/allowedIpRanges = \["203\.0\.113\.0\/24"\] .*empty when cloudFrontOnly is false: the APIs' execute-api URLs then answer without CloudFront, walking around the WAF/);
    expect(message).toMatch(/allowedCountries = \["KR"\] .*empty when cloudFrontOnly is false/);
    expect(() => loadConfig({ cloudFrontOnly: false }, {})).not.toThrow();
  });
});
