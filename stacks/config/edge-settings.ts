/** The settings of what protects the public site: the WAF, CloudFront-only APIs, the request ceiling, a custom domain. */
import type { Checker } from "./checker";
import { DEFAULTS, EnvironmentConfig } from "./environment";

type EdgeSettings = Pick<
  EnvironmentConfig,
  "waf" | "wafRateLimit" | "allowedIpRanges" | "allowedCountries" | "cloudFrontOnly" | "dailyRequestQuota" | "domainName" | "hostedZoneId" | "certificateArn"
>;

/** ISO 3166-1 alpha-2 codes (what WAF's geo match takes). */
export const COUNTRY_CODES: readonly string[] = (
  "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
  "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
  "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO " +
  "JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR " +
  "MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO " +
  "RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV " +
  "TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
).split(" ");

/** WAF's smallest rate-based limit, and its largest. */
export const WAF_RATE_LIMIT = { min: 10, max: 2_000_000_000 } as const;

/** A WAF IP set entry: an IPv4 or IPv6 address range (`/0` is not a range WAF accepts). */
export function ipFamily(cidr: string): "IPV4" | "IPV6" | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (v4) {
    const [octets, prefix] = [v4.slice(1, 5).map(Number), Number(v4[5])];
    return octets.every((o) => o <= 255) && prefix >= 1 && prefix <= 32 ? "IPV4" : undefined;
  }
  const v6 = /^([0-9A-Fa-f:]+)\/(\d{1,3})$/.exec(cidr);
  if (!v6 || Number(v6[2]) < 1 || Number(v6[2]) > 128) return undefined;
  const halves = v6[1].split("::");
  const groups = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  const wellFormed = halves.length <= 2 && groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g));
  return wellFormed && (halves.length === 2 ? groups.length < 8 : groups.length === 8) ? "IPV6" : undefined;
}

/**
 * Whether the site may be served over IPv6. Not with an allow-list of IPv4 ranges only: a
 * dual-stack browser reaches CloudFront over IPv6 when the distribution has IPv6 on and the
 * name an AAAA record, and the WAF would then refuse a person whose IPv4 address is listed.
 * Countries alone do not matter here: WAF's geo match reads IPv6 addresses too.
 */
export function servesIpv6(allowedIpRanges: readonly string[]): boolean {
  return allowedIpRanges.length === 0 || allowedIpRanges.some((cidr) => ipFamily(cidr) === "IPV6");
}

// A host name of at least two labels, e.g. chat.example.com.
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
// Route 53 zone ids are upper-case letters and digits (AWS gives them a leading Z; the emulator does not).
const HOSTED_ZONE_ID = /^[A-Z0-9]{1,32}$/;
// CloudFront reads certificates from us-east-1 only.
const US_EAST_1_CERTIFICATE = /^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]{36}$/;

/** Reads the edge settings of one environment. */
export function resolveEdgeSettings(check: Checker): EdgeSettings {
  const waf = check.bool("waf", DEFAULTS.waf);
  const allowedIpRanges = check.list("allowedIpRanges", (cidr) => ipFamily(cidr) !== undefined, "IPv4 or IPv6 CIDR ranges such as 203.0.113.0/24 or 2001:db8::/32 (prefix /1 or longer)");
  const allowedCountries = check.list("allowedCountries", (code) => COUNTRY_CODES.includes(code), "ISO 3166 alpha-2 country codes in capitals, such as KR, US, DE");
  const cloudFrontOnly = check.bool("cloudFrontOnly", DEFAULTS.cloudFrontOnly);
  for (const [key, value] of [["allowedIpRanges", allowedIpRanges], ["allowedCountries", allowedCountries]] as const) {
    if (!waf && value.length > 0) check.fail(key, value, "empty when waf is false (the WAF enforces it)");
    // The WAF sits in front of CloudFront only: without the key CloudFront alone sends, the
    // execute-api URLs answer anyone, and the allow-list is one URL away from useless.
    else if (!cloudFrontOnly && value.length > 0) {
      check.fail(key, value, "empty when cloudFrontOnly is false: the APIs' execute-api URLs then answer without CloudFront, walking around the WAF that enforces the list; keep cloudFrontOnly true (the default) to use an allow-list");
    }
  }
  const domainName = check.optional("domainName", DOMAIN_NAME, "a lower-case host name such as chat.example.com");
  const hostedZoneId = check.optional("hostedZoneId", HOSTED_ZONE_ID, "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ");
  const certificateArn = check.optional("certificateArn", US_EAST_1_CERTIFICATE, "an ACM certificate ARN in us-east-1, the only region CloudFront reads certificates from");
  if (domainName !== undefined && !check.isSet("hostedZoneId") && !check.isSet("certificateArn")) {
    check.fail("domainName", domainName, "a domain together with hostedZoneId (the stack requests the certificate) or certificateArn (an existing certificate)");
  }
  if (!check.isSet("domainName")) {
    if (hostedZoneId !== undefined) check.fail("hostedZoneId", hostedZoneId, "set only together with domainName");
    if (certificateArn !== undefined) check.fail("certificateArn", certificateArn, "set only together with domainName");
  }
  return {
    waf,
    wafRateLimit: check.int("wafRateLimit", DEFAULTS.wafRateLimit, WAF_RATE_LIMIT.min, WAF_RATE_LIMIT.max),
    allowedIpRanges,
    allowedCountries,
    cloudFrontOnly,
    dailyRequestQuota: check.int("dailyRequestQuota", DEFAULTS.dailyRequestQuota, 0, 2_000_000_000),
    domainName,
    hostedZoneId,
    certificateArn,
  };
}
