import { AcmCertificate } from "@cdktf/provider-aws/lib/acm-certificate";
import { AcmCertificateValidation } from "@cdktf/provider-aws/lib/acm-certificate-validation";
import type { CloudfrontDistribution } from "@cdktf/provider-aws/lib/cloudfront-distribution";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { Fn } from "cdktf";
import { Construct } from "constructs";

/** Options of {@link CustomDomain}. */
export interface CustomDomainOptions {
  /** The site's name, e.g. `chat.example.com`. */
  readonly domainName: string;
  /** Route 53 zone of the name: the construct requests a certificate, validates it by DNS and adds alias records. */
  readonly hostedZoneId?: string;
  /** An existing certificate for the name, in us-east-1. Used instead of requesting one. */
  readonly certificateArn?: string;
  /** An AWS provider for us-east-1, where CloudFront reads certificates. */
  readonly usEast1: AwsProvider;
}

/**
 * The site under its own name: a certificate CloudFront can use (requested in us-east-1 and
 * validated through DNS in the hosted zone, or an existing one), and, with a hosted zone,
 * A and AAAA alias records pointing the name at the distribution ({@link aliasTo}).
 */
export class CustomDomain extends Construct {
  public readonly domainName: string;
  /** The certificate for the distribution; with a requested one, its validated ARN, so CloudFront waits for it. */
  public readonly certificateArn: string;
  private readonly hostedZoneId?: string;

  constructor(scope: Construct, id: string, options: CustomDomainOptions) {
    super(scope, id);
    this.domainName = options.domainName;
    this.hostedZoneId = options.hostedZoneId;
    if (options.certificateArn !== undefined) {
      this.certificateArn = options.certificateArn;
      return;
    }
    if (options.hostedZoneId === undefined) throw new Error(`custom domain ${options.domainName} needs a hosted zone or a certificate`);

    const certificate = new AcmCertificate(this, "certificate", {
      provider: options.usEast1,
      domainName: options.domainName,
      validationMethod: "DNS",
      lifecycle: { createBeforeDestroy: true },
    });
    // One name, so exactly one validation record.
    const validation = Fn.one(certificate.domainValidationOptions);
    const record = new Route53Record(this, "validation-record", {
      zoneId: options.hostedZoneId,
      name: Fn.lookup(validation, "resource_record_name", ""),
      type: Fn.lookup(validation, "resource_record_type", ""),
      records: [Fn.lookup(validation, "resource_record_value", "")],
      ttl: 300,
      allowOverwrite: true,
    });
    this.certificateArn = new AcmCertificateValidation(this, "certificate-validation", {
      provider: options.usEast1,
      certificateArn: certificate.arn,
      validationRecordFqdns: [record.fqdn],
    }).certificateArn;
  }

  /**
   * A and AAAA alias records for the name, pointing at the distribution (needs the hosted
   * zone). Without `ipv6`, no AAAA record: browsers then use IPv4 only.
   */
  aliasTo(distribution: CloudfrontDistribution, ipv6 = true): void {
    if (this.hostedZoneId === undefined) return;
    for (const type of ipv6 ? ["A", "AAAA"] : ["A"]) {
      new Route53Record(this, `alias-${type.toLowerCase()}`, {
        zoneId: this.hostedZoneId,
        name: this.domainName,
        type,
        alias: { name: distribution.domainName, zoneId: distribution.hostedZoneId, evaluateTargetHealth: false },
      });
    }
  }
}
