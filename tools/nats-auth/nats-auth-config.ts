/**
 * `npm run nats:auth-config -- [--prefix <HMS_SUBJECT_PREFIX>] [--bot <name>]…`: prints the
 * `authorization` block of nats-server's config for a deployment: a user per service, the
 * gateway and each bot, with the permissions of docs/subjects.md. Passwords are read by
 * nats-server from its environment (`HMS_NATS_PASSWORD_<USER>`), so the output holds no secret
 * and is regenerated whenever the contracts' subjects change (deploy/nats/auth.conf is this output).
 */
import { generatedNatsAuthSpec, natsAuthorizationConfig } from '@hms/platform';

function main(args: string[]): void {
  let prefix = '';
  const bots: string[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--prefix') prefix = value;
    else if (flag === '--bot') bots.push(value);
    else throw new Error(`unknown option ${flag} (use --prefix and --bot)`);
  }
  process.stdout.write(natsAuthorizationConfig(generatedNatsAuthSpec(prefix, bots), { passwordsFromEnv: true }));
}

try {
  main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
