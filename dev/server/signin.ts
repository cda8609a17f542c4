/**
 * Sign-in in the dev server: the shared store (dev/fake_dynamodb.py, one DynamoDB for
 * every Python worker: tickets, allowances, connections), the caller as API Gateway's
 * Cognito authorizer and mapping template hand it to the function, and what the page
 * reads next to chat.html (auth-config.json, the CSP with the sign-in origin).
 */
import { spawn, type ChildProcess } from "node:child_process";
import type http from "node:http";
import path from "node:path";
import { createInterface } from "node:readline";
import type { CognitoStandIn } from "./cognito-standin";
import { ROOT, StartupError, type Log } from "./processes";

/** API Gateway's answer when the Cognito authorizer refuses a request. */
export const UNAUTHORIZED = { statusCode: 401, message: "Unauthorized" } as const;
export const TABLE_PREFIX = "chatbot-dev";

/** Starts dev/fake_dynamodb.py with the sign-in tables; resolves with its URL. */
export function startSharedStore(python: string, log: Log): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(python, [path.join(ROOT, "dev", "fake_dynamodb.py"), "--port", "0", "--prefix", TABLE_PREFIX], {
    cwd: ROOT,
    env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_DEFAULT_REGION: "ap-northeast-2" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  createInterface({ input: child.stderr! }).on("line", (line) => log(`[dynamodb] ${line}`));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StartupError("dev/fake_dynamodb.py did not print its URL within 30 s")), 30_000);
    child.once("error", (error) => reject(error));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new StartupError(`dev/fake_dynamodb.py exited (code ${code}) before it was ready (is moto installed?)`));
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const found = /listening on (http:\/\/\S+)/.exec(line);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
  });
  return { child, ready };
}

/** The environment every Python worker gets with sign-in on. */
export function signInEnvironment(storeUrl: string, dailyAnswersPerUser: number): Record<string, string> {
  return {
    AUTH: "cognito",
    AWS_ENDPOINT_URL_DYNAMODB: storeUrl,
    TICKETS_TABLE: `${TABLE_PREFIX}-tickets`,
    USAGE_TABLE: `${TABLE_PREFIX}-daily-usage`,
    CONNECTIONS_TABLE: `${TABLE_PREFIX}-connections`,
    DAILY_ANSWERS_PER_USER: String(dailyAnswersPerUser),
    TICKET_TTL_SECONDS: "60",
    ADMIN_GROUP: "admin",
  };
}

/** What the chat, stream and conversations workers get with saved conversations on. */
export function conversationsEnvironment(): Record<string, string> {
  return { CONVERSATIONS_TABLE: `${TABLE_PREFIX}-conversations`, CONVERSATION_RETENTION_DAYS: "0" };
}

/**
 * The `caller` the mapping template builds from the verified ID token's claims, or null
 * (API Gateway then answers 401 without invoking anything). A list claim reaches the
 * template as "[a, b]".
 */
export function callerOf(cognito: CognitoStandIn, req: http.IncomingMessage): { sub: string; groups: string; exp: string } | null {
  const claims = cognito.verifyIdToken(req.headers.authorization);
  if (!claims) return null;
  const groups = claims["cognito:groups"] ?? [];
  return { sub: claims.sub, groups: groups.length ? `[${groups.join(", ")}]` : "", exp: String(claims.exp) };
}

/** How a REST API's Cognito authorizer writes a date claim (exp, iat) into `claims`: "Fri Jul 29 18:52:53 UTC 2016". */
function claimDate(epochSeconds: number): string {
  const [day, date, month, year, time] = new Date(epochSeconds * 1000).toUTCString().replace(",", "").split(" ");
  return `${day} ${month} ${date} ${time} UTC ${year}`;
}

/**
 * `requestContext.authorizer.claims` of a proxy event from the verified ID token, or null
 * (then API Gateway answers 401 without invoking anything). Every value is a string there:
 * a list claim as "[a, b]", exp and iat as dates (awsdocs/amazon-api-gateway-developer-guide#158).
 */
export function proxyClaims(cognito: CognitoStandIn, req: http.IncomingMessage): Record<string, string> | null {
  const claims = cognito.verifyIdToken(req.headers.authorization);
  if (!claims) return null;
  return Object.fromEntries(
    Object.entries(claims).map(([name, value]) => [
      name,
      Array.isArray(value) ? `[${value.join(", ")}]` : (name === "exp" || name === "iat") && typeof value === "number" ? claimDate(value) : String(value),
    ]),
  );
}

/** What the stack writes next to chat.html (stacks/signin/sign-in.ts writePageConfig). */
export function pageConfig(cognito: CognitoStandIn, dailyAnswersPerUser: number, conversations: boolean) {
  return { auth: "cognito", clientId: cognito.clientId, signInOrigin: cognito.url, redirectPath: "/chat.html", dailyAnswersPerUser, conversations };
}

/** chat.html's CSP with the sign-in origin added to connect-src, as the stack does at synth. */
export function withSignInOrigin(html: string, origin: string): string {
  return html.replace("</head>", '<meta name="falcon-sign-in" content="auth-config.json">\n</head>').replace(/(http-equiv="Content-Security-Policy" content="[^"]*connect-src )([^;"]*)/, (_, head: string, sources: string) => `${head}${sources} ${origin}`);
}
